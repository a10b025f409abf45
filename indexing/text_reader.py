"""Bytes of text files and HTML pages as text: BOMs, UTF-8, else a best guess for legacy encodings
(charset_normalizer, biased to cp1252); binary content is refused. Plain-text pages split at form feeds."""

from __future__ import annotations

import codecs
import unicodedata

from qa_app.errors import UnsupportedDocumentError

# C0 controls except \t \n \f \r, DEL; as bytes for the cheap check before decoding.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\f\r") + b"\x7f"
_BINARY_CONTROL_RATIO = 0.10
# Multi-byte encodings whose guess we trust as is; for single-byte guesses cp1252 gets a bias.
_MULTIBYTE = ("gb", "big5", "cp9", "euc", "shift_jis", "iso2022", "hz", "johab", "utf")
_CP1252_FAMILY = {"cp1252", "latin_1", "iso8859_1", "iso8859_15"}
_CP1252_CHAOS_MARGIN = 0.15


def _binary(where: str) -> UnsupportedDocumentError:
    return UnsupportedDocumentError(
        where, "looks like binary data, not text; give a PDF, DOCX, HTML, .txt or .md file with the right extension")


def decode_html(data: bytes, where: str) -> tuple[str, str]:
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
    return decode_text(data, where)


def decode_text(data: bytes, where: str) -> tuple[str, str]:
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


def form_feed_pages(text: str) -> tuple[int, ...]:
    """Pages of plain text split at form feeds; a form feed at the very end starts no page."""
    starts = [0]
    last = len(text.rstrip())  # form feeds at or past this offset have only whitespace after them
    index = text.find("\f")
    while -1 < index < last:
        starts.append(index + 1)
        index = text.find("\f", index + 1)
    return tuple(starts)
