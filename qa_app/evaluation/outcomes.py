"""Why a question was answered wrongly: one rule shared by gold and open-book evaluation."""

from __future__ import annotations

from qa_app.evaluation.results import Outcome


def attribute(*, has_answer: bool, exact: int, answered: bool, gold_in_windows: bool) -> Outcome:
    """"correct", or why not: retrieval_miss (no window held a gold span), wrong_abstention (one did
    and the reader abstained), reader_miss (one did and the reader answered wrongly), false_answer
    (an answer to an unanswerable question)."""
    if exact:
        return "correct"
    if not has_answer:
        return "false_answer"
    if not gold_in_windows:
        return "retrieval_miss"
    return "reader_miss" if answered else "wrong_abstention"
