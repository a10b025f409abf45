"""Loaders: PDFs, text and Markdown into Documents, with every failure a specific LoadError."""

from __future__ import annotations

from pathlib import Path

import pypdf
import pytest

from indexing.loaders import (
    SUPPORTED_SUFFIXES,
    discover_files,
    document_id,
    load_bytes,
    load_document,
    safe_source_name,
)
from indexing.markdown_reader import markdown_sections
from indexing.text_clean import clean_text
from qa_app.errors import (
    CorruptDocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    LoadError,
    TooLargeDocumentError,
    UnsupportedDocumentError,
)
from tests import pdf_factory

# --- PDF --------------------------------------------------------------------------------------


def test_pdf_pages_offsets_and_title(tmp_path: Path) -> None:
    path = tmp_path / "animals.pdf"
    path.write_bytes(pdf_factory.make_text_pdf(title="Animal Facts"))
    seen: list[tuple[int, int]] = []
    doc = load_document(path, progress=lambda done, total: seen.append((done, total)))

    assert doc.page_count == 3
    assert doc.title == "Animal Facts"
    assert doc.source == "animals.pdf"
    assert doc.metadata["path"] == str(path) and doc.metadata["suffix"] == ".pdf"
    assert seen == [(1, 3), (2, 3), (3, 3)]
    for page, word in enumerate(("alpaca", "zeppelin", "quokka"), start=1):
        offset = doc.text.index(word)
        assert doc.page_of(offset) == page
        start = doc.page_starts[page - 1]
        assert doc.text[start:].startswith(f"Page {['one', 'two', 'three'][page - 1]}")
    assert "\n\n".join(pdf_factory.THREE_PAGES) == doc.text


def test_page_of_every_offset_matches_page_text() -> None:
    pages = ["first page text", "", "third   page   ", "fourth"]
    doc = load_bytes(pdf_factory.make_text_pdf(pages), "p.pdf")
    starts = doc.page_starts + (len(doc.text) + 2,)
    for page in range(1, doc.page_count + 1):
        for offset in range(starts[page - 1], min(starts[page], len(doc.text))):
            assert doc.page_of(offset) == page
    assert doc.text[doc.page_starts[2]:].startswith("third")
    assert not doc.text[doc.page_starts[2]:doc.page_starts[3]].rstrip("\n").endswith(" ")


def test_pdf_title_falls_back_to_file_stem() -> None:
    doc = load_bytes(pdf_factory.make_text_pdf(), "Annual Report.PDF")
    assert doc.title == "Annual Report"


def test_many_pages_progress_and_offsets() -> None:
    calls: list[int] = []
    doc = load_bytes(pdf_factory.make_many_pages_pdf(12), "many.pdf",
                     progress=lambda done, total: calls.append(done))
    assert calls == list(range(1, 13))
    assert doc.page_count == 12
    assert doc.page_of(doc.text.index("page7marker")) == 7


def test_encrypted_pdf_without_password_is_refused() -> None:
    with pytest.raises(EncryptedDocumentError, match="qpdf --decrypt"):
        load_bytes(pdf_factory.make_encrypted_pdf(user_password="secret"), "locked.pdf")


def test_encrypted_pdf_with_empty_user_password_opens() -> None:
    doc = load_bytes(pdf_factory.make_encrypted_pdf(user_password=""), "open.pdf")
    assert doc.page_of(doc.text.index("zeppelin")) == 2


def test_missing_crypto_dependency_is_an_encrypted_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def needs_crypto(self: object, password: str) -> None:
        raise pypdf.errors.DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(pypdf.PdfReader, "decrypt", needs_crypto)
    with pytest.raises(EncryptedDocumentError, match="cryptography"):
        load_bytes(pdf_factory.make_encrypted_pdf(user_password=""), "aes.pdf")


