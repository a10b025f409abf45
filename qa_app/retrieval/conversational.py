"""Conversational retrieval: find what a follow-up question refers to.

For a question that does not lean on the conversation (`qa_app.conversation.leans_on_history`),
or with no conversation, this is the plain retriever: a new topic is not polluted by the old one.
For one that does, three rankings are fused by weighted reciprocal rank (`reciprocal_rank_fusion`):

- the question as asked (it may name what it is about);
- the history query: the question plus the content words of the most recent turns;
- the chunks around the last cited answer (its chunk first, then its neighbours by distance),
  so a follow-up stays in the passage the conversation is about unless the other rankings agree on
  somewhere else.

The weights, the reach and how many turns feed the history query were chosen on the training
articles of the conversational benchmark (`bench/conversational_retrieval.py`). Deterministic;
`Search` says what was searched for and where the conversation kept the search, for the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from qa_app.conversation import Turn, history_query, leans_on_history
from qa_app.protocols import Retriever
from qa_app.retrieval.hybrid import reciprocal_rank_fusion
from qa_app.retrieval.windows import header_section
from qa_app.types import Chunk, DocumentInfo, Hit


class ChunkSource(Protocol):
    def get_chunks(self, doc_id: str, indices: Sequence[int]) -> list[Chunk]: ...

    def get_document(self, doc_id: str) -> DocumentInfo | None: ...


@dataclass(frozen=True)
class ConversationOptions:
    question_weight: float = 1.0  # ranking of the question as asked
    history_weight: float = 2.0  # ranking of the history query
    near_weight: float = 1.0  # ranking of the chunks around the last cited answer
    near_chunks: int = 1  # how far "around" reaches, in chunks on each side
    history_turns: int = 1  # most recent turns whose words go into the history query
    max_carried: int = 12  # words carried into the history query
    only_when_leaning: bool = True  # a question that does not lean on the conversation is searched as asked
    rrf_k: int = 60


@dataclass(frozen=True)
class Search:
    hits: list[Hit]
    query: str  # what was searched for: the question, or "question + carried words" for a follow-up
    stayed_in: str = ""  # where the conversation kept the search ("" when it did not)


def near_indices(chunk: int, reach: int, count: int) -> list[int]:
    """The cited chunk, then its neighbours by distance (left before right), inside the document."""
    order = [chunk]
    for d in range(1, reach + 1):
        order += [chunk - d, chunk + d]
    return [i for i in order if 0 <= i < count]


def fuse(question_ids: Sequence[str], history_ids: Sequence[str], near_ids: Sequence[str],
         options: ConversationOptions) -> list[tuple[str, float]]:
    """(chunk id, fused score) of the three rankings fused by weighted RRF, best first (an empty
    ranking or a zero weight adds nothing)."""
    parts = [(ids, w) for ids, w in ((question_ids, options.question_weight), (history_ids, options.history_weight),
                                     (near_ids, options.near_weight)) if ids and w > 0]
    if not parts:
        return []
    return reciprocal_rank_fusion([p for p, _ in parts], [w for _, w in parts], options.rrf_k)


class ConversationalRetriever:
    """A retriever that also takes the conversation (`search(question, history, k)`)."""

    def __init__(self, *, retriever: Retriever, chunks: ChunkSource | None, options: ConversationOptions,
                 candidates: int = 30) -> None:
        self._retriever = retriever
        self._chunks = chunks
        self._options = options
        self._candidates = candidates

    def search(self, question: str, history: Sequence[Turn], k: int) -> Search:
        fetch = max(k, self._candidates)
        if not history or (self._options.only_when_leaning and not leans_on_history(question)):
            return Search(hits=self._retriever.retrieve(question, fetch)[:k], query=question)
        o = self._options
        query = history_query(question, history, turns=o.history_turns, max_carried=o.max_carried)
        found: dict[str, Hit] = {}
        rankings: list[list[str]] = []
        for text, weight in ((question, o.question_weight), (query, o.history_weight)):
            hits = self._retriever.retrieve(text, fetch) if weight > 0 and (text != question or not rankings) else []
            rankings.append([h.chunk.id for h in hits])
            for h in hits:
                found.setdefault(h.chunk.id, h)
        near = self._near(history[-1]) if o.near_weight > 0 else []
        for h in near:
            found.setdefault(h.chunk.id, h)
        fused = fuse(rankings[0], rankings[1], [h.chunk.id for h in near], o)[:k]
        hits = [Hit(chunk=found[cid].chunk, score=score, rank=rank, source=found[cid].source,
                    retriever="conversation") for rank, (cid, score) in enumerate(fused, start=1)]
        near_ids = {h.chunk.id for h in near}
        stayed = next((h for h in hits if h.chunk.id in near_ids), None)
        return Search(hits=hits, query=query, stayed_in=self._describe(stayed) if stayed else "")

    def _near(self, turn: Turn) -> list[Hit]:
        """The chunks around where `turn`'s answer was cited, nearest first, as hits."""
        if not turn.cited or self._chunks is None:
            return []
        info = self._chunks.get_document(turn.doc_id)
        if info is None:  # deleted since
            return []
        order = near_indices(turn.chunk, self._options.near_chunks, info.chunks)
        by_index = {c.index: c for c in self._chunks.get_chunks(turn.doc_id, sorted(order))}
        chunks = [by_index[i] for i in order if i in by_index]
        return [Hit(chunk=c, score=0.0, rank=r, source=info.source, retriever="near-last-answer")
                for r, c in enumerate(chunks, start=1)]

    def _describe(self, hit: Hit) -> str:
        info = self._chunks.get_document(hit.chunk.doc_id) if self._chunks is not None else None
        section = header_section(hit.chunk.header, info.title if info else "")
        where = f'section "{section}" of {hit.source}' if section else hit.source
        return f"{where}, page {hit.chunk.page}"
