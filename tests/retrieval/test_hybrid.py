"""Reciprocal rank fusion by hand, HybridRetriever over fake and real retrievers, SparseRetriever,
and the composition root choosing the retriever."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.build import Indexer
from indexing.loaders import document_id
from indexing.sparse import BM25Index
from indexing.stores import InMemoryStore, StoreSignature
from qa_app.config import ChunkingConfig, load_settings
from qa_app.errors import ConfigError
from qa_app.protocols import Retriever
from qa_app.retrieval.dense import DenseRetriever
from qa_app.retrieval.hybrid import HybridRetriever, reciprocal_rank_fusion
from qa_app.retrieval.sparse import SparseRetriever
from qa_app.types import Chunk, Document, Hit
from qa_app.wiring import App
from tests.fakes import HashingEncoder, RegexTokenizer

ENCODER = HashingEncoder(dimension=64)
CHUNKING = ChunkingConfig(chunk_tokens=24, overlap_tokens=4, contextual="plain")
SIGNATURE = StoreSignature.for_encoder(ENCODER.id, ENCODER.dimension, CHUNKING)


# -- the pure fusion ---------------------------------------------------------------------------

def unzip(fused: list[tuple[str, float]]) -> tuple[list[str], list[float]]:
    return [item for item, _ in fused], [score for _, score in fused]


def test_rrf_hand_worked_numbers() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]], [1.0, 1.0], k=60)
    assert [item for item, _ in fused] == ["a", "c", "b", "d"]
    expected = {"a": 1 / 61 + 1 / 62, "c": 1 / 63 + 1 / 61, "b": 1 / 62, "d": 1 / 63}
    assert dict(fused) == pytest.approx(expected)


def test_rrf_weights_decide_between_two_opposite_rankings() -> None:
    rankings = [["x", "y"], ["y", "x"]]
    items, scores = unzip(reciprocal_rank_fusion(rankings, [2.0, 1.0], k=60))
    assert items == ["x", "y"] and scores == pytest.approx([2 / 61 + 1 / 62, 2 / 62 + 1 / 61])
    assert unzip(reciprocal_rank_fusion(rankings, [1.0, 2.0], k=60))[0] == ["y", "x"]
    assert unzip(reciprocal_rank_fusion([["a", "b"]], [1.0], k=0))[1] == pytest.approx([1.0, 0.5])


def test_rrf_ties_are_deterministic() -> None:
    # a and b tie (1/61 + 1/62 each) and both have best rank 1: a's came from the first ranking
    assert [i for i, _ in reciprocal_rank_fusion([["a", "b"], ["b", "a"]], [1.0, 1.0])] == ["a", "b"]
    assert [i for i, _ in reciprocal_rank_fusion([["b", "a"], ["a", "b"]], [1.0, 1.0])] == ["b", "a"]
    # c and d tie with best rank 2 in different rankings: the earlier ranking wins
    assert [i for i, _ in reciprocal_rank_fusion([["x", "d"], ["y", "c"]], [1.0, 1.0])] == ["x", "y", "d", "c"]


def test_rrf_counts_a_repeated_item_once_and_checks_its_arguments() -> None:
    items, scores = unzip(reciprocal_rank_fusion([["a", "a", "b"]], [1.0], k=0))
    assert items == ["a", "b"] and scores == pytest.approx([1.0, 1 / 3])
    assert reciprocal_rank_fusion([[], []], [1.0, 1.0]) == []
    with pytest.raises(ValueError, match="one weight per ranking"):
        reciprocal_rank_fusion([["a"]], [1.0, 1.0])
    with pytest.raises(ValueError, match="negative"):
        reciprocal_rank_fusion([["a"]], [-1.0])


# -- HybridRetriever with fakes ----------------------------------------------------------------

def chunk(name: str) -> Chunk:
    return Chunk(doc_id=name, index=0, text=f"text of {name}", start=0, end=10, page=1)


class ListRetriever:
    """Returns a fixed ranking; records the k it was asked for."""

    def __init__(self, names: list[str], kind: str) -> None:
        self._names, self._kind = names, kind
        self.asked: list[int] = []

    def retrieve(self, query: str, k: int) -> list[Hit]:
        self.asked.append(k)
        return [Hit(chunk=chunk(n), score=1.0 / r, rank=r, source=f"{n}.txt", retriever=self._kind)
                for r, n in enumerate(self._names[:k], start=1)]


def test_a_chunk_found_by_both_retrievers_beats_ones_found_by_one() -> None:
    dense = ListRetriever(["x", "both", "d2"], "dense")
    sparse = ListRetriever(["y", "both", "s2"], "sparse")
    hybrid = HybridRetriever(retrievers=[(dense, 1.0), (sparse, 1.0)], rrf_k=60, candidates=10)
    hits = hybrid.retrieve("q", 4)
    assert [h.chunk.doc_id for h in hits] == ["both", "x", "y", "d2"]
    assert [h.rank for h in hits] == [1, 2, 3, 4]
    assert {h.retriever for h in hits} == {"hybrid"}
    assert hits[0].score == pytest.approx(2 / 62) and hits[0].source == "both.txt"
    assert dense.asked == [10] and sparse.asked == [10]  # candidates per retriever, not k


def test_weights_steer_the_fusion_and_a_zero_weight_retriever_is_not_asked() -> None:
    dense, sparse = ListRetriever(["d"], "dense"), ListRetriever(["s"], "sparse")
    hits = HybridRetriever(retrievers=[(dense, 0.5), (sparse, 2.0)], candidates=5).retrieve("q", 2)
    assert [h.chunk.doc_id for h in hits] == ["s", "d"]
    silent = ListRetriever(["z"], "dense")
    hits = HybridRetriever(retrievers=[(silent, 0.0), (sparse, 1.0)], candidates=5).retrieve("q", 2)
    assert [h.chunk.doc_id for h in hits] == ["s"] and silent.asked == []
    with pytest.raises(ValueError):
        HybridRetriever(retrievers=[(silent, 0.0)])
    assert isinstance(HybridRetriever(retrievers=[(sparse, 1.0)]), Retriever)


# -- real retrievers over one indexed corpus ---------------------------------------------------

TEXTS = {
    "alpaca.txt": "The alpaca herd grazes in the high Andes. Farmers shear the alpacas once a year in spring.",
    "hangar.txt": "The zeppelin hangar stands near the old harbour. It was built in 1929 and held two airships.",
    "quokka.txt": "The quokka smiles for tourists on Rottnest Island. Quokkas sleep in the shade during the day.",
}


@pytest.fixture
def indexed(tmp_path: Path) -> tuple[InMemoryStore, BM25Index]:
    store, bm25 = InMemoryStore(signature=SIGNATURE), BM25Index(path=tmp_path / "bm25")
    indexer = Indexer(store=store, encoder=ENCODER, tokenizer=RegexTokenizer(), chunking=CHUNKING, extra_sinks=(bm25,))
    for name, text in TEXTS.items():
        doc = Document(id=document_id(text), source=name, title=name, text=text)
        assert indexer.index_document(doc).status == "added"
    return store, bm25


def test_sparse_retriever_returns_store_chunks_as_ranked_hits(indexed: tuple[InMemoryStore, BM25Index]) -> None:
    store, bm25 = indexed
    hits = SparseRetriever(index=bm25, store=store).retrieve("When was the zeppelin hangar built?", 3)
    assert hits[0].source == "hangar.txt" and "zeppelin" in hits[0].chunk.text
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert {h.retriever for h in hits} == {"sparse"}
    (stored,) = store.get_chunks(hits[0].chunk.doc_id, [hits[0].chunk.index])
    assert hits[0].chunk == stored
    assert SparseRetriever(index=bm25, store=store).retrieve("xylophone", 3) == []


def test_sparse_retriever_skips_documents_the_store_does_not_hold(indexed: tuple[InMemoryStore, BM25Index]) -> None:
    store, bm25 = indexed
    ghost = [Chunk(doc_id="ghost", index=i, text="quokka quokka quokka", start=0, end=20, page=1) for i in range(3)]
    bm25.add("ghost", ghost)  # outranks every real chunk for "quokka"
    assert bm25.search("quokka", 1)[0][0].startswith("ghost:")
    hits = SparseRetriever(index=bm25, store=store).retrieve("quokka", 1)
    assert len(hits) == 1 and hits[0].source == "quokka.txt"


def test_hybrid_over_dense_and_bm25_finds_the_right_document(indexed: tuple[InMemoryStore, BM25Index]) -> None:
    store, bm25 = indexed
    hybrid = HybridRetriever(retrievers=[(DenseRetriever(encoder=ENCODER, store=store), 1.0),
                                         (SparseRetriever(index=bm25, store=store), 1.0)], candidates=10)
    hits = hybrid.retrieve("Where do quokkas sleep during the day?", 3)
    assert hits[0].source == "quokka.txt" and hits[0].retriever == "hybrid"
    assert len({h.chunk.id for h in hits}) == len(hits)


# -- the composition root ----------------------------------------------------------------------

def make_app(tmp_path: Path, store: InMemoryStore | None = None, **overrides: object) -> App:
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data"), "chunk_tokens": 24,
                                        "overlap_tokens": 4, "contextual": "plain", **overrides}, environ={})
    return App(settings, encoder=ENCODER, tokenizer=RegexTokenizer(),
               store=store or InMemoryStore(signature=SIGNATURE))


@pytest.mark.parametrize(("name", "kind"), [("hybrid", HybridRetriever), ("dense", DenseRetriever),
                                            ("sparse", SparseRetriever)])
def test_app_builds_the_configured_retriever(tmp_path: Path, name: str, kind: type) -> None:
    assert isinstance(make_app(tmp_path, retriever=name).retriever(), kind)


def test_app_refuses_weights_that_fuse_nothing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        make_app(tmp_path, dense_weight=0.0, sparse_weight=0.0).retriever()


def test_app_indexer_feeds_bm25_and_the_index_catches_up_on_open(tmp_path: Path) -> None:
    app = make_app(tmp_path, retriever="sparse")
    doc = Document(id=document_id(TEXTS["hangar.txt"]), source="hangar.txt", title="h", text=TEXTS["hangar.txt"])
    assert app.indexer.index_document(doc).status == "added"
    assert app.sparse_index.doc_ids() == [doc.id]
    assert (tmp_path / "data" / "bm25" / "documents" / "docs" / f"{doc.id}.json").is_file()
    assert app.retriever().retrieve("zeppelin", 1)[0].source == "hangar.txt"

    # a store filled behind BM25's back (e.g. by an older version): opening re-adds what is missing
    store = InMemoryStore(signature=SIGNATURE)
    Indexer(store=store, encoder=ENCODER, tokenizer=RegexTokenizer(), chunking=CHUNKING).index_document(doc)
    fresh = make_app(tmp_path / "other", store=store, retriever="sparse")
    assert fresh.sparse_index.doc_ids() == [doc.id]
    app.indexer.delete(doc.id)
    assert app.sparse_index.doc_ids() == [] and app.retriever().retrieve("zeppelin", 1) == []