@pytest.mark.parametrize("data", [
    pdf_factory.make_truncated_pdf(),
    pdf_factory.truncate_pdf(pdf_factory.make_text_pdf(), 0.9),
    pdf_factory.make_garbage_pdf(),
    pdf_factory.make_not_a_pdf(),
], ids=["half", "ninety-percent", "garbage", "html"])
def test_damaged_pdf_is_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptDocumentError) as info:
        load_bytes(data, "broken.pdf")
    assert "\n" not in str(info.value) and str(info.value).startswith("broken.pdf: ")


@pytest.mark.parametrize("exc", [KeyError("/Font"), IndexError("list index"), RecursionError(),
                                 ValueError("bad"), AttributeError("x")])
def test_any_parser_exception_becomes_corrupt(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    def broken(self: object, *args: object, **kwargs: object) -> str:
        raise exc

    monkeypatch.setattr(pypdf.PageObject, "extract_text", broken)
    with pytest.raises(CorruptDocumentError, match="page 1"):
        load_bytes(pdf_factory.make_text_pdf(), "x.pdf")


def test_progress_callback_errors_are_not_disguised_as_corrupt() -> None:
    def cancel(done: int, total: int) -> None:
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        load_bytes(pdf_factory.make_text_pdf(), "x.pdf", progress=cancel)


@pytest.mark.parametrize("data", [pdf_factory.make_blank_pdf(), pdf_factory.make_image_only_pdf()],
                         ids=["blank", "image-only"])
def test_pdf_without_text_is_empty(data: bytes) -> None:
    with pytest.raises(EmptyDocumentError, match="OCR"):
        load_bytes(data, "scan.pdf")


def test_clean_text_removes_nul_and_lone_surrogates() -> None:
    assert clean_text("a\x00b\ud800c\udfffd\r\ne\rf") == "abcd\ne\nf"
    assert clean_text("emoji \U0001f600 stays") == "emoji \U0001f600 stays"


# --- size and emptiness -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.txt", "empty.md", "empty.pdf"])
def test_zero_byte_file_is_empty(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(EmptyDocumentError, match="is empty"):
        load_document(path)


def test_whitespace_only_text_is_empty() -> None:
    with pytest.raises(EmptyDocumentError, match="is empty"):
        load_bytes(b" \n\t\r\n\f  ", "blank.txt")


def test_over_max_bytes_is_refused_with_size_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"word " * 1000)
    with pytest.raises(TooLargeDocumentError) as info:
        load_document(path, max_bytes=1000)
    message = str(info.value)
    assert "MB" in message and "limit" in message and "max_file_mb" in message
    with pytest.raises(TooLargeDocumentError):
        load_bytes(b"word " * 1000, "big.txt", max_bytes=1000)
    assert load_bytes(b"word " * 1000, "big.txt", max_bytes=5000).text.startswith("word")


# --- text -------------------------------------------------------------------------------------


def test_text_file_basics(tmp_path: Path) -> None:
    path = tmp_path / "notes.TXT"
    path.write_bytes(b"\xef\xbb\xbfline one\r\nline two\r\n")
    doc = load_document(path)
    assert doc.text == "line one\nline two\n"
    assert doc.title == "notes"
    assert doc.page_starts == (0,)
    assert doc.metadata == {"path": str(path), "suffix": ".txt", "bytes": "23", "encoding": "utf-8-sig"}


def test_form_feeds_are_page_breaks() -> None:
    doc = load_bytes("one\ftwo\fthree\f\n".encode(), "pages.txt")
    assert doc.page_starts == (0, 4, 8)
    assert doc.page_of(doc.text.index("two")) == 2
    assert doc.page_of(doc.text.index("three")) == 3
    assert doc.page_of(len(doc.text) - 1) == 3


@pytest.mark.parametrize("data", [
    b"\x00\x01\x02\x03binary\x00" * 10,
    bytes(range(256)) * 4,
    b"\x1b\x02\x03\x04\x05 mostly controls \x06\x07\x08\x0e\x0f\x10\x11\x12\x13\x14\x15",
], ids=["nul", "all-bytes", "controls"])
def test_binary_named_txt_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedDocumentError, match="binary"):
        load_bytes(data, "photo.txt")


