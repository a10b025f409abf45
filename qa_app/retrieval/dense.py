"""Dense retrieval: embed the query, ask the vector store for its nearest chunks (cosine)."""

from __future__ import annotations

from qa_app.protocols import Encoder, VectorStore
from qa_app.types import Hit


class DenseRetriever:
    name = "dense"

    def __init__(self, *, encoder: Encoder, store: VectorStore) -> None:
        self._encoder = encoder
        self._store = store

    def retrieve(self, query: str, k: int) -> list[Hit]:
        vector = self._encoder.encode([query])[0]
        return self._store.query(vector, k)
