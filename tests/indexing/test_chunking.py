"""Tests of token-aware chunking: invariants on random texts (hypothesis) and boundary preferences."""

from __future__ import annotations

import bisect
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexing.chunking import (
    NEIGHBOUR_CHARS,
    chunk_document,
    context_header,
    embedding_text,
    embedding_texts,
    late_contexts,
)
from qa_app.config import ChunkingConfig
from qa_app.errors import ConfigError
from qa_app.types import Chunk, Document, Section
from tests.fakes import RegexTokenizer

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class LettersOnlyTokenizer:
    """Drops punctuation and symbols: chunks must still cover every non-whitespace character."""

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return [(m.start(), m.end()) for m in re.finditer(r"[^\W\d_]+", text)]


class DoubledTokenizer:
    """Two pieces per word on the same span (as BERT does for some characters): never cut between."""

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return [span for s, e in RegexTokenizer().token_offsets(text) for span in ((s, e), (s, e))]


def make_doc(text: str, *, title: str = "Guide", page_starts: tuple[int, ...] = (0,),
             sections: tuple[Section, ...] = ()) -> Document:
    return Document(id="doc1", source="guide.txt", title=title, text=text,
                    page_starts=page_starts, sections=sections)


def pieces_between(tokenizer, text: str, start: int, end: int) -> int:
    return sum(1 for s, e in tokenizer.token_offsets(text) if s >= start and e <= end)


def check_invariants(doc: Document, chunks: list[Chunk], tokenizer, config: ChunkingConfig) -> None:
    text = doc.text
    if not text.strip():
        assert chunks == []
        return
    assert chunks, "a document with text gives at least one chunk"
    offsets = sorted(set(tokenizer.token_offsets(text)))  # the fakes' pieces never overlap
    starts = [s for s, _ in offsets]
    ends = [e for _, e in offsets]
    counts = Counter(tokenizer.token_offsets(text))  # DoubledTokenizer repeats spans
    covered = [0] * (len(text) + 1)
    for i, c in enumerate(chunks):
        assert c.index == i
        assert c.id == f"{doc.id}:{i}"
        assert c.doc_id == doc.id
        assert c.text == text[c.start:c.end]
        assert c.text and c.text == c.text.strip()
        assert c.page == doc.page_of(c.start)
        assert c.header == context_header(doc, c.start)
        first, stop = bisect.bisect_left(starts, c.start), bisect.bisect_right(ends, c.end)
        assert sum(counts[span] for span in offsets[first:stop]) <= config.chunk_tokens
        for pos in (c.start, c.end):  # never starts or ends inside a word piece
            k = bisect.bisect_left(starts, pos) - 1
            assert k < 0 or ends[k] <= pos, f"offset {pos} lies inside piece {offsets[k]}"
        covered[c.start] += 1
        covered[c.end] -= 1
    for a, b in zip(chunks, chunks[1:]):
        assert a.start < b.start
        assert a.end <= b.end
    depth = 0
    for k, ch in enumerate(text):
        depth += covered[k]
        if not ch.isspace():
            assert depth > 0, f"character {k} ({ch!r}) is in no chunk"


_WORD_CHARS = st.characters(codec="utf-8", categories=("L", "N", "P", "S", "M"))
_WORDS = st.text(_WORD_CHARS, min_size=1, max_size=12) | st.text("abcdefghij", min_size=40, max_size=90)
_SEPARATORS = st.sampled_from([" ", " ", " ", "\n", "\n\n", "\n \n\n\n", ". ", "! ", '?" ', ".\n", "\t", "", "\f"])


@st.composite
def texts(draw) -> str:
    if draw(st.booleans()):
        return draw(st.text(max_size=400))
    parts = draw(st.lists(st.tuples(_WORDS, _SEPARATORS), max_size=120))
    lead = draw(st.sampled_from(["", " ", "\n\n  "]))
    return lead + "".join(w + s for w, s in parts)


