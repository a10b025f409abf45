"""Official SQuAD v2.0 metric semantics, pinned on cases worked out by hand in the comments."""

from __future__ import annotations

import pytest

from qa_app.evaluation.metrics import (
    apply_no_ans_threshold,
    compute_exact,
    compute_f1,
    exact_f1,
    find_best_thresh,
    get_tokens,
    gold_candidates,
    normalize_answer,
    squad_v2_scores,
)

# --- normalisation -------------------------------------------------------------------------


def test_normalize_lowers_strips_punctuation_articles_and_whitespace() -> None:
    # "The Cat, sat!" -> lower "the cat, sat!" -> no punct "the cat sat" -> no article " cat sat"
    assert normalize_answer("The Cat, sat!") == "cat sat"
    assert normalize_answer("  An   apple\ta day ") == "apple day"


def test_normalize_removes_punctuation_before_articles() -> None:
    # Punctuation goes first, so "the-end" becomes "theend" (no article left to remove), and
    # "a.m." becomes "am" (not the article "a").
    assert normalize_answer("the-end") == "theend"
    assert normalize_answer("a.m.") == "am"
    # Articles only as whole words: "theory" and "another" stay.
    assert normalize_answer("the theory of another") == "theory of another"


def test_normalize_keeps_non_ascii_punctuation() -> None:
    # string.punctuation is ASCII only: en dash and curly quotes survive, as in the official script.
    assert normalize_answer("1914–1918") == "1914–1918"
    assert normalize_answer("“Paris”") == "“paris”"


def test_get_tokens() -> None:
    assert get_tokens("") == []
    assert get_tokens("The") == []  # normalises to the empty string
    assert get_tokens("The Eiffel Tower.") == ["eiffel", "tower"]


# --- per-answer EM and F1 ------------------------------------------------------------------


def test_exact_ignores_case_articles_and_punctuation() -> None:
    assert compute_exact("the Cat sat", "cat sat!") == 1
    assert compute_exact("cat sat", "cat sat on") == 0


def test_f1_partial_overlap_two_thirds() -> None:
    # gold [cat, sat, on, mat] (4), pred "the cat sat" -> [cat, sat] (2); common 2
    # P = 2/2 = 1, R = 2/4 = 1/2, F1 = 2 * 1 * 1/2 / (1 + 1/2) = 2/3
    assert compute_f1("cat sat on mat", "the cat sat") == pytest.approx(2 / 3)


def test_f1_counts_repeated_tokens_with_multiplicity() -> None:
    # gold [x, y, y] (3), pred [y, y, y, z] (4); common = min counts -> y:2 -> 2
    # P = 2/4 = 1/2, R = 2/3, F1 = 2 * 1/2 * 2/3 / (1/2 + 2/3) = (2/3) / (7/6) = 4/7
    assert compute_f1("x y y", "y y y z") == pytest.approx(4 / 7)


def test_f1_no_overlap_is_zero() -> None:
    assert compute_f1("Paris", "London") == 0.0


def test_f1_empty_side_rule() -> None:
    # If either side has no tokens, F1 = 1 when both are empty, else 0.
    assert compute_f1("", "") == 1.0
    assert compute_f1("", "Paris") == 0.0
    assert compute_f1("Paris", "") == 0.0
    assert compute_f1("", "the") == 1.0  # "the" has no tokens after normalisation


def test_gold_candidates_drop_empty_after_normalisation() -> None:
    assert gold_candidates([]) == [""]
    assert gold_candidates(["The", "!"]) == [""]
    assert gold_candidates(["the", "Paris"]) == ["Paris"]


def test_no_answer_gold() -> None:
    assert exact_f1([], "") == (1, 1.0)
    assert exact_f1([], "Paris") == (0, 0.0)
    # A gold list whose answers all normalise to "" counts as "no answer" too.
    assert exact_f1(["the"], "") == (1, 1.0)


def test_answerable_gold_with_empty_prediction_scores_zero() -> None:
    assert exact_f1(["Paris"], "") == (0, 0.0)


def test_max_over_golds() -> None:
    # "the Broncos" matches gold "Broncos" exactly; against "Denver Broncos" F1 would be 2/3.
    assert exact_f1(["Denver Broncos", "Broncos"], "the Broncos") == (1, 1.0)
    # pred "Denver" vs "Denver Broncos": P = 1, R = 1/2, F1 = 2/3; vs "Broncos": 0 -> max 2/3
    exact, f1 = exact_f1(["Denver Broncos", "Broncos"], "Denver")
    assert exact == 0
    assert f1 == pytest.approx(2 / 3)


# --- whole-dataset scores ------------------------------------------------------------------

# Four questions worked by hand:
#   q1 answerable   gold "Paris"           pred "Paris"    EM 1  F1 1    na_prob 0.1
#   q2 answerable   gold "cat sat on mat"  pred "cat sat"  EM 0  F1 2/3  na_prob 0.4
#   q3 unanswerable                        pred "London"   EM 0  F1 0    na_prob 0.6
#   q4 unanswerable                        pred ""         EM 1  F1 1    na_prob 0.9
GOLDS = {"q1": ["Paris"], "q2": ["cat sat on mat"], "q3": [], "q4": []}
PREDS = {"q1": "Paris", "q2": "cat sat", "q3": "London", "q4": ""}
NA_PROBS = {"q1": 0.1, "q2": 0.4, "q3": 0.6, "q4": 0.9}


