"""`ChromaStore`: the VectorStore over chromadb 1.x (embedded PersistentClient or a server).

Two collections per store: `<collection>` holds one row per chunk (id `doc:index`, the chunk text,
its offsets, cosine HNSW over the vectors we compute ourselves); `<collection>__docs` is the
registry, one row per *completely* indexed document. Chunks are written before their registry row
and deleted after it, and every read path shows only chunks of registered documents, so a crash or
a concurrent reader never sees half a document. Leftover rows of an interrupted write are removed
by `cleanup_incomplete()` (run by `open_embedded`).

The query path uses no `where` filter (Chroma scans every row for those); hits are post-filtered in
Python. This module does no locking between processes: Chroma is not process-safe, so one writer
process per data directory is the caller's job. chromadb is imported on first use only.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from indexing.stores.chroma_rows import chunk_from, chunk_metadata, info_from, info_metadata
from indexing.stores.memory import (
    check_document,
    clean_chunk,
    clean_info,
    document_order,
    query_vector,
)
from indexing.stores.signature import StoreSignature
from qa_app.errors import ConfigError, DocumentNotFoundError, QAError, StoreError, StoreMismatchError
from qa_app.types import Chunk, DocumentInfo, Hit, chunk_id

DEFAULT_EF_SEARCH = 100  # Chroma's own default
MAX_BATCH = 5000  # rows per Chroma call; Chroma 1.x refuses more than 5,461
REGISTRY_SUFFIX = "__docs"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,504}[A-Za-z0-9]$")
_WRITE_REMEDY = ("check that the data dir is writable, has free space and is used by no other "
                 "process (or that the Chroma server is reachable), then index the document again")
_READ_REMEDY = ("check that the data dir is readable and used by no other process "
                "(or that the Chroma server is reachable)")


@contextmanager
def _chroma_errors(action: str, remedy: str) -> Iterator[None]:
    """Turn anything chromadb (or its Rust core, or the network) raises into a StoreError."""
    try:
        yield
    except QAError:
        raise
    except Exception as exc:
        raise StoreError(f"{action}: {exc}; {remedy}") from exc


class ChromaStore:
    """VectorStore over two Chroma collections (chunks + registry of complete documents)."""

    def __init__(self, *, client: Any, collection: str, signature: StoreSignature, ef_search: int = DEFAULT_EF_SEARCH) -> None:
        """Open (or create) the collections through an injected chromadb client.

        `ef_search` (HNSW candidates per query) is fixed when the collection is created: Chroma
        1.x ignores later changes for an index it has loaded. An existing collection keeps its own.
        Raises StoreMismatchError when the collection exists with another signature or metric.
        """
        if ef_search < 1:
            raise ConfigError("ef_search must be at least 1")
        if not _NAME.match(collection) or ".." in collection or collection.endswith(REGISTRY_SUFFIX):
            raise ConfigError(
                f"collection name {collection!r} is invalid: use 3-506 characters from "
                f"A-Z a-z 0-9 . _ -, starting and ending with a letter or digit, not ending in {REGISTRY_SUFFIX!r}"
            )
        self._client = client
        self._name = collection
        self._signature = signature
        self._lock = threading.RLock()  # one write sequence (chunks, then registry) at a time
        where = f"collection {collection!r}"
        with _chroma_errors(f"cannot open {where}", _READ_REMEDY):
            self._chunks = self._open_collection(
                collection,
                metadata=signature.as_metadata(),
                configuration={"hnsw": {"space": "cosine", "ef_search": int(ef_search)}},
            )
            self._registry = self._open_collection(
                collection + REGISTRY_SUFFIX, metadata={"qa_registry_of": collection}, configuration=None
            )
            self._batch = min(MAX_BATCH, int(client.get_max_batch_size()))
        signature.check(StoreSignature.from_metadata(self._chunks.metadata, where=where), where=where)
        space = _space_of(self._chunks)
        if space not in (None, "cosine"):
            raise StoreMismatchError(
                f"{where} uses the {space!r} distance, not cosine; "
                "use another --collection or re-index into a new data dir"
            )

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def open_embedded(
        cls, path: str | os.PathLike[str], *, collection: str, signature: StoreSignature,
        ef_search: int = DEFAULT_EF_SEARCH,
    ) -> "ChromaStore":
        """Open the embedded store in directory `path` (created if missing). Telemetry is off.

        Rows left by an interrupted write stay invisible to queries; the writer removes them with
        `cleanup_incomplete()` under its lock (a reader process must not: a writer may be mid-way).
        """
        import chromadb
        from chromadb.config import Settings

        folder = Path(path)
        with _chroma_errors(
            f"cannot open the vector store in {folder}",
            "check that the directory is writable and that no other process uses it",
        ):
            folder.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(folder), settings=Settings(anonymized_telemetry=False))
        return cls(client=client, collection=collection, signature=signature, ef_search=ef_search)

    @classmethod
    def open_server(
        cls,
        host: str,
        port: int,
        *,
        collection: str,
        signature: StoreSignature,
        ssl: bool = False,
        token: str = "",
        ef_search: int = DEFAULT_EF_SEARCH,
    ) -> "ChromaStore":
        """Connect to a Chroma server (or the authenticating proxy in front of it).

        `token` is sent as a bearer token. No automatic cleanup here: another process may be
        writing to the same server; call `cleanup_incomplete()` when you know none is.
        """
        import chromadb
        from chromadb.config import Settings

        url = f"{'https' if ssl else 'http'}://{host}:{port}"
        headers = {"Authorization": f"Bearer {token}"} if token else None
        with _chroma_errors(
            f"cannot reach the Chroma server at {url}",
            "start the server or check chroma_host, chroma_port, chroma_ssl and chroma_token",
        ):
            client = chromadb.HttpClient(
                host=host, port=port, ssl=ssl, headers=headers, settings=Settings(anonymized_telemetry=False)
            )
        return cls(client=client, collection=collection, signature=signature, ef_search=ef_search)

    def _open_collection(self, name: str, *, metadata: Mapping[str, Any], configuration: Any) -> Any:
        from chromadb.errors import NotFoundError

        try:
            # get first: creation arguments must never touch an existing collection
            return self._client.get_collection(name, embedding_function=None)
        except (NotFoundError, ValueError):
            pass  # missing: create it below (get_or_create tolerates a concurrent creator)
        return self._client.get_or_create_collection(
            name, configuration=configuration, metadata=dict(metadata), embedding_function=None
        )

    # -- properties -------------------------------------------------------------------------

    @property
    def signature(self) -> StoreSignature:
        return self._signature

    @property
    def collection(self) -> str:
        return self._name

    # -- writes -----------------------------------------------------------------------------

    def add_document(self, info: DocumentInfo, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write the chunks (upsert, in batches), then the registry row that makes them visible.

        An already indexed id is deleted first (the store never keeps stale chunks of it).
        If writing fails, the chunks written so far are removed where possible.
        """
        matrix = check_document(info, chunks, vectors, self._signature.dimension)
        info = clean_info(info, len(chunks))
        rows = [clean_chunk(c) for c in chunks]
        with self._lock:
            if self._registered([info.id]):
                self.delete_document(info.id)
            try:
                for a in range(0, len(rows), self._batch):
                    part = rows[a:a + self._batch]
                    self._chunks.upsert(
                        ids=[c.id for c in part],
                        embeddings=matrix[a:a + self._batch],
                        documents=[c.text for c in part],
                        metadatas=[chunk_metadata(c, info.source) for c in part],
                    )
                self._registry.upsert(ids=[info.id], embeddings=[[1.0]], metadatas=[info_metadata(info)])
            except QAError:
                raise
            except Exception as exc:
                self._discard([c.id for c in rows], exc)
                raise StoreError(f"cannot store document {info.source!r}: {exc}; {_WRITE_REMEDY}") from exc

    def delete_document(self, doc_id: str) -> None:
        """Remove a document: its registry row first (it vanishes at once), then its chunks."""
        with self._lock:
            info = self.get_document(doc_id)
            if info is None:
                raise DocumentNotFoundError(f"no indexed document has id {doc_id!r}")
            with _chroma_errors(f"cannot delete document {info.source!r}", _WRITE_REMEDY):
                self._registry.delete(ids=[doc_id])
                ids = [chunk_id(doc_id, i) for i in range(info.chunks)]
                for a in range(0, len(ids), self._batch):
                    self._chunks.delete(ids=ids[a:a + self._batch])

    def cleanup_incomplete(self) -> int:
        """Delete chunk rows of documents that are not registered (an interrupted add or delete)
        and rows beyond a registered document's chunk count; return how many were deleted.

        Do not call while another process writes to the same collection."""
        with self._lock, _chroma_errors(f"cannot clean up collection {self._name!r}", _WRITE_REMEDY):
            expected = {d.id: d.chunks for d in self.documents()}
            if self._chunks.count() == sum(expected.values()):
                return 0  # the usual case: no scan
            stale: list[str] = []
            offset = 0
            while True:  # collect first: deleting while paging would shift the offsets
                page = self._chunks.get(include=[], limit=self._batch, offset=offset)["ids"]
                for cid in page:
                    doc, _, index = cid.rpartition(":")
                    if doc not in expected or not index.isdigit() or int(index) >= expected[doc]:
                        stale.append(cid)
                if len(page) < self._batch:
                    break
                offset += len(page)
            for a in range(0, len(stale), self._batch):
                self._chunks.delete(ids=stale[a:a + self._batch])
            return len(stale)

    def _discard(self, ids: list[str], cause: Exception) -> None:
        """Best-effort rollback of a failed add; what is left is removed by cleanup_incomplete."""
        try:
            for a in range(0, len(ids), self._batch):
                self._chunks.delete(ids=ids[a:a + self._batch])
        except Exception as exc:
            cause.add_note(f"rollback failed too ({exc}); cleanup_incomplete() will remove the rows")

    def stored_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors stored under these chunk ids (missing ids left out)."""
        found: dict[str, np.ndarray] = {}
        with _chroma_errors("cannot read stored vectors", _READ_REMEDY):
            for a in range(0, len(ids), self._batch):
                got = self._chunks.get(ids=list(ids[a:a + self._batch]), include=["embeddings"])
                embeddings = got["embeddings"] if got["embeddings"] is not None else []
                found.update((i, np.asarray(e, dtype=np.float32)) for i, e in zip(got["ids"], embeddings))
        return found

    def rewrite_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write these chunk rows of registered documents again (upsert: same ids, text, metadata), with
        `vectors`: what `qa-app docs check --repair` does to a row search cannot reach or whose vector is wrong."""
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(chunks), -1)
        with self._lock:
            sources = {}
            for doc_id in {c.doc_id for c in chunks}:
                info = self.get_document(doc_id)
                if info is None:
                    raise DocumentNotFoundError(f"no indexed document has id {doc_id!r}")
                sources[doc_id] = info.source
            rows = [clean_chunk(c) for c in chunks]
            with _chroma_errors("cannot rewrite chunks", _WRITE_REMEDY):
                for a in range(0, len(rows), self._batch):
                    part = rows[a:a + self._batch]
                    self._chunks.upsert(ids=[c.id for c in part], embeddings=matrix[a:a + self._batch],
                                        documents=[c.text for c in part],
                                        metadatas=[chunk_metadata(c, sources[c.doc_id]) for c in part])

    def close(self) -> None:
        """Let go of the client: an embedded store's in-memory index is dropped (chromadb shares one
        per path and process, counted), so a later open reads what other processes wrote meanwhile."""
        close = getattr(self._client, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):  # closing twice, or a server that is gone: nothing to lose
                close()

    # -- reads ------------------------------------------------------------------------------

    def documents(self) -> list[DocumentInfo]:
        """Every completely indexed document, oldest first."""
        infos: list[DocumentInfo] = []
        with _chroma_errors("cannot list the indexed documents", _READ_REMEDY):
            offset = 0
            while True:
                page = self._registry.get(include=["metadatas"], limit=self._batch, offset=offset)
                infos += [info_from(i, m) for i, m in zip(page["ids"], page["metadatas"] or [])]
                if len(page["ids"]) < self._batch:
                    break
                offset += len(page["ids"])
        return sorted(infos, key=document_order)

    def get_document(self, doc_id: str) -> DocumentInfo | None:
        with _chroma_errors("cannot read the document registry", _READ_REMEDY):
            page = self._registry.get(ids=[doc_id], include=["metadatas"])
        if not page["ids"]:
            return None
        return info_from(page["ids"][0], (page["metadatas"] or [{}])[0])

    @property
    def ef_search(self) -> int | None:
        """HNSW candidate list size at query time (None when the index does not say)."""
        value = ((getattr(self._chunks, "configuration_json", None) or {}).get("hnsw") or {}).get("ef_search")
        return int(value) if value is not None else None

    def query(self, vector: np.ndarray, k: int) -> list[Hit]:
        """The k nearest chunks of registered documents; score = 1 - cosine distance."""
        q = query_vector(vector, self._signature.dimension)
        if k <= 0:
            return []
        n = k + max(4, k // 4)  # over-fetch: some hits may belong to half-written documents
        while True:
            with _chroma_errors("cannot search the vector store", _READ_REMEDY):
                res = self._chunks.query(
                    query_embeddings=[q], n_results=n, include=["documents", "metadatas", "distances"]
                )
                ids = res["ids"][0]
                metas = (res["metadatas"] or [[]])[0]
                texts = (res["documents"] or [[]])[0]
                dists = (res["distances"] or [[]])[0]
                complete = self._registered({str((m or {}).get("doc_id")) for m in metas})
            rows = [(m, t, d) for m, t, d in zip(metas, texts, dists) if (m or {}).get("doc_id") in complete]
            if len(rows) >= k or len(ids) < n:
                break
            n *= 4
        return [
            Hit(chunk=chunk_from(m, t), score=1.0 - float(d), rank=rank,
                source=str(m.get("source", "")), retriever="dense")
            for rank, (m, t, d) in enumerate(rows[:k], start=1)
        ]

    def get_chunks(self, doc_id: str, indices: Iterable[int]) -> list[Chunk]:
        """Chunks of a registered document at `indices` that exist, sorted by index."""
        info = self.get_document(doc_id)
        if info is None:
            return []
        wanted = sorted({int(i) for i in indices if 0 <= int(i) < info.chunks})
        return self._fetch([chunk_id(doc_id, i) for i in wanted])

    def all_chunks(self) -> Iterator[Chunk]:
        """Every chunk of every registered document, in `documents()` order, by index (lazy)."""
        ids: list[str] = []
        for info in self.documents():
            for i in range(info.chunks):
                ids.append(chunk_id(info.id, i))
                if len(ids) == self._batch:
                    yield from self._fetch(ids)
                    ids = []
        yield from self._fetch(ids)

    def collection_names(self) -> list[str]:
        """The document collections this store's Chroma holds (their registries not counted), sorted."""
        with _chroma_errors("cannot list the collections", _READ_REMEDY):
            names = [c if isinstance(c, str) else c.name for c in self._client.list_collections()]
        return sorted(n for n in names if not n.endswith(REGISTRY_SUFFIX))

    def count(self) -> int:
        """Number of chunk rows (including any of an unfinished write)."""
        with _chroma_errors("cannot count the stored chunks", _READ_REMEDY):
            return int(self._chunks.count())

    def _fetch(self, ids: list[str]) -> list[Chunk]:
        """Chunks with these ids, in the order asked, missing ones skipped."""
        if not ids:
            return []
        found: dict[str, Chunk] = {}
        with _chroma_errors("cannot read chunks", _READ_REMEDY):
            for a in range(0, len(ids), self._batch):
                res = self._chunks.get(ids=ids[a:a + self._batch], include=["documents", "metadatas"])
                for cid, m, t in zip(res["ids"], res["metadatas"] or [], res["documents"] or []):
                    found[cid] = chunk_from(m, t)
        return [found[i] for i in ids if i in found]

    def _registered(self, doc_ids: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(doc_ids))
        if not wanted:
            return set()
        return set(self._registry.get(ids=wanted, include=[])["ids"])


def _space_of(collection: Any) -> str | None:
    config = getattr(collection, "configuration_json", None) or {}
    for index in ("hnsw", "spann"):
        space = (config.get(index) or {}).get("space")
        if space:
            return str(space)
    space = (collection.metadata or {}).get("hnsw:space")
    return str(space) if space else None