@st.composite
def configs(draw) -> ChunkingConfig:
    size = draw(st.integers(min_value=2, max_value=40))
    return ChunkingConfig(chunk_tokens=size, overlap_tokens=draw(st.integers(0, size - 1)))


_TOKENIZERS = st.sampled_from([RegexTokenizer(), LettersOnlyTokenizer(), DoubledTokenizer()])


@_SETTINGS
@given(text=texts(), config=configs(), tokenizer=_TOKENIZERS)
def test_invariants_on_random_texts(text: str, config: ChunkingConfig, tokenizer) -> None:
    doc = make_doc(text)
    chunks = chunk_document(doc, tokenizer, config)
    check_invariants(doc, chunks, tokenizer, config)
    assert chunk_document(doc, tokenizer, config) == chunks  # deterministic


@_SETTINGS
@given(text=texts().filter(lambda t: len(t) > 1), config=configs(), data=st.data())
def test_pages_and_section_headers(text: str, config: ChunkingConfig, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(1, len(text) - 1), max_size=8, unique=True))
    marks = data.draw(st.lists(st.integers(0, len(text) - 1), max_size=5, unique=True))
    sections = tuple(Section(start=m, title=f"Part {i}") for i, m in enumerate(sorted(marks)))
    doc = make_doc(text, page_starts=(0, *sorted(cuts)), sections=sections)
    tokenizer = RegexTokenizer()
    chunks = chunk_document(doc, tokenizer, config)
    check_invariants(doc, chunks, tokenizer, config)
    for c in chunks:
        section = doc.section_of(c.start)
        assert c.header == (f"Guide > {section}" if section else "Guide")


def test_empty_and_whitespace_documents_give_no_chunks() -> None:
    for text in ("", " ", "\n\n\t  \n", "\f\u3000"):
        assert chunk_document(make_doc(text), RegexTokenizer(), ChunkingConfig()) == []


def test_text_the_tokenizer_drops_entirely_is_one_chunk() -> None:
    doc = make_doc("  ... --- !!!  \n")
    chunks = chunk_document(doc, LettersOnlyTokenizer(), ChunkingConfig(chunk_tokens=16, overlap_tokens=4))
    assert [(c.text, c.start) for c in chunks] == [("... --- !!!", 2)]


def _sentences(count: int, words: int = 7) -> str:
    # Each sentence is `words` words + "." = words + 1 pieces with RegexTokenizer.
    return " ".join(" ".join(f"w{i}x{j}" for j in range(words)) + "." for i in range(count))


def test_chunks_end_at_sentence_ends() -> None:
    doc = make_doc(_sentences(30))
    config = ChunkingConfig(chunk_tokens=20, overlap_tokens=0)
    chunks = chunk_document(doc, RegexTokenizer(), config)
    assert len(chunks) > 5
    assert all(c.text.endswith(".") for c in chunks)
    assert all(c.text.startswith("w") and c.text.split()[0].endswith("x0") for c in chunks)


def test_blank_line_beats_sentence_end_and_page_start_beats_both() -> None:
    # Sentences of 4 pieces; a budget of 21 searches cuts 16..21: a blank line at 16 (after
    # sentence 4), a plain sentence end at 20.
    sentences = [" ".join(f"s{i}w{j}" for j in range(3)) + "." for i in range(10)]
    text = " ".join(sentences[:4]) + "\n\n" + " ".join(sentences[4:])
    config = ChunkingConfig(chunk_tokens=21, overlap_tokens=0)
    first = chunk_document(make_doc(text), RegexTokenizer(), config)[0]
    assert first.text.endswith("s3w2.")
    page_two = text.index("s4w1")  # not a sentence start, but a page starts there
    doc = make_doc(text, page_starts=(0, page_two))
    chunks = chunk_document(doc, RegexTokenizer(), config)
    assert chunks[0].end == text.index("s4w0") + len("s4w0")
    assert chunks[1].start == page_two and chunks[1].page == 2


