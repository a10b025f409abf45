"""Contract tests of the vector stores: InMemoryStore (reference) and ChromaStore (embedded, tmp_path)."""

from __future__ import annotations

import dataclasses
import hashlib
import socket
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from indexing.stores import ChromaStore, InMemoryStore, StoreSignature
from qa_app.errors import (
    ConfigError,
    DocumentNotFoundError,
    StoreError,
    StoreMismatchError,
)
from qa_app.protocols import VectorStore
from qa_app.types import Chunk, DocumentInfo
from tests.fakes import HashingEncoder, RegistryWrappingClient
from tests.reliability import server_env

DIM = 32
ENCODER = HashingEncoder(dimension=DIM)
SIG = StoreSignature(encoder_id=ENCODER.id, dimension=DIM, chunk_tokens=200, overlap_tokens=40,
                     contextual="header")

RIVERS = ("The Rhine rises in the Swiss Alps. It flows north through Germany. "
          "Barges carry coal on the Rhine. The river reaches the North Sea in the Netherlands.")
PLANETS = ("Mars is the fourth planet. Jupiter is the largest planet. "
           "Saturn has bright rings of ice. Venus is the hottest planet of all.")
BAKING = ("Bread needs flour and water. Yeast makes the dough rise. "
          "Bake the loaf in a hot oven. Let the bread cool before cutting.")


def make_doc(text: str, source: str, *, when: str = "2025-01-01T00:00:00+00:00",
             encoder: HashingEncoder = ENCODER) -> tuple[DocumentInfo, list[Chunk], np.ndarray]:
    """One chunk per sentence, two pages, ids derived from the text like the real loader."""
    doc_id = hashlib.sha256(text.encode()).hexdigest()[:16]
    chunks, start = [], 0
    pieces = [p + "." for p in text.split(".") if p.strip()]
    half = len(text) // 2
    for index, piece in enumerate(pieces):
        begin = text.index(piece.strip(), start)
        end = begin + len(piece.strip())
        chunks.append(Chunk(doc_id=doc_id, index=index, text=text[begin:end], start=begin, end=end,
                            page=1 if begin < half else 2, header=f"{source} > part"))
        start = end
    info = DocumentInfo(id=doc_id, source=source, title=source.split(".")[0], pages=2,
                        chunks=len(chunks), chars=len(text), indexed_at=when, page_starts=(0, half))
    return info, chunks, encoder.encode([c.text for c in chunks])


def open_chroma(path: Path, signature: StoreSignature = SIG, collection: str = "documents") -> ChromaStore:
    return ChromaStore.open_embedded(path, collection=collection, signature=signature)


def raw_client(path: Path) -> Any:
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))


@pytest.fixture(params=["memory", "chroma", *server_env.store_params()])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., VectorStore]:
    if request.param == "server":  # a Chroma server behind the token proxy (.ci/run starts one)
        server, collection = server_env.server_or_skip(), server_env.unique_collection()
        request.addfinalizer(lambda: server.drop(collection))

    def factory(signature: StoreSignature = SIG) -> Any:
        if request.param == "memory":
            return InMemoryStore(signature=signature)
        if request.param == "server":
            return ChromaStore.open_server(server.host, server.port, collection=collection, signature=signature,
                                           token=server.token)
        return open_chroma(tmp_path / "db", signature)

    return factory


@pytest.fixture
def store(make_store: Callable[..., Any]) -> Any:
    s = make_store()
    for text, source, when in ((RIVERS, "rivers.txt", "2025-01-01T00:00:00+00:00"),
                               (PLANETS, "planets.md", "2025-01-02T00:00:00+00:00")):
        s.add_document(*make_doc(text, source, when=when))
    return s


# -- contract: both stores ---------------------------------------------------------------------


def test_implements_the_protocol(store: Any) -> None:
    assert isinstance(store, VectorStore)
    assert store.signature == SIG


