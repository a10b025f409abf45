"""Turn files and uploaded bytes (PDF, plain text, Markdown, DOCX, HTML) into `Document`s.

What it does: picks a parser by file suffix; extracts PDF text page by page with pypdf and records
where each page starts; decodes text files (UTF-8, BOMs, else a best guess for legacy encodings);
finds Markdown headings (ATX `#` and setext underlined) as sections; reads DOCX with python-docx
(`indexing/docx_reader.py`) and HTML with BeautifulSoup's built-in parser (`indexing/html_reader.py`),
keeping their headings as sections; cleans text of characters the store rejects (NUL, lone
surrogates); gives each document a content-hash id and a display name that is safe to show; and
finds the supported files under folders. Every failure becomes a `LoadError` subclass whose message
names the file, says what is wrong and what to do.

What it does not do: OCR, other formats (legacy .doc, RTF, ODT, EPUB...), fetching anything an
HTML page links to, chunking, encoding or storing, and logging or printing (callers decide how to
report errors). Display names are never used as paths. The PDF, DOCX and HTML parsers are imported
on first use, so importing this module stays light.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from qa_app.errors import (
    CorruptDocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
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
_MAX_TITLE_CHARS = 300
_PAGE_SEPARATOR = "\n\n"

# Lone surrogates (Chroma rejects them) and NUL; Python strings hold surrogates only when unpaired.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# C0 controls except \t \n \f \r, DEL; as bytes for the cheap check before decoding.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\f\r") + b"\x7f"
_BINARY_CONTROL_RATIO = 0.10
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# Lines that cannot continue a paragraph into a setext heading: blank, thematic break, quote, list item.
_NOT_PARAGRAPH = re.compile(r"^\s*$|^ {0,3}(?:(?:[-*_][ \t]*){3,}$|>|[-+*](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$))")
# Multi-byte encodings whose guess we trust as is; for single-byte guesses cp1252 gets a bias.
_MULTIBYTE = ("gb", "big5", "cp9", "euc", "shift_jis", "iso2022", "hz", "johab", "utf")
_CP1252_FAMILY = {"cp1252", "latin_1", "iso8859_1", "iso8859_15"}
_CP1252_CHAOS_MARGIN = 0.15


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


def clean_text(text: str) -> str:
    """Text safe for the store: NUL and lone surrogates removed, line ends normalised to \\n."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _UNSTORABLE.sub("", text)


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
        text, page_starts, pdf_title = _read_pdf(data, where, progress)
        title = pdf_title or stem
    elif suffix in (".docx", ".html", ".htm"):
        if suffix == ".docx":
            from indexing.docx_reader import read_docx  # python-docx loaded on first DOCX only

            read: DocxText | HtmlText = read_docx(data, where, clean_text)
        else:
            from indexing.html_reader import read_html  # bs4 loaded on first HTML only

            markup, metadata["encoding"] = _decode_html(data, where)
            read = read_html(markup, where, clean_text)
        text, page_starts = read.text, (0,)
        sections = tuple(Section(start=start, title=t) for start, raw, _level in read.headings
                         if (t := _clean_title(raw)))
        title = _clean_title(read.title) or stem
        if progress is not None:
            progress(1, 1)
    else:
        raw, encoding = _decode_text(data, where)
        metadata["encoding"] = encoding
        text = clean_text(raw)
        if not text.strip():
            raise EmptyDocumentError(where, "file is empty (only whitespace); nothing to index")
        page_starts = _form_feed_pages(text)
        title = stem
        if suffix in (".md", ".markdown"):
            headings = _headings(text)
            sections = tuple(section for section, _level in headings)
            title = next((section.title for section, level in headings if level == 1), stem)
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


# --- PDF ----------------------------------------------------------------------------------------


def _parse_failure(where: str, exc: BaseException, page: int | None = None) -> CorruptDocumentError:
    detail = " ".join(str(exc).split())[:120]
    reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    at = f"page {page} " if page is not None else ""
    return CorruptDocumentError(
        where, f"{at}cannot be parsed as PDF ({reason}); the file may be truncated or damaged: "
        "download or export it again, or repair it (e.g. qpdf), and index again")


def _read_pdf(data: bytes, where: str, progress: Progress | None) -> tuple[str, tuple[int, ...], str]:
    """Text of every page joined by a blank line, each page's start offset, and the PDF title."""
    import pypdf  # loaded on first PDF only: keeps text-only use light
    from pypdf.errors import DependencyError

    if b"%PDF" not in data[:1024]:
        raise CorruptDocumentError(
            where, "is not a PDF file (no %PDF header); check the file or its extension")
    encrypted = ("encrypted; remove the password (e.g. qpdf --decrypt in.pdf out.pdf) "
                 "and index again")
    needs_crypto = "AES needs the 'cryptography' package (pip install 'pypdf[crypto]'), or it is "
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
            raise EncryptedDocumentError(where, encrypted)
        total = len(reader.pages)
        meta = reader.metadata
        raw_title = meta.title if meta is not None else None
    except LoadError:
        raise
    except DependencyError:  # AES needs the optional `cryptography`; not a PyPdfError
        raise EncryptedDocumentError(where, needs_crypto + encrypted) from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is this file's error
        raise _parse_failure(where, exc) from None

    parts: list[str] = []
    starts: list[int] = []
    length = 0
    for number in range(1, total + 1):
        try:
            page_text = reader.pages[number - 1].extract_text() or ""
        except DependencyError:
            raise EncryptedDocumentError(where, needs_crypto + encrypted) from None
        except Exception as exc:  # noqa: BLE001
            raise _parse_failure(where, exc, page=number) from None
        page_text = clean_text(page_text).rstrip()
        if parts:
            parts.append(_PAGE_SEPARATOR)
            length += len(_PAGE_SEPARATOR)
        starts.append(length)
        parts.append(page_text)
        length += len(page_text)
        if progress is not None:
            progress(number, total)
    text = "".join(parts)
    if not text.strip():
        raise EmptyDocumentError(where, "no extractable text (scanned images?); run OCR first")
    return text, tuple(starts) or (0,), _clean_title(raw_title)


