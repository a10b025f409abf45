"""Answer spans snapped to whole words.

Word-piece readers cut code-like words where their vocabulary splits them: `sysdata` of `sysdata.rda`,
`internal-tzcode` of `--with-internal-tzcode`, `MATHLIB` of `MATHLIB_STANDALONE`. A span edge that
falls inside a whitespace-delimited word moves to that word's edge; then the punctuation that only
surrounds the answer (a full stop, a comma, quotes, an unmatched bracket) is shed again.

Pure text, no model, no I/O. Used by `qa_app.readers.span_reader` when `ReaderConfig.whole_words` is on.
"""

from __future__ import annotations

MAX_GROWTH = 40  # characters an edge may move; a longer "word" (a URL, a table row without spaces) is left cut
LEADING = "\"'‘“([{<"  # shed from the start unless the answer closes it
TRAILING = ".,;:!?\"'’”)]}>"  # shed from the end unless the answer opens it
PAIRS = {")": "(", "]": "[", "}": "{", ">": "<", "’": "‘", "”": "“"}
OPENERS = {opener: closer for closer, opener in PAIRS.items()}


def snap_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    """(start, end) of the span `text[start:end]` grown to whole words and stripped of enclosing
    punctuation; the span as given when it is empty or would shrink to nothing."""
    if not 0 <= start < end <= len(text):
        return start, end
    s, e = start, end
    while s > 0 and not text[s - 1].isspace() and start - s < MAX_GROWTH:
        s -= 1
    if s > 0 and not text[s - 1].isspace():
        s = start  # ran out of growth inside one long word: keep the model's edge
    while e < len(text) and not text[e].isspace() and e - end < MAX_GROWTH:
        e += 1
    if e < len(text) and not text[e].isspace():
        e = end
    while e - s > 1 and text[e - 1] in TRAILING and not _closes(text[s:e - 1], text[e - 1]):
        e -= 1
    while e - s > 1 and text[s] in LEADING and not _opens(text[s + 1:e], text[s]):
        s += 1
    while e - s > 2 and OPENERS.get(text[s]) == text[e - 1] and _balanced(text[s + 1:e - 1], text[s]):
        s, e = s + 1, e - 1  # "(1990)", "‘App Nap’": the pair only encloses the answer
    return s, e


def _closes(inside: str, char: str) -> bool:
    """Whether `char` closes a bracket or quote opened in `inside` (then it belongs to the answer)."""
    opener = PAIRS.get(char)
    return opener is not None and inside.count(opener) > inside.count(char)


def _opens(inside: str, char: str) -> bool:
    closer = OPENERS.get(char)
    return closer is not None and inside.count(closer) > inside.count(char)


def _balanced(inside: str, opener: str) -> bool:
    return inside.count(opener) == inside.count(OPENERS[opener])
