"""What a vector collection was built with, so that incompatible vectors are never mixed.

A `StoreSignature` is written into the collection metadata when the collection is created and
compared on every later open. It does no I/O itself.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

from qa_app.config import ChunkingConfig
from qa_app.errors import StoreMismatchError

_PREFIX = "qa_"  # keeps our keys apart from Chroma's own ("hnsw:...", "chroma:...")
_REMEDY = "use another --collection or re-index into a new data dir"


@dataclass(frozen=True)
class StoreSignature:
    """Encoder and chunking settings that every vector of one collection shares."""

    encoder_id: str  # e.g. "sentence-transformers/all-MiniLM-L6-v2"
    dimension: int  # length of every vector
    chunk_tokens: int  # chunk size in word pieces
    overlap_tokens: int  # word pieces shared by neighbouring chunks
    contextual: str  # what was embedded with a chunk: plain | header | neighbours | late

    @classmethod
    def for_encoder(cls, encoder_id: str, dimension: int, chunking: ChunkingConfig) -> "StoreSignature":
        """The signature of vectors made by this encoder over chunks made with `chunking`."""
        return cls(
            encoder_id=encoder_id,
            dimension=dimension,
            chunk_tokens=chunking.chunk_tokens,
            overlap_tokens=chunking.overlap_tokens,
            contextual=chunking.contextual,
        )

    def as_metadata(self) -> dict[str, str | int]:
        """Flat key/value pairs for a Chroma collection's metadata."""
        return {_PREFIX + f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any] | None, *, where: str = "the collection") -> "StoreSignature":
        """Read a signature back from collection metadata; StoreMismatchError if it holds none."""
        metadata = metadata or {}
        missing = [f.name for f in fields(cls) if _PREFIX + f.name not in metadata]
        if missing:
            raise StoreMismatchError(
                f"{where} was not created by this application (its metadata lacks "
                f"{', '.join(missing)}), so its vectors cannot be trusted; {_REMEDY}."
            )
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = metadata[_PREFIX + f.name]
            try:
                values[f.name] = int(raw) if f.type in ("int", int) else str(raw)
            except (TypeError, ValueError):
                raise StoreMismatchError(
                    f"{where} has an unreadable {f.name} ({raw!r}) in its metadata; {_REMEDY}."
                ) from None
        return cls(**values)

    def check(self, other: "StoreSignature", *, where: str = "the collection") -> None:
        """Raise StoreMismatchError unless `other` (found in a store) equals this one (wanted now)."""
        diffs = [
            f"{f.name}={getattr(other, f.name)!r} (now {getattr(self, f.name)!r})"
            for f in fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        ]
        if diffs:
            raise StoreMismatchError(
                f"{where} was built with different settings: {', '.join(diffs)}. "
                f"Mixing them would give wrong answers; {_REMEDY}."
            )
