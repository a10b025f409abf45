"""SQuAD v2.0 metrics with exactly the semantics of the official script (evaluate-v2.0.py).

- Answers are normalised (lower case, punctuation removed, articles a/an/the removed, whitespace
  collapsed) and split on whitespace into tokens.
- Gold answers whose normalised text is empty are dropped; if none remain, the only gold is ""
  (no answer). EM and F1 take the maximum over the golds.
- F1 when either side is empty: 1 if both are empty, else 0.
- A question "has an answer" when its raw gold list is non-empty (before normalisation), which is
  what the HasAns/NoAns breakdown uses.
- `na_probs` (probability of "no answer" per question) with `na_prob_thresh` turns a prediction into
  a no-answer when `na_prob > na_prob_thresh`; `find_best_thresh` sweeps that threshold.

All numbers in the `squad_v2_scores` dict are percentages like the official script's output, except
the totals and the thresholds. Pure stdlib, no I/O. Deviation from the script, on purpose: a
missing prediction raises ValueError (the script prints a warning and, with HasAns questions,
then crashes), and so does a missing na_prob.
"""

from __future__ import annotations

import collections
import re
import string
from typing import Mapping, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(s: str) -> str:
    """Lower text and remove punctuation, articles and extra whitespace (official order)."""
    text = s.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def get_tokens(s: str) -> list[str]:
    if not s:
        return []
    return normalize_answer(s).split()


def compute_exact(a_gold: str, a_pred: str) -> int:
    return int(normalize_answer(a_gold) == normalize_answer(a_pred))


def compute_f1(a_gold: str, a_pred: str) -> float:
    gold_toks = get_tokens(a_gold)
    pred_toks = get_tokens(a_pred)
    if not gold_toks or not pred_toks:
        # If either is no-answer, F1 is 1 if they agree, 0 otherwise.
        return float(gold_toks == pred_toks)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def gold_candidates(golds: Sequence[str]) -> list[str]:
    """The golds the script compares against: non-empty after normalisation, else [""]."""
    kept = [g for g in golds if normalize_answer(g)]
    return kept if kept else [""]


def exact_f1(golds: Sequence[str], prediction: str) -> tuple[int, float]:
    """EM (0/1) and F1 (0..1) of one prediction, max over the golds ([] = unanswerable)."""
    candidates = gold_candidates(golds)
    exact = max(compute_exact(g, prediction) for g in candidates)
    f1 = max(compute_f1(g, prediction) for g in candidates)
    return exact, f1


def raw_scores(
    golds: Mapping[str, Sequence[str]], predictions: Mapping[str, str]
) -> tuple[dict[str, int], dict[str, float]]:
    """Per-question EM and F1 (0..1) before any no-answer threshold, keyed like `golds`."""
    _require_all(golds, predictions, "prediction")
    exact: dict[str, int] = {}
    f1: dict[str, float] = {}
    for qid, answers in golds.items():
        exact[qid], f1[qid] = exact_f1(answers, predictions[qid])
    return exact, f1


def apply_no_ans_threshold(
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    qid_to_has_ans: Mapping[str, bool],
    na_prob_thresh: float,
) -> dict[str, float]:
    """Where `na_prob > na_prob_thresh` the prediction counts as "no answer": score 1 for an
    unanswerable question, 0 for an answerable one."""
    new_scores: dict[str, float] = {}
    for qid, s in scores.items():
        if na_probs[qid] > na_prob_thresh:
            new_scores[qid] = float(not qid_to_has_ans[qid])
        else:
            new_scores[qid] = s
    return new_scores


def find_best_thresh(
    predictions: Mapping[str, str],
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    qid_to_has_ans: Mapping[str, bool],
) -> tuple[float, float]:
    """(best score in percent, its threshold) over thresholds taken from `na_probs`, as the script.

    Start from "abstain everywhere" (every unanswerable question right), then answer questions in
    increasing na_prob order: an answerable one adds its raw score, an unanswerable one with a
    non-empty prediction string (raw truthiness, not normalised) costs 1. Ties in na_prob keep the
    iteration order of `na_probs` (stable sort), as in the script.
    """
    num_no_ans = sum(1 for k in qid_to_has_ans if not qid_to_has_ans[k])
    cur_score: float = num_no_ans
    best_score: float = cur_score
    best_thresh = 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if qid not in scores:
            continue
        if qid_to_has_ans[qid]:
            diff: float = scores[qid]
        else:
            diff = -1 if predictions[qid] else 0
        cur_score += diff
        if cur_score > best_score:
            best_score = cur_score
            best_thresh = na_probs[qid]
    return 100.0 * best_score / len(scores), float(best_thresh)


def squad_v2_scores(
    golds: Mapping[str, Sequence[str]],
    predictions: Mapping[str, str],
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
) -> dict[str, float | int]:
    """The official script's output for these questions.

    `golds`: question id -> gold answer texts ([] for an unanswerable question); every question
    in `golds` needs a prediction ("" = no answer); extra predictions are ignored.
    Keys: exact, f1, total; HasAns_exact/_f1/_total and NoAns_exact/_f1/_total when that part
    has questions; best_exact, best_exact_thresh, best_f1, best_f1_thresh when `na_probs` is given.
    """
    if not golds:
        raise ValueError("no questions to score (golds is empty)")
    qid_to_has_ans = {qid: bool(answers) for qid, answers in golds.items()}
    has_ans_qids = [k for k, v in qid_to_has_ans.items() if v]
    no_ans_qids = [k for k, v in qid_to_has_ans.items() if not v]
    exact_raw, f1_raw = raw_scores(golds, predictions)
    if na_probs is None:
        probs: Mapping[str, float] = {k: 0.0 for k in golds}
    else:
        _require_all(golds, na_probs, "na_prob")
        probs = na_probs
    exact_thresh = apply_no_ans_threshold(exact_raw, probs, qid_to_has_ans, na_prob_thresh)
    f1_thresh = apply_no_ans_threshold(f1_raw, probs, qid_to_has_ans, na_prob_thresh)

    out: dict[str, float | int] = dict(_eval_dict(exact_thresh, f1_thresh, list(golds)))
    for prefix, qids in (("HasAns", has_ans_qids), ("NoAns", no_ans_qids)):
        if qids:
            for key, value in _eval_dict(exact_thresh, f1_thresh, qids).items():
                out[f"{prefix}_{key}"] = value
    if na_probs is not None:
        out["best_exact"], out["best_exact_thresh"] = find_best_thresh(
            predictions, exact_raw, na_probs, qid_to_has_ans
        )
        out["best_f1"], out["best_f1_thresh"] = find_best_thresh(
            predictions, f1_raw, na_probs, qid_to_has_ans
        )
    return out


def _eval_dict(
    exact: Mapping[str, float], f1: Mapping[str, float], qids: Sequence[str]
) -> dict[str, float | int]:
    total = len(qids)
    return {
        "exact": 100.0 * sum(exact[k] for k in qids) / total,
        "f1": 100.0 * sum(f1[k] for k in qids) / total,
        "total": total,
    }


def _require_all(golds: Mapping[str, object], given: Mapping[str, object], what: str) -> None:
    missing = [qid for qid in golds if qid not in given]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ValueError(f"missing {what} for {len(missing)} of {len(golds)} questions: {shown}")
