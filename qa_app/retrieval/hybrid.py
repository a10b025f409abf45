"""Hybrid retrieval: weighted reciprocal rank fusion (RRF) of several retrievers' rankings.

`reciprocal_rank_fusion` is the pure core: score(x) = sum over rankings of w / (rrf_k + rank of x),
ranks 1-based, a ranking that misses x adds nothing. Only ranks are used, so dense cosine and
BM25 scores never need to be put on one scale. This module fetches nothing itself and does not
build windows.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

from qa_app.protocols import Retriever
from qa_app.types import Hit

K = TypeVar("K", bound=Hashable)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[K]], weights: Sequence[float], k: float = 60
) -> list[tuple[K, float]]:
    """Every item of `rankings` (best first) with its fused score, best first.

    `k` is the RRF constant (larger = flatter). Ties are broken deterministically: the better best
    rank first, then the item from the earlier ranking (one rank holds one item, so that decides).
    An item listed twice in one ranking counts once, at its better rank.
    """
    if len(rankings) != len(weights):
        raise ValueError(f"need one weight per ranking: {len(rankings)} rankings, {len(weights)} weights")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    if k < 0:
        raise ValueError("the RRF constant k must not be negative")
    scores: dict[K, float] = {}
    first: dict[K, tuple[int, int]] = {}  # (best rank, index of the ranking giving it): the tie-breaks
    for which, (ranking, weight) in enumerate(zip(rankings, weights)):
        seen: set[K] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            order = (rank, which)
            if item not in first or order < first[item]:
                first[item] = order
    return sorted(scores.items(), key=lambda kv: (-kv[1], first[kv[0]]))


class HybridRetriever:
    """Fuses the rankings of several retrievers (e.g. dense and BM25) with weighted RRF."""

    name = "hybrid"

    def __init__(self, *, retrievers: Sequence[tuple[Retriever, float]], rrf_k: int = 60, candidates: int = 30) -> None:
        if not retrievers:
            raise ValueError("HybridRetriever needs at least one retriever")
        if any(w < 0 for _, w in retrievers):
            raise ValueError("retriever weights must not be negative")
        if not any(w > 0 for _, w in retrievers):
            raise ValueError("at least one retriever weight must be positive")
        self._retrievers = tuple(retrievers)
        self._rrf_k = rrf_k
        self._candidates = candidates

    def retrieve(self, query: str, k: int) -> list[Hit]:
        """The k best chunks by fused rank; score = fused RRF score, rank 1..k."""
        if k <= 0:
            return []
        fetch = max(k, self._candidates)
        rankings: list[list[str]] = []
        weights: list[float] = []
        hits: dict[str, Hit] = {}
        for retriever, weight in self._retrievers:
            if weight == 0:
                continue  # contributes nothing: do not pay for it (the dense one encodes the query)
            found = retriever.retrieve(query, fetch)
            rankings.append([h.chunk.id for h in found])
            weights.append(weight)
            for h in found:
                hits.setdefault(h.chunk.id, h)
        fused = reciprocal_rank_fusion(rankings, weights, self._rrf_k)[:k]
        return [
            Hit(chunk=hits[cid].chunk, score=score, rank=rank, source=hits[cid].source, retriever=self.name)
            for rank, (cid, score) in enumerate(fused, start=1)
        ]
