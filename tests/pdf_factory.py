"""PDFs generated in code for tests: no fixture files, no downloads.

Every helper returns the bytes of a PDF (write them under `tmp_path` when a test needs a file).
Text PDFs use fpdf2's core Helvetica font, so their text must be Latin-1; pypdf extracts it back
with the words intact. Encryption is added with pypdf's own writer (AES-256 needs `cryptography`).
"""

from __future__ import annotations

import io
from typing import Sequence

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

# Three pages with words that occur on exactly one page each, for page-offset tests.
THREE_PAGES: tuple[str, ...] = (
    "Page one talks about the alpaca herd grazing in the Andes.",
    "Page two describes the zeppelin hangar near the harbour.",
    "Page three explains how the quokka smiles for tourists.",
)


def _new_pdf(title: str | None) -> FPDF:
    pdf = FPDF(unit="pt", format="A4")
    pdf.set_auto_page_break(auto=True, margin=36)
    pdf.set_font("Helvetica", size=11)
    if title is not None:
        pdf.set_title(title)
    return pdf


def make_text_pdf(pages: Sequence[str] = THREE_PAGES, *, title: str | None = None) -> bytes:
    """A PDF with one page per string (long strings wrap; very long ones may spill onto more pages).

    An empty string gives a blank page. Use Latin-1 text only (fpdf2 core fonts).
    """
    pdf = _new_pdf(title)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 14, text)
    return bytes(pdf.output())


def make_many_pages_pdf(count: int, *, words_per_page: int = 20) -> bytes:
    """`count` pages; page n (1-based) holds "page{n}marker" followed by filler words."""
    filler = " ".join(f"word{i}" for i in range(words_per_page))
    return make_text_pdf([f"page{n}marker {filler}" for n in range(1, count + 1)])


def make_blank_pdf(pages: int = 2) -> bytes:
    """Pages with nothing on them: no extractable text."""
    return make_text_pdf([""] * pages)


def make_image_only_pdf() -> bytes:
    """One page holding only a raster image and vector shapes (like a scan): no text layer."""
    from PIL import Image, ImageDraw  # fpdf2 depends on Pillow

    image = Image.new("RGB", (200, 80), "white")
    ImageDraw.Draw(image).rectangle((10, 10, 190, 70), outline="black", width=3)
    pdf = _new_pdf(None)
    pdf.add_page()
    pdf.image(image, x=40, y=40, w=300)
    pdf.rect(40, 200, 300, 100)
    return bytes(pdf.output())


def make_encrypted_pdf(
    pages: Sequence[str] = THREE_PAGES,
    *,
    user_password: str = "secret",
    owner_password: str | None = "owner-secret",
    algorithm: str = "AES-256",
) -> bytes:
    """A text PDF encrypted with pypdf (AES-256 by default).

    With `user_password=""` any reader opens it without a password (owner restrictions only).
    """
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_text_pdf(pages))))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def truncate_pdf(data: bytes, fraction: float = 0.5) -> bytes:
    """The first `fraction` of a PDF's bytes, as left by an interrupted download."""
    return data[: max(1, int(len(data) * fraction))]


def make_truncated_pdf(pages: Sequence[str] = THREE_PAGES) -> bytes:
    """A text PDF cut in half: the cross-reference table and the %%EOF marker are missing."""
    return truncate_pdf(make_text_pdf(pages))


def make_garbage_pdf() -> bytes:
    """Starts like a PDF, then nonsense: no objects, no xref, no trailer."""
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"this is not really a pdf \x00\x01\x02\n" * 20 + b"%%EOF\n"


def make_not_a_pdf() -> bytes:
    """An HTML error page saved under a .pdf name (a common failed download)."""
    return b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>\n"
