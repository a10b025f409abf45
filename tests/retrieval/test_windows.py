"""Windows from hits: neighbours, merging, per-document cap, token budget, exact text, growth."""

from __future__ import annotations

import hashlib

import pytest

from indexing.stores import InMemoryStore, StoreSignature
from qa_app.retrieval.windows import WindowBuilder, estimate_tokens, merge_text
from qa_app.types import Chunk, DocumentInfo, Growth, Hit, Window
from tests.fakes import HashingEncoder

ENCODER = HashingEncoder(dimension=16)
SIGNATURE = StoreSignature(encoder_id=ENCODER.id, dimension=16, chunk_tokens=50, overlap_tokens=10,
                           contextual="plain")


def sentences(topic: str, n: int = 10) -> list[str]:
    return [f"Sentence {i:02d} is about the {topic} number {i} and some filler words." for i in range(n)]


def make_chunks(doc_id: str, text: str, pieces: list[str], layout: str) -> list[Chunk]:
    """`disjoint`: one chunk per sentence (gaps of whitespace); `overlapping`: sentences i and i+1."""
    spans, at = [], 0
    for piece in pieces:
        start = text.index(piece, at)
        spans.append((start, start + len(piece)))
        at = start + len(piece)
    if layout == "overlapping":
        spans = [(spans[i][0], spans[i + 1][1]) for i in range(len(spans) - 1)]
    return [Chunk(doc_id=doc_id, index=i, text=text[s:e], start=s, end=e, page=1) for i, (s, e) in enumerate(spans)]


