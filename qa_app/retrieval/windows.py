"""Turn retrieval hits into reader windows: each hit grows by neighbouring chunks of its document,
overlapping or touching windows of one document merge, a per-document cap keeps one long
document from crowding out the others, and a token budget bounds what the reader sees.

Needs only a way to fetch chunks and document facts (the store); no model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Protocol, Sequence

from qa_app.types import Chunk, DocumentInfo, Growth, Hit, Section, Window


class ChunkSource(Protocol):
    def get_chunks(self, doc_id: str, indices: Sequence[int]) -> list[Chunk]: ...

    def get_document(self, doc_id: str) -> DocumentInfo | None: ...


def estimate_tokens(text: str) -> int:
    """About one word piece per four characters of English (cheap, no tokenizer)."""
    return max(1, len(text) // 4)


@dataclass
class _Range:
    doc_id: str
    first: int
    last: int
    score: float
    rank: int


def merge_text(chunks: Sequence[Chunk]) -> tuple[str, int, int]:
    """Contiguous text of adjacent chunks (sorted by index), using offsets to drop overlaps.

    Chunks are trimmed: the whitespace between two chunks that do not overlap comes from the later
    chunk's `gap_before`, so the result is the exact document slice. (Should a gap be unknown, it
    is filled with spaces of the same length, keeping every offset exact.)
    """
    parts = [chunks[0].text]
    start, end = chunks[0].start, chunks[0].end
    for chunk in chunks[1:]:
        if chunk.end <= end:
            continue
        if chunk.start >= end:
            gap = chunk.gap_before if len(chunk.gap_before) == chunk.start - end else " " * (chunk.start - end)
            parts.append(gap)
            parts.append(chunk.text)
        else:
            parts.append(chunk.text[end - chunk.start :])
        end = chunk.end
    return "".join(parts), start, end


def header_section(header: str, title: str) -> str:
    """The section part of a chunk header ("Title > Section", see indexing.chunking.context_header)."""
    title = title.strip()
    if not title:
        return header
    prefix = f"{title} > "
    return header[len(prefix):] if header.startswith(prefix) else ""


def chunk_sections(chunks: Sequence[Chunk], title: str) -> tuple[Section, ...]:
    """The section of each chunk, where it changes. Chunking ends a chunk at every section start,
    so a chunk lies within one section and this is exact for every offset of the chunks."""
    sections: list[Section] = []
    for chunk in chunks:
        section = header_section(chunk.header, title)
        if not sections or sections[-1].title != section:
            sections.append(Section(start=chunk.start, title=section))
    return tuple(sections)


class WindowBuilder:
    """Builds windows from hits. `count_tokens` measures the budget (defaults to an estimate)."""

    def __init__(
        self, *, source: ChunkSource, width: int = 1, token_budget: int = 2048, max_per_document: int = 3,
        count_tokens: Callable[[str], int] = estimate_tokens,
    ) -> None:
        self._source = source
        self._width = width
        self._budget = token_budget
        self._max_per_doc = max_per_document
        self._count = count_tokens

    def build(self, hits: Sequence[Hit], width: int | None = None) -> list[Window]:
        width = self._width if width is None else width
        infos: dict[str, DocumentInfo] = {}
        ranges: list[_Range] = []
        for hit in sorted(hits, key=lambda h: h.rank):
            doc = hit.chunk.doc_id
            if doc not in infos:
                info = self._source.get_document(doc)
                if info is None:
                    continue
                infos[doc] = info
            last_index = max(0, infos[doc].chunks - 1)
            first, last = max(0, hit.chunk.index - width), min(last_index, hit.chunk.index + width)
            if _merge_into(ranges, doc, first, last):
                continue
            if sum(r.doc_id == doc for r in ranges) >= self._max_per_doc:
                continue
            ranges.append(_Range(doc, first, last, hit.score, hit.rank))
        windows: list[Window] = []
        used = 0
        for r in ranges:
            window = self._materialise(r, infos[r.doc_id])
            if window is None:
                continue
            cost = self._count(window.text)
            if windows and used + cost > self._budget:
                continue  # a lower-ranked window that does not fit; smaller ones later may
            windows.append(window)
            used += cost
        return windows

    def grow(self, window: Window, side: str, chunks: int, reason: str) -> Window | None:
        """The window extended by `chunks` chunks on `side`; None when it cannot grow there."""
        info = self._source.get_document(window.doc_id)
        if info is None:
            return None
        first, last = window.first_chunk, window.last_chunk
        if side == "left":
            first = max(0, first - chunks)
        else:
            last = min(info.chunks - 1, last + chunks)
        if (first, last) == (window.first_chunk, window.last_chunk):
            return None
        grown = self._materialise(_Range(window.doc_id, first, last, window.score, window.rank), info)
        if grown is None:
            return None
        added = (window.first_chunk - first) + (last - window.last_chunk)
        return replace(grown, growth=window.growth + (Growth(side=side, chunks_added=added, reason=reason),))

    def tokens(self, windows: Sequence[Window]) -> int:
        return sum(self._count(w.text) for w in windows)

    def _materialise(self, r: _Range, info: DocumentInfo) -> Window | None:
        chunks = self._source.get_chunks(r.doc_id, range(r.first, r.last + 1))
        if not chunks:
            return None
        text, start, end = merge_text(chunks)
        return Window(doc_id=r.doc_id, source=info.source, title=info.title, text=text, start=start, end=end,
                      first_chunk=chunks[0].index, last_chunk=chunks[-1].index, page_starts=info.page_starts,
                      score=r.score, rank=r.rank, sections=chunk_sections(chunks, info.title),
                      chunk_starts=tuple(c.start for c in chunks))


def _merge_into(ranges: list[_Range], doc: str, first: int, last: int) -> bool:
    """Merge [first, last] into an overlapping or touching range of the same document."""
    for r in ranges:
        if r.doc_id == doc and first <= r.last + 1 and last >= r.first - 1:
            r.first, r.last = min(r.first, first), max(r.last, last)
            # a merged range may now touch another one of the same document
            for other in [o for o in ranges if o is not r and o.doc_id == doc]:
                if other.first <= r.last + 1 and other.last >= r.first - 1:
                    r.first, r.last = min(r.first, other.first), max(r.last, other.last)
                    r.rank = min(r.rank, other.rank)
                    r.score = max(r.score, other.score)
                    ranges.remove(other)
            return True
    return False
