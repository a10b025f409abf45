"""Latency figures of an evaluation run: percentiles per pipeline stage and histogram bins.

Pure stdlib, no I/O, no timing of its own: it summarises numbers measured elsewhere (the pipeline's
`Answer.timings_ms` and the caller's end-to-end clock).
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

from qa_app.evaluation.results import LatencySummary


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between ranks (numpy's default).

    NaN for an empty sequence.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    data = sorted(values)
    if not data:
        return math.nan
    position = (len(data) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)


def summarize(values: Sequence[float]) -> LatencySummary:
    """p50, p95 and mean, rounded to 0.1 ms (NaN-free: an empty list gives zeros)."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "mean": 0.0}
    return {"p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1),
            "mean": round(sum(values) / len(values), 1)}


def stage_latencies(timings: Iterable[Mapping[str, float]]) -> dict[str, LatencySummary]:
    """Per stage (the keys found in the timings, in first-seen order): p50, p95 and mean in ms."""
    by_stage: dict[str, list[float]] = {}
    for row in timings:
        for stage, ms in row.items():
            by_stage.setdefault(stage, []).append(float(ms))
    return {stage: summarize(values) for stage, values in by_stage.items()}


def histogram(values: Sequence[float], bins: int = 20) -> tuple[list[float], list[int]]:
    """Equal-width bins over [min, max]: `bins + 1` edges and `bins` counts (max falls in the last)."""
    if bins < 1:
        raise ValueError("bins must be at least 1")
    if not values:
        return [0.0, 1.0], [0]
    low, high = min(values), max(values)
    if high <= low:
        return [low, low + 1.0], [len(values)]
    width = (high - low) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - low) / width))] += 1
    return [low + i * width for i in range(bins + 1)], counts
