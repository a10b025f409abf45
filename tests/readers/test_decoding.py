"""Span decoding: n-best pairs, maximum answer length, SQuAD2 null, one softmax over all windows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qa_app.readers.decoding import (
    FeatureLogits,
    context_probabilities,
    decode,
    feature_candidates,
)

LOW = -10.0


def feature(
    start: list[float], end: list[float], *, context_from: int = 1, null: float = 0.0, window: int = 0,
    char_base: int = 0, width: int = 5,
) -> FeatureLogits:
    """Tokens before `context_from` are not context (CLS/question); token i of the context covers
    window characters [char_base + width*i, char_base + width*i + width - 1)."""
    n = len(start)
    offsets = np.full((n, 2), -1, dtype=np.int64)
    for t in range(context_from, n):
        k = t - context_from
        offsets[t] = (char_base + width * k, char_base + width * k + width - 1)
    return FeatureLogits(np.array(start, dtype=np.float32), np.array(end, dtype=np.float32), offsets, null, window)


def logits_with(n: int, peaks: dict[int, float]) -> list[float]:
    values = [LOW] * n
    for i, v in peaks.items():
        values[i] = v
    return values


def test_empty_input_decodes_to_certain_no_answer() -> None:
    decoded = decode([])
    assert decoded.candidates == ()
    assert decoded.null_probability == 1.0
    assert decoded.best_feature == -1
    assert decoded.score_diff == float("-inf")


def test_best_pair_is_argmax_start_and_argmax_end() -> None:
    f = feature(logits_with(8, {3: 4.0, 5: 1.0}), logits_with(8, {4: 3.0, 6: 2.0}))
    decoded = decode([f], n_best=5, max_answer_tokens=10)
    best = decoded.candidates[0]
    assert (best.start_char, best.end_char) == (10, 19)  # token 3 starts at 10, token 4 ends at 19
    assert best.logit == pytest.approx(7.0)
    assert best.window_index == 0 and best.feature_index == 0


def test_n_best_limits_the_pairs_considered() -> None:
    f = feature([0.0, 5.0, 4.0, 3.0, 2.0, 1.0], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    pairs = feature_candidates(f, n_best=2, max_answer_tokens=10)
    # only starts {1, 2} and ends {5, 4}: four valid pairs
    assert sorted((s, e) for s, e, _ in pairs) == [(1, 4), (1, 5), (2, 4), (2, 5)]
    assert len(feature_candidates(f, n_best=5, max_answer_tokens=10)) > 4


def test_end_before_start_is_never_a_candidate() -> None:
    f = feature(logits_with(6, {4: 9.0}), logits_with(6, {2: 9.0}))
    for s, e, _ in feature_candidates(f, n_best=5, max_answer_tokens=10):
        assert e >= s
    best = decode([f], n_best=5, max_answer_tokens=10).candidates[0]
    assert best.end_char > best.start_char


def test_max_answer_length_excludes_long_spans() -> None:
    f = feature(logits_with(10, {1: 9.0, 6: 1.0}), logits_with(10, {8: 9.0, 7: 1.0}))
    long_ok = decode([f], n_best=3, max_answer_tokens=10).candidates[0]
    assert long_ok.logit == pytest.approx(18.0)  # tokens 1..8, eight tokens
    short = decode([f], n_best=3, max_answer_tokens=3).candidates
    assert short, "a shorter valid span must remain"
    for cand in short:
        assert (cand.end_char + 1 - cand.start_char) // 5 <= 3
    assert short[0].logit < 18.0


def test_non_context_tokens_are_never_used() -> None:
    # the CLS/question tokens (0..2) have the highest logits but carry offsets (-1, -1)
    f = feature([20.0, 20.0, 20.0, 1.0, 0.5], [20.0, 20.0, 20.0, 0.5, 1.0], context_from=3)
    for cand in decode([f], n_best=10, max_answer_tokens=10).candidates:
        assert cand.start_char >= 0 and cand.end_char >= 0
        assert cand.logit < 20.0


def test_feature_without_context_gives_no_candidates() -> None:
    f = feature([1.0, 2.0], [1.0, 2.0], context_from=2, null=0.5)
    decoded = decode([f])
    assert decoded.candidates == ()
    assert decoded.null_probability == pytest.approx(1.0)
    assert decoded.null_logit == 0.5


def test_null_is_the_minimum_feature_null() -> None:
    a = feature(logits_with(5, {1: 1.0}), logits_with(5, {1: 1.0}), null=3.0)
    b = feature(logits_with(5, {1: 1.0}), logits_with(5, {1: 1.0}), null=-2.0, window=1)
    decoded = decode([a, b])
    assert decoded.null_logit == -2.0
    assert decoded.score_diff == pytest.approx(decoded.candidates[0].logit - (-2.0))


def test_one_softmax_over_every_candidate_of_every_feature_and_the_null() -> None:
    a = feature(logits_with(6, {1: 2.0, 2: 1.0}), logits_with(6, {2: 2.0, 3: 1.0}), null=1.0, window=0)
    b = feature(logits_with(6, {4: 3.0}), logits_with(6, {5: 3.0}), null=2.0, window=1)
    decoded = decode([a, b], n_best=20, max_answer_tokens=30, keep=1000)
    total = sum(c.probability for c in decoded.candidates) + decoded.null_probability
    assert total == pytest.approx(1.0)
    # probabilities of candidates from different features compare through their logits
    best_a = max((c for c in decoded.candidates if c.window_index == 0), key=lambda c: c.logit)
    best_b = max((c for c in decoded.candidates if c.window_index == 1), key=lambda c: c.logit)
    assert best_b.probability / best_a.probability == pytest.approx(math.exp(best_b.logit - best_a.logit), rel=1e-6)
    assert decoded.candidates[0] == best_b  # the better window wins globally
    assert decoded.best_feature == 1
    null_vs_best = decoded.null_probability / best_b.probability
    assert null_vs_best == pytest.approx(math.exp(decoded.null_logit - best_b.logit), rel=1e-6)


def test_candidates_are_sorted_best_first_and_keep_limits_them() -> None:
    f = feature([0.0, 3.0, 2.0, 1.0, 0.5, 0.2], [0.0, 0.1, 0.3, 1.0, 2.0, 3.0])
    decoded = decode([f], n_best=5, max_answer_tokens=10, keep=3)
    assert len(decoded.candidates) == 3
    logits = [c.logit for c in decoded.candidates]
    assert logits == sorted(logits, reverse=True)
    probs = [c.probability for c in decoded.candidates]
    assert probs == sorted(probs, reverse=True)


def test_duplicate_span_from_overlapping_strides_keeps_the_best_copy() -> None:
    # two strided features of window 0; feature 1 starts 2 tokens later (10 characters) and
    # sees the span "chars 10..19" with a higher logit than feature 0 does
    first = feature(logits_with(6, {3: 2.0}), logits_with(6, {4: 2.0}), char_base=0)  # tokens 3-4 -> 10..19
    second = feature(logits_with(6, {1: 5.0}), logits_with(6, {2: 5.0}), char_base=10)  # tokens 1-2 -> 10..19
    decoded = decode([first, second], n_best=1, max_answer_tokens=10)
    same = [c for c in decoded.candidates if (c.start_char, c.end_char) == (10, 19)]
    assert len(same) == 1
    assert same[0].logit == pytest.approx(10.0)
    assert same[0].feature_index == 1
    # order does not matter: the better copy wins either way
    swapped = decode([second, first], n_best=1, max_answer_tokens=10)
    same = [c for c in swapped.candidates if (c.start_char, c.end_char) == (10, 19)]
    assert len(same) == 1 and same[0].logit == pytest.approx(10.0) and same[0].feature_index == 0


def test_same_characters_in_different_windows_are_different_spans() -> None:
    a = feature(logits_with(4, {1: 1.0}), logits_with(4, {1: 1.0}), window=0)
    b = feature(logits_with(4, {1: 1.0}), logits_with(4, {1: 1.0}), window=1)
    decoded = decode([a, b], n_best=1, max_answer_tokens=5)
    assert sorted(c.window_index for c in decoded.candidates) == [0, 1]


def test_context_probabilities_are_softmaxes_over_context_tokens_only() -> None:
    f = feature([9.0, 1.0, 2.0, 3.0], [9.0, 3.0, 2.0, 1.0], context_from=1)
    idx, p_start, p_end = context_probabilities(f)
    assert idx.tolist() == [1, 2, 3]
    assert p_start.sum() == pytest.approx(1.0) and p_end.sum() == pytest.approx(1.0)
    assert int(np.argmax(p_start)) == 2 and int(np.argmax(p_end)) == 0