def test_pdf_named_txt_says_rename() -> None:
    with pytest.raises(UnsupportedDocumentError, match=r"\.pdf"):
        load_bytes(pdf_factory.make_text_pdf(), "report.txt")


def test_latin1_text_decodes() -> None:
    text = ("Café déjà vu: à la carte, the naïve façade, crème brûlée and über señor. "
            "Le cœur a ses raisons; garçon, un café crème!\n") * 3
    text = text.replace("œ", "oe")  # not in Latin-1
    doc = load_bytes(text.encode("latin-1"), "menu.txt")
    assert doc.text == text
    assert doc.metadata["encoding"] in ("cp1252", "latin-1")


def test_gbk_chinese_decodes() -> None:
    text = "长文档问答系统：上传文件，提出问题，获得准确的答案和出处。这是一个测试文本，用于检查编码识别是否正确。"
    doc = load_bytes(text.encode("gbk"), "中文.txt")
    assert doc.text == text
    assert doc.source == "中文.txt" and doc.title == "中文"


def test_utf16_with_bom_decodes() -> None:
    doc = load_bytes("hello wörld".encode("utf-16"), "u16.txt")
    assert doc.text == "hello wörld"


# --- Markdown ---------------------------------------------------------------------------------

MARKDOWN = """Intro line before any heading.

# The Real Title

Some text.

## Install ##

```bash
# not a heading
pip install thing
```

~~~
# also not a heading
~~~

#hashtag is not a heading
    # indented code is not a heading

### Usage
Done.
"""


def test_markdown_sections_and_title() -> None:
    doc = load_bytes(MARKDOWN.encode(), "readme.markdown")
    assert doc.text == MARKDOWN
    assert doc.title == "The Real Title"
    assert [s.title for s in doc.sections] == ["The Real Title", "Install", "Usage"]
    for section in doc.sections:
        assert doc.text[section.start:].lstrip("#").lstrip().startswith(section.title)
        assert section.start == 0 or doc.text[section.start - 1] == "\n"
    assert doc.section_of(doc.text.index("pip install")) == "Install"
    assert doc.section_of(doc.text.index("Done.")) == "Usage"
    assert doc.section_of(0) == ""


def test_markdown_without_level_one_heading_uses_stem() -> None:
    doc = load_bytes(b"## Only a subsection\ntext\n", "notes.md")
    assert doc.title == "notes"
    assert markdown_sections(doc.text)[0].title == "Only a subsection"


def test_unclosed_fence_hides_later_headings() -> None:
    assert markdown_sections("# A\n```\n# B\n") == markdown_sections("# A\n")


SETEXT = """Guide
=====

Intro text.

Install the tool
---

Run the installer.

---

A line after a thematic break.

```
code, not a heading
===
```

    indented code
---
> a quote
---
Usage
-----
Use it.
"""


def test_setext_headings_are_sections() -> None:
    doc = load_bytes(SETEXT.encode(), "guide.md")
    assert doc.title == "Guide"  # a `===` underline is level 1
    assert [s.title for s in doc.sections] == ["Guide", "Install the tool", "Usage"]
    for section in doc.sections:  # the section starts at the heading's text line
        assert doc.text[section.start:].startswith(section.title)
        assert section.start == 0 or doc.text[section.start - 1] == "\n"
    assert doc.section_of(doc.text.index("Run the installer")) == "Install the tool"
    assert doc.section_of(doc.text.index("A line after a thematic break")) == "Install the tool"
    assert doc.section_of(doc.text.index("Use it.")) == "Usage"


