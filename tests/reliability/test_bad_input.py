"""Bad files through every entry point: the CLI, the Python API and the upload path.

Each bad file is skipped with its own specific reason, the batch goes on, and nothing already
stored is lost (damaged, encrypted and random-bytes DOCX, script-only and binary HTML among them).
Legacy encodings, HTML/script text, hostile upload names, a doubled concurrent
upload and a 2,000-page PDF (bounded memory, progress to the end) are covered too. Everything runs
on the real App (embedded Chroma in tmp_path, writer lock) with the fake encoder and tokenizer.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from indexing.docx_reader import OLE_MAGIC
from indexing.loaders import MAX_SOURCE_CHARS
from indexing.sparse import BM25Index
from qa_app.cli import main
from qa_app.types import page_of
from tests import pdf_factory
from tests.indexing.test_formats import make_docx
from tests.reliability.helpers import app_factory, fake_app
from tests.reliability.indexer_child import bm25_path
from tests.reliability.test_crash import ROOT, child_env

LIMIT_MB = 0.1  # max_file_mb in these tests: "huge.txt" is over it

LATIN1 = "Café crème in Zürich: a naïve façade, señor, for ½ the price. Déjà vu at the Müller-Straße."
CHINESE = ("长江是中国最长的河流，全长约六千三百公里。它发源于青藏高原，流经十一个省级行政区，最后注入东海。"
           "三峡大坝位于湖北省宜昌市，是世界上装机容量最大的水电站。")
HTML = ("# Release notes\n\nThe parser keeps markup as text: <b>bold</b> and "
        "<script>alert('owned')</script> and <iframe srcdoc=\"<script>parent.x=1</script>\"></iframe> "
        "stay literally in the chunk.\n")

# name -> (content, words of the expected reason)
BAD: dict[str, tuple[bytes, str]] = {
    "locked.pdf": (pdf_factory.make_encrypted_pdf(user_password="secret"), "encrypted; remove the password"),
    "truncated.pdf": (pdf_factory.make_truncated_pdf(), "may be truncated or damaged"),
    "download.pdf": (pdf_factory.make_not_a_pdf(), "is not a PDF file (no %PDF header)"),
    "empty.txt": (b"", "file is empty (0 bytes)"),
    "huge.txt": (b"many words of text " * 8000, "limit; split the file or raise max_file_mb"),
    "binary.txt": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "looks like binary data"),
    "scan.pdf": (pdf_factory.make_image_only_pdf(), "no extractable text (scanned images?); run OCR"),
    "truncated.docx": (make_docx()[:2000], "save it again as .docx"),
    "locked.docx": (OLE_MAGIC + b"\x00" * 500 + "EncryptedPackage".encode("utf-16-le") + bytes(range(256)) * 4,
                    "password-protected (encrypted)"),
    "noise.docx": (bytes(range(256)) * 8, "not a ZIP package"),
    "scripts.html": (b"<html><script>alert('owned')</script><style>p{}</style></html>", "has no text"),
    "binary.html": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "looks like binary data"),
}
GOOD: dict[str, tuple[bytes, str]] = {  # name -> (content, text the stored chunks must contain)
    "latin1.txt": (LATIN1.encode("latin-1"), "Zürich: a naïve façade"),
    "gbk.txt": (CHINESE.encode("gbk"), "它发源于青藏高原"),
    "notes.md": (HTML.encode(), "<script>alert('owned')</script>"),
    "report.docx": (make_docx(), "Pump | 12 kg"),
    "page.html": (b"<title>P</title><script>alert('owned')</script><h1>Pumps</h1><p>Oil them yearly.</p>",
                  "Oil them yearly."),
}
SCRIPT_FREE = ("page.html", "alert")  # a dropped <script> is in no chunk


KEEP = b"The lighthouse keeper logged every ship that passed the northern cape in 1899."


def write_batch(folder: Path) -> None:
    folder.mkdir()
    for name, (data, _) in (BAD | GOOD).items():
        (folder / name).write_bytes(data)


def stored_text(app: Any, doc_id: str) -> str:
    info = app.store.get_document(doc_id)
    return " ".join(c.text for c in app.store.get_chunks(doc_id, range(info.chunks)))


def check_outcomes(app: Any, outcomes: list[Any], before: list[Any]) -> None:
    by_name = {Path(o.name).name: o for o in outcomes}
    assert set(by_name) == set(BAD) | set(GOOD)
    for name, (_, reason) in BAD.items():
        assert by_name[name].status == "skipped" and reason in by_name[name].reason, name
        assert "\n" not in by_name[name].reason
    for name, (_, text) in GOOD.items():
        assert by_name[name].status == "added", (name, by_name[name].reason)
        assert text in stored_text(app, by_name[name].doc_id), name
    assert SCRIPT_FREE[1] not in stored_text(app, by_name[SCRIPT_FREE[0]].doc_id)
    after = app.store.documents()
    assert all(info in after for info in before)  # nothing already stored is lost
    assert len(after) == len(before) + len(GOOD)


def test_bad_files_through_the_python_api(tmp_path: Path) -> None:
    app = fake_app(tmp_path / "data", max_file_mb=LIMIT_MB)
    (tmp_path / "keep.txt").write_bytes(KEEP)
    kept, = app.indexer.index_paths([tmp_path / "keep.txt"])
    before = app.store.documents()
    write_batch(tmp_path / "batch")

    outcomes = app.indexer.index_paths([tmp_path / "batch"])
    check_outcomes(app, outcomes, before)
    assert "lighthouse keeper" in stored_text(app, kept.doc_id)
    assert app.store.count() == sum(d.chunks for d in app.store.documents())  # no stray rows


def test_bad_files_through_the_upload_path(tmp_path: Path) -> None:
    app = fake_app(tmp_path / "data", max_file_mb=LIMIT_MB)
    app.indexer.index_bytes(KEEP, "keep.txt")
    before = app.store.documents()
    outcomes = [app.indexer.index_bytes(data, name) for name, (data, _) in (BAD | GOOD).items()]
    check_outcomes(app, outcomes, before)


def test_bad_files_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("QA_MAX_FILE_MB", str(LIMIT_MB))
    data, make_app = str(tmp_path / "data"), app_factory()
    (tmp_path / "keep.txt").write_bytes(KEEP)
    assert main(["index", str(tmp_path / "keep.txt"), "--data-dir", data], make_app=make_app) == 0
    write_batch(tmp_path / "batch")
    capsys.readouterr()

    assert main(["index", str(tmp_path / "batch"), "--data-dir", data], make_app=make_app) == 1  # some skipped
    out = capsys.readouterr().out.splitlines()
    for name, (_, reason) in BAD.items():
        assert any(line.startswith("skipped") and name in line and reason in line for line in out), name
    for name in GOOD:
        assert any(line.startswith("added") and name in line for line in out), name
    assert out[-1] == f"{len(GOOD)} added, 0 replaced, 0 unchanged, {len(BAD)} skipped"

    assert main(["docs", "list", "--json", "--data-dir", data], make_app=make_app) == 0
    listed = json.loads(capsys.readouterr().out)["documents"]
    assert sorted(d["source"] for d in listed) == sorted(["keep.txt", *GOOD])
    assert main(["index", str(tmp_path / "batch" / "empty.txt"), "--data-dir", data], make_app=make_app) == 2


HOSTILE_NAMES = {  # upload name -> the source name it must be stored under
    "../../etc/passwd.txt": "passwd.txt",
    "/var/www/index.md": "index.md",
    "..\\..\\Windows\\win.ini.txt": "win.ini.txt",
    "nul\x00byte.txt": "nulbyte.txt",
    "bidi\u202egnp.txt": "bidignp.txt",
    "line\nbreak\x1b[31m.txt": "line break[31m.txt",
    "x" * 5000 + ".txt": "x" * (MAX_SOURCE_CHARS - 4) + ".txt",
}


def test_hostile_upload_names_are_stored_under_a_safe_source_name(tmp_path: Path) -> None:
    app = fake_app(tmp_path / "data")
    for n, (name, safe) in enumerate(HOSTILE_NAMES.items()):
        outcome = app.indexer.index_bytes(f"Upload number {n} says hello.".encode(), name)
        assert outcome.status == "added" and outcome.source == safe, repr(name)
        assert app.store.get_document(outcome.doc_id).source == safe
    for info in app.store.documents():
        assert len(info.source) <= MAX_SOURCE_CHARS and info.source.isprintable()
        assert "/" not in info.source and "\\" not in info.source
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # nothing written anywhere else
    nothing_left = app.indexer.index_bytes(b"text", "../")
    assert nothing_left.status == "skipped" and "unsupported file type" in nothing_left.reason


def test_cli_output_shows_hostile_file_names_harmlessly(tmp_path: Path, capsys: Any) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "red\x1b[31m\x07.txt").write_bytes(b"")  # skipped: the CLI names the file
    (folder / "ok\x1b]0;title\x07.txt").write_bytes(b"A file whose name sets the terminal title.")
    assert main(["index", str(folder), "--data-dir", str(tmp_path / "data")], make_app=app_factory()) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 3  # two outcomes and the summary, one line each
    assert "\x1b" not in out and "\x07" not in out  # no terminal control sequences reach the screen


def test_the_same_upload_twice_at_once_is_stored_once(tmp_path: Path) -> None:
    app = fake_app(tmp_path / "data")
    app.store  # noqa: B018 - opened before the threads race
    data = (" ".join(f"Sentence {i} of the uploaded annual report." for i in range(200))).encode()
    barrier = threading.Barrier(3)
    outcomes: list[Any] = []

    def upload() -> None:
        barrier.wait()
        outcomes.append(app.indexer.index_bytes(data, "report.txt"))

    threads = [threading.Thread(target=upload) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(o.status for o in outcomes) == ["added", "unchanged", "unchanged"]
    assert len({o.doc_id for o in outcomes}) == 1
    info, = app.store.documents()
    assert app.store.count() == info.chunks == outcomes[0].chunks


def test_a_2000_page_pdf_streams_with_progress_and_bounded_memory(tmp_path: Path) -> None:
    pages = 2000
    pdf = tmp_path / "manual.pdf"
    pdf.write_bytes(pdf_factory.make_many_pages_pdf(pages))
    data = tmp_path / "data"
    proc = subprocess.run([sys.executable, "-m", "tests.reliability.indexer_child", "index", str(data), str(pdf)],
                          capture_output=True, text=True, cwd=ROOT, env=child_env(), timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])

    outcome, = result["outcomes"]
    assert outcome["status"] == "added"
    progress = result["progress"]
    assert progress["manual.pdf:parse"] == [pages, pages]  # one event per page, up to the total
    assert progress["manual.pdf:embed"] == [outcome["chunks"], outcome["chunks"]]
    assert progress["manual.pdf:store"] == [outcome["chunks"], outcome["chunks"]]
    assert result["events"] >= pages
    growth_mb = (result["maxrss_after_kb"] - result["maxrss_before_kb"]) / 1024
    assert growth_mb < 250, f"indexing {pages} pages grew the peak RSS by {growth_mb:.0f} MB"

    app = fake_app(data)
    for page in (1, 1234, pages):  # pages are cited right all the way through
        (chunk_id, _), *_ = BM25Index(path=bm25_path(app)).search(f"page{page}marker", 1)
        doc_id, _, index = chunk_id.rpartition(":")
        chunk, = app.store.get_chunks(doc_id, [int(index)])
        info = app.store.get_document(doc_id)
        assert info.pages == pages
        assert page_of(info.page_starts, chunk.start + chunk.text.index(f"page{page}marker")) == page
