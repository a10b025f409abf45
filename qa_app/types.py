"""The data that flows between stages: frozen dataclasses, nothing else.

Character offsets into `Document.text` are the source of truth for chunks, windows, answers,
citations and highlighting. This module does no I/O and imports nothing heavy.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class Section:
    """A heading of a document (e.g. a Markdown `#` line) and where its section starts."""

    start: int  # offset in Document.text where the heading line starts
    title: str  # the heading text without markup


@dataclass(frozen=True)
class Document:
    """A loaded document. `id` is a hash of `text`, so the same content always gets the same id."""

    id: str
    source: str  # display name of the origin, e.g. the file name (never trusted as a path)
    title: str
    text: str
    page_starts: tuple[int, ...] = (0,)  # start offset of page 1, 2, ...; (0,) for unpaged text
    sections: tuple[Section, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict, compare=False)

    def page_of(self, offset: int) -> int:
        """1-based page number holding character `offset`."""
        return page_of(self.page_starts, offset)

    def section_of(self, offset: int) -> str:
        """Title of the innermost section that starts at or before `offset` ("" if none)."""
        starts = [s.start for s in self.sections]
        i = bisect.bisect_right(starts, offset) - 1
        return self.sections[i].title if i >= 0 else ""

    @property
    def page_count(self) -> int:
        return len(self.page_starts)


def page_of(page_starts: tuple[int, ...] | list[int], offset: int) -> int:
    """1-based page of `offset` given the start offsets of every page."""
    return max(1, bisect.bisect_right(list(page_starts), offset))


@dataclass(frozen=True)
class Chunk:
    """A contiguous piece of one document: `document.text[start:end] == text`."""

    doc_id: str
    index: int  # position of the chunk in its document, 0-based
    text: str
    start: int
    end: int
    page: int  # 1-based page of `start`
    header: str = ""  # context header embedded with the chunk (title, section)
    gap_before: str = ""  # the whitespace between the previous chunk's end and `start`, if they do not overlap

    @property
    def id(self) -> str:
        return chunk_id(self.doc_id, self.index)


def chunk_id(doc_id: str, index: int) -> str:
    return f"{doc_id}:{index}"


@dataclass(frozen=True)
class SpanInContext:
    """A chunk inside a longer stretch of its document, for late chunking: the encoder reads
    `prefix` + `context` and pools the token vectors of `context[start:end]` (the chunk)."""

    prefix: str  # e.g. the chunk's title/section header; "" for none
    context: str  # document text around the chunk
    start: int  # the chunk's offsets in `context`
    end: int


@dataclass(frozen=True)
class DocumentInfo:
    """What the store knows about a completely indexed document (no text)."""

    id: str
    source: str
    title: str
    pages: int
    chunks: int
    chars: int
    indexed_at: str  # ISO-8601 UTC
    page_starts: tuple[int, ...] = (0,)
    origin: str = ""  # where it was indexed from (a path or "upload:<name>"); same origin + new content = replace


@dataclass(frozen=True)
class Hit:
    """A chunk returned by a retriever, with its score and 1-based rank."""

    chunk: Chunk
    score: float
    rank: int
    source: str = ""  # document source name
    retriever: str = ""  # "dense", "sparse", "hybrid", ...


@dataclass(frozen=True)
class Growth:
    """One step of reader-driven window growth."""

    side: str  # "left" or "right"
    chunks_added: int
    reason: str  # "edge" (best span touched the edge) or "null" (no-answer won despite a high rank)


@dataclass(frozen=True)
class Window:
    """Adjacent chunks of one document merged into one contiguous passage the reader reads."""

    doc_id: str
    source: str
    title: str
    text: str
    start: int  # document offset of text[0]
    end: int
    first_chunk: int
    last_chunk: int
    page_starts: tuple[int, ...] = (0,)
    score: float = 0.0  # retrieval score of its best hit
    rank: int = 1  # rank of its best hit (1 = best)
    growth: tuple[Growth, ...] = ()
    sections: tuple[Section, ...] = ()  # the section of each of its chunks, from their headers (for citations)
    chunk_starts: tuple[int, ...] = ()  # document offset of each of its chunks, first_chunk first

    @property
    def page(self) -> int:
        return page_of(self.page_starts, self.start)

    def section_of(self, offset: int) -> str:
        """Title of the section holding document `offset` inside this window ("" if none)."""
        i = bisect.bisect_right([s.start for s in self.sections], offset) - 1
        return self.sections[i].title if i >= 0 else ""

    def chunk_of(self, offset: int) -> int:
        """Index (in the document) of the last chunk of this window starting at or before `offset`."""
        return self.first_chunk + max(0, bisect.bisect_right(self.chunk_starts, offset) - 1)


@dataclass(frozen=True)
class Citation:
    """Where an answer comes from: `quote == document.text[start:end]`."""

    doc_id: str
    source: str
    start: int
    end: int
    page: int
    quote: str
    section: str = ""  # the innermost section heading at `start` ("" when none)
    chunk: int = -1  # index of the chunk holding `start` (-1 = not known); follow-ups search near it


@dataclass(frozen=True)
class TokenProbs:
    """Per-token start/end probabilities of the winning window (for the heat map)."""

    tokens: tuple[str, ...]
    offsets: tuple[tuple[int, int], ...]  # document character offsets of each token
    start: tuple[float, ...]
    end: tuple[float, ...]


@dataclass(frozen=True)
class Span:
    """A candidate answer found by a reader, in document offsets."""

    text: str
    start: int  # document offset
    end: int
    score: float  # probability-like, normalised over every window of the question
    logit: float  # raw start+end logit, for thresholds
    window_index: int  # which of the windows given to the reader


@dataclass(frozen=True)
class ReaderResult:
    """What a reader returns for one question over a list of windows."""

    spans: tuple[Span, ...]  # n-best over all windows, best first
    null_score: float  # probability-like score of "no answer"
    null_logit_diff: float  # best span logit minus null logit (SQuAD2 style; > threshold => answer)
    answerable: bool  # the reader's decision against its tuned threshold
    token_probs: TokenProbs | None = None
    window_null_logits: tuple[float, ...] = ()  # per window, for growth decisions


@dataclass(frozen=True)
class Answer:
    """The final answer to a question. `text == ""` means not found."""

    question: str
    text: str
    score: float
    citations: tuple[Citation, ...] = ()
    windows: tuple[Window, ...] = ()
    alternatives: tuple["Answer", ...] = ()
    query: str = ""  # the retrieval query actually used (may include conversation context)
    stayed_in: str = ""  # where the conversation kept the search, e.g. 'section "Loops" of R-intro.pdf, page 50'
    token_probs: TokenProbs | None = None
    timings_ms: Mapping[str, float] = field(default_factory=dict, compare=False)
    reader: str = ""
    no_answer_margin: float | None = None  # reader's best span logit minus null logit (> threshold => answer)

    @property
    def found(self) -> bool:
        return bool(self.text)
