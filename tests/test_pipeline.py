"""The query pipeline end to end with fakes: DenseRetriever over InMemoryStore + HashingEncoder,
real chunking (RegexTokenizer), WindowBuilder, and a FakeReader that answers with a chosen span."""

from __future__ import annotations

import pytest

from indexing.build import Indexer
from indexing.loaders import document_id
from indexing.stores import InMemoryStore, StoreSignature
from qa_app.config import ChunkingConfig
from qa_app.conversation import Turn
from qa_app.errors import QuestionError
from qa_app.pipeline import MAX_QUESTION_CHARS, Pipeline, PipelineOptions, make_answer
from qa_app.retrieval.dense import DenseRetriever
from qa_app.retrieval.windows import WindowBuilder
from qa_app.types import Document, Growth, ReaderResult, Span, Window
from tests.fakes import FakeReader, HashingEncoder, RegexTokenizer
from tests.retrieval.test_windows import Corpus

ENCODER = HashingEncoder(dimension=64)
CHUNKING = ChunkingConfig(chunk_tokens=24, overlap_tokens=4, contextual="plain")
SIGNATURE = StoreSignature.for_encoder(ENCODER.id, ENCODER.dimension, CHUNKING)

PAGES = (
    ("The alpaca herd grazes in the high Andes. Alpacas give soft wool and live in herds of twenty. "
     "Farmers shear the alpacas once a year in spring."),
    ("The zeppelin hangar stands near the old harbour. It was built in 1929 and held two airships. "
     "Today the hangar is a museum about flight."),
    ("The quokka smiles for tourists on Rottnest Island. Quokkas are small marsupials. "
     "They sleep in the shade during the day and feed at night."),
)


def atlas() -> Document:
    text, starts = "", []
    for page in PAGES:
        starts.append(len(text))
        text += page + "\n\n"
    text = text.rstrip()
    return Document(id=document_id(text), source="atlas.pdf", title="Atlas", text=text, page_starts=tuple(starts))


def cooking() -> Document:
    text = ("Bread needs flour, water and yeast. Knead the dough for ten minutes. "
            "Bake the loaf in a hot oven for forty minutes and let it cool.")
    return Document(id=document_id(text), source="bread.txt", title="Bread", text=text)


@pytest.fixture
def store() -> InMemoryStore:
    s = InMemoryStore(signature=SIGNATURE)
    indexer = Indexer(store=s, encoder=ENCODER, tokenizer=RegexTokenizer(), chunking=CHUNKING)
    for doc in (atlas(), cooking()):
        assert indexer.index_document(doc).status == "added"
    return s


def pipeline(store: object, reader: FakeReader, *, width: int = 1, **options: object) -> Pipeline:
    return Pipeline(
        retriever=DenseRetriever(encoder=ENCODER, store=store),  # type: ignore[arg-type]
        windows=WindowBuilder(source=store, width=width),  # type: ignore[arg-type]
        reader=reader,
        options=PipelineOptions(**options),  # type: ignore[arg-type]
    )


def test_answer_and_citation_quote_are_the_document_slice(store: InMemoryStore) -> None:
    reader = FakeReader("Rottnest Island")
    answer = pipeline(store, reader).ask("Where does the quokka smile for tourists?")
    doc = atlas()
    assert answer.found and answer.text == "Rottnest Island"
    (c,) = answer.citations
    assert c.quote == answer.text == doc.text[c.start : c.end]
    assert (c.doc_id, c.source) == (doc.id, "atlas.pdf")
    assert answer.score == pytest.approx(0.9)
    assert answer.reader == "fake"
    assert answer.windows and any(w.start <= c.start and c.end <= w.end for w in answer.windows)
    assert set(answer.timings_ms) == {"retrieve", "windows", "read", "total"}
    assert all(v >= 0 for v in answer.timings_ms.values())


@pytest.mark.parametrize("needle, page", [("soft wool", 1), ("1929", 2), ("small marsupials", 3)])
def test_citation_page_is_right_in_a_multi_page_document(store: InMemoryStore, needle: str, page: int) -> None:
    answer = pipeline(store, FakeReader(needle)).ask(f"Question about {needle}?", top_k=5)
    assert answer.found
    assert answer.citations[0].page == page
    assert answer.citations[0].quote == atlas().text[answer.citations[0].start : answer.citations[0].end]