class Corpus:
    """Documents stored in an InMemoryStore, with their full texts for slicing."""

    def __init__(self) -> None:
        self.store = InMemoryStore(signature=SIGNATURE)
        self.texts: dict[str, str] = {}
        self.ids: dict[str, str] = {}

    def add(self, source: str, pieces: list[str], *, layout: str = "disjoint", sep: str = " ") -> str:
        text = sep.join(pieces)
        doc_id = hashlib.sha256(text.encode()).hexdigest()[:16]
        chunks = make_chunks(doc_id, text, pieces, layout)
        info = DocumentInfo(id=doc_id, source=source, title=source.split(".")[0], pages=2, chunks=len(chunks),
                            chars=len(text), indexed_at="2025-01-01T00:00:00+00:00",
                            page_starts=(0, len(text) // 2))
        self.store.add_document(info, chunks, ENCODER.encode([c.text for c in chunks]))
        self.texts[doc_id] = text
        self.ids[source] = doc_id
        return doc_id

    def hit(self, doc_id: str, index: int, rank: int, score: float | None = None) -> Hit:
        (chunk,) = self.store.get_chunks(doc_id, [index])
        return Hit(chunk=chunk, score=1.0 - rank / 100 if score is None else score, rank=rank, retriever="dense")

    def check(self, window: Window) -> None:
        """A window's text is the exact document slice at its offsets."""
        text = self.texts[window.doc_id]
        assert window.text == text[window.start : window.end]
        chunks = self.store.get_chunks(window.doc_id, range(window.first_chunk, window.last_chunk + 1))
        assert (window.start, window.end) == (chunks[0].start, chunks[-1].end)


@pytest.fixture(params=["disjoint", "overlapping"])
def layout(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def corpus(layout: str) -> Corpus:
    c = Corpus()
    c.add("rivers.txt", sentences("river"), layout=layout)
    c.add("planets.txt", sentences("planet"), layout=layout)
    return c


def builder(corpus: Corpus, **kwargs: object) -> WindowBuilder:
    return WindowBuilder(source=corpus.store, **kwargs)  # type: ignore[arg-type]


def last_index(corpus: Corpus, source: str) -> int:
    info = corpus.store.get_document(corpus.ids[source])
    assert info is not None
    return info.chunks - 1


# --- build ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [0, 1, 2])
def test_a_hit_grows_by_its_neighbours(corpus: Corpus, width: int) -> None:
    doc = corpus.ids["rivers.txt"]
    (w,) = builder(corpus).build([corpus.hit(doc, 4, rank=1, score=0.7)], width=width)
    assert (w.first_chunk, w.last_chunk) == (4 - width, 4 + width)
    corpus.check(w)
    assert (w.doc_id, w.source, w.title) == (doc, "rivers.txt", "rivers")
    assert (w.score, w.rank) == (0.7, 1)
    assert w.growth == ()


def test_neighbours_stop_at_the_document_edges(corpus: Corpus) -> None:
    doc = corpus.ids["rivers.txt"]
    last = last_index(corpus, "rivers.txt")
    first_window = builder(corpus, width=2).build([corpus.hit(doc, 0, rank=1)])[0]
    assert (first_window.first_chunk, first_window.last_chunk) == (0, 2)
    assert first_window.start == 0
    last_window = builder(corpus, width=2).build([corpus.hit(doc, last, rank=1)])[0]
    assert (last_window.first_chunk, last_window.last_chunk) == (last - 2, last)
    assert last_window.end == len(corpus.texts[doc])
    corpus.check(first_window)
    corpus.check(last_window)


def test_window_page_comes_from_the_document_page_starts(corpus: Corpus) -> None:
    doc = corpus.ids["rivers.txt"]
    last = last_index(corpus, "rivers.txt")
    early, late = builder(corpus, width=0).build([corpus.hit(doc, 0, rank=1), corpus.hit(doc, last, rank=2)])
    assert (early.page, late.page) == (1, 2)


@pytest.mark.parametrize("second", [4, 5], ids=["overlapping", "touching"])
def test_overlapping_or_touching_windows_merge_into_one_exact_span(corpus: Corpus, second: int) -> None:
    doc = corpus.ids["rivers.txt"]
    hits = [corpus.hit(doc, 2, rank=1, score=0.9), corpus.hit(doc, second, rank=2, score=0.8)]
    (w,) = builder(corpus, width=1).build(hits)
    assert (w.first_chunk, w.last_chunk) == (1, second + 1)
    corpus.check(w)
    assert (w.rank, w.score) == (1, 0.9)


def test_windows_with_a_gap_stay_apart_in_rank_order(corpus: Corpus) -> None:
    doc = corpus.ids["rivers.txt"]
    windows = builder(corpus, width=1).build([corpus.hit(doc, 7, rank=2), corpus.hit(doc, 1, rank=1)])
    assert [(w.first_chunk, w.last_chunk, w.rank) for w in windows] == [(0, 2, 1), (6, 8, 2)]
    for w in windows:
        corpus.check(w)


def test_a_window_between_two_others_merges_all_three(corpus: Corpus) -> None:
    doc = corpus.ids["rivers.txt"]
    hits = [corpus.hit(doc, 1, rank=1), corpus.hit(doc, 7, rank=2), corpus.hit(doc, 4, rank=3)]
    windows = builder(corpus, width=1).build(hits)
    assert len(windows) == 1
    (w,) = windows
    assert (w.first_chunk, w.last_chunk, w.rank) == (0, 8, 1)
    corpus.check(w)


def test_windows_of_different_documents_never_merge(corpus: Corpus) -> None:
    rivers, planets = corpus.ids["rivers.txt"], corpus.ids["planets.txt"]
    windows = builder(corpus, width=1).build([corpus.hit(rivers, 3, rank=1), corpus.hit(planets, 3, rank=2)])
    assert [w.doc_id for w in windows] == [rivers, planets]
    for w in windows:
        corpus.check(w)


def test_per_document_cap_keeps_the_best_windows_and_other_documents(corpus: Corpus) -> None:
    rivers, planets = corpus.ids["rivers.txt"], corpus.ids["planets.txt"]
    hits = [corpus.hit(rivers, 0, rank=1), corpus.hit(rivers, 4, rank=2), corpus.hit(rivers, 8, rank=3),
            corpus.hit(planets, 5, rank=4)]
    windows = builder(corpus, width=0, max_per_document=2).build(hits)
    assert [(w.doc_id, w.first_chunk) for w in windows] == [(rivers, 0), (rivers, 4), (planets, 5)]


def test_a_hit_merging_into_a_kept_window_is_not_stopped_by_the_cap(corpus: Corpus) -> None:
    rivers = corpus.ids["rivers.txt"]
    hits = [corpus.hit(rivers, 0, rank=1), corpus.hit(rivers, 5, rank=2), corpus.hit(rivers, 6, rank=3)]
    windows = builder(corpus, width=0, max_per_document=2).build(hits)
    assert [(w.first_chunk, w.last_chunk) for w in windows] == [(0, 0), (5, 6)]


def test_token_budget_skips_windows_that_do_not_fit(corpus: Corpus) -> None:
    rivers, planets = corpus.ids["rivers.txt"], corpus.ids["planets.txt"]
    # rank 1 -> rivers 0..2; rank 2 + 3 merge into planets 2..6 (big); rank 4 -> rivers 7..9 (small)
    hits = [corpus.hit(rivers, 1, rank=1), corpus.hit(planets, 3, rank=2), corpus.hit(planets, 5, rank=3),
            corpus.hit(rivers, 8, rank=4)]
    unbounded = WindowBuilder(source=corpus.store, width=1, token_budget=10**9, count_tokens=len).build(hits)
    first, big, small = unbounded
    assert (big.first_chunk, big.last_chunk) == (2, 6) and len(big.text) > len(small.text)
    budget = len(first.text) + len(small.text)
    b = WindowBuilder(source=corpus.store, width=1, token_budget=budget, count_tokens=len)
    windows = b.build(hits)
    assert windows == [first, small]  # the big one does not fit; the smaller, lower-ranked one does
    assert b.tokens(windows) == budget
    tight = WindowBuilder(source=corpus.store, width=1, token_budget=1, count_tokens=len).build(hits)
    assert tight == [first], "the best window is kept even when it alone is over budget"


def test_hits_of_unknown_documents_are_ignored(corpus: Corpus) -> None:
    rivers = corpus.ids["rivers.txt"]
    ghost = Chunk(doc_id="gone", index=0, text="gone", start=0, end=4, page=1)
    windows = builder(corpus).build([Hit(chunk=ghost, score=1.0, rank=1), corpus.hit(rivers, 2, rank=2)])
    assert [w.doc_id for w in windows] == [rivers]


def test_estimate_tokens_is_about_a_quarter_of_the_characters() -> None:
    assert estimate_tokens("") == 1
    assert estimate_tokens("x" * 400) == 100


# --- merge_text -----------------------------------------------------------------------------------


def chunk(text: str, start: int, end: int, index: int) -> Chunk:
    return Chunk(doc_id="d", index=index, text=text[start:end], start=start, end=end, page=1)


def test_merge_text_drops_overlaps() -> None:
    text = "alpha beta gamma delta epsilon"
    merged = merge_text([chunk(text, 0, 16, 0), chunk(text, 11, 22, 1), chunk(text, 17, 30, 2)])
    assert merged == (text, 0, 30)


def test_merge_text_fills_whitespace_gaps_keeping_offsets() -> None:
    text = "First part.  Second part.\n\nThird part."
    a, b, c = (text.index(p) for p in ("First", "Second", "Third"))
    chunks = [chunk(text, a, a + 11, 0), chunk(text, b, b + 12, 1), chunk(text, c, len(text), 2)]
    merged, start, end = merge_text(chunks)
    assert (start, end) == (0, len(text))
    assert len(merged) == end - start
    for ch in chunks:
        assert merged[ch.start - start : ch.end - start] == ch.text
    assert merged[:25] == text[:25]  # a gap of spaces is the document text itself


def test_merge_text_skips_a_chunk_inside_the_previous_one() -> None:
    text = "one two three four"
    merged = merge_text([chunk(text, 0, 13, 0), chunk(text, 4, 7, 1), chunk(text, 8, 18, 2)])
    assert merged == (text, 0, 18)


def test_merge_text_of_one_chunk_is_that_chunk() -> None:
    text = "  lonely chunk  "
    assert merge_text([chunk(text, 2, 14, 0)]) == ("lonely chunk", 2, 14)


# --- grow -----------------------------------------------------------------------------------------


def test_grow_left_and_right_records_growth(corpus: Corpus) -> None:
    doc = corpus.ids["rivers.txt"]
    b = builder(corpus, width=0)
    (w,) = b.build([corpus.hit(doc, 4, rank=1, score=0.6)])
    right = b.grow(w, "right", 1, "edge")
    assert right is not None
    assert (right.first_chunk, right.last_chunk) == (4, 5)
    assert right.growth == (Growth(side="right", chunks_added=1, reason="edge"),)
    corpus.check(right)
    both = b.grow(right, "left", 2, "null")
    assert both is not None
    assert (both.first_chunk, both.last_chunk) == (2, 5)
    assert both.growth == (Growth("right", 1, "edge"), Growth("left", 2, "null"))
    assert (both.score, both.rank) == (0.6, 1)
    corpus.check(both)


def test_grow_stops_at_document_edges(corpus: Corpus) -> None:
    doc = corpus.ids["rivers.txt"]
    last = last_index(corpus, "rivers.txt")
    b = builder(corpus, width=0)
    first, final = b.build([corpus.hit(doc, 0, rank=1), corpus.hit(doc, last, rank=2)])
    assert b.grow(first, "left", 1, "edge") is None
    assert b.grow(final, "right", 1, "edge") is None
    partly = b.grow(final, "left", 100, "null")
    assert partly is not None and partly.first_chunk == 0 and partly.growth[0].chunks_added == last
    corpus.check(partly)


def test_grow_of_a_deleted_document_is_none(corpus: Corpus) -> None:
    doc = corpus.ids["rivers.txt"]
    b = builder(corpus, width=0)
    (w,) = b.build([corpus.hit(doc, 3, rank=1)])
    corpus.store.delete_document(doc)
    assert b.grow(w, "right", 1, "edge") is None