def test_query_ranks_by_cosine_similarity(store: Any) -> None:
    info, chunks, vectors = make_doc(RIVERS, "rivers.txt")
    _, p_chunks, p_vectors = make_doc(PLANETS, "planets.md")
    q = ENCODER.encode(["Which sea does the Rhine river reach?"])[0]
    hits = store.query(q, 3)

    every = np.concatenate([vectors, p_vectors]) @ q
    expected = sorted(zip(every, [c.id for c in chunks + p_chunks]), reverse=True)[:3]
    assert [h.chunk.id for h in hits] == [cid for _, cid in expected]
    assert [h.score for h in hits] == pytest.approx([s for s, _ in expected], abs=1e-5)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].chunk == chunks[3]
    assert hits[0].source == "rivers.txt" and hits[0].retriever == "dense"


def test_scores_are_cosine_whatever_the_vector_norms(make_store: Callable[..., Any]) -> None:
    sig = StoreSignature("fake/raw", 3, 200, 40, "plain")
    s = make_store(sig)
    info, chunks, _ = make_doc(RIVERS, "rivers.txt")
    vectors = np.zeros((len(chunks), 3), dtype=np.float32)
    vectors[:, 2] = 1.0
    vectors[0] = [5.0, 0.0, 0.0]  # long vector, same direction as the query
    vectors[1] = [1.0, 1.0, 0.0]  # 45 degrees away: cosine 0.7071
    s.add_document(info, chunks, vectors)
    hits = s.query(np.array([0.5, 0.0, 0.0], dtype=np.float32), 2)
    assert [h.chunk.index for h in hits] == [0, 1]
    assert [h.score for h in hits] == pytest.approx([1.0, 2 ** -0.5], abs=1e-5)


def test_query_edge_cases(make_store: Callable[..., Any]) -> None:
    s = make_store()
    q = ENCODER.encode(["rhine"])[0]
    assert s.query(q, 5) == []
    info, chunks, vectors = make_doc(RIVERS, "rivers.txt")
    s.add_document(info, chunks, vectors)
    assert s.query(q, 0) == []
    assert len(s.query(q, 50)) == len(chunks)
    assert len(s.query(q[None, :], 1)) == 1  # a (1, d) row is accepted too
    with pytest.raises(StoreMismatchError, match="dimension"):
        s.query(np.ones(DIM + 1, dtype=np.float32), 3)


def test_documents_and_get_document(store: Any) -> None:
    rivers, chunks, _ = make_doc(RIVERS, "rivers.txt", when="2025-01-01T00:00:00+00:00")
    docs = store.documents()
    assert [d.source for d in docs] == ["rivers.txt", "planets.md"]  # oldest first
    assert docs[0] == rivers
    assert store.get_document(rivers.id) == rivers
    assert store.get_document(rivers.id).page_starts == rivers.page_starts
    assert store.get_document("nope") is None


def test_get_chunks_returns_existing_ones_sorted(store: Any) -> None:
    info, chunks, _ = make_doc(RIVERS, "rivers.txt")
    got = store.get_chunks(info.id, [3, 1, 99, -1, 1])
    assert got == [chunks[1], chunks[3]]
    assert RIVERS[got[1].start:got[1].end] == got[1].text
    assert store.get_chunks(info.id, []) == []
    assert store.get_chunks("unknown", [0, 1]) == []


def test_all_chunks_in_document_order(store: Any) -> None:
    _, r_chunks, _ = make_doc(RIVERS, "rivers.txt")
    _, p_chunks, _ = make_doc(PLANETS, "planets.md")
    assert list(store.all_chunks()) == r_chunks + p_chunks
    assert store.count() == len(r_chunks) + len(p_chunks)


def test_delete_document(store: Any) -> None:
    info, chunks, vectors = make_doc(RIVERS, "rivers.txt")
    store.delete_document(info.id)
    assert store.get_document(info.id) is None
    assert [d.source for d in store.documents()] == ["planets.md"]
    assert all(h.chunk.doc_id != info.id for h in store.query(vectors[0], 10))
    assert all(c.doc_id != info.id for c in store.all_chunks())
    assert store.get_chunks(info.id, range(10)) == []
    assert store.count() == 4
    with pytest.raises(DocumentNotFoundError):
        store.delete_document(info.id)
    with pytest.raises(DocumentNotFoundError):
        store.delete_document("never-indexed")


