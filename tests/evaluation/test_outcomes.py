"""Gold predictions carry the same error causes as open-book ones."""

from __future__ import annotations

import pytest

from qa_app.data.squad import GoldAnswer, QAExample
from qa_app.evaluation.gold import gold_predictions
from qa_app.evaluation.outcomes import attribute
from qa_app.types import ReaderResult, Span


def _example(qid: str, answers: tuple[GoldAnswer, ...]) -> QAExample:
    return QAExample(id=qid, question="Where?", context="It is in Paris today.", answers=answers,
                     is_impossible=not answers, title="T", article_index=0, paragraph_index=0)


def _result(text: str, answerable: bool) -> ReaderResult:
    span = Span(text=text, start=9, end=9 + len(text), score=0.9, logit=5.0, window_index=0)
    return ReaderResult(spans=(span,), null_score=0.1, null_logit_diff=2.0 if answerable else -2.0, answerable=answerable)


@pytest.mark.parametrize(("answers", "prediction", "answerable", "cause"), [
    ((GoldAnswer("Paris", 9),), "Paris", True, "correct"),
    ((GoldAnswer("Paris", 9),), "Paris today", True, "reader_miss"),
    ((GoldAnswer("Paris", 9),), "Paris", False, "wrong_abstention"),
    ((), "Paris", True, "false_answer"),
    ((), "Paris", False, "correct"),
])
def test_gold_predictions_carry_their_cause(answers: tuple, prediction: str, answerable: bool, cause: str) -> None:
    [pred] = gold_predictions([_example("q", answers)], [_result(prediction, answerable)])
    assert pred.cause == cause


def test_retrieval_miss_only_when_no_window_held_the_gold() -> None:
    assert attribute(has_answer=True, exact=0, answered=True, gold_in_windows=False) == "retrieval_miss"
    assert attribute(has_answer=True, exact=0, answered=True, gold_in_windows=True) == "reader_miss"