@pytest.mark.parametrize("text, titles", [
    ("Para\n\n---\nText\n", []),  # `---` after a blank line: a thematic break
    ("---\nText\n", []),
    ("```\nFoo\n===\n```\nBar\n", []),  # inside fenced code
    ("~~~\nFoo\n---\n", []),  # unclosed fence
    ("Foo\n= =\n", []),  # the underline must be one run
    ("Foo\n    ===\n", []),  # four spaces: a paragraph continuation, not an underline
    ("    Foo\n===\n", []),  # indented code is not a heading's text
    ("Foo\n   ===   \n", ["Foo"]),  # three spaces and trailing ones are fine
    ("Two\nlines\n---\n", ["Two lines"]),  # a multi-line paragraph is one heading
    ("# Atx\nSetext\n---\n", ["Atx", "Setext"]),
    ("---\ntitle: x\n---\nReal\n===\n", ["Real"]),  # YAML front matter is skipped
])
def test_setext_rules(text: str, titles: list[str]) -> None:
    assert [s.title for s in markdown_sections(text)] == titles


# --- names, ids, dispatch ---------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "passwd"),
    ("/abs/path.pdf", "path.pdf"),
    ("C:\\Users\\me\\report.pdf", "report.pdf"),
    ("..\\..\\secret.txt", "secret.txt"),
    ("evil\x00name.txt", "evilname.txt"),
    ("line\nbreak\tand   spaces.md", "line break and spaces.md"),
    ("right\u202etxt.pdf", "righttxt.pdf"),
    ("", "document"),
    ("..", "document"),
    ("/", "document"),
    ("\x00\x01", "document"),
    ("dir/sub/", "sub"),
])
def test_safe_source_name(name: str, expected: str) -> None:
    assert safe_source_name(name) == expected


def test_safe_source_name_truncates_keeping_extension() -> None:
    name = safe_source_name("a" * 500 + ".pdf")
    assert len(name) == 200 and name.endswith(".pdf")
    assert len(safe_source_name("b" * 500)) == 200


def test_upload_name_is_made_safe() -> None:
    doc = load_bytes(b"hello", "../../etc/pass\x00wd.txt")
    assert doc.source == "passwd.txt"
    assert "path" not in doc.metadata


def test_same_content_same_id(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("same words here")
    (tmp_path / "b.md").write_text("same words here")
    a, b = load_document(tmp_path / "a.txt"), load_document(tmp_path / "b.md")
    assert a.id == b.id == document_id("same words here")
    assert len(a.id) == 16 and int(a.id, 16) >= 0
    assert load_bytes(b"other words", "a.txt").id != a.id


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedDocumentError, match=r"\.odt"):
        load_bytes(b"PK\x03\x04", "letter.odt")
    with pytest.raises(UnsupportedDocumentError):
        load_document(tmp_path / "noext")
    with pytest.raises(LoadError, match="not found"):
        load_document(tmp_path / "missing.txt")
    with pytest.raises(LoadError, match="folder"):
        (tmp_path / "dir.md").mkdir()
        load_document(tmp_path / "dir.md")


def test_source_override_is_sanitised(tmp_path: Path) -> None:
    path = tmp_path / "tmpab12.txt"
    path.write_text("content")
    doc = load_document(path, source="uploads/Quarterly Report.txt")
    assert doc.source == "Quarterly Report.txt" and doc.title == "Quarterly Report"


# --- discovery --------------------------------------------------------------------------------


def test_discover_files_walks_sorted_and_skips(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    for rel in ["b.md", "a.PDF", "sub/c.txt", "sub/z.markdown", "sub/ignored.odt",
                ".hidden.txt", ".git/d.txt", "sub/.cache/e.md"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    lone = tmp_path / "lone.txt"
    lone.write_text("x")
    (tmp_path / "table.csv").write_text("x")

    files, skipped = discover_files([root, lone, tmp_path / "table.csv", tmp_path / "nope.md",
                                     root / "b.md"])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "docs/a.PDF", "docs/b.md", "docs/sub/c.txt", "docs/sub/z.markdown", "lone.txt"]
    assert [(Path(p).name, reason.split(";")[0]) for p, reason in skipped] == [
        ("ignored.odt", "unsupported file type .odt"),  # found in a folder: said, not dropped silently
        ("table.csv", "unsupported file type .csv"), ("nope.md", "not found")]
    assert all(f.suffix.lower() in SUPPORTED_SUFFIXES for f in files)