def test_scores_without_na_probs() -> None:
    scores = squad_v2_scores(GOLDS, PREDS)
    assert list(scores) == [
        "exact", "f1", "total",
        "HasAns_exact", "HasAns_f1", "HasAns_total",
        "NoAns_exact", "NoAns_f1", "NoAns_total",
    ]  # fmt: skip
    assert scores["total"] == 4
    assert scores["exact"] == pytest.approx(50.0)  # (1 + 0 + 0 + 1) / 4
    assert scores["f1"] == pytest.approx(100 * (8 / 3) / 4)  # (1 + 2/3 + 0 + 1) / 4 = 66.67
    assert scores["HasAns_total"] == 2
    assert scores["HasAns_exact"] == pytest.approx(50.0)  # (1 + 0) / 2
    assert scores["HasAns_f1"] == pytest.approx(100 * (5 / 3) / 2)  # (1 + 2/3) / 2 = 83.33
    assert scores["NoAns_total"] == 2
    assert scores["NoAns_exact"] == pytest.approx(50.0)
    assert scores["NoAns_f1"] == pytest.approx(50.0)


def test_best_threshold_on_four_questions() -> None:
    # Start "abstain on all": the 2 unanswerable questions are right -> 2.
    # Answer in na_prob order: EM: q1 +1 -> 3 (best, thresh 0.1); q2 +0 -> 3; q3 -1 -> 2; q4 +0 -> 2
    #                           F1: q1 +1 -> 3; q2 +2/3 -> 11/3 (best, thresh 0.4); q3 -1; q4 +0
    scores = squad_v2_scores(GOLDS, PREDS, NA_PROBS)
    assert scores["exact"] == pytest.approx(50.0)  # thresh 1.0 changes nothing
    assert scores["best_exact"] == pytest.approx(75.0)  # 3 / 4
    assert scores["best_exact_thresh"] == pytest.approx(0.1)
    assert scores["best_f1"] == pytest.approx(100 * (11 / 3) / 4)  # 91.67
    assert scores["best_f1_thresh"] == pytest.approx(0.4)
    # Applying the best F1 threshold reproduces best_f1.
    again = squad_v2_scores(GOLDS, PREDS, NA_PROBS, na_prob_thresh=0.4)
    assert again["f1"] == pytest.approx(scores["best_f1"])


def test_na_prob_threshold_application() -> None:
    # thresh 0.5: q3 and q4 (na_prob > 0.5) become "no answer" -> both right.
    scores = squad_v2_scores(GOLDS, PREDS, NA_PROBS, na_prob_thresh=0.5)
    assert scores["exact"] == pytest.approx(75.0)  # (1 + 0 + 1 + 1) / 4
    assert scores["f1"] == pytest.approx(100 * (11 / 3) / 4)
    assert scores["NoAns_exact"] == pytest.approx(100.0)
    assert scores["HasAns_f1"] == pytest.approx(100 * (5 / 3) / 2)
    # thresh 0.05: everything abstains -> answerable 0, unanswerable 1.
    scores = squad_v2_scores(GOLDS, PREDS, NA_PROBS, na_prob_thresh=0.05)
    assert (scores["exact"], scores["f1"]) == pytest.approx((50.0, 50.0))
    assert (scores["HasAns_exact"], scores["NoAns_exact"]) == pytest.approx((0.0, 100.0))


def test_apply_no_ans_threshold_is_strictly_greater() -> None:
    has = {"a": True, "b": False}
    out = apply_no_ans_threshold({"a": 0.5, "b": 0.0}, {"a": 0.3, "b": 0.3}, has, 0.3)
    assert out == {"a": 0.5, "b": 0.0}  # 0.3 is not > 0.3: scores untouched
    out = apply_no_ans_threshold({"a": 0.5, "b": 0.0}, {"a": 0.31, "b": 0.31}, has, 0.3)
    assert out == {"a": 0.0, "b": 1.0}


def test_best_thresh_uses_raw_prediction_truthiness() -> None:
    # As in the official script: "the" scores EM 1 on an unanswerable question (it normalises to
    # ""), but in the threshold sweep a non-empty prediction string costs 1.
    has = {"u": False}
    assert exact_f1([], "the") == (1, 1.0)
    # start 1; answering u costs -1 -> 0; best stays 1 at thresh 0.0
    assert find_best_thresh({"u": "the"}, {"u": 1}, {"u": 0.2}, has) == (100.0, 0.0)


def test_sections_with_no_questions_are_omitted() -> None:
    only_answerable = squad_v2_scores({"q1": ["Paris"]}, {"q1": "Paris"})
    assert "NoAns_total" not in only_answerable and only_answerable["HasAns_total"] == 1
    only_unanswerable = squad_v2_scores({"q3": []}, {"q3": ""})
    assert "HasAns_total" not in only_unanswerable and only_unanswerable["NoAns_exact"] == 100.0
    assert "best_f1" not in only_unanswerable


def test_extra_predictions_are_ignored_missing_ones_raise() -> None:
    scores = squad_v2_scores({"q1": ["Paris"]}, {"q1": "Paris", "zzz": "x"})
    assert scores["total"] == 1
    with pytest.raises(ValueError, match="missing prediction for 1 of 2"):
        squad_v2_scores({"q1": ["Paris"], "q2": []}, {"q1": "Paris"})
    with pytest.raises(ValueError, match="missing na_prob"):
        squad_v2_scores({"q1": ["Paris"]}, {"q1": "Paris"}, {"other": 0.5})
    with pytest.raises(ValueError, match="no questions"):
        squad_v2_scores({}, {})