def test_not_found_keeps_the_windows_read(store: InMemoryStore) -> None:
    reader = FakeReader("an answer that is in no document")
    answer = pipeline(store, reader).ask("How long does the bread bake?")
    assert not answer.found and answer.text == ""
    assert answer.citations == ()
    assert answer.windows, "the passages that were read are kept for the user"
    assert answer.windows[0].source == "bread.txt"
    assert answer.score == 1.0  # the reader's null score


@pytest.mark.parametrize("question", ["", "   ", "\n\t "])
def test_empty_question_is_a_question_error(store: InMemoryStore, question: str) -> None:
    reader = FakeReader("x")
    with pytest.raises(QuestionError):
        pipeline(store, reader).ask(question)
    assert reader.calls == []


def test_long_question_is_capped(store: InMemoryStore) -> None:
    reader = FakeReader("Rottnest Island")
    question = "Where does the quokka smile " + "please " * 1000
    answer = pipeline(store, reader).ask(question)
    assert len(answer.question) == MAX_QUESTION_CHARS
    assert question.startswith(answer.question)
    assert reader.calls[0][0] == answer.question


def test_question_whitespace_is_normalised(store: InMemoryStore) -> None:
    reader = FakeReader("1929")
    answer = pipeline(store, reader).ask("  When was the\n zeppelin   hangar built? ")
    assert answer.question == "When was the zeppelin hangar built?"
    assert answer.query == answer.question


@pytest.mark.parametrize("read_history_query", [True, False])
def test_follow_up_is_searched_with_the_conversation_and_read_as_the_reader_wants(
        store: InMemoryStore, read_history_query: bool) -> None:
    reader = FakeReader("1929")
    history = [Turn(question="Where does the zeppelin hangar stand?", answer="near the old harbour")]
    answer = pipeline(store, reader, read_history_query=read_history_query).ask("When was it built?", history)
    assert answer.query.startswith("When was it built?") and "zeppelin" in answer.query and "hangar" in answer.query
    assert reader.calls[0][0] == (answer.query if read_history_query else "When was it built?")
    assert answer.question == "When was it built?"
    own = "When was the zeppelin hangar at the harbour built?"
    assert pipeline(store, reader).ask(own, history).query == own


def test_top_k_bounds_the_windows(store: InMemoryStore) -> None:
    answer = pipeline(store, FakeReader("nothing"), width=0, dynamic=False).ask("alpaca zeppelin quokka bread", top_k=2)
    assert 1 <= len(answer.windows) <= 2


FACTS = [f"Chunk {i} opens with filler text, then states fact-{i} plainly, then ends with more filler."
         for i in range(6)]


@pytest.mark.parametrize("dynamic", [True, False])
def test_reader_driven_growth_shows_in_the_answer_windows(dynamic: bool) -> None:
    corpus = Corpus()
    corpus.add("facts.txt", FACTS)
    reader = FakeReader("more filler.")  # ends exactly at the right edge of any one-chunk window
    p = Pipeline(retriever=DenseRetriever(encoder=HashingEncoder(dimension=16), store=corpus.store),
                 windows=WindowBuilder(source=corpus.store, width=0), reader=reader,
                 options=PipelineOptions(top_k=1, dynamic=dynamic, max_growth_steps=2))
    answer = p.ask("Which chunk states fact-3?")
    (w,) = answer.windows
    if dynamic:
        assert w.growth == (Growth("right", 1, "edge"),)
        assert len(reader.calls) == 2
    else:
        assert w.growth == () and len(reader.calls) == 1
    assert answer.citations[0].quote == corpus.texts[w.doc_id][answer.citations[0].start : answer.citations[0].end]


# --- make_answer ----------------------------------------------------------------------------------

TEXT = "Paris is the capital. paris again. Lyon is big. Nice is sunny."
WINDOW = Window(doc_id="d", source="france.txt", title="France", text=TEXT, start=100, end=100 + len(TEXT),
                first_chunk=0, last_chunk=0, page_starts=(0, 130))


def span(word: str, score: float, occurrence: int = 0) -> Span:
    at = TEXT.index(word) if not occurrence else TEXT.index(word, TEXT.index(word) + 1)
    return Span(text=word, start=100 + at, end=100 + at + len(word), score=score, logit=score, window_index=0)


