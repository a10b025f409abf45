"""Markdown headings (ATX and setext, outside code) as the sections of a document."""

from __future__ import annotations

import re

from indexing.text_clean import clean_title
from qa_app.types import Section

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# Lines that cannot continue a paragraph into a setext heading: blank, thematic break, quote, list item.
_NOT_PARAGRAPH = re.compile(r"^\s*$|^ {0,3}(?:(?:[-*_][ \t]*){3,}$|>|[-+*](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$))")


def markdown_sections(text: str) -> tuple[Section, ...]:
    """Markdown headings outside fenced code blocks, with the start offset of their (first) line.

    ATX headings (`#` .. `######`) and setext headings (a paragraph underlined by a line of `=`,
    level 1, or `-`, level 2; CommonMark rules: up to 3 spaces of indent, the underline alone on its
    line; a `---` after a blank line is a thematic break). A leading YAML front matter block is skipped.
    """
    return tuple(section for section, _level in headings(text))


def headings(text: str) -> list[tuple[Section, int]]:
    """Every heading with its level (1-6), in order (see markdown_sections)."""
    found: list[tuple[Section, int]] = []
    fence = ""  # the opening fence while inside a fenced code block
    offset = 0
    paragraph: list[str] = []  # lines of the open paragraph (a setext heading's text)
    paragraph_start = 0
    lines = text.split("\n")
    front_matter = lines[0].rstrip() == "---"
    for number, body in enumerate(lines):
        line_start, offset = offset, offset + len(body) + 1
        if front_matter:
            if number > 0 and body.rstrip() in ("---", "..."):
                front_matter = False
            continue
        opener = _FENCE.match(body)
        if fence:
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence) \
                    and not body.strip()[len(opener.group(1)):].strip():
                fence = ""
            continue
        underline = _SETEXT_UNDERLINE.match(body)
        if paragraph and underline:
            if title := clean_title(" ".join(line.strip() for line in paragraph)):
                found.append((Section(start=paragraph_start, title=title), 1 if underline.group(1)[0] == "=" else 2))
            paragraph = []
            continue
        if opener:
            fence = opener.group(1)
            paragraph = []
            continue
        heading = _ATX_HEADING.match(body)
        if heading:
            if title := clean_title(heading.group(2) or ""):
                found.append((Section(start=line_start, title=title), len(heading.group(1))))
            paragraph = []
        elif _NOT_PARAGRAPH.match(body) or (not paragraph and _indented_code(body)):
            paragraph = []
        else:
            if not paragraph:
                paragraph_start = line_start
            paragraph.append(body)
    return found


def _indented_code(line: str) -> bool:
    """A line that, outside a paragraph, is indented code (4+ columns of indent), not text."""
    indent = len(line) - len(line.lstrip(" \t"))
    return len(line[:indent].expandtabs(4)) >= 4