def test_overlap_is_about_overlap_tokens_and_starts_at_a_sentence_when_near() -> None:
    doc = make_doc(_sentences(60, words=4))  # sentences of 5 pieces
    config = ChunkingConfig(chunk_tokens=40, overlap_tokens=10)
    tokenizer = RegexTokenizer()
    chunks = chunk_document(doc, tokenizer, config)
    for a, b in zip(chunks, chunks[1:]):
        shared = pieces_between(tokenizer, doc.text, b.start, a.end)
        assert 5 <= shared <= 15
        assert b.text.split()[0].endswith("x0"), "next chunk starts at a sentence start"


def test_no_overlap_partitions_the_pieces() -> None:
    doc = make_doc(_sentences(40, words=5) + " tail without end")
    tokenizer = RegexTokenizer()
    chunks = chunk_document(doc, tokenizer, ChunkingConfig(chunk_tokens=17, overlap_tokens=0))
    total = sum(pieces_between(tokenizer, doc.text, c.start, c.end) for c in chunks)
    assert total == len(tokenizer.token_offsets(doc.text))


def test_long_word_without_spaces_is_cut_between_pieces() -> None:
    doc = make_doc("x" * 50 + "-" * 30 + "y" * 20)
    config = ChunkingConfig(chunk_tokens=16, overlap_tokens=4)
    chunks = chunk_document(doc, RegexTokenizer(), config)
    check_invariants(doc, chunks, RegexTokenizer(), config)
    assert len(chunks) > 1


def test_ids_are_stable_and_headers_follow_sections() -> None:
    text = "# Installation\n\nRun the installer. " * 3 + "\n# Usage\n\n" + "Open the app and ask. " * 30
    usage = text.index("# Usage")
    doc = make_doc(text, title="User guide", sections=(Section(0, "Installation"), Section(usage, "Usage")))
    config = ChunkingConfig(chunk_tokens=24, overlap_tokens=6)
    chunks = chunk_document(doc, RegexTokenizer(), config)
    assert chunks[0].header == "User guide > Installation"
    assert chunks[-1].header == "User guide > Usage"
    assert any(c.start == usage for c in chunks), "a section start is a preferred boundary"
    again = chunk_document(make_doc(text, title="User guide", sections=doc.sections), RegexTokenizer(), config)
    assert [c.id for c in again] == [c.id for c in chunks] and again == chunks


def test_context_header_without_title_or_section() -> None:
    assert context_header(make_doc("abc", title=""), 0) == ""
    assert context_header(make_doc("abc", title="T"), 1) == "T"
    doc = make_doc("abc", title="", sections=(Section(1, "S"),))
    assert context_header(doc, 0) == "" and context_header(doc, 2) == "S"


def test_large_document_keeps_invariants() -> None:
    text = "\n\n".join(_sentences(12, words=9) for _ in range(150))  # ~150k characters
    starts = tuple(range(0, len(text), 3000))
    doc = make_doc(text, page_starts=starts)
    config = ChunkingConfig()
    tokenizer = RegexTokenizer()
    check_invariants(doc, chunk_document(doc, tokenizer, config), tokenizer, config)


# --- what is embedded -----------------------------------------------------------------------


def _three_chunks() -> tuple[Document, list[Chunk]]:
    doc = make_doc(_sentences(40, words=6), title="Manual", sections=(Section(0, "Intro"),))
    chunks = chunk_document(doc, RegexTokenizer(), ChunkingConfig(chunk_tokens=80, overlap_tokens=16))
    assert len(chunks) >= 3
    return doc, chunks


def test_plain_and_header_variants() -> None:
    _, chunks = _three_chunks()
    c = chunks[1]
    assert embedding_text(c, "plain") == c.text
    assert embedding_text(c, "header") == "Manual > Intro\n" + c.text
    bare = Chunk("d", 0, "text", 0, 4, 1, header="")
    assert embedding_text(bare, "header") == "text"
    with pytest.raises(ConfigError):  # a valid setting, but not one this module can embed as text
        embedding_texts(chunks, "late")
    with pytest.raises(ValueError):
        embedding_text(c, "nonsense")


