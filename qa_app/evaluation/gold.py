"""Gold-paragraph evaluation: each question is read against its own paragraph only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from qa_app.data.squad import QAExample, gold_answers_by_id
from qa_app.evaluation.metrics import exact_f1, squad_v2_scores
from qa_app.evaluation.outcomes import attribute
from qa_app.evaluation.results import GoldRow, Outcome
from qa_app.readers.batch import read_all
from qa_app.types import ReaderResult, Window


@dataclass(frozen=True)
class GoldPrediction:
    id: str
    question: str
    text: str  # the answer given ("" = abstained)
    forced_text: str  # the best span, had the reader been forced to answer
    na_score: float  # higher = more confident there is no answer (null logit - best span logit)
    exact: int
    f1: float
    has_answer: bool
    cause: Outcome  # "correct" or why not (qa_app.evaluation.outcomes.attribute); gold mode: the window holds the gold


def paragraph_window(example: QAExample) -> Window:
    return Window(doc_id=example.id, source=example.title, title=example.title, text=example.context,
                  start=0, end=len(example.context), first_chunk=0, last_chunk=0)


def read_gold(reader: Any, examples: Sequence[QAExample], progress: Callable[[int], None] | None = None) -> list[ReaderResult]:
    """Run a reader on every example's own paragraph, batched when the reader can."""
    return read_all(reader, [(e.question, [paragraph_window(e)]) for e in examples], progress)


def gold_predictions(examples: Sequence[QAExample], results: Sequence[ReaderResult]) -> list[GoldPrediction]:
    preds = []
    for example, result in zip(examples, results):
        forced = result.spans[0].text if result.spans else ""
        text = forced if result.answerable else ""
        exact, f1 = exact_f1(example.answer_texts, text)
        cause = attribute(has_answer=not example.is_impossible, exact=exact, answered=bool(text), gold_in_windows=True)
        preds.append(GoldPrediction(example.id, example.question, text, forced, -result.null_logit_diff,
                                    exact, f1, not example.is_impossible, cause))
    return preds


def score_gold(examples: Sequence[QAExample], preds: Sequence[GoldPrediction]) -> dict[str, float]:
    """Official SQuAD v2 metrics; best_* thresholds are on `na_score` (answer iff na_score <= t)."""
    golds = gold_answers_by_id(examples)
    final = squad_v2_scores(golds, {p.id: p.text for p in preds})
    forced = squad_v2_scores(golds, {p.id: p.forced_text for p in preds},
                             na_probs={p.id: finite(p.na_score) for p in preds}, na_prob_thresh=float("inf"))
    for key in ("best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"):
        final[key] = forced[key]
    final["HasAns_f1_forced"] = forced.get("HasAns_f1", 0.0)
    return final


def gold_row(p: GoldPrediction) -> GoldRow:
    """One prediction as the JSON row a gold run returns (the dataclass fields, in order)."""
    return {"id": p.id, "question": p.question, "text": p.text, "forced_text": p.forced_text, "na_score": p.na_score,
            "exact": p.exact, "f1": p.f1, "has_answer": p.has_answer, "cause": p.cause}


def finite(x: float) -> float:
    """`x` clipped to +-1e6: a no-answer score that JSON and threshold sweeps can hold."""
    return max(min(x, 1e6), -1e6)
