"""`qa_app.api`, the public Python API: its exports, each call on a real embedded Chroma store with
fake models, releasing the store on close, and the README's example."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import qa_app.api as qa_api
from qa_app.config import DEFAULT_READER
from tests.fake_app import DESIGNER, MANUAL, fake_app

ROOT = Path(__file__).resolve().parents[1]


def opened(tmp_path: Path, **kw: Any) -> qa_api.QA:
    return qa_api.QA(qa_api.open(data_dir=tmp_path / "data", **kw).settings, app_factory=fake_app)


def test_the_public_names_are_pinned() -> None:
    assert sorted(qa_api.__all__) == sorted([
        "QA", "open", "Answer", "Citation", "DocumentInfo", "IndexEvent", "IndexOutcome", "Turn", "QAError",
        "DocumentNotFoundError"])
    for name in qa_api.__all__:
        assert getattr(qa_api, name) is not None


def test_open_takes_any_setting_and_loads_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_TOP_K", "3")
    qa = qa_api.open(data_dir=tmp_path / "data", collection="manuals", reader="transformer", token_budget=1024)
    s = qa.settings
    assert (s.store.data_dir, s.store.collection, s.reader.reader) == (str(tmp_path / "data"), "manuals", "transformer")
    assert s.retrieval.token_budget == 1024 and s.retrieval.top_k == 3  # arguments and QA_* both apply
    assert "closed" in repr(qa) and not (tmp_path / "data").exists()
    with pytest.raises(qa_api.QAError, match="top_k"):
        qa_api.open(data_dir=tmp_path / "data", top_k="many")


def test_index_ask_with_history_documents_delete(tmp_path: Path) -> None:
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7 not really")
    with opened(tmp_path) as qa:
        outcomes = qa.index([MANUAL, bad])
        assert [o.status for o in outcomes] == ["added", "skipped"] and outcomes[1].reason
        assert qa.index(MANUAL)[0].status == "unchanged"  # one path works too
        answer = qa.ask("Who was the lead designer of the TL-7?")
        assert isinstance(answer, qa_api.Answer) and answer.text == DESIGNER
        citation = answer.citations[0]
        assert isinstance(citation, qa_api.Citation) and citation.source == MANUAL.name and citation.quote == DESIGNER
        follow = qa.ask("And what did she want?", history=[answer, ("Who?", DESIGNER), qa_api.Turn("x", "y")])
        assert follow.question == "And what did she want?"
        assert MANUAL.name in qa.ask("And what did she want?", history=[answer]).stayed_in
        with pytest.raises(qa_api.QAError, match="history"):
            qa.ask("And then?", history=[42])  # type: ignore[list-item]
        docs = qa.documents()
        assert [type(d) for d in docs] == [qa_api.DocumentInfo] and docs[0].source == MANUAL.name
        upload = qa.index_bytes(b"The spare battery sits under the lid.", "notes.txt")
        assert upload.status == "added" and len(qa.documents()) == 2
        qa.delete(upload.doc_id)
        assert [d.id for d in qa.documents()] == [docs[0].id]
        with pytest.raises(qa_api.DocumentNotFoundError):
            qa.delete("no-such-id")


def test_evaluate_scores_a_question_file(tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    rows = [{"id": "1", "question": "Who was the lead designer of the TL-7?", "answers": [DESIGNER],
             "source": MANUAL.name},
            {"id": "2", "question": "Who painted the logger?", "answers": ["Edvard Munch"]}]
    questions.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    with opened(tmp_path) as qa:
        qa.index(MANUAL)
        report = qa.evaluate(questions)
    assert report["questions"] == 2
    assert report["exact"] == pytest.approx(50.0) and report["source@1"] == pytest.approx(1.0)


LOCK_PROBE = """
import sys
from filelock import FileLock, Timeout
try:
    FileLock(sys.argv[1]).acquire(timeout=0.2)
except Timeout:
    sys.exit(3)
"""


def test_close_lets_another_process_open_the_store(tmp_path: Path) -> None:
    lock = str(tmp_path / "data" / "store.lock")

    def other_process_can_claim() -> bool:
        return subprocess.run([sys.executable, "-c", LOCK_PROBE, lock]).returncode == 0

    qa = opened(tmp_path)
    qa.index(MANUAL)
    assert not other_process_can_claim()
    qa.close()
    assert other_process_can_claim()
    qa.close()  # idempotent
    assert qa.documents()[0].source == MANUAL.name  # reopens on use
    qa.close()


def test_the_readme_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "the README's Python API section has an example"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / MANUAL.name).write_bytes(MANUAL.read_bytes())
    source = code.group(1).replace('"corpora/docs"', repr(str(docs))).replace('"/tmp/my-index"', repr(str(tmp_path / "i")))
    real_open = qa_api.open
    monkeypatch.setattr(qa_api, "open", lambda **kw: qa_api.QA(real_open(**kw).settings, app_factory=fake_app))
    exec(compile(source, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert DESIGNER in out and MANUAL.name in out
    assert DEFAULT_READER  # the example names its reader explicitly or uses the default