def test_neighbours_variant_adds_trimmed_context_without_the_overlap() -> None:
    doc, chunks = _three_chunks()
    prev, c, nxt = chunks[0], chunks[1], chunks[2]
    out = embedding_text(c, "neighbours", (prev.text, nxt.text))
    header, before, body, after = out.split("\n")
    assert header == "Manual > Intro" and body == c.text
    assert len(before) <= NEIGHBOUR_CHARS and len(after) <= NEIGHBOUR_CHARS
    assert doc.text[:c.start].rstrip().endswith(before)  # the text just before the chunk, overlap removed
    assert doc.text[c.end:].lstrip().startswith(after)
    assert before and after and not before[0].isspace() and not after[-1].isspace()
    assert embedding_texts(chunks, "neighbours")[1] == out
    assert embedding_texts(chunks, "header") == [embedding_text(x, "header") for x in chunks]
    first = embedding_texts(chunks, "neighbours")[0]
    assert first.split("\n")[:2] == ["Manual > Intro", chunks[0].text]
    assert embedding_text(c, "neighbours") == "Manual > Intro\n" + c.text


def test_late_contexts_hold_each_chunk_with_text_around_it() -> None:
    doc, chunks = _three_chunks()
    items = late_contexts(doc, chunks, margin=60)
    assert len(items) == len(chunks)
    for chunk, item in zip(chunks, items):
        assert item.context[item.start:item.end] == chunk.text
        assert item.prefix == "Manual > Intro"
        assert item.context in doc.text
        assert item.start <= 60 and len(item.context) - item.end <= 60
        assert not item.context[:1].isspace() and not item.context[-1:].isspace()  # cut at whitespace
    middle = items[1]
    assert middle.start > 0 and middle.end < len(middle.context)  # context on both sides
    assert items[0].start == chunks[0].start  # the document start is the edge
    whole = late_contexts(doc, chunks[:1], margin=10 ** 6)[0]
    assert whole.context == doc.text


class ArrayTokenizer(RegexTokenizer):
    """RegexTokenizer that also hands its offsets over as one numpy array, like the real tokenizer."""

    def __init__(self) -> None:
        self.array_calls = 0

    def offset_array(self, text: str) -> np.ndarray:
        self.array_calls += 1
        return np.asarray(self.token_offsets(text), dtype=np.int64).reshape(-1, 2)


def test_offsets_as_an_array_give_the_same_chunks() -> None:
    doc = make_doc(_sentences(120, words=9), title="Manual", sections=(Section(0, "Intro"),))
    config = ChunkingConfig(chunk_tokens=50, overlap_tokens=10)
    array_tokenizer = ArrayTokenizer()
    assert chunk_document(doc, array_tokenizer, config) == chunk_document(doc, RegexTokenizer(), config)
    assert array_tokenizer.array_calls == 1


def test_every_section_start_ends_a_chunk_so_a_chunk_lies_in_one_section() -> None:
    parts = ["# Intro\n\nShort intro.", "## Install\n\nRun it.", "## Usage\n\n" + "Open the app and ask. " * 30,
             "## Tiny\n\nOne line.", "## End\n\nBye."]
    text = "\n\n".join(parts)
    starts = [text.index(p) for p in parts]
    doc = make_doc(text, sections=tuple(Section(s, p.split("\n")[0].lstrip("# ")) for s, p in zip(starts, parts)))
    config = ChunkingConfig(chunk_tokens=40, overlap_tokens=8)
    chunks = chunk_document(doc, RegexTokenizer(), config)
    check_invariants(doc, chunks, RegexTokenizer(), config)
    assert set(starts) <= {c.start for c in chunks}
    for c in chunks:  # the header is right for every character of the chunk
        assert {doc.section_of(i) for i in range(c.start, c.end)} == {doc.section_of(c.start)}
        assert c.header == f"Guide > {doc.section_of(c.start)}"
