"""Sparse (BM25) retrieval: rank chunk ids with a lexical index, fetch the chunks from the store.

Only chunks of documents the store has registered are returned, so a document that is half
written, being deleted or missing from the store never shows up, even if the lexical index still
lists it. This module does no indexing and no fusion (see `qa_app.retrieval.hybrid`).
"""

from __future__ import annotations

from typing import Protocol

from qa_app.protocols import VectorStore
from qa_app.types import Chunk, DocumentInfo, Hit

_MAX_ROUNDS = 4  # over-fetch rounds when hits are dropped for unregistered documents


class LexicalIndex(Protocol):
    """What the retriever needs of `indexing.sparse.BM25Index`."""

    def search(self, query: str, k: int) -> list[tuple[str, float]]: ...


class SparseRetriever:
    name = "sparse"

    def __init__(self, *, index: LexicalIndex, store: VectorStore) -> None:
        self._index = index
        self._store = store

    def retrieve(self, query: str, k: int) -> list[Hit]:
        """Up to k hits ranked by BM25 score (rank 1 = best); no shared term, no hit."""
        if k <= 0:
            return []
        n = k
        for _ in range(_MAX_ROUNDS):
            ranked = self._index.search(query, n)
            found = self._resolve(ranked)
            if len(found) >= k or len(ranked) < n:
                break
            n *= 4  # some ids belonged to unregistered documents: ask for more
        return [
            Hit(chunk=chunk, score=score, rank=rank, source=info.source, retriever=self.name)
            for rank, (chunk, score, info) in enumerate(found[:k], start=1)
        ]

    def _resolve(self, ranked: list[tuple[str, float]]) -> list[tuple[Chunk, float, DocumentInfo]]:
        """The ranked ids as chunks of registered documents, in the same order."""
        wanted: dict[str, set[int]] = {}
        for cid, _ in ranked:
            doc_id, _, index = cid.rpartition(":")
            if doc_id and index.isdigit():
                wanted.setdefault(doc_id, set()).add(int(index))
        infos: dict[str, DocumentInfo] = {}
        chunks: dict[str, Chunk] = {}
        for doc_id, indices in wanted.items():
            info = self._store.get_document(doc_id)
            if info is None:
                continue
            infos[doc_id] = info
            for chunk in self._store.get_chunks(doc_id, indices):
                chunks[chunk.id] = chunk
        return [(chunks[cid], score, infos[chunks[cid].doc_id]) for cid, score in ranked if cid in chunks]
