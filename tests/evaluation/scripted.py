"""The scripted reader of the evaluation tests (open-book and collection runs): it answers what the test
chose for each question, when a window it reads holds that text."""

from __future__ import annotations

from typing import Sequence

from qa_app.types import ReaderResult, Span, Window


class ScriptedReader:
    """Answers `script[question]` when a window holds that text, else abstains; records every call. A
    follow-up is read as its history query, which starts with the question asked: the longest
    scripted question it starts with is the one answered."""

    name = "scripted"
    abstain_logit_diff = float("-inf")  # the null-logit difference of an abstention

    def __init__(self, script: dict[str, str]) -> None:
        self._script = script
        self.questions: list[str] = []

    def read(self, question: str, windows: Sequence[Window]) -> ReaderResult:
        self.questions.append(question)
        asked = max((q for q in self._script if question.startswith(q)), key=len, default="")
        wanted = self._script.get(asked, "")
        for i, w in enumerate(windows):
            at = w.text.find(wanted) if wanted else -1
            if at >= 0:
                span = Span(text=wanted, start=w.start + at, end=w.start + at + len(wanted), score=0.9, logit=5.0,
                            window_index=i)
                return ReaderResult(spans=(span,), null_score=0.1, null_logit_diff=3.0, answerable=True)
        return ReaderResult(spans=(), null_score=1.0, null_logit_diff=self.abstain_logit_diff, answerable=False)
