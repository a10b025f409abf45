"""Where the gold answer sits in a ranked retrieval: hits grown to their initial windows
(`ChunkSpans`), the position of the first range holding a gold span, and recall@k / MRR over those
positions. Shared by open-book evaluation and the retrieval benchmarks (bench/)."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from qa_app.evaluation.results import RetrievalScores
from qa_app.types import Chunk, Hit

OPEN_TOP_K = 10  # retrieval depth of an open-book run: recall@10 needs at least 10 ranked hits


class ChunkSpans:
    """Document offsets of every stored chunk, to expand a hit to its initial window cheaply."""

    def __init__(self, chunks: Iterable[Chunk]) -> None:
        self._spans: dict[str, dict[int, tuple[int, int]]] = {}
        for c in chunks:
            self._spans.setdefault(c.doc_id, {})[c.index] = (c.start, c.end)

    def window_of(self, chunk: Chunk, width: int) -> tuple[int, int]:
        """(start, end) of `chunk` grown by `width` chunks on each side, within its document."""
        spans = self._spans.get(chunk.doc_id, {})
        near = [spans[i] for i in range(chunk.index - width, chunk.index + width + 1) if i in spans]
        near.append((chunk.start, chunk.end))
        return min(s for s, _ in near), max(e for _, e in near)

    def index_at(self, doc_id: str, offset: int) -> int:
        """Index of the last chunk of `doc_id` starting at or before `offset`."""
        return max(i for i, (start, _) in self._spans[doc_id].items() if start <= offset)

    def chunk_count(self, doc_id: str) -> int:
        return len(self._spans.get(doc_id, {}))

    def id_ranges(self, chunk_ids: Sequence[str]) -> list[tuple[str, int, int]]:
        """(doc_id, start, end) of each chunk id ("doc_id:index")."""
        out = []
        for cid in chunk_ids:
            doc, index = cid.rsplit(":", 1)
            out.append((doc, *self._spans[doc][int(index)]))
        return out

    def hit_ranges(self, hits: Sequence[Hit], width: int) -> list[tuple[str, int, int]]:
        """(doc_id, start, end) of each hit grown to its initial window of `width` chunks a side."""
        return [(h.chunk.doc_id, *self.window_of(h.chunk, width)) for h in hits]


def ranked_hits(retriever: Any, query: str, candidates: int) -> list[Hit]:
    """The retriever's top OPEN_TOP_K hits for `query`, best first."""
    hits = retriever.retrieve(query, max(OPEN_TOP_K, candidates))[:OPEN_TOP_K]
    return sorted(hits, key=lambda h: h.rank)


def first_gold_position(ranges: Sequence[tuple[str, int, int]], doc_id: str, gold: Sequence[tuple[int, int]]) -> int | None:
    """1-based position of the first (doc_id, start, end) range that contains a gold span."""
    for position, (doc, start, end) in enumerate(ranges, start=1):
        if doc == doc_id and any(start <= s and e <= end for s, e in gold):
            return position
    return None


def recall_at(positions: Sequence[int | None], k: int) -> float:
    """Share of questions whose first gold-holding range is among the first k (0 for none)."""
    if not positions:
        return 0.0
    return sum(1 for p in positions if p is not None and p <= k) / len(positions)


def mean_reciprocal_rank(positions: Sequence[int | None]) -> float:
    if not positions:
        return 0.0
    return sum(1.0 / p for p in positions if p is not None) / len(positions)


def retrieval_scores(window_pos: Sequence[int | None], hit_pos: Sequence[int | None]) -> RetrievalScores:
    """recall@1/5/10 and MRR over the windows the reader was given, then over the raw hits."""
    return {
        "recall@1": round(recall_at(window_pos, 1), 4), "recall@5": round(recall_at(window_pos, 5), 4),
        "recall@10": round(recall_at(window_pos, 10), 4), "mrr": round(mean_reciprocal_rank(window_pos), 4),
        "hit_recall@1": round(recall_at(hit_pos, 1), 4), "hit_recall@5": round(recall_at(hit_pos, 5), 4),
        "hit_recall@10": round(recall_at(hit_pos, 10), 4), "hit_mrr": round(mean_reciprocal_rank(hit_pos), 4),
    }
