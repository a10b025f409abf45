"""BM25Index with real bm25s: tokenisation, add/delete/replace, persistence, CJK, crash safety,
sync with the vector store, and the Indexer keeping BM25 and the store in step."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from indexing.build import Indexer
from indexing.loaders import document_id
from indexing.sparse import BM25Index, bm25_matrix, sync_index, term_counts, tokenize
from indexing.stores import ChromaStore, InMemoryStore, StoreSignature
from qa_app.config import ChunkingConfig
from qa_app.types import Chunk, Document, DocumentInfo
from tests.fakes import HashingEncoder, RegexTokenizer

ENCODER = HashingEncoder(dimension=32)
CHUNKING = ChunkingConfig(chunk_tokens=16, overlap_tokens=2, contextual="plain")
SIGNATURE = StoreSignature.for_encoder(ENCODER.id, ENCODER.dimension, CHUNKING)

RIVERS = ["The Rhine rises in the Swiss Alps.", "Barges carry coal along the Rhine.",
          "The river reaches the North Sea."]
PLANETS = ["Mars is the fourth planet.", "Saturn has bright rings of ice."]
CHINESE = ["长江是中国最长的河流，全长约六千三百公里。", "黄河被称为中华民族的母亲河。"]


def chunks_of(doc_id: str, texts: list[str]) -> list[Chunk]:
    out, at = [], 0
    for i, text in enumerate(texts):
        out.append(Chunk(doc_id=doc_id, index=i, text=text, start=at, end=at + len(text), page=1))
        at += len(text) + 1
    return out


def store_doc(store: object, doc_id: str, texts: list[str], source: str = "x.txt") -> None:
    chunks = chunks_of(doc_id, texts)
    info = DocumentInfo(id=doc_id, source=source, title=source, pages=1, chunks=len(chunks),
                        chars=chunks[-1].end, indexed_at="2025-01-01T00:00:00+00:00")
    store.add_document(info, chunks, ENCODER.encode(texts))  # type: ignore[attr-defined]


def doc_of(chunk_id: str) -> str:
    return chunk_id.rpartition(":")[0]


# -- tokenisation ------------------------------------------------------------------------------

def test_tokenize_lowercases_drops_stopwords_and_stems() -> None:
    assert tokenize("The Rivers are FLOWING into the Sea") == ["river", "flow", "sea"]


def test_tokenize_turns_cjk_runs_into_bigrams_and_keeps_other_scripts_whole() -> None:
    assert tokenize("长江流") == ["长江", "江流"]
    assert tokenize("水") == ["水"]
    assert tokenize("हिन्दी भाषा") == ["हिन्दी", "भाषा"]  # vowel signs stay inside the word
    assert tokenize("Ｒｈｉｎｅ") == ["rhine"]  # full-width letters are normalised (NFKC)


# -- add / search / delete / replace -----------------------------------------------------------

def test_search_ranks_the_matching_chunk_first_and_misses_give_nothing(tmp_path: Path) -> None:
    index = BM25Index(path=tmp_path)
    index.add("rivers", chunks_of("rivers", RIVERS))
    index.add("planets", chunks_of("planets", PLANETS))
    hits = index.search("Where does the Rhine rise?", 5)
    assert hits[0][0] == "rivers:0"
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert {doc_of(c) for c, _ in hits} == {"rivers"}
    assert index.search("the of and", 5) == []  # stopwords only
    assert index.search("zeppelin", 5) == []
    assert index.count() == 5 and index.doc_ids() == ["planets", "rivers"]


def test_empty_index_and_nonpositive_k_return_nothing(tmp_path: Path) -> None:
    index = BM25Index(path=tmp_path)
    assert index.search("rhine", 3) == [] and index.count() == 0
    index.add("rivers", chunks_of("rivers", RIVERS))
    assert index.search("rhine", 0) == []


def test_delete_removes_a_document_and_is_idempotent(tmp_path: Path) -> None:
    index = BM25Index(path=tmp_path)
    index.add("rivers", chunks_of("rivers", RIVERS))
    index.add("planets", chunks_of("planets", PLANETS))
    assert index.search("saturn rings", 3)
    index.delete("planets")
    index.delete("planets")
    assert index.search("saturn rings", 3) == []
    assert index.doc_ids() == ["rivers"]


def test_adding_an_existing_id_replaces_its_chunks(tmp_path: Path) -> None:
    index = BM25Index(path=tmp_path)
    index.add("doc", chunks_of("doc", RIVERS))
    index.add("doc", chunks_of("doc", PLANETS))
    assert index.search("rhine", 3) == []
    assert index.search("saturn", 3)[0][0] == "doc:1"
    assert index.count() == len(PLANETS)


def test_ties_are_broken_by_document_then_chunk(tmp_path: Path) -> None:
    index = BM25Index(path=None)
    for doc in ("b", "a", "c"):
        index.add(doc, chunks_of(doc, ["Quokkas smile.", "Quokkas smile."]))
    assert [c for c, _ in index.search("quokka", 6)] == ["a:0", "a:1", "b:0", "b:1", "c:0", "c:1"]


def test_cjk_query_finds_the_chinese_chunk(tmp_path: Path) -> None:
    index = BM25Index(path=tmp_path)
    index.add("rivers", chunks_of("rivers", RIVERS))
    index.add("zh", chunks_of("zh", CHINESE))
    assert index.search("长江有多长？", 3)[0][0] == "zh:0"
    assert index.search("母亲河", 3)[0][0] == "zh:1"


# -- persistence and crash safety --------------------------------------------------------------

def test_reopening_gives_the_same_documents_and_results(tmp_path: Path) -> None:
    first = BM25Index(path=tmp_path)
    first.add("rivers", chunks_of("rivers", RIVERS))
    first.add("zh", chunks_of("zh", CHINESE))
    first.delete("rivers")
    before = first.search("长江 河流", 5)
    reopened = BM25Index(path=tmp_path)
    assert reopened.doc_ids() == ["zh"]
    assert reopened.search("长江 河流", 5) == before
    assert reopened.search("rhine", 5) == []


def test_a_second_instance_sees_writes_of_the_first(tmp_path: Path) -> None:
    writer, reader = BM25Index(path=tmp_path), BM25Index(path=tmp_path)
    assert reader.search("rhine", 3) == []
    writer.add("rivers", chunks_of("rivers", RIVERS))
    assert reader.search("rhine", 3)[0][0] == "rivers:0"
    writer.delete("rivers")
    assert reader.search("rhine", 3) == [] and reader.doc_ids() == []


def test_unfinished_and_damaged_files_are_not_documents(tmp_path: Path) -> None:
    index = BM25Index(path=tmp_path)
    index.add("rivers", chunks_of("rivers", RIVERS))
    docs = tmp_path / "docs"
    (docs / ".half-written.tmp").write_text('{"format": 1, "doc_id": "ghost"', encoding="utf-8")
    (docs / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.warns(RuntimeWarning, match="unreadable BM25 file"):
        reopened = BM25Index(path=tmp_path).doc_ids()
    assert reopened == ["rivers"]


def test_unsafe_document_ids_stay_inside_the_folder(tmp_path: Path) -> None:
    index = BM25Index(path=tmp_path / "bm25")
    index.add("../../evil", chunks_of("../../evil", PLANETS))
    files = list((tmp_path / "bm25" / "docs").iterdir())
    assert len(files) == 1 and files[0].name.startswith("h-")
    assert json.loads(files[0].read_text(encoding="utf-8"))["doc_id"] == "../../evil"
    assert BM25Index(path=tmp_path / "bm25").search("saturn", 1)[0][0] == "../../evil:1"


# -- sync with the vector store ----------------------------------------------------------------

def test_sync_drops_extra_documents_and_reports_missing_ones(tmp_path: Path) -> None:
    store = InMemoryStore(signature=SIGNATURE)
    store_doc(store, "rivers", RIVERS)
    store_doc(store, "zh", CHINESE)
    index = BM25Index(path=tmp_path)
    index.add("rivers", chunks_of("rivers", RIVERS))
    index.add("stale", chunks_of("stale", PLANETS))
    assert index.sync(store) == ["zh"]
    assert index.doc_ids() == ["rivers"]
    assert sync_index(index, store) == ["zh"]
    assert index.doc_ids() == ["rivers", "zh"]
    assert index.search("长江", 1)[0][0] == "zh:0"
    assert sync_index(index, store) == []


@pytest.fixture(params=["memory", "chroma"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    if request.param == "memory":
        return InMemoryStore(signature=SIGNATURE)
    return ChromaStore.open_embedded(tmp_path / "chroma", collection="documents", signature=SIGNATURE)


def make_document(text: str, source: str) -> Document:
    return Document(id=document_id(text), source=source, title=source, text=text)


def test_indexer_keeps_bm25_and_the_store_in_step(store: object, tmp_path: Path) -> None:
    bm25 = BM25Index(path=tmp_path / "bm25")
    indexer = Indexer(store=store, encoder=ENCODER, tokenizer=RegexTokenizer(),  # type: ignore[arg-type]
                      chunking=CHUNKING, extra_sinks=(bm25,))
    old = make_document(" ".join(RIVERS), "rivers.txt")
    other = make_document(" ".join(PLANETS), "planets.txt")
    assert indexer.index_document(old, origin="/docs/rivers.txt").status == "added"
    assert indexer.index_document(other, origin="/docs/planets.txt").status == "added"

    new = make_document("The Danube flows to the Black Sea. Vienna lies on the Danube.", "rivers.txt")
    outcome = indexer.index_document(new, origin="/docs/rivers.txt")
    assert outcome.status == "replaced" and outcome.replaced_id == old.id

    def agree() -> None:
        infos = store.documents()  # type: ignore[attr-defined]
        assert bm25.doc_ids() == sorted(d.id for d in infos)
        assert bm25.count() == sum(d.chunks for d in infos)

    agree()
    assert bm25.search("rhine barges", 5) == []  # the replaced version is gone from BM25 too
    assert doc_of(bm25.search("danube", 5)[0][0]) == new.id
    assert BM25Index(path=tmp_path / "bm25").doc_ids() == sorted([new.id, other.id])  # and on disk

    indexer.delete(other.id)
    agree()
    assert bm25.search("saturn", 5) == []


def test_document_files_are_written_atomically_under_their_id(tmp_path: Path) -> None:
    index = BM25Index(path=tmp_path)
    doc_id = hashlib.sha256(b"x").hexdigest()[:16]
    index.add(doc_id, chunks_of(doc_id, RIVERS))
    names = sorted(p.name for p in (tmp_path / "docs").iterdir())
    assert names == [f"{doc_id}.json"]  # no temporary file left behind
    data = json.loads((tmp_path / "docs" / names[0]).read_text(encoding="utf-8"))
    assert data["chunk_ids"] == [f"{doc_id}:{i}" for i in range(3)] and data["texts"] == RIVERS


def test_vectorised_matrix_equals_what_bm25s_builds() -> None:
    """`bm25_matrix` stands in for bm25s's own (slow) builder: it must give the very same matrix."""
    import bm25s
    import numpy as np

    corpus = [tokenize(t) for t in RIVERS + PLANETS + CHINESE + ["the of and", "Rhine Rhine Rhine barges"]]
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in corpus]
    vocab.setdefault("unused-term", len(vocab))  # a term of a deleted document: no column entries
    model = bm25s.BM25(k1=1.2, b=0.6, method="lucene")
    model.index((ids, dict(vocab)), create_empty_token=False, show_progress=False)
    lengths = np.array([len(d) for d in ids], dtype=np.int64)
    terms = np.array([t for d in ids for t in d], dtype=np.int64)
    data, indices, indptr = bm25_matrix(lengths, *term_counts(lengths, terms), len(vocab), k1=1.2, b=0.6)
    assert np.array_equal(indptr, model.scores["indptr"])
    assert np.array_equal(indices, model.scores["indices"])
    assert np.allclose(data, model.scores["data"], rtol=1e-6, atol=0)
    assert data.dtype == np.float32 and model.scores["num_docs"] == len(corpus)
