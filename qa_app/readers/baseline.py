"""A labelled baseline reader: the window sentence sharing most content words with the question.

It needs no trained model and exists for comparison and as a last resort; it is never presented
as the project's reader (its name says "baseline").
"""

from __future__ import annotations

import re
from typing import Sequence

from qa_app.text import content_words
from qa_app.types import ReaderResult, Span, Window

_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)
# shorter than qa_app.text.STOP_WORDS: modal verbs, "not", "no" and the like count as overlap here
_STOP = frozenset(
    "a an the of in on at to for by with from and or is are was were be been what which who whom whose "
    "when where why how did do does this that these those it its as into than then there their they he "
    "she his her we you i".split()
)


class BaselineSentenceReader:
    name = "baseline"

    def __init__(self, *, min_overlap: float = 0.5, n_best: int = 5) -> None:
        self._min_overlap = min_overlap
        self._n_best = n_best

    def read(self, question: str, windows: Sequence[Window]) -> ReaderResult:
        wanted = set(content_words(question, _STOP))
        scored: list[tuple[float, int, int, int]] = []
        for wi, window in enumerate(windows):
            for m in _SENTENCE.finditer(window.text):
                text = m.group(0)
                start = m.start() + (len(text) - len(text.lstrip()))
                end = m.end() - (len(text) - len(text.rstrip()))
                if end <= start:
                    continue
                overlap = len(wanted.intersection(content_words(text, _STOP))) / max(1, len(wanted))
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
