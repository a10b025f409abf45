"""Read an HTML page into plain text, headings and a title, with BeautifulSoup and "html.parser".

What it does: finds the declared encoding (`<meta charset>`, `<meta http-equiv content=...charset>`
or an XML declaration; `declared_encoding`); parses the markup with Python's built-in parser (no
lxml needed); drops what is not text to read (script, style, noscript, template, head, title, svg,
iframe, object, canvas, audio, video, comments); collapses whitespace as a browser does (kept as is
inside <pre>); turns block elements into line breaks (a blank line after paragraphs, headings,
sections, tables...; one line per list item, table row or <br>; table cells joined by " | ") so
that text is never glued together; reports h1..h6 as headings at the offset where their text
starts; and takes the title from <title>, else the first h1. Walks the tree without recursion, so
deeply nested markup is no problem.

What it does not do: fetch anything (no URL is opened; images, stylesheets and frames are ignored),
run scripts, apply CSS (text hidden by a stylesheet is kept), or page the text (all page 1).
It imports bs4 on first use only (see `indexing.loaders`).
"""

from __future__ import annotations

import codecs
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from qa_app.errors import CorruptDocumentError, EmptyDocumentError

SKIPPED = frozenset({"script", "style", "noscript", "template", "head", "title", "svg", "iframe", "object",
                     "canvas", "audio", "video"})
HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Blocks followed by a blank line, and those that end a line only.
PARAGRAPH_BLOCKS = frozenset({
    "p", "div", "section", "article", "main", "header", "footer", "nav", "aside", "blockquote", "pre",
    "table", "ul", "ol", "dl", "figure", "figcaption", "form", "fieldset", "address", "details", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6", "body", "html", "caption", "center", "hgroup", "menu",
})
LINE_BLOCKS = frozenset({"li", "tr", "dt", "dd", "br", "summary", "legend", "option", "thead", "tbody",
                         "tfoot", "label"})