def test_adding_an_indexed_id_again_replaces_it(store: Any) -> None:
    info, chunks, vectors = make_doc(RIVERS, "rivers.txt")
    short = dataclasses.replace(info, chunks=2, title="Short")
    store.add_document(short, chunks[:2], vectors[:2])
    assert store.get_document(info.id).title == "Short"
    assert store.get_chunks(info.id, range(10)) == chunks[:2]
    assert store.count() == 2 + 4
    assert len(store.documents()) == 2


def test_registry_counts_the_chunks_actually_stored(make_store: Callable[..., Any]) -> None:
    s = make_store()
    info, chunks, vectors = make_doc(BAKING, "baking.txt")
    s.add_document(dataclasses.replace(info, chunks=99), chunks, vectors)
    assert s.get_document(info.id).chunks == len(chunks)


def test_bad_input_is_refused(make_store: Callable[..., Any]) -> None:
    s = make_store()
    info, chunks, vectors = make_doc(BAKING, "baking.txt")
    with pytest.raises(StoreMismatchError, match="dimension"):
        s.add_document(info, chunks, np.ones((len(chunks), DIM * 2), dtype=np.float32))
    with pytest.raises(ValueError, match="one vector per chunk"):
        s.add_document(info, chunks, vectors[:-1])
    stranger = Chunk(doc_id="other", index=9, text="x", start=0, end=1, page=1)
    with pytest.raises(ValueError, match="belong"):
        s.add_document(info, [*chunks[:-1], stranger], vectors)
    with pytest.raises(ValueError, match="unique"):
        s.add_document(info, [chunks[0], chunks[0]], vectors[:2])
    assert s.documents() == [] and s.count() == 0


def test_lone_surrogates_are_replaced(make_store: Callable[..., Any]) -> None:
    s = make_store()
    text = "caf\ud800e au lait. Second \udfff part."
    info = DocumentInfo(id="sur", source="bad\udc80.txt", title="t", pages=1, chunks=2, chars=len(text),
                        indexed_at="2025-01-01T00:00:00+00:00")
    cut = text.index(".") + 1
    chunks = [Chunk("sur", 0, text[:cut], 0, cut, 1, header="h\ud801"),
              Chunk("sur", 1, text[cut + 1:], cut + 1, len(text), 1)]
    s.add_document(info, chunks, ENCODER.encode(["cafe", "second part"]))
    got = s.get_chunks("sur", [0, 1])
    assert got[0].text == "caf\ufffde au lait." and len(got[0].text) == cut
    assert got[0].header == "h\ufffd"
    assert s.get_document("sur").source == "bad\ufffd.txt"
    assert s.query(ENCODER.encode(["second part"])[0], 1)[0].source == "bad\ufffd.txt"


def test_more_than_one_batch_of_chunks(make_store: Callable[..., Any]) -> None:
    encoder = HashingEncoder(dimension=4)
    sig = StoreSignature(encoder.id, 4, 200, 40, "plain")
    s = make_store(sig)
    n = 5300  # more than one Chroma batch (5,000 rows)
    words = [f"w{i} " for i in range(n)]
    text = "".join(words)
    offsets = np.cumsum([0] + [len(w) for w in words])
    chunks = [Chunk("big", i, words[i][:-1], int(offsets[i]), int(offsets[i]) + len(words[i]) - 1, 1)
              for i in range(n)]
    vectors = np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32)
    info = DocumentInfo(id="big", source="big.txt", title="Big", pages=1, chunks=n, chars=len(text),
                        indexed_at="2025-01-01T00:00:00+00:00")
    s.add_document(info, chunks, vectors)
    assert s.count() == n
    assert s.get_chunks("big", [n - 1, 0, 5000]) == [chunks[0], chunks[5000], chunks[n - 1]]
    assert sum(1 for _ in s.all_chunks()) == n
    assert s.query(vectors[5100], 1)[0].chunk == chunks[5100]
    s.delete_document("big")
    assert s.count() == 0


