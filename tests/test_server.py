"""`qa-app serve`: a real uvicorn on 127.0.0.1 and a real HTTP client (httpx), over the real App and an
embedded Chroma store with fake models. Authentication, every endpoint, bad uploads, concurrent asks
while indexing, and the CLI talking to the server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from qa_app.api import QA
from qa_app.cli import main
from qa_app.config import load_settings
from qa_app.errors import ConfigError
from qa_app.server import check_exposure, create_server, upload_name
from tests import pdf_factory
from tests.fake_app import DESIGNER, MANUAL, fake_app
from tests.servers import free_port

TOKEN = "s3cret-token"
LIMIT = 64 * 1024  # bytes per uploaded file in these tests


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The HTTP API on a free loopback port; yields its base URL."""
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data")}, environ={})
    qa = QA(settings, app_factory=fake_app)
    qa.load_models()
    port = free_port()
    config = uvicorn.Config(create_server(qa, token=TOKEN, max_upload_bytes=LIMIT), host="127.0.0.1", port=port,
                            log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        qa.close()


def client(url: str, token: str | None = TOKEN) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=30)


def upload(http: httpx.Client, *files: tuple[str, bytes]) -> list[dict[str, Any]]:
    response = http.post("/documents", files=[("files", (name, data)) for name, data in files])
    assert response.status_code == 200, response.text
    return list(response.json()["outcomes"])


