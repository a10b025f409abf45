"""The Evaluate page in "my documents" mode: a question file (CSV, JSONL or SQuAD JSON) asked over the
current collection through `ui.evaluation.run_collection`, with the same scores as `qa-app eval`
(EM/F1, page@1, source@1, abstention, follow-ups, latency) and the per-question table."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from qa_app.config import DEFAULT_READER, Settings
from tests.evaluation.test_collection import HISTORY, MANUAL, QUESTIONS, SCRIPT, ScriptedReader
from tests.ui.fake_wiring import FakeWiring
from tests.ui.page_helpers import indexed, start
from ui import evaluation

pytestmark = pytest.mark.usefixtures("fresh_caches")


def questions_jsonl() -> bytes:
    return "".join(json.dumps(q) + "\n" for q in QUESTIONS).encode()


def run_mine(at: AppTest, name: str, data: bytes) -> AppTest:
    at.radio(key="eval_source").set_value(evaluation.MY_DOCUMENTS).run()
    at.file_uploader(key="eval_questions").set_value((name, data, "application/octet-stream")).run()
    at.selectbox(key="eval_reader").set_value(DEFAULT_READER)
    at.button(key="eval_run").click().run()
    assert not at.exception, at.exception
    return at


def test_my_documents_mode_scores_a_question_file_over_the_current_collection(settings: Settings) -> None:
    wiring = FakeWiring({DEFAULT_READER: ScriptedReader(SCRIPT)})  # type: ignore[dict-item]
    indexed(wiring, settings, ("manual.txt", MANUAL), ("history.txt", HISTORY))
    at = run_mine(start(wiring, settings, "evaluate"), "questions.jsonl", questions_jsonl())

    run = at.session_state["qa_eval_runs"][0]
    assert run.report["mode"] == "collection" and run.report["collection"] == "documents"
    assert run.report["questions"] == 9 and "collection" in run.label
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["overall EM / F1"] == "55.6 / 55.6"
    assert metrics["HasAns EM / F1"] == "57.1 / 57.1" and metrics["NoAns EM / F1"] == "50.0 / 50.0"
    assert metrics["page@1"] == "60.0%" and metrics["source@1"] == "80.0%"
    assert metrics["not found on unanswerable (right)"] == "50.0%"
    assert metrics["not found on answerable (wrong)"] == "28.6%"
    assert metrics["follow-ups EM / F1"] == "100.0 / 100.0"
    table = at.dataframe[0].value.set_index("id")
    assert table.loc["h1", "category"] == "reader miss" and table.loc["h2", "category"] == "wrong abstention"
    assert table.loc["h1", "expected"] == "history.txt, p. 1" and table.loc["h1", "cited"] == "history.txt, p. 2"
    assert table.loc["h1", "page ok"] == "no" and table.loc["h1", "source ok"] == "yes"
    assert table.loc["m2", "follows"] == "m1" and table.loc["x1", "gold"] == "(no answer)"
    assert "end_to_end" in evaluation.frame(evaluation.latency_rows(run.report), "stage").index
    assert at.get("download_button")[0].label == "Download results (JSON)"
    assert evaluation.download_name(run.report) == f"evaluation-{DEFAULT_READER}-documents.json"
    assert json.loads(evaluation.results_json(run))["report"]["page@1"] == 0.6


def test_my_documents_mode_takes_csv_and_reports_a_bad_file(settings: Settings) -> None:
    wiring = FakeWiring({DEFAULT_READER: ScriptedReader(SCRIPT)})  # type: ignore[dict-item]
    indexed(wiring, settings, ("manual.txt", MANUAL), ("history.txt", HISTORY))
    at = start(wiring, settings, "evaluate")
    csv_text = ("id,question,answers,source,page,follows\n"
                "m1,Which function sends console output to a file?,sink,manual.txt,2,\n"
                "m2,And how do I restore the console?,sink(),manual.txt,2,m1\n")
    run_mine(at, "questions.csv", csv_text.encode())
    report = at.session_state["qa_eval_runs"][0].report
    assert report["format"] == "csv" and report["questions"] == 2 and report["page@1"] == 1.0
    assert report["follow_ups"]["exact"] == 100.0

    run_mine(at, "bad.csv", b"id,question,answers,page\na,Who?,Ada,twelve\n")
    assert "row 1 (line 2): field 'page'" in at.error[0].value
    assert len(at.session_state["qa_eval_runs"]) == 1


def test_my_documents_mode_needs_indexed_documents(settings: Settings) -> None:
    at = start(FakeWiring({DEFAULT_READER: ScriptedReader(SCRIPT)}), settings, "evaluate")  # type: ignore[dict-item]
    at.radio(key="eval_source").set_value(evaluation.MY_DOCUMENTS).run()
    at.file_uploader(key="eval_questions").set_value(("q.jsonl", questions_jsonl(), "application/octet-stream")).run()
    assert not at.exception, at.exception
    assert at.button(key="eval_run").disabled
    assert any("No documents are indexed" in str(i.value) for i in at.info)
