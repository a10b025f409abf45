"""Reader-driven window growth (dynamic windows) with a FakeReader over hand-made chunks."""

from __future__ import annotations

from collections.abc import Sequence

from qa_app.retrieval.growth import EDGE_CHARS, read_with_growth
from qa_app.retrieval.windows import WindowBuilder
from qa_app.types import Growth, ReaderResult, Span, Window
from tests.fakes import FakeReader
from tests.retrieval.test_windows import Corpus

# Ten chunks, each well over 2 * EDGE_CHARS long, each holding one unique "fact".
PIECES = [f"Chunk {i} opens with filler text, then states fact-{i} plainly, then ends with more filler."
          for i in range(10)]
QUESTION = "Which fact?"


def setup(width: int = 0) -> tuple[Corpus, str, WindowBuilder]:
    corpus = Corpus()
    doc = corpus.add("facts.txt", PIECES)
    return corpus, doc, WindowBuilder(source=corpus.store, width=width)


def window_over(corpus: Corpus, builder: WindowBuilder, doc: str, index: int, *, rank: int = 1) -> Window:
    (w,) = builder.build([corpus.hit(doc, index, rank=rank)])
    return w


def test_fake_reader_answers_in_document_offsets() -> None:
    corpus, doc, builder = setup()
    w = window_over(corpus, builder, doc, 3)
    result = FakeReader("fact-3").read(QUESTION, [w])
    assert result.answerable and corpus.texts[doc][result.spans[0].start : result.spans[0].end] == "fact-3"


def test_span_touching_the_right_edge_grows_right_and_rereads() -> None:
    assert len(PIECES[0]) - PIECES[0].index("more filler.") < EDGE_CHARS
    corpus, doc, builder = setup()
    w = window_over(corpus, builder, doc, 3)
    reader = FakeReader("more filler.")  # at the very end of chunk 3
    result, windows, steps = read_with_growth(reader, builder, QUESTION, [w], max_steps=3)
    assert steps == 1
    assert len(reader.calls) == 2
    (grown,) = windows
    assert (grown.first_chunk, grown.last_chunk) == (3, 4)
    assert grown.growth == (Growth(side="right", chunks_added=1, reason="edge"),)
    assert reader.calls[1][1] == (grown,)  # the grown window was read again
    assert result.spans[0].text == "more filler."
    corpus.check(grown)


def test_span_touching_the_left_edge_grows_left() -> None:
    corpus, doc, builder = setup()
    w = window_over(corpus, builder, doc, 5)
    reader = FakeReader("Chunk 5 opens")
    result, windows, steps = read_with_growth(reader, builder, QUESTION, [w], max_steps=3)
    assert steps == 1
    assert (windows[0].first_chunk, windows[0].last_chunk) == (4, 5)
    assert windows[0].growth == (Growth("left", 1, "edge"),)
    assert result.answerable


def test_span_at_the_start_of_the_document_does_not_grow_left() -> None:
    corpus, doc, builder = setup()
    w = window_over(corpus, builder, doc, 0)
    reader = FakeReader("Chunk 0 opens")
    result, windows, steps = read_with_growth(reader, builder, QUESTION, [w], max_steps=3)
    assert steps == 0 and len(reader.calls) == 1 and windows == [w] and result.answerable


def test_span_at_the_end_of_the_document_cannot_grow() -> None:
    corpus, doc, builder = setup()
    w = window_over(corpus, builder, doc, 9)
    reader = FakeReader("more filler.")
    result, windows, steps = read_with_growth(reader, builder, QUESTION, [w], max_steps=3)
    assert steps == 0 and windows == [w] and result.answerable


def test_abstention_on_a_rank_one_window_grows_both_sides() -> None:
    corpus, doc, builder = setup()
    w = window_over(corpus, builder, doc, 5)
    reader = FakeReader("fact-6")  # one chunk to the right of the window
    assert not reader.read(QUESTION, [w]).answerable
    reader.calls.clear()
    result, windows, steps = read_with_growth(reader, builder, QUESTION, [w], max_steps=3, on_abstention=True)
    (grown,) = windows
    assert (grown.first_chunk, grown.last_chunk) == (4, 6)
    assert grown.growth == (Growth("left", 1, "null"), Growth("right", 1, "null"))
    assert result.answerable and result.spans[0].text == "fact-6"
    assert steps == 1 and len(reader.calls) == 2
    corpus.check(grown)


