"""The query-time pipeline: question (+ conversation) -> retrieval -> windows -> reader -> answer.

Collaborators are injected (retriever, window builder, reader); nothing here loads a model or
knows which store is used. Reader-driven window growth lives in `qa_app.retrieval.growth`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Sequence

from qa_app.conversation import Turn
from qa_app.errors import QuestionError
from qa_app.protocols import Reader, Retriever
from qa_app.retrieval.conversational import ChunkSource, ConversationalRetriever, ConversationOptions
from qa_app.retrieval.growth import read_with_growth
from qa_app.retrieval.windows import WindowBuilder
from qa_app.types import Answer, Citation, ReaderResult, Span, Window, page_of

MAX_QUESTION_CHARS = 2000
ALTERNATIVE_SHARE = 0.2  # alternatives need at least this share of the best answer's probability


@dataclass(frozen=True)
class PipelineOptions:
    top_k: int = 5  # hits turned into windows
    candidates: int = 30  # hits fetched before windows are built
    dynamic: bool = True  # reader-driven growth
    max_growth_steps: int = 2
    grow_on_abstention: bool = False  # also grow the rank-1 window when the reader abstains (qa_app/retrieval/growth.py)
    alternatives: int = 4  # other answers shown besides the best
    read_history_query: bool = False  # the reader reads a follow-up as its history query (per reader: registry)


class Pipeline:
    def __init__(self, *, retriever: Retriever, windows: WindowBuilder, reader: Reader, options: PipelineOptions,
                 chunks: ChunkSource | None = None, conversation: ConversationOptions = ConversationOptions()) -> None:
        """`chunks` (the store) lets a follow-up search near the last cited answer; without it the
        conversation only feeds the history query."""
        self._search = ConversationalRetriever(retriever=retriever, chunks=chunks, options=conversation,
                                               candidates=options.candidates)
        self._windows = windows
        self._reader = reader
        self._options = options

    def ask(self, question: str, history: Sequence[Turn] = (), top_k: int | None = None) -> Answer:
        """The answer to `question`; `history` holds the earlier turns, oldest first. A question that leans
        on them is searched as the history query (the question plus the last turn's content words),
        and read as it too where the reader's registry entry says that helps that reader."""
        question = clean_question(question)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        search = self._search.search(question, history, top_k or self._options.top_k)
        t1 = time.perf_counter()
        windows = self._windows.build(search.hits)
        t2 = time.perf_counter()
        result, windows, steps = read_with_growth(
            self._reader, self._windows, search.query if self._options.read_history_query else question, windows,
            max_steps=self._options.max_growth_steps if self._options.dynamic else 0,
            on_abstention=self._options.grow_on_abstention,
        )
        t3 = time.perf_counter()
        timings.update(retrieve=(t1 - t0) * 1000, windows=(t2 - t1) * 1000, read=(t3 - t2) * 1000,
                       total=(t3 - t0) * 1000)
        answer = make_answer(question, search.query, result, windows, timings, self._reader.name,
                             self._options.alternatives)
        return replace(answer, stayed_in=search.stayed_in) if search.stayed_in else answer


def clean_question(question: str) -> str:
    question = " ".join((question or "").split())
    if not question:
        raise QuestionError("the question is empty; type a question about your documents")
    return question[:MAX_QUESTION_CHARS]


def citation_for(span: Span, window: Window) -> Citation:
    return Citation(doc_id=window.doc_id, source=window.source, start=span.start, end=span.end,
                    page=page_of(window.page_starts, span.start), quote=span.text,
                    section=window.section_of(span.start), chunk=window.chunk_of(span.start))


def make_answer(
    question: str, query: str, result: ReaderResult, windows: Sequence[Window], timings: dict[str, float],
    reader: str, alternatives: int,
) -> Answer:
    """The final Answer: best span with its citation when the reader answers, else not found."""
    common = dict(question=question, query=query, windows=tuple(windows), timings_ms=timings, reader=reader,
                  no_answer_margin=result.null_logit_diff)
    if not result.answerable or not result.spans:
        return Answer(text="", score=result.null_score, **common)  # type: ignore[arg-type]
    best = result.spans[0]
    others: list[Answer] = []
    seen = {best.text.strip().lower()}
    kept = [(windows[best.window_index].doc_id, best.start, best.end)]
    for span in result.spans[1:]:
        key = span.text.strip().lower()
        if key in seen or len(others) >= alternatives:
            continue
        doc_id = windows[span.window_index].doc_id
        if any(d == doc_id and span.start < end and start < span.end for d, start, end in kept):
            continue  # a longer or shorter cut of an answer already given ("Marta Lindqvist" in "treasurer, Marta Lindqvist")
        seen.add(key)
        kept.append((doc_id, span.start, span.end))
        if span.score >= ALTERNATIVE_SHARE * best.score:
            others.append(Answer(question=question, text=span.text, score=span.score,
                                 citations=(citation_for(span, windows[span.window_index]),), reader=reader))
    return Answer(
        text=best.text, score=best.score, citations=(citation_for(best, windows[best.window_index]),),
        alternatives=tuple(others), token_probs=result.token_probs, **common,  # type: ignore[arg-type]
    )