def test_alternatives_are_distinct_and_not_too_unlikely() -> None:
    result = ReaderResult(
        spans=(span("Paris", 0.5), span("paris", 0.3), span("Lyon", 0.2), span("Nice", 0.05)),
        null_score=0.1, null_logit_diff=2.0, answerable=True,
    )
    answer = make_answer("Capital?", "Capital?", result, [WINDOW], {}, "fake", alternatives=4)
    assert answer.text == "Paris" and answer.citations[0].page == 1
    assert [a.text for a in answer.alternatives] == ["Lyon"]  # "paris" repeats, "Nice" < 20% of the best
    lyon = answer.alternatives[0].citations[0]
    assert lyon.page == 2 and lyon.quote == "Lyon" and (lyon.start - 100) == TEXT.index("Lyon")


def test_overlapping_cuts_of_one_answer_are_merged_into_it() -> None:
    text = "The treasurer, Marta Lindqvist, signs the cheques. The auditor is Ole Berg."
    window = Window(doc_id="d", source="club.txt", title="Club", text=text, start=0, end=len(text),
                    first_chunk=0, last_chunk=0)

    def cut(phrase: str, score: float) -> Span:
        at = text.index(phrase)
        return Span(text=phrase, start=at, end=at + len(phrase), score=score, logit=score, window_index=0)

    result = ReaderResult(spans=(cut("treasurer, Marta Lindqvist", 0.4), cut("Marta Lindqvist", 0.3),
                                 cut("treasurer", 0.1), cut("The treasurer, Marta Lindqvist", 0.1), cut("Ole Berg", 0.1)),
                          null_score=0.1, null_logit_diff=2.0, answerable=True)
    answer = make_answer("Who signs?", "Who signs?", result, [window], {}, "fake", alternatives=4)
    assert answer.text == "treasurer, Marta Lindqvist"
    assert [a.text for a in answer.alternatives] == ["Ole Berg"]


def test_alternatives_are_limited_in_number() -> None:
    result = ReaderResult(spans=(span("Paris", 0.3), span("Lyon", 0.3), span("Nice", 0.3)), null_score=0.1,
                          null_logit_diff=1.0, answerable=True)
    answer = make_answer("Q?", "Q?", result, [WINDOW], {}, "fake", alternatives=1)
    assert [a.text for a in answer.alternatives] == ["Lyon"]


def test_an_abstaining_reader_gives_not_found_even_with_spans() -> None:
    result = ReaderResult(spans=(span("Paris", 0.2),), null_score=0.7, null_logit_diff=-1.0, answerable=False)
    answer = make_answer("Q?", "Q?", result, [WINDOW], {}, "fake", alternatives=4)
    assert not answer.found and answer.citations == () and answer.score == 0.7
    assert answer.windows == (WINDOW,)


GUIDE_HTML = ("<html><head><title>Pump guide</title></head><body><h1>Overview</h1><p>The pump moves water uphill.</p>"
              "<h2>Installation</h2><p>Bolt the pump to a concrete plinth.</p>"
              "<h2>Maintenance</h2><p>Oil the bearings every spring and check the seals.</p></body></html>")


@pytest.mark.parametrize("needle, section", [
    ("a concrete plinth", "Installation"),  # a short section: its own chunk, so its own header
    ("Oil the bearings", "Maintenance"),
    ("moves water uphill", "Overview"),
])
def test_citation_names_the_section_of_the_answer(needle: str, section: str) -> None:
    from indexing.loaders import load_bytes

    doc = load_bytes(GUIDE_HTML.encode(), "pump.html")
    s = InMemoryStore(signature=SIGNATURE)
    indexer = Indexer(store=s, encoder=ENCODER, tokenizer=RegexTokenizer(), chunking=CHUNKING)
    assert indexer.index_document(doc).status == "added" and indexer.index_document(cooking()).status == "added"
    answer = pipeline(s, FakeReader(needle), width=2).ask(f"What about {needle}?")
    (c,) = answer.citations
    assert c.quote == doc.text[c.start:c.end] == needle
    assert c.section == section == doc.section_of(c.start)


def test_citation_section_is_empty_without_headings(store: InMemoryStore) -> None:
    answer = pipeline(store, FakeReader("Rottnest Island")).ask("Where does the quokka smile for tourists?")
    assert answer.citations[0].section == ""
