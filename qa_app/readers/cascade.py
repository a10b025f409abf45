"""`CascadeReader`: a fast reader reads all the windows, a slower accurate one re-reads only the
passages around the fast one's best answers.

The fast reader (the scout) reads every window. Around each of its best spans (best first, skipping a
span that lies in a passage already chosen) the cascade cuts a passage of about `tokens` word pieces,
centred on the span, inside its window; the accurate reader (the finisher) reads the first `rereads`
of those passages and decides everything the result says: spans, their scores and whether to answer
(its own no-answer threshold). A window of the size retrieval hands over (600-2,000 word pieces) costs
the finisher several strided features; a passage costs it one. Spans keep document offsets; their
window indices point back to the windows given, and a window the finisher did not read reports no
answer (+inf null logit). When the scout finds no span, the finisher reads all the windows.

Builds no model: both readers are given (wiring builds them from the registry). Pure orchestration.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

from qa_app.protocols import Reader
from qa_app.readers.batch import read_all
from qa_app.types import ReaderResult, Span, Window

CHARS_PER_TOKEN = 4.0  # for cutting passages when the scout reports no token offsets


class CascadeReader:
    """`scout` reads every window, `finisher` re-reads passages of about `tokens` word pieces around
    the scout's best `rereads` spans."""

    def __init__(self, *, scout: Reader, finisher: Reader, rereads: int = 1, tokens: int = 192,
                 name: str = "cascade") -> None:
        if rereads < 1 or tokens < 16:
            raise ValueError(f"a cascade re-reads at least one passage of 16 word pieces, not {rereads} of {tokens}")
        self._scout = scout
        self._finisher = finisher
        self._rereads = rereads
        self._tokens = tokens
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def threshold(self) -> float:
        """The finisher's no-answer threshold: it alone decides whether to answer."""
        return float(getattr(self._finisher, "threshold"))

    def read(self, question: str, windows: Sequence[Window]) -> ReaderResult:
        owners, passages = self._plan(self._scout.read(question, windows), windows)
        return in_given_windows(self._finisher.read(question, passages), owners, len(windows))

    def read_many(self, items: Sequence[tuple[str, Sequence[Window]]],
                  progress: Callable[[int], None] | None = None) -> list[ReaderResult]:
        """`read` for many questions, each reader batching all of them (gold-mode evaluation);
        `progress` follows the finisher."""
        scouted = read_all(self._scout, items)
        plans = [self._plan(result, windows) for result, (_, windows) in zip(scouted, items)]
        finished = read_all(self._finisher, [(q, passages) for (q, _), (_, passages) in zip(items, plans)], progress)
        return [in_given_windows(result, owners, len(windows))
                for result, (owners, _), (_, windows) in zip(finished, plans, items)]

    def _plan(self, scouted: ReaderResult, windows: Sequence[Window]) -> tuple[list[int], list[Window]]:
        """What the finisher reads (passages, and the window each comes from): everything when the scout
        found no span."""
        if not scouted.spans:
            return list(range(len(windows))), list(windows)
        chars = round(self._tokens * chars_per_token(scouted))
        return passages_to_reread(scouted.spans, windows, self._rereads, chars)


def chars_per_token(scouted: ReaderResult) -> float:
    """Characters per word piece in the scout's best feature (CHARS_PER_TOKEN when it reports none)."""
    probs = scouted.token_probs
    if probs is None or not probs.offsets:
        return CHARS_PER_TOKEN
    return max(1.0, (probs.offsets[-1][1] - probs.offsets[0][0]) / len(probs.offsets))


def passages_to_reread(spans: Sequence[Span], windows: Sequence[Window], rereads: int,
                       chars: int) -> tuple[list[int], list[Window]]:
    """Up to `rereads` passages of about `chars` characters centred on the best spans (a span inside an
    earlier passage adds none), and the index of the window each comes from."""
    owners: list[int] = []
    passages: list[Window] = []
    for span in spans:
        if len(passages) == rereads:
            break
        if any(p.start <= span.start and span.end <= p.end for p in passages):
            continue
        owners.append(span.window_index)
        passages.append(passage_around(windows[span.window_index], span.start, span.end, chars))
    return owners, passages


def passage_around(window: Window, start: int, end: int, chars: int) -> Window:
    """The part of `window` of about `chars` characters centred on document offsets [start, end),
    shifted to stay inside the window; cut at whitespace so that no word is split. Offsets stay
    document offsets."""
    text = window.text
    if len(text) <= chars:
        return window
    middle = (start + end) // 2 - window.start
    left = max(0, min(middle - chars // 2, len(text) - chars))
    right = left + chars
    left = _word_start(text, min(left, start - window.start))
    right = _word_end(text, max(right, end - window.start))
    return replace(window, text=text[left:right], start=window.start + left, end=window.start + right)


def _word_start(text: str, i: int) -> int:
    while 0 < i < len(text) and not text[i - 1].isspace():
        i -= 1
    return i


def _word_end(text: str, i: int) -> int:
    while 0 < i < len(text) and not text[i].isspace():
        i += 1
    return i


def in_given_windows(result: ReaderResult, owners: Sequence[int], count: int) -> ReaderResult:
    """`result` of reading passages whose windows are `owners`, told in the indices of all `count` windows
    (a window's null logit: the lowest of its passages')."""
    spans = tuple(replace(span, window_index=owners[span.window_index]) for span in result.spans)
    nulls = [float("inf")] * count
    for local, null in enumerate(result.window_null_logits):
        nulls[owners[local]] = min(nulls[owners[local]], null)
    return replace(result, spans=spans, window_null_logits=tuple(nulls))