def _clean_title(raw: object) -> str:
    if raw is None:
        return ""
    title = " ".join(clean_text(str(raw)).split())
    title = "".join(ch for ch in title if unicodedata.category(ch) not in ("Cc", "Cf"))
    return title[:_MAX_TITLE_CHARS]


# --- text ---------------------------------------------------------------------------------------


def _binary(where: str) -> UnsupportedDocumentError:
    return UnsupportedDocumentError(
        where, "looks like binary data, not text; give a PDF, DOCX, HTML, .txt or .md file with the right extension")


def _decode_html(data: bytes, where: str) -> tuple[str, str]:
    """HTML bytes as text: a BOM wins, then the charset the page declares, then the text-file path."""
    from indexing.html_reader import declared_encoding

    boms = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)
    if not data.startswith(boms) and b"\x00" not in data and _control_ratio_bytes(data) <= _BINARY_CONTROL_RATIO:
        declared = declared_encoding(data)
        if declared is not None:
            try:
                return data.decode(declared), declared
            except UnicodeDecodeError:
                pass  # the page lies about its encoding: guess as for a text file
    return _decode_text(data, where)


def _decode_text(data: bytes, where: str) -> tuple[str, str]:
    """Decoded text and the encoding used. Binary content is refused, not decoded."""
    for bom, encoding in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                          (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                break  # a BOM-like start on something else: judge the bytes below
    if b"\x00" in data or _control_ratio_bytes(data) > _BINARY_CONTROL_RATIO:
        if data.startswith(b"%PDF"):
            raise UnsupportedDocumentError(where, "is a PDF saved with a text extension; rename it to .pdf")
        raise _binary(where)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text, encoding = _guess_legacy(data)
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    if controls > _BINARY_CONTROL_RATIO * len(text):
        raise _binary(where)
    return text, encoding


def _control_ratio_bytes(data: bytes) -> float:
    return (len(data) - len(data.translate(None, _CONTROL_BYTES))) / len(data)


def _guess_legacy(data: bytes) -> tuple[str, str]:
    """Best guess for non-UTF-8 text: charset_normalizer, biased to cp1252 for Western text."""
    import charset_normalizer

    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        return _decode_cp1252(data)
    best = matches[0]
    if best.encoding.lower().startswith(_MULTIBYTE):
        return str(best), best.encoding
    # charset_normalizer often ranks cp1257 or cp1250 first for French or German text that
    # cp1252 decodes as well; cp1252 is by far the more common legacy encoding, so it wins ties.
    for match in matches:
        family = {e.lower() for e in match.could_be_from_charset}
        if family & _CP1252_FAMILY and match.chaos <= best.chaos + _CP1252_CHAOS_MARGIN:
            return _decode_cp1252(data)
    return str(best), best.encoding


def _decode_cp1252(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:  # five bytes are undefined in cp1252; latin-1 maps every byte
        return data.decode("latin-1"), "latin-1"


def _form_feed_pages(text: str) -> tuple[int, ...]:
    """Pages of plain text split at form feeds; a form feed at the very end starts no page."""
    starts = [0]
    last = len(text.rstrip())  # form feeds at or past this offset have only whitespace after them
    index = text.find("\f")
    while -1 < index < last:
        starts.append(index + 1)
        index = text.find("\f", index + 1)
    return tuple(starts)


# --- Markdown -----------------------------------------------------------------------------------


def markdown_sections(text: str) -> tuple[Section, ...]:
    """Markdown headings outside fenced code blocks, with the start offset of their (first) line.

    ATX headings (`#` .. `######`) and setext headings (a paragraph underlined by a line of `=`,
    level 1, or `-`, level 2; CommonMark rules: up to 3 spaces of indent, the underline alone on its
    line; a `---` after a blank line is a thematic break). A leading YAML front matter block is skipped.
    """
    return tuple(section for section, _level in _headings(text))


def _headings(text: str) -> list[tuple[Section, int]]:
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
            if title := _clean_title(" ".join(line.strip() for line in paragraph)):
                found.append((Section(start=paragraph_start, title=title), 1 if underline.group(1)[0] == "=" else 2))
            paragraph = []
            continue
        if opener:
            fence = opener.group(1)
            paragraph = []
            continue
        heading = _ATX_HEADING.match(body)
        if heading:
            if title := _clean_title(heading.group(2) or ""):
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
