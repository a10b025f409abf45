"""DOCX and HTML documents: text, headings as sections, titles, and every bad input a LoadError.

Fixtures are made in code: DOCX files with python-docx, HTML pages as strings.
"""

from __future__ import annotations

import io
import random
import sys
import zipfile

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexing.docx_reader import OLE_MAGIC
from indexing.loaders import SUPPORTED_SUFFIXES, discover_files, load_bytes
from qa_app.errors import (
    CorruptDocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    LoadError,
    UnsupportedDocumentError,
)


def make_docx(*, core_title: str = "", table: bool = True) -> bytes:
    document = docx.Document()
    document.core_properties.title = core_title
    document.add_heading("Field Manual", 0)
    document.add_paragraph("Read this first.")
    document.add_heading("Installation", 1)
    document.add_paragraph("Unpack the archive into a folder.")
    if table:
        rows = document.add_table(rows=2, cols=2)
        for r, c, text in [(0, 0, "Part"), (0, 1, "Weight"), (1, 0, "Pump"), (1, 1, "12 kg")]:
            rows.cell(r, c).text = text
    document.add_heading("Maintenance", 2)
    document.add_paragraph("Oil the pump every spring.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def docx_bytes(build: object) -> bytes:
    buffer = io.BytesIO()
    build.save(buffer)  # type: ignore[attr-defined]
    return buffer.getvalue()


# --- DOCX -------------------------------------------------------------------------------------


def test_docx_text_headings_and_title() -> None:
    doc = load_bytes(make_docx(), "manual.docx")
    assert doc.text == ("Field Manual\n\nRead this first.\n\nInstallation\n\nUnpack the archive into a folder.\n\n"
                        "Part | Weight\n\nPump | 12 kg\n\nMaintenance\n\nOil the pump every spring.")
    assert doc.title == "Field Manual"  # no core title: the first Title paragraph
    assert [s.title for s in doc.sections] == ["Field Manual", "Installation", "Maintenance"]
    for section in doc.sections:  # offset = where the heading's text starts
        assert doc.text[section.start:].startswith(section.title)
    assert doc.section_of(doc.text.index("12 kg")) == "Installation"
    assert doc.section_of(doc.text.index("Oil the pump")) == "Maintenance"
    assert doc.page_starts == (0,) and doc.metadata["suffix"] == ".docx"


def test_docx_title_from_core_properties_else_heading_else_stem() -> None:
    assert load_bytes(make_docx(core_title="Pump Manual 2024"), "m.docx").title == "Pump Manual 2024"
    plain = docx.Document()
    plain.add_heading("Chapter One", 1)
    plain.add_paragraph("Body.")
    assert load_bytes(docx_bytes(plain), "c.docx").title == "Chapter One"
    bare = docx.Document()
    bare.add_paragraph("Only a paragraph.")
    assert load_bytes(docx_bytes(bare), "notes v2.docx").title == "notes v2"


def test_docx_tables_merged_and_nested_cells() -> None:
    build = docx.Document()
    table = build.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "Header spanning three"
    table.cell(1, 0).text = "a"
    table.cell(1, 1).text = "b"
    inner = table.cell(1, 2).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "inner 1"
    inner.cell(0, 1).text = "inner 2"
    doc = load_bytes(docx_bytes(build), "t.docx")
    assert doc.text.count("Header spanning three") == 1  # a merged cell once
    assert "a | b" in doc.text and "inner 1 | inner 2" in doc.text


def test_docx_heading_based_style_and_line_breaks() -> None:
    build = docx.Document()
    build.add_paragraph("Intro.")
    build.add_heading("Deep heading", 4)
    paragraph = build.add_paragraph("first line")
    paragraph.add_run().add_break()
    paragraph.add_run("second line")
    doc = load_bytes(docx_bytes(build), "b.docx")
    assert [s.title for s in doc.sections] == ["Deep heading"]
    assert "first line\nsecond line" in doc.text


def test_empty_docx_is_empty() -> None:
    build = docx.Document()
    build.add_paragraph("   ")
    with pytest.raises(EmptyDocumentError, match="no text"):
        load_bytes(docx_bytes(build), "blank.docx")


def _zip_without(data: bytes, dropped: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            if item.filename != dropped:
                target.writestr(item, source.read(item.filename))
    return out.getvalue()


def _encrypted_ole() -> bytes:
    directory = "EncryptedPackage".encode("utf-16-le") + b"\x00" * 16 + "EncryptionInfo".encode("utf-16-le")
    return OLE_MAGIC + b"\x00" * 504 + directory + random.Random(1).randbytes(2000)


BAD_DOCX = {  # name -> (content, error class, words of the message)
    "truncated": (make_docx()[:3000], CorruptDocumentError, "save it again as .docx"),
    "random-bytes": (random.Random(7).randbytes(5000), CorruptDocumentError, "not a ZIP package"),
    "encrypted": (_encrypted_ole(), EncryptedDocumentError, "remove the password"),
    "ole-unknown": (OLE_MAGIC + random.Random(3).randbytes(3000), CorruptDocumentError, "save it again as .docx"),
    "legacy-doc": (OLE_MAGIC + b"\x00" * 600 + "WordDocument".encode("utf-16-le") + b"\x00" * 900,
                   CorruptDocumentError, "legacy Word .doc"),
    "no-document-part": (_zip_without(make_docx(), "word/document.xml"), CorruptDocumentError, "truncated or damaged"),
    "no-content-types": (_zip_without(make_docx(), "[Content_Types].xml"), CorruptDocumentError, "save it again"),
    "empty-zip": (b"PK\x05\x06" + b"\x00" * 18, CorruptDocumentError, "save it again as .docx"),
    "html": (b"<html><body>Not a docx</body></html>", CorruptDocumentError, "not a ZIP package"),
}


@pytest.mark.parametrize("name", list(BAD_DOCX))
def test_bad_docx_is_a_load_error_with_advice(name: str) -> None:
    data, error, words = BAD_DOCX[name]
    with pytest.raises(error) as info:
        load_bytes(data, f"{name}.docx")
    message = str(info.value)
    assert message.startswith(f"{name}.docx: ") and words in message and "\n" not in message


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=0, max_value=4000), flips=st.lists(st.integers(0, 10**6), max_size=8))
def test_damaged_docx_fuzz_only_raises_load_errors(cut: int, flips: list[int]) -> None:
    data = bytearray(make_docx(table=False))
    for flip in flips:
        data[flip % len(data)] ^= 0x5A
    data = data[: len(data) - cut]
    try:
        load_bytes(bytes(data), "fuzzed.docx")
    except LoadError as exc:
        assert str(exc).startswith("fuzzed.docx: ")


