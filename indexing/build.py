"""Index documents: load -> chunk -> contextual encode -> store, one document at a time.

A document becomes visible to queries only when the store has all its chunks (the store writes
chunks first and registers the document last). Content-hash ids make re-indexing the same file a
no-op; a changed file (same origin, new content) replaces its old version after the new one is
stored. A batch never stops at a bad file: it records the reason and goes on.
This module knows nothing about retrieval or readers.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable, Sequence

import numpy as np

from indexing.chunking import chunk_document, embedding_texts, late_contexts
from indexing.loaders import discover_files, load_bytes, load_document
from qa_app.config import ChunkingConfig
from qa_app.errors import ConfigError, LoadError, QAError, StoreError
from qa_app.protocols import Encoder, LateChunkingEncoder, Tokenizer, VectorStore
from qa_app.types import Document, DocumentInfo

STAGES = ("parse", "chunk", "embed", "store")


@dataclass(frozen=True)
class IndexEvent:
    """Progress of one file: `stage` with `done` of `total` units (pages, chunks, ...)."""

    name: str
    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class IndexOutcome:
    """What happened to one input: added, unchanged, replaced or skipped (with the reason)."""

    name: str  # path or upload name as given
    status: str
    doc_id: str = ""
    source: str = ""
    pages: int = 0
    chunks: int = 0
    reason: str = ""
    replaced_id: str = ""


Progress = Callable[[IndexEvent], None]


@dataclass(frozen=True)
class PreparedDocument:
    """A loaded document chunked and encoded, ready to store (what a distributed worker hands back)."""

    document: Document
    chunks: list[Any]
    vectors: np.ndarray
    encoder_id: str


def prepare_document(document: Document, *, tokenizer: Tokenizer, encoder: Encoder, chunking: ChunkingConfig,
                     name: str = "", progress: Progress | None = None) -> PreparedDocument:
    """Chunk and encode `document` (no store involved): the expensive half of indexing."""
    name = name or document.source
    chunks = chunk_document(document, tokenizer, chunking)
    _emit(progress, name, "chunk", len(chunks), len(chunks))
    vectors = _embed(encoder, chunking, name, document, chunks, progress)
    return PreparedDocument(document=document, chunks=chunks, vectors=vectors, encoder_id=encoder.id)


class Indexer:
    """Turns files into stored chunks. Collaborators are injected; `lock` guards the writer."""

    def __init__(
        self,
        *,
        store: VectorStore,
        encoder: Encoder,
        tokenizer: Tokenizer,
        chunking: ChunkingConfig,
        max_bytes: int | None = None,
        lock: Callable[[], ContextManager[Any]] = contextlib.nullcontext,
        extra_sinks: Sequence[Any] = (),
        cleanup_on_index: bool = True,
    ) -> None:
        if chunking.contextual == "late" and not isinstance(encoder, LateChunkingEncoder):
            raise ConfigError(f"contextual = late needs an encoder that exposes token vectors; {encoder.id} "
                              "does not: choose contextual = header")
        self._store = store
        self._encoder = encoder
        self._tokenizer = tokenizer
        self._chunking = chunking
        self._max_bytes = max_bytes
        self._lock = lock
        self._cleanup_on_index = cleanup_on_index  # False when other writers may be mid-way (a server)
        self._sinks = tuple(extra_sinks)  # e.g. the BM25 index: add(doc_id, chunks) / delete(doc_id)

    def index_paths(self, paths: Iterable[str | Path], progress: Progress | None = None) -> list[IndexOutcome]:
        """Index files and folders (walked recursively); one outcome per file or bad path."""
        files, problems = discover_files(list(paths))
        if self._cleanup_on_index:
            self.cleanup()
        outcomes = [IndexOutcome(name=p, status="skipped", reason=r) for p, r in problems]
        for file in files:
            load: Callable[[], Document] = functools.partial(self._load_path, file, progress)
            outcomes.append(self._guarded(str(file), load, origin=str(file.resolve()), progress=progress))
        return outcomes

    def index_bytes(self, data: bytes, name: str, progress: Progress | None = None) -> IndexOutcome:
        """Index uploaded content (the web app's path)."""
        def load() -> Document:
            return load_bytes(data, name, max_bytes=self._max_bytes, progress=_page_progress(name, progress))

        return self._guarded(name, load, origin=f"upload:{name}", progress=progress)

    def cleanup(self) -> int:
        """Remove rows of documents whose indexing was interrupted (under the writer lock)."""
        cleanup = getattr(self._store, "cleanup_incomplete", None)
        if cleanup is None:
            return 0
        with self._lock():
            return int(cleanup())

    def delete(self, doc_id: str) -> None:
        with self._lock():
            self._store.delete_document(doc_id)
            for sink in self._sinks:
                sink.delete(doc_id)

    def _load_path(self, file: Path, progress: Progress | None) -> Document:
        return load_document(file, max_bytes=self._max_bytes, progress=_page_progress(str(file), progress))

    def _guarded(self, name: str, load: Callable[[], Document], *, origin: str, progress: Progress | None) -> IndexOutcome:
        try:
            document = load()
        except LoadError as exc:
            return IndexOutcome(name=name, status="skipped", reason=exc.reason)
        try:
            return self.index_document(document, origin=origin, name=name, progress=progress)
        except QAError as exc:
            return IndexOutcome(name=name, status="skipped", source=document.source, reason=str(exc))

    def index_document(self, document: Document, *, origin: str = "", name: str = "",
                       progress: Progress | None = None) -> IndexOutcome:
        """Store one loaded document (no-op if its content is already indexed)."""
        name = name or document.source
        with self._lock():
            done = self._already_indexed(document.id, origin, name)
            if done is not None:
                return done
            prepared = prepare_document(document, tokenizer=self._tokenizer, encoder=self._encoder,
                                        chunking=self._chunking, name=name, progress=progress)
            return self._store_new(prepared, origin, name, progress)

    def store_prepared(self, prepared: PreparedDocument, *, origin: str = "", name: str = "",
                       progress: Progress | None = None) -> IndexOutcome:
        """Store a document another process chunked and encoded with this indexer's encoder and chunking."""
        if prepared.encoder_id != self._encoder.id:
            raise ConfigError(f"{name or prepared.document.source} was encoded with {prepared.encoder_id}, this "
                              f"collection uses {self._encoder.id}; give the workers the same settings")
        name = name or prepared.document.source
        with self._lock():
            done = self._already_indexed(prepared.document.id, origin, name)
            return done if done is not None else self._store_new(prepared, origin, name, progress)

    def existing_outcome(self, doc_id: str, *, origin: str = "", name: str = "") -> IndexOutcome | None:
        """What indexing content `doc_id` from `origin` comes to when it is stored already; None when not."""
        with self._lock():
            return self._already_indexed(doc_id, origin, name)

    def _already_indexed(self, doc_id: str, origin: str, name: str) -> IndexOutcome | None:
        """The outcome when this content is stored already (retiring older versions of its origin), else None."""
        existing = self._store.get_document(doc_id)
        if existing is None:
            return None
        previous = self._previous_versions(doc_id, origin)
        for old in previous:  # left by a replacement that was interrupted before retiring them
            self._retire(old.id)
        return IndexOutcome(name=name or existing.source, status="replaced" if previous else "unchanged",
                            doc_id=doc_id, source=existing.source, pages=existing.pages, chunks=existing.chunks,
                            replaced_id=",".join(d.id for d in previous))

    def _previous_versions(self, doc_id: str, origin: str) -> list[DocumentInfo]:
        return [d for d in self._store.documents() if origin and d.origin == origin and d.id != doc_id]

    def _store_new(self, prepared: PreparedDocument, origin: str, name: str, progress: Progress | None) -> IndexOutcome:
        """Store a document that is not stored yet, then retire the older versions of its origin."""
        document, chunks, vectors = prepared.document, prepared.chunks, prepared.vectors
        previous = self._previous_versions(document.id, origin)
        info = DocumentInfo(
            id=document.id, source=document.source, title=document.title, pages=document.page_count,
            chunks=len(chunks), chars=len(document.text),
            indexed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            page_starts=document.page_starts, origin=origin,
        )
        self._store.add_document(info, chunks, vectors)
        self._add_to_sinks(document.id, chunks)
        _emit(progress, name, "store", len(chunks), len(chunks))
        for old in previous:  # the new version is complete: now retire the old one
            self._retire(old.id)
        status = "replaced" if previous else "added"
        return IndexOutcome(name=name, status=status, doc_id=document.id, source=document.source,
                            pages=document.page_count, chunks=len(chunks),
                            replaced_id=",".join(d.id for d in previous))

    def _retire(self, doc_id: str) -> None:
        self._store.delete_document(doc_id)
        for sink in self._sinks:
            sink.delete(doc_id)

    def _add_to_sinks(self, doc_id: str, chunks: list[Any]) -> None:
        """Add to every sink (e.g. BM25); if one fails, take the document out everywhere again."""
        try:
            for sink in self._sinks:
                sink.add(doc_id, chunks)
        except Exception as exc:  # any sink failure: undo, so store and sinks never disagree
            self._store.delete_document(doc_id)
            for sink in self._sinks:
                with contextlib.suppress(Exception):
                    sink.delete(doc_id)
            raise StoreError(f"could not update the keyword index ({exc}); nothing was stored, index again") from exc

def _embed(encoder: Encoder, chunking: ChunkingConfig, name: str, document: Document, chunks: list[Any],
           progress: Progress | None) -> np.ndarray:
    """Vectors of `chunks` under the configured contextual variant, with progress per batch."""
    if not chunks:
        return np.zeros((0, encoder.dimension), dtype=np.float32)
    if isinstance(encoder, LateChunkingEncoder) and chunking.contextual == "late":
        batches: Iterable[np.ndarray] = encoder.encode_in_context(late_contexts(document, chunks))
    else:
        texts = embedding_texts(chunks, chunking.contextual)
        encode_batches = getattr(encoder, "encode_batches", None)
        batches = encode_batches(texts) if encode_batches is not None else [encoder.encode(texts)]
    parts, done = [], 0
    for part in batches:
        parts.append(part)
        done += len(part)
        _emit(progress, name, "embed", done, len(chunks))
    return np.concatenate(parts, axis=0)


def _emit(progress: Progress | None, name: str, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(IndexEvent(name, stage, done, total))


def _page_progress(name: str, progress: Progress | None) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(IndexEvent(name, "parse", done, total))