def test_abstention_grows_the_rank_one_window_only() -> None:
    corpus, doc, builder = setup()
    other = window_over(corpus, builder, doc, 8, rank=2)
    top = window_over(corpus, builder, doc, 2, rank=1)
    reader = FakeReader("fact-1")
    result, windows, steps = read_with_growth(reader, builder, QUESTION, [other, top], max_steps=3,
                                              on_abstention=True)
    assert windows[0] == other
    assert (windows[1].first_chunk, windows[1].last_chunk) == (1, 3)
    assert result.spans[0].window_index == 1 and steps == 1


def test_abstention_without_a_rank_one_window_does_not_grow() -> None:
    corpus, doc, builder = setup()
    w = window_over(corpus, builder, doc, 5, rank=2)
    reader = FakeReader("fact-6")
    result, windows, steps = read_with_growth(reader, builder, QUESTION, [w], max_steps=3, on_abstention=True)
    assert steps == 0 and windows == [w] and not result.answerable and len(reader.calls) == 1


def test_an_abstention_grows_nothing_unless_asked_to() -> None:
    corpus, doc, builder = setup()
    w = window_over(corpus, builder, doc, 5)  # rank 1, the answer one chunk to its right
    reader = FakeReader("fact-6")
    result, windows, steps = read_with_growth(reader, builder, QUESTION, [w], max_steps=3)
    assert steps == 0 and windows == [w] and not result.answerable and len(reader.calls) == 1


def test_abstention_after_growing_stops_growing() -> None:
    corpus, doc, builder = setup()
    w = window_over(corpus, builder, doc, 5)
    reader = FakeReader("nowhere in the documents")
    result, windows, steps = read_with_growth(reader, builder, QUESTION, [w], max_steps=5, on_abstention=True)
    assert steps == 1 and len(reader.calls) == 2 and not result.answerable
    assert [g.side for g in windows[0].growth] == ["left", "right"]


class RightEdgeReader:
    """Always answers with the last word of window 0, so every answer touches the right edge."""

    name = "edge"

    def __init__(self) -> None:
        self.calls = 0

    def read(self, question: str, windows: Sequence[Window]) -> ReaderResult:
        self.calls += 1
        w = windows[0]
        at = w.text.rindex(" ") + 1
        span = Span(text=w.text[at:], start=w.start + at, end=w.end, score=0.9, logit=3.0, window_index=0)
        return ReaderResult(spans=(span,), null_score=0.1, null_logit_diff=3.0, answerable=True)


def test_growth_stops_at_max_steps() -> None:
    corpus, doc, builder = setup()
    w = window_over(corpus, builder, doc, 2)
    reader = RightEdgeReader()
    result, windows, steps = read_with_growth(reader, builder, QUESTION, [w], max_steps=2)
    assert steps == 2 and reader.calls == 3
    assert (windows[0].first_chunk, windows[0].last_chunk) == (2, 4)
    assert [g.side for g in windows[0].growth] == ["right", "right"]
    assert result.spans[0].end == windows[0].end  # read over the final, grown window


def test_zero_max_steps_reads_once_and_never_grows() -> None:
    corpus, doc, builder = setup()
    w = window_over(corpus, builder, doc, 2)
    reader = RightEdgeReader()
    _, windows, steps = read_with_growth(reader, builder, QUESTION, [w], max_steps=0)
    assert steps == 0 and reader.calls == 1 and windows == [w]


def test_a_stable_answer_away_from_the_edges_stops_growth() -> None:
    corpus, doc, builder = setup()
    w = window_over(corpus, builder, doc, 4)
    reader = FakeReader("fact-4")  # in the middle of the chunk
    result, windows, steps = read_with_growth(reader, builder, QUESTION, [w], max_steps=5)
    assert steps == 0 and len(reader.calls) == 1 and windows == [w]
    assert result.spans[0].text == "fact-4"


def test_no_windows_reads_once() -> None:
    _, _, builder = setup()
    reader = FakeReader("fact-1")
    result, windows, steps = read_with_growth(reader, builder, QUESTION, [], max_steps=3)
    assert (windows, steps, len(reader.calls)) == ([], 0, 1) and not result.answerable
