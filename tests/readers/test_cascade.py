"""The cascade reader: the fast reader picks where to look, the accurate one reads only there and decides."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pytest

from qa_app.config import Settings
from qa_app.errors import ConfigError, ModelNotFoundError
from qa_app.readers.cascade import CascadeReader, passage_around
from qa_app.readers.registry import reader_spec
from qa_app.types import ReaderResult, Span, TokenProbs, Window
from qa_app.wiring import build_reader, checkpoint_dir, models_stamp, tuned_threshold
from tests.fakes import FakeReader

FILLER = " ".join(f"word{i}" for i in range(400))  # 3,090 characters of distinct words
DOCUMENT = FILLER + " The treasurer is Marta Lindqvist and the secretary is Ola Berg. " + FILLER
ANSWER_AT = DOCUMENT.index("Marta Lindqvist")


def window(start: int, end: int, doc_id: str = "doc") -> Window:
    return Window(doc_id=doc_id, source=f"{doc_id}.txt", title=doc_id, text=DOCUMENT[start:end], start=start, end=end,
                  first_chunk=0, last_chunk=0)


class ScriptedScout:
    """A fast reader whose n-best spans are given: (window index, text) pairs, best first."""

    name = "scout"

    def __init__(self, found: Sequence[tuple[int, str]], *, chars_per_token: float | None = None) -> None:
        self._found = found
        self._chars_per_token = chars_per_token

    def read(self, question: str, windows: Sequence[Window]) -> ReaderResult:
        spans = []
        for index, text in self._found:
            start = windows[index].start + windows[index].text.index(text)
            spans.append(Span(text=text, start=start, end=start + len(text), score=0.5, logit=1.0, window_index=index))
        probs = None
        if self._chars_per_token is not None:
            step = round(self._chars_per_token)
            offsets = tuple((i, i + step) for i in range(0, 100 * step, step))
            probs = TokenProbs(tokens=("t",) * 100, offsets=offsets, start=(0.0,) * 100, end=(0.0,) * 100)
        return ReaderResult(spans=tuple(spans), null_score=0.5, null_logit_diff=1.0, answerable=True,
                            token_probs=probs, window_null_logits=tuple(0.0 for _ in windows))


def test_the_finisher_reads_only_a_passage_around_the_scouts_answer_and_its_answer_is_kept() -> None:
    windows = [window(0, 2000, "other"), window(ANSWER_AT - 2500, ANSWER_AT + 2500)]
    finisher = FakeReader("Marta Lindqvist")
    cascade = CascadeReader(scout=ScriptedScout([(1, "secretary")], chars_per_token=5.0), finisher=finisher,
                            tokens=100)
    result = cascade.read("Who is the treasurer?", windows)
    (read,) = finisher.calls[0][1]
    assert 500 <= len(read.text) <= 530  # 100 word pieces of 5 characters, widened to whole words
    assert read.text == DOCUMENT[read.start:read.end]
    assert read.start < DOCUMENT.index("secretary") < read.end
    best = result.spans[0]
    assert (best.start, best.window_index) == (ANSWER_AT, 1)  # document offsets, in the windows given
    assert DOCUMENT[best.start:best.end] == "Marta Lindqvist"
    assert result.answerable
    assert result.window_null_logits == (float("inf"), 0.0)  # the first window was not read again


def test_the_finisher_decides_to_abstain_although_the_scout_answers() -> None:
    windows = [window(ANSWER_AT - 2500, ANSWER_AT + 2500)]
    cascade = CascadeReader(scout=ScriptedScout([(0, "Marta")]), finisher=FakeReader("not in there"), tokens=64)
    result = cascade.read("Who is the chair?", windows)
    assert not result.answerable and not result.spans


def test_more_rereads_add_passages_around_further_spans_but_not_inside_one_already_chosen() -> None:
    windows = [window(0, 3000, "a"), window(ANSWER_AT - 2500, ANSWER_AT + 2500)]
    finisher = FakeReader("Ola Berg")
    scout = ScriptedScout([(1, "Marta"), (1, "Ola"), (0, "word100"), (0, "word300")])
    CascadeReader(scout=scout, finisher=finisher, rereads=2, tokens=64).read("Who is the secretary?", windows)
    first, second = finisher.calls[0][1]
    assert first.start < ANSWER_AT < first.end
    assert second.doc_id == "a" and "word100" in second.text.split()  # "Ola" lay in the first passage


def test_a_window_shorter_than_a_passage_is_read_whole_and_without_spans_everything_is_read() -> None:
    short = window(ANSWER_AT - 100, ANSWER_AT + 100)
    finisher = FakeReader("Marta Lindqvist")
    CascadeReader(scout=ScriptedScout([(0, "Marta")]), finisher=finisher, tokens=320).read("q", [short])
    assert finisher.calls[-1][1] == (short,)
    windows = [window(0, 500), short]
    result = CascadeReader(scout=ScriptedScout([]), finisher=finisher).read("q", windows)
    assert finisher.calls[-1][1] == tuple(windows)
    assert result.spans[0].window_index == 1


@pytest.mark.parametrize("centre", [5, 2500, 4990])
def test_a_passage_stays_inside_its_window_and_cuts_no_word(centre: int) -> None:
    w = window(1000, 6000)
    start = 1000 + centre
    passage = passage_around(w, start, start + 4, 600)
    assert w.start <= passage.start <= start and start + 4 <= passage.end <= w.end
    assert passage.text == DOCUMENT[passage.start:passage.end]
    assert 600 <= len(passage.text) <= 620
    for edge in (passage.start, passage.end):
        assert edge in (w.start, w.end) or DOCUMENT[edge - 1].isspace() or DOCUMENT[edge].isspace()


def test_the_cascade_answers_with_its_finishers_threshold(tmp_path: Path) -> None:
    class Finisher(FakeReader):
        threshold = -3.5

    cascade = CascadeReader(scout=FakeReader(), finisher=Finisher())
    assert cascade.threshold == -3.5
    scout, finisher = reader_spec("cascade").parts
    settings = Settings()
    assert tuned_threshold(settings, "cascade") == tuned_threshold(settings, finisher)
    with pytest.raises(ValueError):
        CascadeReader(scout=FakeReader(), finisher=FakeReader(), rereads=0)


def test_wiring_builds_the_cascade_from_its_registered_parts(tmp_path: Path) -> None:
    built: list[str] = []

    def part(name: str) -> FakeReader:
        built.append(name)
        return FakeReader("Ola Berg", name=name)

    settings = Settings().replace(cascade_rereads=2, cascade_tokens=64)
    cascade = build_reader(settings, "cascade", part)
    assert isinstance(cascade, CascadeReader) and cascade.name == "cascade"
    assert tuple(built) == reader_spec("cascade").parts
    assert cascade.read("q", [window(0, 6000)]).spans[0].text == "Ola Berg"
    stamp = models_stamp(settings, "cascade")  # evaluation runs name the checkpoints they read
    assert stamp.split("+") == [str(checkpoint_dir(settings, n)) for n in reader_spec("cascade").parts]
    with pytest.raises(ModelNotFoundError, match="cascade reader reads with transformer and transformer-mpnet"):
        build_reader(Settings().replace(models_dir=str(tmp_path)), "cascade")  # its parts need their checkpoints
    with pytest.raises(ConfigError, match="cascade_rereads"):
        Settings().replace(cascade_rereads=0)


def test_reading_many_questions_gives_what_reading_each_gives() -> None:
    items = [("Who is the treasurer?", [window(0, 2000, "a"), window(ANSWER_AT - 2500, ANSWER_AT + 2500)]),
             ("Who is the secretary?", [window(ANSWER_AT - 300, ANSWER_AT + 300)]),
             ("Nothing found?", [window(0, 1000)])]
    scout = ScriptedScout([(0, "word10")], chars_per_token=4.0)
    counted: list[int] = []
    cascade = CascadeReader(scout=scout, finisher=FakeReader("Marta Lindqvist"), tokens=64)
    many = cascade.read_many(items, counted.append)
    assert many == [cascade.read(q, w) for q, w in items]
    assert [r.answerable for r in many] == [False, True, False]  # the first passage lies in window "a"
    assert sum(counted) == len(items)
