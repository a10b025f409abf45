"""A labelled baseline reader: the window sentence sharing most content words with the question.

It needs no trained model and exists for comparison and as a last resort; it is never presented
as the project's reader (its name says "baseline").
"""

from __future__ import annotations

import re
from typing import Sequence

from qa_app.types import ReaderResult, Span, Window

_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)
_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    "a an the of in on at to for by with from and or is are was were be been what which who whom whose "
    "when where why how did do does this that these those it its as into than then there their they he "
    "she his her we you i".split()
)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


class BaselineSentenceReader:
    name = "baseline-sentence"

    def __init__(self, *, min_overlap: float = 0.5, n_best: int = 5) -> None:
        self._min_overlap = min_overlap
        self._n_best = n_best

    def read(self, question: str, windows: Sequence[Window]) -> ReaderResult:
        wanted = content_words(question)
        scored: list[tuple[float, int, int, int]] = []
        for wi, window in enumerate(windows):
            for m in _SENTENCE.finditer(window.text):
                text = m.group(0)
                start = m.start() + (len(text) - len(text.lstrip()))
                end = m.end() - (len(text) - len(text.rstrip()))
                if end <= start:
                    continue
                overlap = len(wanted & content_words(text)) / max(1, len(wanted))
                scored.append((overlap, wi, start, end))
        scored.sort(key=lambda s: (-s[0], s[1], s[2]))
        total = sum(s[0] for s in scored[: self._n_best]) or 1.0
        spans = tuple(
            Span(text=windows[wi].text[s:e], start=windows[wi].start + s, end=windows[wi].start + e,
                 score=ov / total, logit=ov, window_index=wi)
            for ov, wi, s, e in scored[: self._n_best]
        )
        best = scored[0][0] if scored else 0.0
        return ReaderResult(spans=spans, null_score=1.0 - best, null_logit_diff=best - self._min_overlap,
                            answerable=bool(spans) and best >= self._min_overlap)
