"""The small contracts between stages. Concrete classes live in adapter modules; tests pass fakes.

Nothing here imports torch, chromadb or any other heavy library.
"""

from __future__ import annotations

from typing import Iterable, Protocol, Sequence, runtime_checkable

import numpy as np

from qa_app.types import Chunk, DocumentInfo, Hit, ReaderResult, SpanInContext, Window


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    @property
    def id(self) -> str: ...  # e.g. "sentence-transformers/all-MiniLM-L6-v2"

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...  # shape (len(texts), dimension)


@runtime_checkable
class LateChunkingEncoder(Encoder, Protocol):
    """An Encoder that can also embed a span from the token vectors of its surrounding context."""

    def encode_in_context(self, items: Sequence[SpanInContext]) -> Iterable[np.ndarray]: ...  # batches of rows


@runtime_checkable
class Tokenizer(Protocol):
    """Counts word pieces and maps them to character offsets (for token-aware chunking)."""

    def token_offsets(self, text: str) -> list[tuple[int, int]]: ...  # one (start, end) per piece

    def count_tokens(self, text: str) -> int: ...  # word pieces in text (window token budgets)


@runtime_checkable
class VectorStore(Protocol):
    """Chunks with their vectors and a registry of completely indexed documents."""

    def add_document(self, info: DocumentInfo, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Store chunks, then mark the document complete (atomic for readers)."""

    def delete_document(self, doc_id: str) -> None: ...

    def documents(self) -> list[DocumentInfo]: ...

    def get_document(self, doc_id: str) -> DocumentInfo | None: ...

    def query(self, vector: np.ndarray, k: int) -> list[Hit]: ...

    def get_chunks(self, doc_id: str, indices: Iterable[int]) -> list[Chunk]: ...

    def all_chunks(self) -> Iterable[Chunk]: ...


@runtime_checkable
class Retriever(Protocol):
    def retrieve(self, query: str, k: int) -> list[Hit]: ...


@runtime_checkable
class Reader(Protocol):
    """Extracts answer spans from windows. Scores are comparable across all windows of a question."""

    @property
    def name(self) -> str: ...

    def read(self, question: str, windows: Sequence[Window]) -> ReaderResult: ...
