"""The F1-versus-threshold curve and the product's threshold choice, on hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from qa_app.evaluation.thresholds import (
    NEVER_ABSTAIN,
    ThresholdPoint,
    choose_threshold,
    f1_curve,
)


def test_curve_by_hand() -> None:
    # q0: answerable, forced F1 1.0, diff 3; q1: unanswerable, diff -1; q2: answerable, F1 0.5, diff 1
    diffs, f1, has = np.array([3.0, -1.0, 1.0]), np.array([1.0, 0.0, 0.5]), np.array([True, False, True])
    points = f1_curve(diffs, f1, has)
    assert [p.threshold for p in points] == [NEVER_ABSTAIN, -1.0, 1.0, 3.0]
    # answer all: 1 + 0 + 0.5; abstain on q1: 1 + 1 + 0.5; also on q2: 1 + 1 + 0; on all: 0 + 1 + 0
    assert [round(p.f1, 4) for p in points] == [50.0, pytest.approx(83.3333, abs=1e-3), pytest.approx(66.6667, abs=1e-3),
                                                pytest.approx(33.3333, abs=1e-3)]
    assert [p.answered for p in points] == [1.0, pytest.approx(2 / 3), pytest.approx(1 / 3), 0.0]


def test_tied_scores_are_never_split() -> None:
    points = f1_curve(np.array([1.0, 1.0, 2.0]), np.array([1.0, 1.0, 1.0]), np.array([True, False, True]))
    assert [p.threshold for p in points] == [NEVER_ABSTAIN, 1.0, 2.0]


def test_choice_prefers_answering_within_the_tolerance() -> None:
    curves = {0.0: [ThresholdPoint(-1e9, 55.0, 1.0), ThresholdPoint(0.0, 59.0, 0.6), ThresholdPoint(2.0, 60.0, 0.2)],
              1.0: [ThresholdPoint(-1e9, 50.0, 1.0), ThresholdPoint(1.0, 57.5, 0.7)]}
    assert choose_threshold(curves, 3.0) == (1.0, ThresholdPoint(1.0, 57.5, 0.7))
    assert choose_threshold(curves, 0.0) == (0.0, ThresholdPoint(2.0, 60.0, 0.2))
