"""End-to-end in a real browser: upload a PDF, ask a question, see the cited and highlighted answer,
ask a follow-up, keep a screenshot.

The app runs as `streamlit run ui/app.py` in a subprocess with production wiring (`qa_app.wiring.App`:
embedded Chroma, BM25, the real all-MiniLM-L6-v2 embedder from its package) in a fresh data dir
under `tmp_path`. The reader is the labelled baseline sentence reader (`QA_READER=baseline`), so
the test needs no trained checkpoint. The browser is Debian's chromium (`/usr/bin/chromium`, no
browser download) driven by Playwright, headless.

Screenshots go to the test's `tmp_path` (pytest keeps the last three runs, e.g.
`/tmp/pytest-of-$USER/pytest-current/test_upload_ask_follow_up_in_b0/`): `ask-page.png` on
success, `failure.png` when a step fails. The server's log is `streamlit.log` next to them.

Without chromium or the `playwright` package the test skips locally, and fails when `CI` or
`QA_REQUIRE_BROWSER` is set (`.ci/run` sets the latter). `QA_CHROMIUM` names another chromium binary.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa_app.config import PROJECT_ROOT
from tests.pdf_factory import make_text_pdf
from tests.servers import free_port, tail, wait_for_streamlit

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_S = 60
INDEX_S = 120  # the first upload loads torch and the embedder
ANSWER_S = 60

PDF_NAME = "harbour_notes.pdf"
PAGES = (
    ("Harbour notes for visitors. Ferries to the northern islands leave every morning from the east quay. "
     "The fish market opens at dawn and closes before noon on weekdays."),
    ("The Varrow lighthouse was designed by Ottoline Brastead in 1887. "
     "Its lamp can be seen from forty kilometres out at sea on a clear night."),
    ("The tower was painted red in 1931 after a winter storm stripped its old coat. "
     "Visitors may climb the stairs on Sundays during the summer season."),
)
QUESTION = "Who designed the Varrow lighthouse?"
FOLLOW_UP = "When was it painted red?"


def _browser_missing(reason: str) -> None:
    if os.environ.get("CI") or os.environ.get("QA_REQUIRE_BROWSER"):
        pytest.fail(f"{reason} (required: CI or QA_REQUIRE_BROWSER is set)")
    pytest.skip(f"{reason}; install Debian's chromium (apt-get install chromium) and `pip install -e '.[test]'`")


@pytest.fixture
def chromium() -> str:
    """Path of Debian's chromium (or `QA_CHROMIUM`); checked before the server starts."""
    wanted = os.environ.get("QA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(wanted).is_file():
        _browser_missing(f"chromium is not installed ({wanted} not found)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _browser_missing("the playwright package is not installed")
    return wanted


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`streamlit run ui/app.py` on a free local port with a fresh data dir; yields its base URL."""
    port = free_port()
    config = tmp_path / "qa-app.toml"
    config.write_text("")  # an empty config file: a qa-app.toml in the working directory is not read
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}  # e.g. a developer's QA_CHROMA_HOST
    env.update(QA_CONFIG=str(config), QA_DATA_DIR=str(tmp_path / "data"), QA_READER="baseline",
               QA_MAX_FILE_MB="200", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    log_path = tmp_path / "streamlit.log"
    command = [sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "ui" / "app.py"),
               "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
               "--server.runOnSave", "false"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_streamlit(base, process, log_path, SERVER_START_S)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def test_upload_ask_follow_up_in_browser(chromium: str, server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    pdf = tmp_path / PDF_NAME
    pdf.write_bytes(make_text_pdf(PAGES))
    log_path = tmp_path / "streamlit.log"

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        try:
            # Start where a user starts (the Ask page), then go to Documents through the sidebar.
            page.goto(server)
            expect(page.get_by_text("No documents are indexed yet")).to_be_visible(timeout=ANSWER_S * 1000)
            nav = page.locator('[data-testid="stSidebarNav"]')
            nav.get_by_role("link", name=re.compile("Documents")).click()
            expect(page.get_by_role("heading", name="Documents", exact=True)).to_be_visible(timeout=ANSWER_S * 1000)

            # Documents: upload the PDF and wait until it is parsed, chunked, embedded and stored.
            page.locator('input[type="file"]').set_input_files(str(pdf))
            added = re.compile(re.escape(PDF_NAME) + r": added \(3 pages")
            expect(page.get_by_text(added).first).to_be_visible(timeout=INDEX_S * 1000)
            expect(page.get_by_role("heading", name="Indexed documents (1)")).to_be_visible(timeout=ANSWER_S * 1000)

            # Ask, in the same session: the answer is on page 2, highlighted and cited.
            nav.get_by_role("link", name=re.compile("Ask")).click()
            chat = page.get_by_placeholder("Ask a question about your documents")
            expect(chat).to_be_visible(timeout=ANSWER_S * 1000)
            expect(page.get_by_text("1 document indexed", exact=False)).to_be_visible(timeout=ANSWER_S * 1000)
            chat.fill(QUESTION)
            chat.press("Enter")
            marks = page.locator(".qa-passage mark")
            expect(marks).to_have_count(1, timeout=ANSWER_S * 1000)
            expect(marks.first).to_contain_text("Ottoline Brastead")
            expect(page.get_by_text(f"{PDF_NAME}, page 2")).to_be_visible()

            # Follow-up that leans on the conversation: the query carries the first turn's terms.
            chat.fill(FOLLOW_UP)
            chat.press("Enter")
            expect(marks).to_have_count(2, timeout=ANSWER_S * 1000)
            expect(marks.nth(1)).to_contain_text("painted red in 1931")
            expect(page.get_by_text(f"{PDF_NAME}, page 3")).to_be_visible()
            expect(page.get_by_text(re.compile(r"Searched for: When was it painted red\?.*varrow"))).to_be_visible()

            expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=ANSWER_S * 1000)  # run finished
            page.screenshot(path=str(tmp_path / "ask-page.png"))
            page.goto(f"{server}/documents")  # a page opened by its URL works on its own
            expect(page.get_by_role("heading", name="Indexed documents (1)")).to_be_visible(timeout=ANSWER_S * 1000)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"screenshot: {tmp_path / 'failure.png'}\nstreamlit log:\n{tail(log_path)}")
            raise
        finally:
            context.close()
    assert (tmp_path / "ask-page.png").stat().st_size > 10_000
    print(f"screenshot: {tmp_path / 'ask-page.png'}")
