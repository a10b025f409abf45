"""The F1-versus-threshold curve and the product's threshold choice, on hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from qa_app.evaluation.thresholds import (
    NEVER_ABSTAIN,
    Margins,
    ThresholdPoint,
    choose_threshold,
    f1_at,
    f1_curve,
    held_out_f1,
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


def test_f1_at_a_threshold_matches_the_curve() -> None:
    diffs, f1, has = np.array([3.0, -1.0, 1.0]), np.array([1.0, 0.0, 0.5]), np.array([True, False, True])
    for point in f1_curve(diffs, f1, has):
        assert f1_at(Margins(diffs, f1), has, point.threshold) == pytest.approx(point.f1)


def test_held_out_f1_chooses_on_the_other_groups_and_scores_the_left_out_one() -> None:
    # group 0 says "abstain below 2" (its unanswerable question has margin 1); group 1 says "answer everything"
    diffs = np.array([5.0, 1.0, 0.5, 4.0])
    f1 = np.array([1.0, 0.0, 1.0, 1.0])
    has = np.array([True, False, True, True])
    groups = np.array([0, 0, 1, 1])
    held = held_out_f1({0.0: Margins(diffs, f1)}, has, groups, tolerance_f1=0.0)
    # left out 0: chosen on group 1 = answer all -> group 0 scores (1 + 0) / 2
    # left out 1: chosen on group 0 = threshold 1.0 -> group 1 answers 4.0 (F1 1), abstains on 0.5 (0)
    assert held == {0: pytest.approx(50.0), 1: pytest.approx(50.0)}
    both = held_out_f1({0.0: Margins(diffs, f1), 1.0: Margins(diffs + 10, f1)}, has, groups, tolerance_f1=0.0)
    assert both == held  # the weight is chosen with the threshold; a shifted copy changes nothing
