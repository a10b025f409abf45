"""Conversational retrieval: plain for a new topic; for a follow-up, the question, the history query
and the passage of the last cited answer fused; what was searched and where it stayed, for the user."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.sparse import BM25Index
from qa_app.conversation import Turn
from qa_app.retrieval.conversational import ConversationalRetriever, ConversationOptions, fuse, near_indices
from qa_app.retrieval.dense import DenseRetriever
from qa_app.retrieval.hybrid import HybridRetriever
from qa_app.retrieval.sparse import SparseRetriever
from qa_app.types import Hit
from tests.retrieval.test_windows import ENCODER, Corpus


class RecordingRetriever:
    """Returns fixed hits and records every query it was asked."""

    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.queries: list[str] = []

    def retrieve(self, query: str, k: int) -> list[Hit]:
        self.queries.append(query)
        return self.hits[:k]


def test_near_indices_start_at_the_cited_chunk_and_stay_inside_the_document() -> None:
    assert near_indices(5, 2, 10) == [5, 4, 6, 3, 7]
    assert near_indices(0, 1, 10) == [0, 1]
    assert near_indices(9, 1, 10) == [9, 8]
    assert near_indices(3, 0, 10) == [3]


def test_fuse_weights_each_ranking_and_skips_empty_or_unweighted_ones() -> None:
    options = ConversationOptions(question_weight=1.0, history_weight=1.0, near_weight=0.5, rrf_k=60)
    fused = [cid for cid, _ in fuse(["a", "b"], ["b", "c"], ["c"], options)]
    assert fused == ["b", "c", "a"]  # b: 1/62 + 1/61; c: 1/62 + 0.5/61; a: 1/61
    assert [cid for cid, _ in fuse(["a"], [], ["z"], ConversationOptions(near_weight=0.0))] == ["a"]
    assert fuse([], [], [], options) == []


@pytest.fixture
def corpus() -> Corpus:
    c = Corpus()
    c.add("rivers.txt", [f"River fact {i}: the Rhine has feature {i} of its course." for i in range(6)])
    c.add("planets.txt", [f"Planet fact {i}: Saturn has ring {i} of ice." for i in range(6)])
    return c


def test_a_question_that_does_not_lean_on_the_conversation_is_searched_as_asked(corpus: Corpus) -> None:
    hits = [corpus.hit(corpus.ids["planets.txt"], 2, rank=1)]
    base = RecordingRetriever(hits)
    history = [Turn("Where does the Rhine rise?", "Alps", corpus.ids["rivers.txt"], 3)]
    search = ConversationalRetriever(retriever=base, chunks=corpus.store, options=ConversationOptions()).search(
        "Which planet has rings of ice?", history, 5)
    assert base.queries == ["Which planet has rings of ice?"]
    assert search.query == "Which planet has rings of ice?" and search.stayed_in == ""
    assert search.hits == hits


def test_a_follow_up_fuses_question_history_query_and_the_last_answers_neighbourhood(corpus: Corpus) -> None:
    rivers = corpus.ids["rivers.txt"]
    base = RecordingRetriever([corpus.hit(corpus.ids["planets.txt"], 0, rank=1)])
    history = [Turn("Where does the Rhine rise?", "in the Alps", rivers, 3)]
    options = ConversationOptions(question_weight=1.0, history_weight=1.0, near_weight=3.0, near_chunks=1)
    search = ConversationalRetriever(retriever=base, chunks=corpus.store, options=options).search(
        "How long is it?", history, 3)
    assert base.queries == ["How long is it?", search.query]
    assert search.query.startswith("How long is it?") and "rhine" in search.query and "alps" in search.query
    assert [(h.chunk.doc_id, h.chunk.index) for h in search.hits] == [(rivers, 3), (rivers, 2), (rivers, 4)]
    assert [h.rank for h in search.hits] == [1, 2, 3]
    assert search.stayed_in == "rivers.txt, page 1"


def test_without_a_citation_or_with_the_document_gone_there_is_no_neighbourhood(corpus: Corpus) -> None:
    planets = corpus.ids["planets.txt"]
    base = RecordingRetriever([corpus.hit(planets, 0, rank=1)])
    retriever = ConversationalRetriever(retriever=base, chunks=corpus.store, options=ConversationOptions())
    uncited = retriever.search("How long is it?", [Turn("Where does the Rhine rise?", "")], 5)
    assert [h.chunk.doc_id for h in uncited.hits] == [planets] and uncited.stayed_in == ""
    rivers = corpus.ids["rivers.txt"]
    corpus.store.delete_document(rivers)
    gone = retriever.search("How long is it?", [Turn("Where does the Rhine rise?", "Alps", rivers, 2)], 5)
    assert [h.chunk.doc_id for h in gone.hits] == [planets] and gone.stayed_in == ""


# -- hand-written dialogues over a real hybrid retriever (hashing encoder + BM25) ----------------

MANUAL = {
    "loops.txt": [
        "Loops. The break statement is the only way to leave a repeat loop.",
        "The next statement skips the rest of the current cycle and starts the next one.",
        "A while loop runs its body as long as its condition holds.",
    ],
    "graphics.txt": [
        "Graphics devices. The quartz function opens a graphics window on macOS.",
        "The dev.new function opens a new graphics device on any platform.",
        "The mar parameter sets the margins in text lines; mai sets them in inches.",
    ],
    "models.txt": [
        "Statistical models. The lm function fits ordinary linear models by least squares.",
        "The glm function fits generalized linear models such as logistic regression.",
        "The step function chooses a model by the Akaike information criterion.",
    ],
}


@pytest.fixture
def manual(tmp_path: Path) -> tuple[Corpus, HybridRetriever]:
    corpus = Corpus()
    bm25 = BM25Index(path=tmp_path / "bm25")
    for source, pieces in MANUAL.items():
        doc_id = corpus.add(source, pieces)
        bm25.add(doc_id, corpus.store.get_chunks(doc_id, range(len(pieces))))
    hybrid = HybridRetriever(retrievers=[(DenseRetriever(encoder=ENCODER, store=corpus.store), 1.0),
                                         (SparseRetriever(index=bm25, store=corpus.store), 2.0)], candidates=10)
    return corpus, hybrid


def top_source(corpus: Corpus, hits: list[Hit]) -> str:
    return next(source for source, doc_id in corpus.ids.items() if doc_id == hits[0].chunk.doc_id)


def test_dialogue_pronoun_follow_up_finds_the_passage_it_refers_to(manual: tuple[Corpus, HybridRetriever]) -> None:
    corpus, hybrid = manual
    retriever = ConversationalRetriever(retriever=hybrid, chunks=corpus.store, options=ConversationOptions())
    history = [Turn("Which function fits ordinary linear models?", "lm", corpus.ids["models.txt"], 0)]
    alone = hybrid.retrieve("Which package is that function in?", 3)
    search = retriever.search("Which package is that function in?", history, 3)
    assert top_source(corpus, search.hits) == "models.txt"
    assert search.hits[0].chunk.index == 0 and search.stayed_in.startswith("models.txt")
    assert top_source(corpus, alone) != "models.txt"  # the question alone does not say what "that" is


def test_dialogue_and_follow_up_stays_in_the_section(manual: tuple[Corpus, HybridRetriever]) -> None:
    corpus, hybrid = manual
    retriever = ConversationalRetriever(retriever=hybrid, chunks=corpus.store, options=ConversationOptions())
    history = [Turn("Which statement is the only way to get out of a repeat loop?", "break",
                    corpus.ids["loops.txt"], 0)]
    search = retriever.search("And which one skips just the rest of the current cycle?", history, 3)
    assert top_source(corpus, search.hits) == "loops.txt"
    assert search.hits[0].chunk.index == 1


def test_dialogue_topic_shift_is_not_polluted_by_the_conversation(manual: tuple[Corpus, HybridRetriever]) -> None:
    corpus, hybrid = manual
    retriever = ConversationalRetriever(retriever=hybrid, chunks=corpus.store, options=ConversationOptions())
    history = [Turn("Which statement is the only way to get out of a repeat loop?", "break",
                    corpus.ids["loops.txt"], 0)]
    question = "Which function opens a new graphics device on any platform?"
    search = retriever.search(question, history, 3)
    assert search.query == question and search.stayed_in == ""
    assert [h.chunk.id for h in search.hits] == [h.chunk.id for h in hybrid.retrieve(question, 3)]
    assert top_source(corpus, search.hits) == "graphics.txt"