# --- HTML -------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Pump   Guide</title>
<style>p { color: red }</style><script>var secret = "do not index";</script>
<link rel="stylesheet" href="https://example.invalid/x.css"></head>
<body>
<noscript>Enable JavaScript</noscript><template><p>template text</p></template>
<h1>Overview</h1><p>The pump moves <b>water</b>.</p><div>First block</div><div>Second block</div>
<ul><li>one</li><li>two</li></ul>Line<br>break
<table><tr><th>Part</th><td>Weight</td></tr><tr><td>Pump</td><td>12 kg</td></tr></table>
<img src="https://example.invalid/pic.png" alt="a picture">
<h2>Care &amp; <i>maintenance</i></h2><p>Oil   it
every spring.</p><!-- a comment -->
<svg><title>icon</title><text>svg text</text></svg>
<pre>  keep   this
    layout</pre>
</body></html>"""


def test_html_text_blocks_headings_and_title() -> None:
    doc = load_bytes(PAGE.encode(), "guide.html")
    assert doc.text == ("Overview\n\nThe pump moves water.\n\nFirst block\n\nSecond block\n\none\ntwo\n\nLine\nbreak\n\n"
                        "Part | Weight\nPump | 12 kg\n\nCare & maintenance\n\nOil it every spring.\n\n"
                        "  keep   this\n    layout")
    for dropped in ("secret", "color", "Enable JavaScript", "template text", "comment", "svg text", "icon"):
        assert dropped not in doc.text
    assert doc.title == "Pump Guide"
    assert [s.title for s in doc.sections] == ["Overview", "Care & maintenance"]
    for section in doc.sections:
        assert doc.text[section.start:].startswith(section.title)
    assert doc.section_of(doc.text.index("Oil it")) == "Care & maintenance"
    assert doc.metadata["suffix"] == ".html" and doc.page_starts == (0,)


def test_html_title_falls_back_to_first_h1_then_stem() -> None:
    assert load_bytes(b"<h2>Sub</h2><h1>Main</h1><p>x</p>", "a.htm").title == "Main"
    assert load_bytes(b"<p>Just text</p>", "plain page.htm").title == "plain page"


def test_html_without_blocks_is_not_glued_together() -> None:
    doc = load_bytes(b"<div>alpha</div><div>beta</div><p>gamma</p>delta<li>epsilon</li>", "x.html")
    assert doc.text == "alpha\n\nbeta\n\ngamma\n\ndelta\nepsilon"


@pytest.mark.parametrize("data, encoding", [
    ('<html><head><meta charset="windows-1252"></head><body><p>Café – naïve</p></body></html>'.encode("cp1252"),
     "cp1252"),
    ('<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><p>Café – naïve</p>'.encode("cp1252"),
     "cp1252"),
    ('<meta charset="utf-8"><p>Café – naïve</p>'.encode(), "utf-8"),
    ('<meta charset="koi8-r"><p>Café – naïve</p>'.encode("utf-8-sig"), "utf-8-sig"),  # the BOM wins
    ("<p>Café – naïve</p>".encode("utf-16"), "utf-16"),
    ('<meta charset="utf-16"><p>Café – naïve</p>'.encode(), "utf-8"),  # UTF-16 declared in bytes: UTF-8
    ("<p>Café – naïve</p>".encode("cp1252"), "cp1252"),  # nothing declared: the text-file guess
])
def test_html_encoding_honours_bom_and_meta_charset(data: bytes, encoding: str) -> None:
    doc = load_bytes(data, "enc.html")
    assert doc.text == "Café – naïve"
    assert doc.metadata["encoding"] == encoding


def test_html_text_is_clean() -> None:
    doc = load_bytes(b"<p>a&#0;b\r\nc&#13;d&#xD800;e\x00</p>".replace(b"\x00", b""), "c.html")
    assert "\x00" not in doc.text and "\r" not in doc.text
    assert all(not "\ud800" <= ch <= "\udfff" for ch in doc.text)


def test_html_deep_nesting_does_not_recurse() -> None:
    depth = sys.getrecursionlimit() * 3
    doc = load_bytes(("<div>" * depth + "<h2>Deep</h2>deep text" + "</div>" * depth).encode(), "deep.html")
    assert doc.text == "Deep\n\ndeep text" and [s.title for s in doc.sections] == ["Deep"]


BAD_HTML = {  # name -> (content, error class, words of the message)
    "only-script": (b"<html><head><script>alert(1)</script></head><body><script>x()</script></body></html>",
                    EmptyDocumentError, "no text"),
    "only-markup": (b"<html><body><img src='a.png'><br><hr></body></html>", EmptyDocumentError, "nothing to index"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, UnsupportedDocumentError, "binary"),
    "zip": (make_docx(), UnsupportedDocumentError, "binary"),
}


@pytest.mark.parametrize("name", list(BAD_HTML))
def test_bad_html_is_a_load_error_with_advice(name: str) -> None:
    data, error, words = BAD_HTML[name]
    with pytest.raises(error) as info:
        load_bytes(data, f"{name}.html")
    assert str(info.value).startswith(f"{name}.html: ") and words in str(info.value)


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.binary(max_size=400), st.text(alphabet="<>/=\"' abph1!-&;#x\n", max_size=300).map(str.encode)))
def test_html_fuzz_only_raises_load_errors(data: bytes) -> None:
    try:
        doc = load_bytes(data, "fuzz.html")
    except LoadError:
        return
    assert doc.text.strip()
    for section in doc.sections:
        assert 0 <= section.start < len(doc.text)


# --- one list of formats ----------------------------------------------------------------------


def test_new_formats_are_supported_and_discovered(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    for suffix in (".docx", ".html", ".htm"):
        assert suffix in SUPPORTED_SUFFIXES
        (root / f"f{suffix}").write_bytes(b"x")
    files, skipped = discover_files([root])
    assert sorted(f.name for f in files) == ["f.docx", "f.htm", "f.html"] and not skipped


def test_importing_loaders_does_not_import_the_parsers() -> None:
    import subprocess

    code = "import indexing.loaders, sys; print([m for m in ('docx', 'bs4', 'pypdf') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
