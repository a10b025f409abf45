"""Why a question was answered wrongly (one rule shared by every evaluation mode), and the shares of
each cause over a run.

Also the end-to-end latency of asked questions (open-book and collection mode read both).
"""

from __future__ import annotations

import collections
from typing import Mapping, Protocol, Sequence

from qa_app.evaluation.latency import stage_latencies, summarize
from qa_app.evaluation.results import ErrorShares, LatencySummary, Outcome


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


class AskedQuestion(Protocol):
    """What `error_shares` and `latency` read of one question's record: an open-book `OpenRecord` or a
    collection-mode `CollectionRecord`."""

    @property
    def cause(self) -> Outcome: ...

    @property
    def end_to_end_ms(self) -> float: ...

    @property
    def timings_ms(self) -> Mapping[str, float]: ...


def error_shares(records: Sequence[AskedQuestion]) -> ErrorShares:
    """Wrong answers: how many, their share of the questions, and each cause's share of them (the
    shares add up to 1 when there are errors)."""
    counts = collections.Counter(r.cause for r in records if r.cause != "correct")
    total = sum(counts.values())

    def share(count: int) -> float:
        return round(count / total, 4) if total else 0.0

    return {"total": total, "share_of_questions": round(total / len(records), 4) if records else 0.0,
            "retrieval_miss": share(counts["retrieval_miss"]), "reader_miss": share(counts["reader_miss"]),
            "wrong_abstention": share(counts["wrong_abstention"]), "false_answer": share(counts["false_answer"]),
            "counts": {"retrieval_miss": counts["retrieval_miss"], "reader_miss": counts["reader_miss"],
                       "wrong_abstention": counts["wrong_abstention"], "false_answer": counts["false_answer"]}}


def latency(records: Sequence[AskedQuestion]) -> dict[str, LatencySummary]:
    """Per pipeline stage, and "end_to_end": the whole ask as the caller timed it."""
    stages = stage_latencies(r.timings_ms for r in records)
    stages["end_to_end"] = summarize([r.end_to_end_ms for r in records])
    return stages
