"""Read a .docx file (Office Open XML word processing) into plain text, headings and a title.

What it does: opens the package with python-docx (after checking it is a ZIP package of sane
unpacked size); walks the body in document order, taking each paragraph's text and each table's
cells row by row (a row is one line, its cells joined by " | "; merged cells count once; nested
tables are read too); separates paragraphs by a blank line so chunking sees their boundaries;
reports paragraphs styled "Title" or "Heading 1".."Heading 9" (or a style based on one) as headings
at the offset where their text starts; and takes the title from the core properties, else the first
Title or Heading 1 paragraph. Every failure is a `LoadError` subclass naming the file: an encrypted
(password-protected) file, a legacy .doc or other non-ZIP file, a truncated or damaged package, and
any exception of the parser.

What it does not do: page numbers (DOCX has no fixed pages, so the whole text is page 1), headers,
footers, footnotes, comments, text boxes, tracked-change markup, images or embedded objects; it
never follows external links. It imports python-docx on first use only (see `indexing.loaders`).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from qa_app.errors import CorruptDocumentError, EmptyDocumentError, EncryptedDocumentError, LoadError

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File Binary: encrypted OOXML or legacy .doc
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
_WORD_STREAM = "WordDocument".encode("utf-16-le")
MAX_UNPACKED_BYTES = 512 * 1024 * 1024  # the sum of the declared sizes of the package's parts
PARAGRAPH_SEPARATOR = "\n\n"
CELL_SEPARATOR = " | "
_HEADING_STYLE = re.compile(r"heading ([1-9])", re.IGNORECASE)
_SAVE_AGAIN = "open it in Word or LibreOffice, save it again as .docx and index again"


@dataclass
class DocxText:
    """What a DOCX file holds: text, headings as (offset, text, level) with Title = 0, title."""

    text: str
    headings: list[tuple[int, str, int]] = field(default_factory=list)
    title: str = ""


def read_docx(data: bytes, where: str, clean: Callable[[str], str]) -> DocxText:
    """Text, headings and title of a DOCX file; `clean` makes each piece of text safe to store."""
    _check_container(data, where)
    try:
        import docx  # loaded on first DOCX only

        document = docx.Document(io.BytesIO(data))
        title = document.core_properties.title or ""
        result = _Builder(clean)
        for block in document.iter_inner_content():
            _add_block(result, block)
    except LoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is this file's error
        detail = " ".join(str(exc).split())[:120]
        reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        raise CorruptDocumentError(
            where, f"cannot be read as DOCX ({reason}); the file may be truncated or damaged: {_SAVE_AGAIN}") from None
    text = "".join(result.parts)
    if not text.strip():
        raise EmptyDocumentError(where, "has no text (only images, or empty); nothing to index")
    if not title.strip():
        title = next((t for _, t, level in result.headings if level <= 1), "")
    return DocxText(text=text, headings=result.headings, title=title)


def _check_container(data: bytes, where: str) -> None:
    """Refuse what python-docx cannot open, with a message that says what the file is."""
    if data.startswith(OLE_MAGIC):
        if _ENCRYPTED_STREAM in data:
            raise EncryptedDocumentError(
                where, "is password-protected (encrypted); open it in Word, remove the password "
                "(File > Info > Protect Document), save it and index again")
        if _WORD_STREAM in data:
            raise CorruptDocumentError(
                where, f"is a legacy Word .doc file, not .docx; {_SAVE_AGAIN}")
        raise CorruptDocumentError(
            where, "is not a .docx package but an OLE file (a password-protected DOCX or a legacy .doc); "
            f"remove the password, or {_SAVE_AGAIN}")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            unpacked = sum(info.file_size for info in package.infolist())
    except Exception:  # noqa: BLE001 - BadZipFile, but also odd headers a fuzzer finds
        raise CorruptDocumentError(
            where, "is not a DOCX file (not a ZIP package, or truncated); if it is a .doc, .rtf or other "
            f"format, or was cut short, {_SAVE_AGAIN}") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise CorruptDocumentError(
            where, f"unpacks to {unpacked / 1024 / 1024:,.0f} MB, over the {MAX_UNPACKED_BYTES // 1024 // 1024} MB "
            f"this reader accepts (a damaged or hostile file?); {_SAVE_AGAIN}")


class _Builder:
    """Joins pieces of text with paragraph separators and records heading offsets."""

    def __init__(self, clean: Callable[[str], str]) -> None:
        self._clean = clean
        self.parts: list[str] = []
        self.length = 0
        self.headings: list[tuple[int, str, int]] = []

    def add(self, text: str, level: int | None = None) -> None:
        text = self._clean(text).strip()
        if not text:
            return
        if self.parts:
            self.parts.append(PARAGRAPH_SEPARATOR)
            self.length += len(PARAGRAPH_SEPARATOR)
        if level is not None:
            self.headings.append((self.length, text, level))
        self.parts.append(text)
        self.length += len(text)


def _add_block(result: _Builder, block: Any) -> None:
    """A paragraph or a table of the body (or of a table cell), in document order."""
    from docx.table import Table

    if isinstance(block, Table):
        for row in _table_rows(block):
            result.add(row)
    else:
        result.add(block.text, _heading_level(block))


def _table_rows(table: Any) -> Iterator[str]:
    """Each row's cells joined by CELL_SEPARATOR; a merged cell once; nested tables as extra rows."""
    from docx.table import Table

    seen: set[Any] = set()  # the cells' XML elements, kept alive so that each keeps its proxy
    for row in table.rows:
        cells: list[str] = []
        nested: list[Any] = []
        for cell in row.cells:
            if cell._tc in seen:  # a merged cell appears in every grid column and row it spans
                continue
            seen.add(cell._tc)
            paragraphs: list[str] = []
            for item in cell.iter_inner_content():
                if isinstance(item, Table):
                    nested.append(item)
                else:
                    paragraphs.append(item.text.strip())
            text = " ".join(p for p in paragraphs if p)
            if text:
                cells.append(text)
        if cells:
            yield CELL_SEPARATOR.join(cells)
        for inner in nested:
            yield from _table_rows(inner)


def _heading_level(paragraph: Any) -> int | None:
    """0 for a Title paragraph, 1..9 for Heading 1..9 (or a style based on one), else None."""
    style = paragraph.style
    for _ in range(4):  # the style and a few of its bases
        if style is None:
            return None
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 0
        match = _HEADING_STYLE.fullmatch(name)
        if match:
            return int(match.group(1))
        style = style.base_style
    return None
