"""Turn files and uploaded bytes (PDF, plain text, Markdown, DOCX, HTML) into `Document`s.

What it does: picks a parser by file suffix: PDF text page by page with pypdf, recording where each
page starts (`indexing/pdf_reader.py`); text files decoded from UTF-8, BOMs, else a best guess for
legacy encodings (`indexing/text_reader.py`), with Markdown headings (ATX `#` and setext underlined)
as sections (`indexing/markdown_reader.py`); DOCX with python-docx (`indexing/docx_reader.py`) and
HTML with BeautifulSoup's built-in parser (`indexing/html_reader.py`), keeping their headings as
sections. Cleans text of characters the store rejects (NUL, lone surrogates; `indexing/text_clean.py`),
gives each document a content-hash id and a display name that is safe to show, and finds the
supported files under folders. Every failure becomes a `LoadError` subclass whose message
names the file, says what is wrong and what to do.

What it does not do: OCR, other formats (legacy .doc, RTF, ODT, EPUB...), fetching anything an
HTML page links to, chunking, encoding or storing, and logging or printing (callers decide how to
report errors). Display names are never used as paths. The PDF, DOCX and HTML parsers are imported
on first use, so importing this module stays light.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from indexing.markdown_reader import headings
from indexing.text_clean import clean_text, clean_title
from indexing.text_reader import decode_html, decode_text, form_feed_pages
from qa_app.errors import (
    EmptyDocumentError,
    LoadError,
    TooLargeDocumentError,
    UnsupportedDocumentError,
)
from qa_app.types import Document, Section

if TYPE_CHECKING:  # the readers import their parsers on first use; only their result types here
    from indexing.docx_reader import DocxText
    from indexing.html_reader import HtmlText

SUPPORTED_SUFFIXES = (".pdf", ".txt", ".md", ".markdown", ".docx", ".html", ".htm")

Progress = Callable[[int, int], None]  # (pages done, total pages)

MB = 1024 * 1024  # the unit of `max_file_mb`: convert with `int(max_file_mb * MB)`
MAX_SOURCE_CHARS = 200
_FALLBACK_SOURCE = "document"



def document_id(text: str) -> str:
    """Content hash of `text`: the same text always gets the same 16-hex-digit id."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def safe_source_name(name: str) -> str:
    """A display name made from an untrusted file name: final path component, printable, short.

    Keeps only what follows the last `/` or `\\`, drops control and format characters (NUL,
    bidi overrides), collapses whitespace, cuts to 200 characters keeping the extension, and
    falls back to "document" when nothing is left.
    """
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Zl", "Zp") else ch
        for ch in str(name)
        if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn") or ch in "\t\n\r\f\v"
    )
    parts = [p for p in re.split(r"[/\\]", cleaned) if p.strip()]
    base = " ".join(parts[-1].split()) if parts else ""
    if base.strip(". ") == "":  # "", ".", "..": nothing to show
        return _FALLBACK_SOURCE
    if len(base) > MAX_SOURCE_CHARS:
        stem, ext = os.path.splitext(base)
        if not ext or len(ext) > 16:
            stem, ext = base, ""
        base = stem[: MAX_SOURCE_CHARS - len(ext)].rstrip() + ext
    return base


def load_document(
    path: str | os.PathLike[str],
    *,
    max_bytes: int | None = None,
    source: str | None = None,
    progress: Progress | None = None,
) -> Document:
    """Load a file from disk. `source` overrides the display name (it is made safe all the same)."""
    path = Path(path)
    where = str(path)
    suffix = _checked_suffix(path.name, where)
    try:
        if path.is_dir():
            raise LoadError(where, "is a folder, not a file; give a file or use discover_files")
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise _too_large(where, size, max_bytes)  # refuse before reading it into memory
        data = path.read_bytes()
    except FileNotFoundError:
        raise LoadError(where, "file not found; check the path") from None
    except PermissionError:
        raise LoadError(where, "permission denied; check the file's read permission") from None
    except OSError as exc:
        raise LoadError(where, f"cannot read the file ({exc.strerror or exc}); check the path") from None
    name = source if source is not None else path.name
    return _load(data, safe_source_name(name), suffix, where=where, path=path,
                 max_bytes=max_bytes, progress=progress)


def load_bytes(
    data: bytes,
    name: str,
    *,
    max_bytes: int | None = None,
    progress: Progress | None = None,
) -> Document:
    """Load uploaded content. `name` is untrusted: only its safe form is kept and shown."""
    source = safe_source_name(name)
    suffix = _checked_suffix(source, source)
    return _load(bytes(data), source, suffix, where=source, path=None,
                 max_bytes=max_bytes, progress=progress)


