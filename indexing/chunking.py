"""Token-aware chunking of a Document into overlapping Chunks, and what is embedded for each chunk.

`chunk_document` tokenizes the text once and works on the word-piece offset arrays, so it runs in
time linear in the document length. Chunks hold at most `chunk_tokens` word pieces, overlap their
neighbours by about `overlap_tokens` word pieces, and end at the best boundary found in the last part
of their budget (section start > page start > blank line > sentence end > newline > whitespace). Chunk
boundaries always lie between word pieces; every section start ends a chunk, and the next one starts
there without overlap, so a chunk lies within one section and its header is right for all of it.
Chunk text is trimmed of surrounding whitespace, and every non-whitespace character of the document lies in at least one chunk.

`embedding_text` / `embedding_texts` give the text embedded for the contextual variants
"plain", "header" and "neighbours". The "late" variant (late chunking) has no text form:
`late_contexts` gives each chunk with the document text around it, and the encoder pools the
chunk's token vectors computed over that longer context.

This module does no I/O and imports nothing heavy; the tokenizer is injected.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from typing import Sequence

import numpy as np

from qa_app.config import ChunkingConfig
from qa_app.errors import ConfigError
from qa_app.protocols import Tokenizer
from qa_app.types import Chunk, Document, SpanInContext

__all__ = [
    "NEIGHBOUR_CHARS",
    "TEXT_VARIANTS",
    "chunk_document",
    "context_header",
    "embedding_text",
    "embedding_texts",
    "late_contexts",
]

TEXT_VARIANTS = ("plain", "header", "neighbours")
NEIGHBOUR_CHARS = 200  # characters of each neighbouring chunk embedded with the "neighbours" variant
# Document text on each side of a chunk handed to a late-chunking encoder: more than the encoder's
# 512 positions can take, so the encoder, not this margin, decides how much context it reads.
LATE_MARGIN_CHARS = 2500

# Share of a chunk's budget, counted back from its end, searched for a good boundary. A quarter
# keeps chunks at least 3/4 full while nearly always finding a sentence end in prose.
_SEARCH_FRACTION = 0.25

# Boundary scores: higher is a better place to cut.
_SCORE_SECTION = 6  # a section (heading) starts here; the next chunk starts here too, no overlap
_SCORE_PAGE = 5  # a page starts here
_SCORE_PARAGRAPH = 4  # blank line (or form feed)
_SCORE_SENTENCE = 3  # after . ! ? (possibly followed by closing quotes/brackets) and whitespace
_SCORE_NEWLINE = 2
_SCORE_SPACE = 1
_SCORE_NONE = 0  # between two word pieces with nothing in between (inside a word, before punctuation)

_WHITESPACE = re.compile(r"\s")
_SENTENCE_END_CODES = np.array([ord(c) for c in ".!?\u2026\u3002\uff01\uff1f"], dtype=np.uint32)
_CLOSER_CODES = np.array([ord(c) for c in "\"')]}\u2019\u201d\u00bb\u203a"], dtype=np.uint32)


def context_header(document: Document, start: int) -> str:
    """Title of the document, plus " > section" when `start` lies under a section heading."""
    parts = [document.title.strip(), document.section_of(start).strip()]
    return " > ".join(p for p in parts if p)


def chunk_document(document: Document, tokenizer: Tokenizer, config: ChunkingConfig) -> list[Chunk]:
    """Split `document` into overlapping chunks of at most `config.chunk_tokens` word pieces.

    (A chunk is longer only if a tokenizer maps more than `chunk_tokens` pieces onto one span of
    characters, which can then not be cut.)

    Deterministic: the same text and config give the same chunks (and so the same ids).
    An empty or whitespace-only document gives no chunks.
    """
    text = document.text
    if not text or text.isspace():
        return []
    budget = config.chunk_tokens
    if budget < 1:
        raise ValueError("chunk_tokens must be at least 1")
    overlap = min(max(config.overlap_tokens, 0), budget - 1)

    # a tokenizer with `offset_array` (the real one) hands over numpy offsets: memory stays flat in
    # document length instead of ~100 bytes of Python tuples per word piece
    offset_array = getattr(tokenizer, "offset_array", None)
    offsets = offset_array(text) if offset_array is not None else tokenizer.token_offsets(text)
    starts, ends = _clean_offsets(offsets, len(text))
    scores = _cut_scores(text, starts, ends, document.page_starts, [s.start for s in document.sections])

    context = _Context(document)
    chunks: list[Chunk] = []
    for first, stop in _token_spans(scores, budget, overlap):
        # A chunk runs from its first piece up to the piece after its last one, so characters the
        # tokenizer drops between pieces still land in a chunk (whitespace is trimmed off).
        char_start = 0 if first == 0 else int(starts[first])
        char_end = len(text) if stop >= len(starts) else int(starts[stop])
        _append_chunk(chunks, document, context, char_start, char_end)
    return chunks


def embedding_text(chunk: Chunk, variant: str, neighbours: tuple[str, str] = ("", "")) -> str:
    """What is embedded for `chunk` under a contextual `variant`.

    `neighbours` are the texts of the previous and next chunk ("" at the document edges); the part
    they share with `chunk` (the overlap) is dropped, and each is cut to about NEIGHBOUR_CHARS
    characters at a whitespace boundary.
    """
    if variant == "plain":
        return chunk.text
    if variant == "header":
        return f"{chunk.header}\n{chunk.text}" if chunk.header else chunk.text
    if variant == "neighbours":
        previous, following = neighbours
        previous = _without_shared_tail(previous, chunk.text)
        following = _without_shared_head(following, chunk.text)
        return _join_context(chunk, _tail(previous), _head(following))
    if variant == "late":
        raise ConfigError("contextual = late (late chunking) has no text form; use plain, header or neighbours")
    raise ValueError(f"unknown text variant {variant!r}; expected one of {', '.join(TEXT_VARIANTS)}")


def embedding_texts(chunks: Sequence[Chunk], variant: str) -> list[str]:
    """`embedding_text` for every chunk of one document, in order, with exact neighbour offsets."""
    if variant != "neighbours":
        return [embedding_text(c, variant) for c in chunks]
    texts = []
    for i, chunk in enumerate(chunks):
        previous = following = ""
        if i > 0:
            prev = chunks[i - 1]
            previous = prev.text[: max(0, min(chunk.start, prev.end) - prev.start)]
        if i + 1 < len(chunks):
            nxt = chunks[i + 1]
            following = nxt.text[max(0, chunk.end - nxt.start):]
        texts.append(_join_context(chunk, _tail(previous), _head(following)))
    return texts


def late_contexts(document: Document, chunks: Sequence[Chunk], margin: int = LATE_MARGIN_CHARS) -> list[SpanInContext]:
    """Each chunk inside up to `margin` characters of its document on each side (cut at whitespace),
    with its header as prefix, for the "late" variant."""
    text = document.text
    items = []
    for chunk in chunks:
        lo = max(0, chunk.start - margin)
        if lo > 0:
            space = _WHITESPACE.search(text, lo, chunk.start)
            lo = space.end() if space else chunk.start
        hi = min(len(text), chunk.end + margin)
        if hi < len(text):
            cut = max(text.rfind(c, chunk.end, hi) for c in " \n\t")
            hi = cut if cut >= 0 else chunk.end
        items.append(SpanInContext(prefix=chunk.header, context=text[lo:hi],
                                   start=chunk.start - lo, end=chunk.end - lo))
    return items


# --- chunk spans -----------------------------------------------------------------------------


def _clean_offsets(offsets: Sequence[tuple[int, int]] | np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, non-empty, in-range word-piece spans as two int64 arrays (starts, ends)."""
    if isinstance(offsets, np.ndarray):
        flat = offsets.astype(np.int64, copy=False).reshape(-1)
    else:
        flat = np.fromiter(itertools.chain.from_iterable(offsets), dtype=np.int64, count=2 * len(offsets))
    pairs = np.clip(flat.reshape(-1, 2), 0, length)
    pairs = pairs[pairs[:, 1] > pairs[:, 0]]
    if len(pairs) > 1 and np.any(pairs[1:, 0] < pairs[:-1, 0]):
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def _cut_scores(text: str, starts: np.ndarray, ends: np.ndarray, page_starts: Sequence[int],
                section_starts: Sequence[int]) -> np.ndarray:
    """Score of every cut j (between piece j-1 and piece j); -1 where cutting is not allowed.

    Vectorised over the whole document so that chunking stays fast on books. A cut is not allowed
    when an earlier piece reaches past the start of piece j (tokenizers that map several pieces onto
    one character span); scores[0] is -1 (a chunk holds at least one piece).
    """
    n = len(starts)
    scores = np.full(n, -1, dtype=np.int8)
    if n < 2:
        return scores
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    space = np.isin(codes, _whitespace_codes())
    newline = (codes == 10) | (codes == 13)
    paragraph = codes == 12  # form feed
    space_before = _prefix_sum(space)
    lf = np.flatnonzero(codes == 10)
    if len(lf) > 1:
        p1, p2 = lf[:-1], lf[1:]
        blank = space_before[p2] - space_before[p1 + 1] == p2 - p1 - 1
        paragraph[p2[blank]] = True

    reach = np.maximum.accumulate(ends)
    e, s = reach[:-1], starts[1:]  # gap before piece j is text[e:s]
    allowed = s >= e
    e = np.minimum(e, s)

    def any_in_gap(before: np.ndarray) -> np.ndarray:
        return before[s] > before[e]

    last = ends[:-1] - 1  # last character of piece j-1
    floor = np.maximum(ends[:-1] - 4, 0)  # at most three closing quotes/brackets after . ! ?
    for _ in range(3):
        last = np.where(np.isin(codes[last], _CLOSER_CODES) & (last > floor), last - 1, last)
    sentence = np.isin(codes[last], _SENTENCE_END_CODES)

    cut = np.full(n - 1, _SCORE_SPACE, dtype=np.int8)
    cut[any_in_gap(_prefix_sum(newline))] = _SCORE_NEWLINE
    cut[sentence] = np.maximum(cut[sentence], _SCORE_SENTENCE)
    cut[any_in_gap(_prefix_sum(paragraph))] = _SCORE_PARAGRAPH
    cut[~any_in_gap(space_before)] = _SCORE_NONE
    for marks, score in ((page_starts, _SCORE_PAGE), (section_starts, _SCORE_SECTION)):
        cut[_mark_in_gap(marks, e, s)] = score
    cut[~allowed] = -1
    scores[1:] = cut
    return scores


