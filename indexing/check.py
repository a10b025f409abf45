"""`qa-app docs check [--repair]`: find stored rows that dense search cannot reach or whose vector is
not what their text encodes to, and write them again.

Why: after two processes wrote to one Chroma server at once, about one run in twenty left a row that
no query finds, not even one made with the row's own vector, although `get` returns it intact; an
upsert of the same row makes it findable again. Nothing else notices such a row: its document just
never answers from that passage.

How: one document at a time (memory is bounded by the largest document, not the store): its chunks
and their stored vectors; with `reencode`, the vectors their text encodes to now (a mismatch means a
wrong or damaged vector); and a query with each row's own stored vector, asking for a few neighbours
and then many, that must return the row or an exact copy of it (same document, header and text: HNSW
returns one of several identical vectors arbitrarily). `repair` rewrites each bad row with the vector
its text encodes to (the stored one when not re-encoding). Cost: one query per row, plus encoding
every row with `reencode`; both stream. Knows no retrieval or reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from indexing.chunking import embedding_texts

FIRST_K = 8  # neighbours asked for first; an exact match of the row's own vector is nearly always the first
SECOND_K = 256  # asked for when the row was not among the first (many near-copies, or a lost row)
VECTOR_TOLERANCE = 1e-4  # per component, after normalising both vectors


@dataclass(frozen=True)
class StoreCheck:
    documents: int
    rows: int
    unreachable: tuple[str, ...]  # chunk ids no query with their own vector finds
    mismatched: tuple[str, ...]  # chunk ids whose stored vector is not what their text encodes to
    missing: tuple[str, ...]  # chunk ids a registered document should have and the store lacks
    repaired: tuple[str, ...] = ()
    reencoded: bool = True
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not (self.unreachable or self.mismatched or self.missing) or self.fully_repaired

    @property
    def fully_repaired(self) -> bool:
        return set(self.repaired) >= set(self.unreachable) | set(self.mismatched) and not self.missing


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def _reachable(store: Any, chunk: Any, vector: np.ndarray) -> bool:
    for k in (FIRST_K, SECOND_K):
        for hit in store.query(vector, k):
            found = hit.chunk
            if found.id == chunk.id or (found.doc_id == chunk.doc_id and found.header == chunk.header
                                        and found.text == chunk.text):
                return True
    return False


def check_store(store: Any, encoder: Any, contextual: str, *, repair: bool = False, reencode: bool = True,
                progress: Callable[[int, int], None] | None = None) -> StoreCheck:
    """Check (and with `repair`, fix) every row of every registered document; `progress(done, total)`
    counts documents."""
    notes: list[str] = []
    if reencode and contextual == "late":
        reencode = False  # late chunking encodes chunks in their document's context: no per-row text to compare
        notes.append("vectors were not re-encoded: the collection uses late chunking")
    docs = store.documents()
    unreachable: list[str] = []
    mismatched: list[str] = []
    missing: list[str] = []
    repaired: list[str] = []
    rows = 0
    for done, doc in enumerate(docs, start=1):
        chunks = store.get_chunks(doc.id, range(doc.chunks))
        present = {c.index for c in chunks}
        missing += [f"{doc.id}:{i}" for i in range(doc.chunks) if i not in present]
        stored = store.stored_vectors([c.id for c in chunks])
        expected = encoder.encode(embedding_texts(chunks, contextual)) if reencode and chunks else None
        bad_rows: list[int] = []
        for row, chunk in enumerate(chunks):
            rows += 1
            vector = stored.get(chunk.id)
            if vector is None:
                missing.append(chunk.id)
                continue
            wrong = expected is not None and not np.allclose(_unit(vector), _unit(expected[row]), atol=VECTOR_TOLERANCE)
            if wrong:
                mismatched.append(chunk.id)
            if not _reachable(store, chunk, vector):
                unreachable.append(chunk.id)
            elif not wrong:
                continue
            bad_rows.append(row)
        if repair and bad_rows:
            vectors = np.stack([expected[r] if expected is not None else stored[chunks[r].id] for r in bad_rows])
            store.rewrite_chunks([chunks[r] for r in bad_rows], vectors)
            repaired += [chunks[r].id for r in bad_rows]
        if progress is not None:
            progress(done, len(docs))
    return StoreCheck(documents=len(docs), rows=rows, unreachable=tuple(unreachable), mismatched=tuple(mismatched),
                      missing=tuple(missing), repaired=tuple(repaired), reencoded=reencode, notes=tuple(notes))