def discover_files(
    paths: Iterable[str | os.PathLike[str]],
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Supported files named by `paths`, walking folders (sorted, hidden entries skipped).

    Returns (files, skipped): skipped holds (path, reason) for paths that are missing or of an
    unsupported type (named or found in a folder: a user who indexes a folder of .docx files hears
    why nothing was added), and for folders that cannot be read. Hidden files and folders are not
    walked. A file reached twice is listed once.
    """
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    seen: set[Path] = set()

    def add(file: Path) -> None:
        key = file.resolve()
        if key not in seen:
            seen.add(key)
            files.append(file)

    def walk_error(exc: OSError) -> None:
        skipped.append((str(exc.filename), f"cannot read folder ({exc.strerror}); check permissions"))

    for item in paths:
        path = Path(item)
        if path.is_dir():
            found: list[Path] = []
            for folder, dirnames, filenames in os.walk(path, onerror=walk_error):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                found.extend(Path(folder) / f for f in filenames if not f.startswith("."))
            for file in sorted(found, key=lambda p: p.relative_to(path).parts):
                if not file.is_file():
                    continue
                if _suffix(file.name) in SUPPORTED_SUFFIXES:
                    add(file)
                else:
                    skipped.append((str(file), _unsupported_reason(file.name)))
        elif path.is_file():
            if _suffix(path.name) in SUPPORTED_SUFFIXES:
                add(path)
            else:
                skipped.append((str(path), _unsupported_reason(path.name)))
        elif path.exists():
            skipped.append((str(path), "not a regular file; give a file or a folder"))
        else:
            skipped.append((str(path), "not found; check the path"))
    return files, skipped


# --- dispatch -----------------------------------------------------------------------------------


def _suffix(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def _unsupported_reason(name: str) -> str:
    suffix = _suffix(name) or "(none)"
    return f"unsupported file type {suffix}; supported: {', '.join(SUPPORTED_SUFFIXES)}"


def _checked_suffix(name: str, where: str) -> str:
    suffix = _suffix(name)
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedDocumentError(where, _unsupported_reason(name))
    return suffix


def _format_mb(size: int) -> str:
    mb = size / MB
    return f"{mb:.1f} MB" if mb >= 0.1 else f"{size:,} bytes"


def _too_large(where: str, size: int, limit: int) -> TooLargeDocumentError:
    return TooLargeDocumentError(
        where,
        f"{_format_mb(size)} is over the {_format_mb(limit)} limit; "
        "split the file or raise max_file_mb (QA_MAX_FILE_MB)",
    )


def _load(
    data: bytes,
    source: str,
    suffix: str,
    *,
    where: str,
    path: Path | None,
    max_bytes: int | None,
    progress: Progress | None,
) -> Document:
    if max_bytes is not None and len(data) > max_bytes:
        raise _too_large(where, len(data), max_bytes)
    if not data:
        raise EmptyDocumentError(where, "file is empty (0 bytes); nothing to index")
    stem = os.path.splitext(source)[0] or source
    metadata = {"suffix": suffix, "bytes": str(len(data))}
    if path is not None:
        metadata["path"] = str(path)
    sections: tuple[Section, ...] = ()
    if suffix == ".pdf":
        from indexing.pdf_reader import read_pdf  # pypdf loaded on first PDF only

        text, page_starts, pdf_title = read_pdf(data, where, progress)
        title = pdf_title or stem
    elif suffix in (".docx", ".html", ".htm"):
        if suffix == ".docx":
            from indexing.docx_reader import read_docx  # python-docx loaded on first DOCX only

            read: DocxText | HtmlText = read_docx(data, where, clean_text)
        else:
            from indexing.html_reader import read_html  # bs4 loaded on first HTML only

            markup, metadata["encoding"] = decode_html(data, where)
            read = read_html(markup, where, clean_text)
        text, page_starts = read.text, (0,)
        sections = tuple(Section(start=start, title=t) for start, raw, _level in read.headings
                         if (t := clean_title(raw)))
        title = clean_title(read.title) or stem
        if progress is not None:
            progress(1, 1)
    else:
        raw, encoding = decode_text(data, where)
        metadata["encoding"] = encoding
        text = clean_text(raw)
        if not text.strip():
            raise EmptyDocumentError(where, "file is empty (only whitespace); nothing to index")
        page_starts = form_feed_pages(text)
        title = stem
        if suffix in (".md", ".markdown"):
            found = headings(text)
            sections = tuple(section for section, _level in found)
            title = next((section.title for section, level in found if level == 1), stem)
        if progress is not None:
            progress(1, 1)
    return Document(
        id=document_id(text),
        source=source,
        title=title,
        text=text,
        page_starts=page_starts,
        sections=sections,
        metadata=metadata,
    )