def _mark_in_gap(marks: Sequence[int], e: np.ndarray, s: np.ndarray) -> np.ndarray:
    """For each gap [e, s], whether one of the offsets `marks` (page or section starts) lies in it."""
    points = np.unique(np.asarray([m for m in marks if m > 0], dtype=np.int64))
    if not len(points):
        return np.zeros(len(e), dtype=bool)
    i = np.searchsorted(points, e, side="left")
    found = i < len(points)
    found[found] = points[i[found]] <= s[found]
    return found


def _prefix_sum(mask: np.ndarray) -> np.ndarray:
    """before[k] = number of True in mask[:k]."""
    out = np.zeros(len(mask) + 1, dtype=np.int32 if len(mask) < 2**31 else np.int64)
    np.cumsum(mask, out=out[1:])
    return out


@functools.lru_cache(maxsize=1)
def _whitespace_codes() -> np.ndarray:
    # Every str.isspace() character lies below U+3001, so this short scan finds them all.
    return np.array([c for c in range(0x3001) if chr(c).isspace()], dtype=np.uint32)


def _token_spans(scores: np.ndarray, budget: int, overlap: int) -> list[tuple[int, int]]:
    """Half-open piece ranges [first, stop) of every chunk; `first` strictly increasing."""
    n = len(scores)
    if n == 0:
        return [(0, 0)]  # text without any word piece (only characters the tokenizer drops)
    spans = []
    first = 0
    search = max(1, int(budget * _SEARCH_FRACTION))
    sections = np.flatnonzero(scores == _SCORE_SECTION)  # every section start ends a chunk
    while True:
        following = sections[np.searchsorted(sections, first, side="right"):]
        next_section = int(following[0]) if len(following) else n
        if next_section - first <= budget:
            if next_section >= n:
                break
            stop = next_section
        else:
            stop = _best_cut(scores, first + budget - search, first + budget, lowest=first + 1)
        spans.append((first, stop))
        if overlap == 0 or stop <= first + 1 or scores[stop] == _SCORE_SECTION:
            first = stop
            continue
        # Start the next chunk at a sentence start if one lies near `target`; lean towards more
        # overlap, but always advance by at least half the nominal step.
        target = stop - overlap
        lo = max(target - overlap // 2, first + max(1, (target - first) // 2))
        nxt = _best_cut(scores, lo, min(target + overlap // 4, stop), lowest=first + 1, target=target)
        first = max(first + 1, min(nxt, stop))
    spans.append((first, n))
    return spans


def _best_cut(scores: np.ndarray, lo: int, hi: int, *, lowest: int, target: int | None = None) -> int:
    """Best allowed cut in [lo, hi], ties to the latest one (or to the one nearest `target`).

    Falls back to the nearest allowed cut below the range (down to `lowest`), then above it.
    """
    n = len(scores)
    lo, hi = max(lo, lowest, 1), min(hi, n - 1)
    if lo <= hi:
        window = scores[lo : hi + 1]
        best = int(window.max())
        if best >= 0:
            candidates = np.flatnonzero(window == best) + lo
            if target is None:
                return int(candidates[-1])
            return int(candidates[np.argmin(np.abs(candidates - target))])
    below = np.flatnonzero(scores[lowest:lo] >= 0)
    if len(below):
        return int(below[-1]) + lowest
    above = np.flatnonzero(scores[hi + 1 :] >= 0)
    return int(above[0]) + hi + 1 if len(above) else n


# --- chunks and context ----------------------------------------------------------------------


class _Context:
    """Page and header of a chunk start: Document.page_of / context_header on precomputed arrays."""

    def __init__(self, document: Document) -> None:
        self._document = document
        self._page_starts = list(document.page_starts)
        self._section_starts = [s.start for s in document.sections]
        self._title = document.title.strip()

    def page(self, offset: int) -> int:
        return max(1, bisect.bisect_right(self._page_starts, offset))

    def header(self, offset: int) -> str:
        i = bisect.bisect_right(self._section_starts, offset) - 1
        section = self._document.sections[i].title.strip() if i >= 0 else ""
        return " > ".join(p for p in (self._title, section) if p)


def _append_chunk(chunks: list[Chunk], document: Document, context: _Context,
                  char_start: int, char_end: int) -> None:
    raw = document.text[char_start:char_end]
    stripped = raw.strip()
    if not stripped:
        return
    start = char_start + (len(raw) - len(raw.lstrip()))
    end = start + len(stripped)
    while chunks and start <= chunks[-1].start:
        # Only with word pieces made of whitespace: the previous chunk, trimmed, starts where this
        # one does and ends no later, so this one replaces it.
        chunks.pop()
    chunks.append(Chunk(
        doc_id=document.id,
        index=len(chunks),
        text=stripped,
        start=start,
        end=end,
        page=context.page(start),
        header=context.header(start),
        gap_before=_gap(document.text, chunks[-1].end if chunks else start, start),
    ))


def _gap(text: str, previous_end: int, start: int) -> str:
    """The text between the previous chunk and this one when they do not overlap (whitespace)."""
    return text[previous_end:start] if previous_end < start else ""


def _without_shared_tail(previous: str, text: str) -> str:
    """`previous` minus its suffix that is also a prefix of `text` (the chunk overlap)."""
    if not previous or not text:
        return previous
    probe = text[:16]
    idx = previous.find(probe)
    while idx != -1:
        if text.startswith(previous[idx:]):
            return previous[:idx].rstrip()
        idx = previous.find(probe, idx + 1)
    return previous


def _without_shared_head(following: str, text: str) -> str:
    """`following` minus its prefix that is also a suffix of `text` (the chunk overlap)."""
    if not following or not text:
        return following
    probe = following[:16]
    idx = text.find(probe)
    while idx != -1:
        if following.startswith(text[idx:]):
            return following[len(text) - idx:].lstrip()
        idx = text.find(probe, idx + 1)
    return following


def _tail(text: str, limit: int = NEIGHBOUR_CHARS) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    if not text[-limit - 1].isspace():
        m = _WHITESPACE.search(cut)
        if m and m.end() < len(cut):
            cut = cut[m.end():]
    return cut.lstrip()


def _head(text: str, limit: int = NEIGHBOUR_CHARS) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if not text[limit].isspace():
        m = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
        if m > 0:
            cut = cut[:m]
    return cut.rstrip()


def _join_context(chunk: Chunk, previous: str, following: str) -> str:
    return "\n".join(p for p in (chunk.header, previous, chunk.text, following) if p)
