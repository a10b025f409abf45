"""Span decoding shared by every reader: n-best start/end pairs, maximum answer length, a SQuAD2
null score, and one normalisation over all windows of a question so that spans from different
windows and documents compare.

Pure numpy, no I/O, no model: readers turn their outputs into `FeatureLogits` and call `decode`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FeatureLogits:
    """Model outputs for one tokenised piece ("feature") of one window."""

    start: np.ndarray  # (L,) start logits
    end: np.ndarray  # (L,) end logits
    offsets: np.ndarray  # (L, 2) character offsets into the window text; (-1, -1) = not context
    null_logit: float  # the no-answer logit of this feature (e.g. start[CLS] + end[CLS])
    window_index: int  # index of the window this feature was cut from


@dataclass(frozen=True)
class Candidate:
    window_index: int
    feature_index: int
    start_char: int  # offsets into the window text
    end_char: int
    logit: float  # start + end logit
    probability: float  # normalised over every candidate and the null of the question


@dataclass(frozen=True)
class Decoded:
    candidates: tuple[Candidate, ...]  # best first
    null_logit: float  # minimum feature null logit (SQuAD2 convention)
    null_probability: float
    best_feature: int  # feature of the best candidate (-1 if none)

    @property
    def score_diff(self) -> float:
        """Best span logit minus null logit; answer when above the reader's threshold."""
        if not self.candidates:
            return float("-inf")
        return self.candidates[0].logit - self.null_logit


def feature_candidates(
    feature: FeatureLogits, *, n_best: int, max_answer_tokens: int
) -> list[tuple[int, int, float]]:
    """Valid (start_token, end_token, logit) pairs among the n-best starts and ends of a feature."""
    context = feature.offsets[:, 0] >= 0
    if not context.any():
        return []
    idx = np.flatnonzero(context)
    k = min(n_best, idx.size)
    starts = idx[np.argsort(-feature.start[idx], kind="stable")[:k]]
    ends = idx[np.argsort(-feature.end[idx], kind="stable")[:k]]
    s_grid, e_grid = np.meshgrid(starts, ends, indexing="ij")
    valid = (e_grid >= s_grid) & (e_grid - s_grid + 1 <= max_answer_tokens)
    s_ok, e_ok = s_grid[valid], e_grid[valid]
    logits = feature.start[s_ok] + feature.end[e_ok]
    return [(int(s), int(e), float(v)) for s, e, v in zip(s_ok, e_ok, logits)]


def decode(
    features: list[FeatureLogits], *, n_best: int = 20, max_answer_tokens: int = 30, keep: int = 20
) -> Decoded:
    """Rank spans of every feature together; probabilities share one softmax with the null."""
    if not features:
        return Decoded((), 0.0, 1.0, -1)
    raw: list[tuple[float, int, int, int]] = []
    seen: dict[tuple[int, int, int], int] = {}
    for f_index, feature in enumerate(features):
        for s, e, logit in feature_candidates(feature, n_best=n_best, max_answer_tokens=max_answer_tokens):
            start_char, end_char = int(feature.offsets[s, 0]), int(feature.offsets[e, 1])
            key = (feature.window_index, start_char, end_char)
            if key in seen:  # overlapping strides see the same span twice: keep the better one
                if raw[seen[key]][0] >= logit:
                    continue
                raw[seen[key]] = (logit, f_index, start_char, end_char)
                continue
            seen[key] = len(raw)
            raw.append((logit, f_index, start_char, end_char))
    null_logit = float(min(f.null_logit for f in features))
    logits = np.array([r[0] for r in raw] + [null_logit], dtype=np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    order = np.argsort(-logits[:-1], kind="stable")[:keep]
    candidates = tuple(
        Candidate(
            window_index=features[raw[i][1]].window_index,
            feature_index=raw[i][1],
            start_char=raw[i][2],
            end_char=raw[i][3],
            logit=raw[i][0],
            probability=float(probs[i]),
        )
        for i in order
    )
    best_feature = candidates[0].feature_index if candidates else -1
    return Decoded(candidates, null_logit, float(probs[-1]), best_feature)


def softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max())
    return z / z.sum()


def context_probabilities(feature: FeatureLogits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start/end probabilities over the context tokens of one feature, and their indices."""
    idx = np.flatnonzero(feature.offsets[:, 0] >= 0)
    return idx, softmax(feature.start[idx].astype(np.float64)), softmax(feature.end[idx].astype(np.float64))
