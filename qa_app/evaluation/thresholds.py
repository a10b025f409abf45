"""No-answer thresholds: overall F1 as a function of the threshold, and the product's choice.

A reader answers when (best span logit - null logit) > threshold. Where the F1 curve is nearly flat,
the best-F1 threshold can make the reader abstain on most answerable questions; the product prefers
to answer, so it takes the lowest threshold whose validation F1 is within a small tolerance of the
best. Pure numpy, no I/O; used only on validation data, never on test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEVER_ABSTAIN = -1e9  # a threshold below every score difference (JSON-safe stand-in for -inf)


@dataclass(frozen=True)
class Margins:
    """Per question, under one answerability weight: the span-vs-null margin and the forced answer's F1 (0-1)."""

    diffs: np.ndarray
    forced_f1: np.ndarray


@dataclass(frozen=True)
class ThresholdPoint:
    threshold: float  # answer iff score difference > threshold
    f1: float  # overall F1 in percent at this threshold
    answered: float  # share of questions answered


def f1_curve(diffs: np.ndarray, forced_f1: np.ndarray, has_answer: np.ndarray) -> list[ThresholdPoint]:
    """Overall F1 at every distinct threshold: answered answerable questions score their forced F1,
    abstentions score 1 on unanswerable questions and 0 on answerable ones (SQuAD v2 semantics)."""
    n = len(diffs)
    if n == 0:
        return []
    order = np.argsort(diffs, kind="stable")
    d, f, h = diffs[order], forced_f1[order], has_answer[order].astype(bool)
    answered_score = np.concatenate([np.cumsum(np.where(h, f, 0.0)[::-1])[::-1], [0.0]])  # items k..n-1
    abstained_score = np.concatenate([[0.0], np.cumsum((~h).astype(float))])  # items 0..k-1
    points = []
    for k in range(n + 1):  # k = number of lowest-scoring questions that abstain
        if 0 < k < n and d[k - 1] == d[k]:
            continue  # a threshold cannot split tied scores
        threshold = NEVER_ABSTAIN if k == 0 else float(d[k - 1])
        points.append(ThresholdPoint(threshold, 100.0 * (answered_score[k] + abstained_score[k]) / n, (n - k) / n))
    return points


def choose_threshold(curves: dict[float, list[ThresholdPoint]], tolerance_f1: float) -> tuple[float, ThresholdPoint]:
    """(answerability weight, point): the most answering point within `tolerance_f1` of the best F1."""
    best = max(p.f1 for points in curves.values() for p in points)
    candidates = [(w, p) for w, points in curves.items() for p in points if p.f1 >= best - tolerance_f1]
    return max(candidates, key=lambda wp: (wp[1].answered, wp[1].f1))


def f1_at(margins: Margins, has_answer: np.ndarray, threshold: float) -> float:
    """Overall F1 in percent when answering iff margin > threshold (SQuAD v2 semantics, as in f1_curve)."""
    answered = margins.diffs > threshold
    has = has_answer.astype(bool)
    return 100.0 * float(np.mean(np.where(answered, np.where(has, margins.forced_f1, 0.0), (~has).astype(float))))


def held_out_f1(margins: dict[float, Margins], has_answer: np.ndarray, groups: np.ndarray,
                tolerance_f1: float) -> dict[int, float]:
    """Leave one group (article) out: choose weight and threshold on the others with choose_threshold,
    score the left-out group. Group -> its held-out F1 in percent."""
    held = {}
    for group in sorted(set(groups.tolist())):
        fit = groups != group
        curves = {w: f1_curve(m.diffs[fit], m.forced_f1[fit], has_answer[fit]) for w, m in margins.items()}
        weight, point = choose_threshold(curves, tolerance_f1)
        left_out = Margins(margins[weight].diffs[~fit], margins[weight].forced_f1[~fit])
        held[group] = f1_at(left_out, has_answer[~fit], point.threshold)
    return held