# -- signature ---------------------------------------------------------------------------------


def test_signature_round_trips_through_metadata() -> None:
    meta = SIG.as_metadata()
    assert all(isinstance(v, (str, int)) for v in meta.values())
    assert StoreSignature.from_metadata(meta) == SIG
    SIG.check(StoreSignature.from_metadata(dict(meta)))


def test_signature_check_names_the_differences() -> None:
    other = StoreSignature("other/encoder", DIM, 100, 40, "header")
    with pytest.raises(StoreMismatchError) as err:
        SIG.check(other, where="collection 'documents'")
    message = str(err.value)
    assert "encoder_id" in message and "chunk_tokens" in message and "dimension" not in message
    assert "collection 'documents'" in message and "--collection" in message and "new data dir" in message


def test_signature_missing_from_metadata() -> None:
    with pytest.raises(StoreMismatchError, match="not created by this application"):
        StoreSignature.from_metadata({"hnsw:space": "cosine"})
    with pytest.raises(StoreMismatchError, match="not created by this application"):
        StoreSignature.from_metadata(None)


# -- Chroma only: persistence, crashes, errors -------------------------------------------------


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    s = open_chroma(tmp_path / "db")
    info, chunks, vectors = make_doc(RIVERS, "rivers.txt")
    s.add_document(info, chunks, vectors)
    again = open_chroma(tmp_path / "db")
    assert again.documents() == [info]
    assert list(again.all_chunks()) == chunks
    assert again.query(vectors[2], 1)[0].chunk == chunks[2]


def test_other_signature_is_refused_on_reopen(tmp_path: Path) -> None:
    open_chroma(tmp_path / "db").add_document(*make_doc(RIVERS, "rivers.txt"))
    other = StoreSignature("sentence-transformers/all-mpnet-base-v2", 768, 200, 40, "header")
    with pytest.raises(StoreMismatchError) as err:
        open_chroma(tmp_path / "db", other)
    assert "encoder_id" in str(err.value) and "dimension" in str(err.value)
    assert "--collection" in str(err.value)
    # another collection in the same data dir is fine
    assert open_chroma(tmp_path / "db", other, collection="mpnet").documents() == []
    assert len(open_chroma(tmp_path / "db").documents()) == 1


def test_foreign_collections_are_refused(tmp_path: Path) -> None:
    client = raw_client(tmp_path / "db")
    client.create_collection("foreign", embedding_function=None)
    with pytest.raises(StoreMismatchError, match="not created by this application"):
        ChromaStore(client=client, collection="foreign", signature=SIG)
    client.create_collection("euclid", metadata=SIG.as_metadata(), embedding_function=None,
                             configuration={"hnsw": {"space": "l2"}})
    with pytest.raises(StoreMismatchError, match="'l2'"):
        ChromaStore(client=client, collection="euclid", signature=SIG)


def test_half_written_document_is_invisible_then_cleaned_up(tmp_path: Path) -> None:
    client = raw_client(tmp_path / "db")
    s = ChromaStore(client=client, collection="documents", signature=SIG)
    s.add_document(*make_doc(RIVERS, "rivers.txt"))
    info, chunks, vectors = make_doc(PLANETS, "planets.md")
    # a crash after the chunk rows, before the registry row
    client.get_collection("documents", embedding_function=None).upsert(
        ids=[c.id for c in chunks[:3]], embeddings=vectors[:3], documents=[c.text for c in chunks[:3]],
        metadatas=[{"doc_id": c.doc_id, "index": c.index, "start": c.start, "end": c.end,
                    "page": c.page, "header": c.header, "source": "planets.md"} for c in chunks[:3]])
    assert s.count() == 4 + 3
    assert all(h.chunk.doc_id != info.id for h in s.query(vectors[0], 3))
    assert len(s.query(vectors[0], 3)) == 3  # over-fetching still fills k with complete documents
    assert all(c.doc_id != info.id for c in s.all_chunks())
    assert s.get_chunks(info.id, [0, 1]) == []
    assert s.get_document(info.id) is None

    reopened = open_chroma(tmp_path / "db")  # opening never deletes: a writer may be mid-way
    assert reopened.count() == 7
    assert all(c.doc_id != info.id for c in reopened.all_chunks())
    assert reopened.cleanup_incomplete() == 3  # the writer's cleanup, under its lock
    assert reopened.count() == 4
    assert reopened.cleanup_incomplete() == 0
    assert [d.source for d in reopened.documents()] == ["rivers.txt"]