CELLS = frozenset({"td", "th"})
CELL_SEPARATOR = " | "
MAX_HEADING_CHARS = 1000
_ASCII_SPACE = re.compile(r"[ \t\n\r\f]+")
_DECLARED = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)|<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)""",
    re.IGNORECASE)
_SNIFF_BYTES = 4096
# Break strengths: what goes between the text before and after.
_NONE, _SPACE, _CELL, _LINE, _PARAGRAPH = 0, 1, 2, 3, 4
_BREAKS = {_SPACE: " ", _CELL: CELL_SEPARATOR, _LINE: "\n", _PARAGRAPH: "\n\n"}


@dataclass
class HtmlText:
    """What an HTML page holds: text, headings as (offset, text, level), title."""

    text: str
    headings: list[tuple[int, str, int]] = field(default_factory=list)
    title: str = ""


def declared_encoding(data: bytes) -> str | None:
    """The Python codec of the charset the page declares near its start; None if none or unknown.

    As browsers do, a declared UTF-16/32 on a page that was read as bytes means UTF-8, and latin-1
    or ASCII means windows-1252.
    """
    match = _DECLARED.search(data[:_SNIFF_BYTES])
    if match is None:
        return None
    label = (match.group(1) or match.group(2)).decode("ascii")
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    if name.startswith(("utf-16", "utf-32")):
        return "utf-8"
    if name in ("latin-1", "iso8859-1", "ascii"):
        return "cp1252"
    return name


def read_html(markup: str, where: str, clean: Callable[[str], str]) -> HtmlText:
    """Text, headings and title of an HTML page; `clean` makes each piece of text safe to store."""
    try:
        from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
            warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
            soup = BeautifulSoup(markup, "html.parser")
        walker = _Walker(clean)
        walker.walk(soup)
        title = _page_title(soup)
    except Exception as exc:  # noqa: BLE001 - any parser failure is this file's error
        detail = " ".join(str(exc).split())[:120]
        reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        raise CorruptDocumentError(
            where, f"cannot be parsed as HTML ({reason}); save the page again (e.g. a browser's "
            "Save Page As, HTML only) and index again") from None
    text = "".join(walker.parts)
    if not text.strip():
        raise EmptyDocumentError(where, "has no text outside scripts, styles and markup; nothing to index")
    if not title.strip():
        title = next((t for _, t, level in walker.headings if level == 1), "")
    return HtmlText(text=text, headings=walker.headings, title=title)


def _page_title(soup: Any) -> str:
    for tag in soup.find_all("title", limit=20):
        if tag.find_parent("svg") is None:  # an SVG <title> is a tooltip, not the page's title
            return " ".join(tag.get_text(" ").split())
    return ""


class _Walker:
    """Depth-first walk with an explicit stack, emitting text and breaks as a browser lays them out."""

    def __init__(self, clean: Callable[[str], str]) -> None:
        self._clean = clean
        self.parts: list[str] = []
        self.length = 0
        self.headings: list[tuple[int, str, int]] = []
        self._pending = _NONE
        self._pre = 0
        # per open h1..h6: (index in `parts` of its first text, offset of that text, level)
        self._open_headings: list[tuple[int, int | None, int]] = []
        self._unset = 0  # open headings from this index on have no text yet

    def walk(self, root: Any) -> None:
        from bs4 import NavigableString, Tag
        from bs4.element import PreformattedString

        stack: list[tuple[Any, int]] = [(root, 0)]  # (tag, index of the next child)
        while stack:
            tag, index = stack[-1]
            if index >= len(tag.contents):
                stack.pop()
                self._leave(tag)
                continue
            stack[-1] = (tag, index + 1)
            child = tag.contents[index]
            if isinstance(child, Tag):
                name = (child.name or "").lower()
                if name in SKIPPED:
                    continue
                self._enter(child)
                stack.append((child, 0))
            elif isinstance(child, NavigableString) and not isinstance(child, PreformattedString):
                self._text(str(child))

    def _enter(self, tag: Any) -> None:
        name = (tag.name or "").lower()
        self._break(name)
        if name == "pre":
            self._pre += 1
        if name in HEADINGS:
            self._open_headings.append((0, None, HEADINGS[name]))

    def _leave(self, tag: Any) -> None:
        name = (tag.name or "").lower()
        if name == "pre":
            self._pre -= 1
        if name in HEADINGS and self._open_headings:
            first, start, level = self._open_headings.pop()
            self._unset = min(self._unset, len(self._open_headings))
            if start is not None:
                title = " ".join(self._text_from(first).split())
                if title:
                    self.headings.append((start, title, level))
        self._break(name)

    def _break(self, name: str) -> None:
        if name in PARAGRAPH_BLOCKS:
            self._pending = max(self._pending, _PARAGRAPH)
        elif name in LINE_BLOCKS:
            self._pending = max(self._pending, _LINE)
        elif name in CELLS:
            self._pending = max(self._pending, _CELL)

    def _text(self, raw: str) -> None:
        raw = self._clean(raw)
        after = _NONE
        if self._pre:
            pieces = [raw] if raw else []
        else:
            collapsed = _ASCII_SPACE.sub(" ", raw)
            if collapsed.startswith(" "):
                self._pending = max(self._pending, _SPACE)
            stripped = collapsed.strip(" ")
            pieces = [stripped] if stripped else []
            if collapsed.endswith(" ") and collapsed != " ":
                after = _SPACE
        if not pieces:
            return
        if self.parts and self._pending:
            self._emit(_BREAKS[self._pending])
        self._pending = _NONE
        for i in range(self._unset, len(self._open_headings)):  # each heading is set once
            self._open_headings[i] = (len(self.parts), self.length, self._open_headings[i][2])
        self._unset = len(self._open_headings)
        self._emit(pieces[0])
        if not self._pre:
            self._pending = after

    def _text_from(self, first: int) -> str:
        """Text emitted since `parts[first]`, cut after MAX_HEADING_CHARS (cheap for nested headings)."""
        taken: list[str] = []
        size = 0
        for i in range(first, len(self.parts)):
            part = self.parts[i]
            taken.append(part)
            size += len(part)
            if size >= MAX_HEADING_CHARS:
                break
        return "".join(taken)[:MAX_HEADING_CHARS]

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)
