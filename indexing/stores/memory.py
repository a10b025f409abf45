"""`InMemoryStore`: the reference VectorStore, exact cosine search with numpy, nothing persisted.

Used as the store fake in tests and as the behaviour `ChromaStore` must match. It holds every
vector in memory and scans them all per query, so it is meant for tests and small corpora only.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from typing import Iterable, Iterator, Sequence

import numpy as np

from indexing.stores.signature import StoreSignature
from qa_app.errors import DocumentNotFoundError, StoreMismatchError
from qa_app.types import Chunk, DocumentInfo, Hit

_SURROGATES = re.compile("[\ud800-\udfff]")


def replace_surrogates(text: str) -> str:
    """Replace lone surrogates (unencodable as UTF-8) by U+FFFD; lengths and offsets are kept."""
    return _SURROGATES.sub("\ufffd", text)


def check_document(info: DocumentInfo, chunks: Sequence[Chunk], vectors: np.ndarray, dimension: int) -> np.ndarray:
    """Validate what add_document was given; return the vectors as a float32 matrix."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if not chunks and matrix.size == 0:
        return np.zeros((0, dimension), dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(chunks):
        raise ValueError(f"need one vector per chunk: {len(chunks)} chunks, vectors of shape {matrix.shape}")
    if len(chunks) and matrix.shape[1] != dimension:
        raise StoreMismatchError(
            f"vectors have dimension {matrix.shape[1]} but the store holds dimension {dimension}; "
            "index with the encoder the store was built with, or use another --collection"
        )
    if any(c.doc_id != info.id for c in chunks):
        raise ValueError(f"every chunk must belong to document {info.id}")
    if len({c.index for c in chunks}) != len(chunks):
        raise ValueError(f"chunk indices of document {info.id} are not unique")
    return matrix


def query_vector(vector: np.ndarray, dimension: int) -> np.ndarray:
    """A query as a flat float32 vector of the store's dimension."""
    flat = np.asarray(vector, dtype=np.float32).reshape(-1)
    if flat.shape[0] != dimension:
        raise StoreMismatchError(
            f"query vector has dimension {flat.shape[0]} but the store holds dimension {dimension}; "
            "encode questions with the encoder the store was built with"
        )
    return flat


def clean_chunk(chunk: Chunk) -> Chunk:
    """The chunk as the store keeps it: lone surrogates replaced."""
    text, header = replace_surrogates(chunk.text), replace_surrogates(chunk.header)
    if text == chunk.text and header == chunk.header:
        return chunk
    return dataclasses.replace(chunk, text=text, header=header)


def clean_info(info: DocumentInfo, chunk_count: int) -> DocumentInfo:
    """The registry entry as the store keeps it: real chunk count, lone surrogates replaced."""
    return dataclasses.replace(
        info,
        chunks=chunk_count,
        source=replace_surrogates(info.source),
        title=replace_surrogates(info.title),
        page_starts=tuple(int(p) for p in info.page_starts),
    )


def document_order(info: DocumentInfo) -> tuple[str, str, str]:
    """Order of `documents()`: oldest first, then by name."""
    return (info.indexed_at, info.source, info.id)


class InMemoryStore:
    """VectorStore over Python dicts and a numpy matrix; exact cosine similarity."""

    def __init__(self, *, signature: StoreSignature) -> None:
        self._signature = signature
        self._lock = threading.RLock()
        self._docs: dict[str, DocumentInfo] = {}
        self._chunks: dict[str, list[Chunk]] = {}  # doc id -> chunks sorted by index
        self._vectors: dict[str, np.ndarray] = {}  # doc id -> unit vectors, rows as in _chunks
        self._matrix: tuple[np.ndarray, list[Chunk]] | None = None  # cache, rebuilt after writes

    @property
    def signature(self) -> StoreSignature:
        return self._signature

    def add_document(self, info: DocumentInfo, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Store a document's chunks and vectors; an already indexed id is replaced."""
        matrix = check_document(info, chunks, vectors, self._signature.dimension)
        order = sorted(range(len(chunks)), key=lambda i: chunks[i].index)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        unit = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
        with self._lock:
            self._chunks[info.id] = [clean_chunk(chunks[i]) for i in order]
            self._vectors[info.id] = unit[order]
            self._docs[info.id] = clean_info(info, len(chunks))
            self._matrix = None

    def delete_document(self, doc_id: str) -> None:
        with self._lock:
            if doc_id not in self._docs:
                raise DocumentNotFoundError(f"no indexed document has id {doc_id!r}")
            del self._docs[doc_id], self._chunks[doc_id], self._vectors[doc_id]
            self._matrix = None

    def documents(self) -> list[DocumentInfo]:
        with self._lock:
            return sorted(self._docs.values(), key=document_order)

    def get_document(self, doc_id: str) -> DocumentInfo | None:
        with self._lock:
            return self._docs.get(doc_id)

    def query(self, vector: np.ndarray, k: int) -> list[Hit]:
        """The k chunks most cosine-similar to `vector`; score = cosine similarity."""
        q = query_vector(vector, self._signature.dimension)
        if k <= 0:
            return []
        matrix, chunks = self._snapshot()
        if not chunks:
            return []
        norm = float(np.linalg.norm(q))
        scores = matrix @ (q / norm) if norm else np.zeros(len(chunks), dtype=np.float32)
        top = np.argsort(-scores, kind="stable")[:k]
        return [
            Hit(chunk=chunks[i], score=float(scores[i]), rank=rank,
                source=self._docs[chunks[i].doc_id].source, retriever="dense")
            for rank, i in enumerate(top, start=1)
        ]

    def get_chunks(self, doc_id: str, indices: Iterable[int]) -> list[Chunk]:
        """Chunks of an indexed document at `indices` that exist, sorted by index."""
        wanted = set(indices)
        with self._lock:
            return [c for c in self._chunks.get(doc_id, []) if c.index in wanted]

    def all_chunks(self) -> Iterator[Chunk]:
        """Every chunk, document by document (in `documents()` order), by index."""
        with self._lock:
            snapshot = [c for info in self.documents() for c in self._chunks[info.id]]
        return iter(snapshot)

    def stored_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        wanted = set(ids)
        with self._lock:
            return {c.id: self._vectors[doc][row].copy() for doc, chunks in self._chunks.items()
                    for row, c in enumerate(chunks) if c.id in wanted}

    def rewrite_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(chunks), -1)
        with self._lock:
            for chunk, vector in zip(chunks, matrix):
                if chunk.doc_id not in self._docs:
                    raise DocumentNotFoundError(f"no indexed document has id {chunk.doc_id!r}")
                rows = self._chunks[chunk.doc_id]
                row = next(i for i, c in enumerate(rows) if c.index == chunk.index)
                rows[row] = clean_chunk(chunk)
                norm = float(np.linalg.norm(vector))
                self._vectors[chunk.doc_id][row] = vector / norm if norm else vector
            self._matrix = None

    def collection_names(self) -> list[str]:
        return []  # one unnamed collection: the App's settings name it

    def count(self) -> int:
        """Number of chunks stored."""
        with self._lock:
            return sum(len(c) for c in self._chunks.values())

    def _snapshot(self) -> tuple[np.ndarray, list[Chunk]]:
        with self._lock:
            if self._matrix is None:
                ids = list(self._docs)
                chunks = [c for d in ids for c in self._chunks[d]]
                parts = [self._vectors[d] for d in ids]
                matrix = (np.concatenate(parts) if parts
                          else np.zeros((0, self._signature.dimension), dtype=np.float32))
                self._matrix = (matrix, chunks)
            return self._matrix
