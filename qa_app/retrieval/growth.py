"""Reader-driven window growth: the dynamic windows of the query pipeline (docs/ARCHITECTURE.md).

After a read, a window grows when the best span touches its edge (grow on that side), or, with
`on_abstention`, when the reader abstains although retrieval ranked a window first (grow it on both
sides; off by default: on the real-document validation set it turned abstentions on unanswerable
questions into false answers and cost about 1 F1, docs/readers.md). The grown window
replaces the old one and the reader reads again; readers cache per-window work, so in effect only
the grown window is re-read. Stops when the answer is stable or `max_steps` is reached.
"""

from __future__ import annotations

from typing import Sequence

from qa_app.protocols import Reader
from qa_app.retrieval.windows import WindowBuilder
from qa_app.types import ReaderResult, Window

EDGE_CHARS = 20  # a span this close to a window edge "touches" it (unless the document ends there)


def read_with_growth(
    reader: Reader, builder: WindowBuilder, question: str, windows: Sequence[Window], *, max_steps: int,
    on_abstention: bool = False,
) -> tuple[ReaderResult, list[Window], int]:
    windows = list(windows)
    result = reader.read(question, windows)
    steps = 0
    while steps < max_steps and windows:
        plan = _growth_plan(result, windows, on_abstention)
        if plan is None:
            break
        index, sides, reason = plan
        grown: Window | None = windows[index]
        for side in sides:
            bigger = builder.grow(grown, side, 1, reason) if grown is not None else None
            grown = bigger or grown
        if grown is None or grown == windows[index]:
            break
        steps += 1
        previous = result.spans[0].text if result.spans and result.answerable else None
        windows[index] = grown
        result = reader.read(question, windows)
        current = result.spans[0].text if result.spans and result.answerable else None
        if reason == "null" and current is None:
            break  # grew and still nothing: more context is unlikely to help
        if current is not None and current == previous and not _touches_edge(result, windows):
            break
    return result, windows, steps


def _touches_edge(result: ReaderResult, windows: Sequence[Window]) -> bool:
    return _edge_side(result, windows) is not None


def _edge_side(result: ReaderResult, windows: Sequence[Window]) -> str | None:
    if not result.spans or not result.answerable:
        return None
    span = result.spans[0]
    window = windows[span.window_index]
    if span.start - window.start < EDGE_CHARS and window.first_chunk > 0:
        return "left"
    if window.end - span.end < EDGE_CHARS:
        return "right"
    return None


def _growth_plan(
    result: ReaderResult, windows: Sequence[Window], on_abstention: bool
) -> tuple[int, tuple[str, ...], str] | None:
    side = _edge_side(result, windows)
    if side is not None:
        return result.spans[0].window_index, (side,), "edge"
    if on_abstention and not result.answerable:
        top = min(range(len(windows)), key=lambda i: windows[i].rank)
        if windows[top].rank == 1:
            return top, ("left", "right"), "null"
    return None
