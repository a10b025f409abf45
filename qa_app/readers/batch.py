"""`read_all`: any `Reader` on many (question, windows) pairs, batched where the reader can (`read_many`)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from qa_app.types import ReaderResult, Window


def read_all(reader: Any, items: Sequence[tuple[str, Sequence[Window]]],
             progress: Callable[[int], None] | None = None) -> list[ReaderResult]:
    """`reader.read` on every pair in order; one `read_many` call instead where the reader has it (span
    readers batch all features together). `progress` counts what the reader reports (features), else pairs."""
    if hasattr(reader, "read_many"):
        return list(reader.read_many(items, progress))
    results = []
    for question, windows in items:
        results.append(reader.read(question, windows))
        if progress is not None:
            progress(1)
    return results