def test_a_token_is_needed_for_everything_but_health(server: str) -> None:
    with httpx.Client(base_url=server) as anonymous:
        assert anonymous.get("/health").json() == {"status": "ok"}
        missing = anonymous.get("/documents")
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert anonymous.post("/ask", json={"question": "Who?"}).status_code == 401
        assert anonymous.get("/documents", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert anonymous.get("/documents", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 403
        # no CORS: a page on another site gets no permission to read the answers
        response = anonymous.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in response.headers
    with client(server) as http:
        assert http.get("/documents").json() == {"documents": []}
        assert http.get("/openapi.json").json()["info"]["title"] == "qa-app"


def test_upload_list_ask_with_history_evaluate_and_delete(server: str) -> None:
    with client(server) as http:
        (added,) = upload(http, (MANUAL.name, MANUAL.read_bytes()))
        assert added["status"] == "added" and added["source"] == MANUAL.name and added["chunks"] > 0
        assert upload(http, (MANUAL.name, MANUAL.read_bytes()))[0]["status"] == "unchanged"
        listed = http.get("/documents").json()["documents"]
        assert [d["id"] for d in listed] == [added["doc_id"]]
        answer = http.post("/ask", json={"question": "Who was the lead designer of the TL-7?"}).json()
        assert answer["answers"][0]["text"] == DESIGNER and answer["answers"][0]["source"] == MANUAL.name
        follow = http.post("/ask", json={"question": "What did she want?",
                                         "history": [{"question": "Who designed it?", "answer": DESIGNER}]})
        assert follow.status_code == 200 and follow.json()["question"] == "What did she want?"
        assert follow.json()["stayed_in"] == ""  # no citation in the history: nowhere to stay
        best = answer["answers"][0]
        cited = http.post("/ask", json={"question": "What did she want?", "history": [
            {"question": "Who designed it?", "answer": DESIGNER, "doc_id": best["doc_id"], "chunk": best["chunk"]}]})
        assert cited.json()["stayed_in"].startswith("section ") and MANUAL.name in cited.json()["stayed_in"]
        assert http.post("/ask", json={"question": "   "}).status_code == 400  # the CLI's message, as JSON
        assert "empty" in http.post("/ask", json={"question": ""}).json()["detail"]
        assert http.post("/ask", json={"question": "x", "top_k": 0}).status_code == 422
        questions = "\n".join(json.dumps(q) for q in [
            {"id": "1", "question": "Who was the lead designer of the TL-7?", "answers": [DESIGNER]},
            {"id": "2", "question": "Who painted it?", "answers": ["Edvard Munch"]}])
        report = http.post("/evaluate", files={"file": ("q.jsonl", questions.encode())}).json()
        assert report["questions"] == 2 and report["exact"] == pytest.approx(50.0)
        bad = http.post("/evaluate", files={"file": ("q.jsonl", b"{not json")})
        assert bad.status_code == 400 and "q.jsonl" in bad.json()["detail"]
        assert http.delete(f"/documents/{added['doc_id']}").status_code == 204
        assert http.get("/documents").json() == {"documents": []}
        gone = http.delete(f"/documents/{added['doc_id']}")
        assert gone.status_code == 404 and added["doc_id"] in gone.json()["detail"]


def test_bad_and_hostile_uploads_are_skipped_with_reasons(server: str) -> None:
    with client(server) as http:
        outcomes = upload(
            http,
            ("big.txt", b"word " * (LIMIT // 4)),
            ("../../etc/passwd.txt", b"The root account has no password here."),
            ("broken.pdf", pdf_factory.make_truncated_pdf()),
            ("locked.pdf", pdf_factory.make_encrypted_pdf()),
            ("empty.md", b""),
            ("macro.docm", b"PK\x03\x04"),
            ("bin.txt", bytes(range(256)) * 10),
        )
        by_name = {o["name"]: o for o in outcomes}
        assert "size limit" in by_name["big.txt"]["reason"] and by_name["big.txt"]["status"] == "skipped"
        assert by_name["passwd.txt"]["status"] == "added"  # the folder part of the name is dropped
        assert "encrypted" in by_name["locked.pdf"]["reason"] and "PDF" in by_name["broken.pdf"]["reason"]
        assert "empty" in by_name["empty.md"]["reason"] and "unsupported" in by_name["macro.docm"]["reason"]
        assert by_name["bin.txt"]["status"] == "skipped"
        assert [d["source"] for d in http.get("/documents").json()["documents"]] == ["passwd.txt"]
        assert http.post("/documents").status_code == 422  # no file at all


def test_questions_are_answered_while_documents_are_indexed(server: str, tmp_path: Path) -> None:
    with client(server) as http:
        upload(http, (MANUAL.name, MANUAL.read_bytes()))

        def index_more(i: int) -> int:
            text = f"Report {i}. " + " ".join(f"Station {i}-{j} logged the tide at dawn." for j in range(60))
            with client(server) as own:
                return len(upload(own, (f"report-{i}.txt", text.encode())))

        def ask(_: int) -> str:
            with client(server) as own:
                response = own.post("/ask", json={"question": "Who was the lead designer of the TL-7?"})
                assert response.status_code == 200, response.text
                return str(response.json()["answers"][0]["text"])

        with ThreadPoolExecutor(max_workers=6) as pool:
            indexing = [pool.submit(index_more, i) for i in range(4)]
            answers = list(pool.map(ask, range(24)))
            assert [f.result() for f in indexing] == [1, 1, 1, 1]
        assert answers == [DESIGNER] * 24
        assert len(http.get("/documents").json()["documents"]) == 5


def test_the_cli_talks_to_the_server(server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    remote = ["--server", server, "--server-token", TOKEN]
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / MANUAL.name).write_bytes(MANUAL.read_bytes())
    (folder / "notes.xyz").write_text("x")
    capsys.readouterr()
    assert main(["index", str(folder), *remote]) == 1  # notes.xyz: skipped locally, with the reason
    out = capsys.readouterr().out
    assert "1 added, 0 replaced, 0 unchanged, 1 skipped" in out and "unsupported file type .xyz" in out
    assert main(["ask", "Who was the lead designer of the TL-7?", "--json", *remote]) == 0
    assert json.loads(capsys.readouterr().out)["answers"][0]["text"] == DESIGNER
    assert main(["docs", "list", *remote]) == 0
    assert MANUAL.name in capsys.readouterr().out
    assert main(["docs", "delete", "no-such-id", *remote]) == 2
    assert "no document with id" in capsys.readouterr().err
    assert main(["docs", "list", "--server", server, "--server-token", "wrong"]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and "--server-token" in err
    assert not (tmp_path / ".qa-data").exists()


def test_an_unreachable_server_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "list", "--server", f"http://127.0.0.1:{free_port()}"]) == 2
    assert "cannot reach the qa-app server" in capsys.readouterr().err


def test_listening_beyond_loopback_needs_a_token(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    check_exposure("127.0.0.1", None)
    check_exposure("::1", None)
    check_exposure("localhost", None)
    with pytest.raises(ConfigError, match="token"):
        check_exposure("0.0.0.0", None)
    check_exposure("0.0.0.0", TOKEN)
    assert main(["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "d")]) == 2
    assert "without authentication" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()  # refused before anything was opened or loaded


def test_upload_names_lose_folders_and_control_characters() -> None:
    assert upload_name("../../etc/passwd.txt") == "passwd.txt"
    assert upload_name("C:\\Users\\me\\report.pdf") == "report.pdf"
    assert upload_name("evil\x1b[31m.md") == "evil[31m.md"
    assert upload_name("") == upload_name(None) == "upload"