def test_interrupted_delete_is_cleaned_up(tmp_path: Path) -> None:
    client = raw_client(tmp_path / "db")
    s = ChromaStore(client=client, collection="documents", signature=SIG)
    info, chunks, vectors = make_doc(RIVERS, "rivers.txt")
    s.add_document(info, chunks, vectors)
    client.get_collection("documents__docs", embedding_function=None).delete(ids=[info.id])
    assert s.query(vectors[0], 5) == []
    assert s.cleanup_incomplete() == len(chunks)
    assert s.count() == 0


class _FailingRegistry:
    """Wraps a Chroma collection; its upsert fails like a full disk would."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def upsert(self, **kwargs: Any) -> None:
        raise RuntimeError("disk full")


def test_failed_write_becomes_store_error_and_is_rolled_back(tmp_path: Path) -> None:
    client = RegistryWrappingClient(raw_client(tmp_path / "db"), _FailingRegistry)
    s = ChromaStore(client=client, collection="documents", signature=SIG)
    info, chunks, vectors = make_doc(RIVERS, "rivers.txt")
    with pytest.raises(StoreError, match="cannot store document 'rivers.txt': disk full"):
        s.add_document(info, chunks, vectors)
    assert s.count() == 0 and s.documents() == []


def test_invalid_collection_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="collection name"):
        open_chroma(tmp_path / "db", collection="a")
    with pytest.raises(ConfigError, match="collection name"):
        open_chroma(tmp_path / "db", collection="my docs")
    with pytest.raises(ConfigError, match="collection name"):
        open_chroma(tmp_path / "db", collection="documents__docs")


def test_document_without_chunks(make_store: Callable[..., Any]) -> None:
    s = make_store()
    info = DocumentInfo(id="empty", source="e.txt", title="E", pages=1, chunks=0, chars=0,
                        indexed_at="2025-01-01T00:00:00+00:00")
    s.add_document(info, [], np.zeros((0,), dtype=np.float32))
    assert s.get_document("empty") == info and list(s.all_chunks()) == []
    s.delete_document("empty")
    assert s.documents() == []


def test_unusable_data_dir_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the vector store"):
        open_chroma(blocker / "db")


def test_unreachable_server_is_a_store_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    with pytest.raises(StoreError, match="cannot reach the Chroma server"):
        ChromaStore.open_server("127.0.0.1", port, collection="documents", signature=SIG)


def test_ef_search_is_fixed_when_the_collection_is_created(tmp_path: Path) -> None:
    assert open_chroma(tmp_path / "db").ef_search == 100  # Chroma's default
    wide = ChromaStore.open_embedded(tmp_path / "db", collection="wide", signature=SIG, ef_search=400)
    wide.add_document(*make_doc(RIVERS, "rivers.txt"))
    assert wide.ef_search == 400
    q = ENCODER.encode(["Which sea does the Rhine river reach?"])[0]
    assert "North Sea" in wide.query(q, 1)[0].chunk.text
    # an existing collection keeps its own value (Chroma ignores later changes to a loaded index)
    assert ChromaStore.open_embedded(tmp_path / "db", collection="wide", signature=SIG).ef_search == 400
    with pytest.raises(ConfigError, match="ef_search"):
        ChromaStore.open_embedded(tmp_path / "db", collection="other", signature=SIG, ef_search=0)
