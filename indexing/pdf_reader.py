"""PDF text page by page with pypdf (imported on first use), each page's start offset and the title."""

from __future__ import annotations

import io
from typing import Callable

from indexing.text_clean import clean_text, clean_title
from qa_app.errors import CorruptDocumentError, EmptyDocumentError, EncryptedDocumentError, LoadError

PAGE_SEPARATOR = "\n\n"  # between the text of two pages


def _parse_failure(where: str, exc: BaseException, page: int | None = None) -> CorruptDocumentError:
    detail = " ".join(str(exc).split())[:120]
    reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    at = f"page {page} " if page is not None else ""
    return CorruptDocumentError(
        where, f"{at}cannot be parsed as PDF ({reason}); the file may be truncated or damaged: "
        "download or export it again, or repair it (e.g. qpdf), and index again")


def read_pdf(data: bytes, where: str, progress: Callable[[int, int], None] | None) -> tuple[str, tuple[int, ...], str]:
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
            parts.append(PAGE_SEPARATOR)
            length += len(PAGE_SEPARATOR)
        starts.append(length)
        parts.append(page_text)
        length += len(page_text)
        if progress is not None:
            progress(number, total)
    text = "".join(parts)
    if not text.strip():
        raise EmptyDocumentError(where, "no extractable text (scanned images?); run OCR first")
    return text, tuple(starts) or (0,), clean_title(raw_title)
