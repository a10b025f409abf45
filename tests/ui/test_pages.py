"""Every page of the web app, driven by Streamlit's AppTest with fakes (no model, no Chroma).

The app under test is the real shell `ui.main.main`, given a factory that wires fakes instead of
`qa_app.wiring.App` (the same seam the CLI handlers have). Pages are reached with `switch_page`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from qa_app.config import DEFAULT_READER, Settings
from qa_app.readers.registry import reader_spec
from tests.fakes import FakeReader
from tests.pdf_factory import make_text_pdf
from tests.ui.fake_wiring import FakeWiring, ProbsReader
from tests.ui.page_helpers import indexed, start
from ui import evaluation
from ui.main import page_path

pytestmark = pytest.mark.usefixtures("fresh_caches")

GEOGRAPHY = (
    "Geography of France\n\n"
    "France is a country in Western Europe. Paris is the capital of France and its largest city.\n\n"
    "Some pages carry markup that must never run: <script>alert(1)</script> and ![x](http://example.com/t.png).\n"
)
FREEDONIA = (
    "Freedonia history\n\n"
    "Rufus Firefly was the first president of Freedonia. Firefly died in 1950 in Paris after a long exile.\n"
)


def html_of(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in at.markdown)


def captions(at: AppTest) -> str:
    return "\n".join(str(c.value) for c in at.caption)


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input(key="question").set_value(question).run()
    assert not at.exception, at.exception
    return at


# --- Ask ---------------------------------------------------------------------------------------

def test_answer_shows_highlighted_span_source_page_and_escaped_document_text(settings: Settings) -> None:
    wiring = FakeWiring({DEFAULT_READER: ProbsReader("Paris", score=0.87)})
    indexed(wiring, settings, ("geo.txt", GEOGRAPHY))
    at = ask(start(wiring, settings), "What is the capital of France?")

    html = html_of(at)
    assert "<mark>Paris</mark>" in html
    assert "<script" not in html and "&#60;script&#62;alert&#40;1&#41;&#60;/script&#62;" in html
    assert "](http" not in html  # the Markdown image in the document is inert text
    assert "geo\\.txt, page 1 · confidence 87%" in captions(at)  # Markdown-escaped name
    # the "why" expander: start/end heat maps, the windows read with their retrieval scores
    assert 'class="qa-heatmap qa-heatmap-start"' in html and 'class="qa-heatmap qa-heatmap-end"' in html
    assert 'title="0.900">Paris</span>' in html
    windows = at.dataframe[1].value
    assert list(windows["document"]) == ["geo.txt"] and "retrieval score" in windows.columns
    assert [e.label for e in at.expander] == ["Why this answer"]


def test_not_found_shows_closest_passages(settings: Settings) -> None:
    wiring = FakeWiring({DEFAULT_READER: FakeReader("")})
    indexed(wiring, settings, ("geo.txt", GEOGRAPHY))
    at = ask(start(wiring, settings), "Who painted the Mona Lisa?")

    assert "**Not found in your documents.**" in html_of(at)
    assert [e.label for e in at.expander] == ["Closest passages"]
    assert "Paris is the capital of France" in html_of(at)
    assert "<script" not in html_of(at)


def test_follow_up_uses_conversation_and_new_conversation_clears_it(settings: Settings) -> None:
    reader = FakeReader("Rufus Firefly")
    wiring = FakeWiring({DEFAULT_READER: reader})
    indexed(wiring, settings, ("geo.txt", GEOGRAPHY), ("freedonia.txt", FREEDONIA))
    at = ask(start(wiring, settings), "Who was the first president of Freedonia?")
    ask(at, "When did he die?")

    assert len(at.chat_message) == 4  # two questions, two answers
    searched = [c.value for c in at.caption if str(c.value).startswith("Searched for:")]
    assert len(searched) == 1 and "freedonia" in searched[0].lower() and "When did he die?" in searched[0]
    query = searched[0].removeprefix("Searched for: ")
    assert reader.calls[-1][0] == (query if reader_spec(DEFAULT_READER).reads_history_query else "When did he die?")

    at.button(key="new_conversation").click().run()
    assert len(at.chat_message) == 0


def test_a_follow_up_stays_in_the_last_answers_passage_and_the_toggle_asks_without_the_conversation(
        settings: Settings) -> None:
    reader = FakeReader("Rufus Firefly")
    wiring = FakeWiring({DEFAULT_READER: reader})
    indexed(wiring, settings, ("geo.txt", GEOGRAPHY), ("freedonia.txt", FREEDONIA))
    at = ask(start(wiring, settings), "Who was the first president of Freedonia?")
    assert at.toggle(key="ask_alone").value is False
    ask(at, "When did he die?")
    assert any(str(c.value).startswith("Stayed in: freedonia") for c in at.caption), captions(at)

    at.toggle(key="ask_alone").set_value(True).run()
    ask(at, "When did he die?")
    last = [c.value for c in at.chat_message[-1].caption]
    assert not any(str(v).startswith(("Searched for:", "Stayed in:")) for v in last), last
    assert len(at.chat_message) == 6


def test_reruns_reuse_the_cached_app(settings: Settings) -> None:
    wiring = FakeWiring({DEFAULT_READER: FakeReader("Paris")})
    indexed(wiring, settings, ("geo.txt", GEOGRAPHY))
    at = start(wiring, settings)
    ask(at, "What is the capital of France?")
    at.run()
    at.run()
    assert len(wiring.built) == 2  # one App for `indexed`, one cached by the page for every rerun


def test_empty_collection_points_to_documents_page(settings: Settings) -> None:
    at = start(FakeWiring({DEFAULT_READER: FakeReader("x")}), settings)
    assert "No documents are indexed yet" in at.info[0].value


# --- Documents ---------------------------------------------------------------------------------

def test_upload_indexes_each_file_once_reports_duplicates_and_skips(settings: Settings) -> None:
    wiring = FakeWiring({DEFAULT_READER: FakeReader("Paris")})
    at = start(wiring, settings, "documents")
    pdf = make_text_pdf(title="Three pages")
    at.file_uploader(key="uploads").set_value([
        ("geo.txt", GEOGRAPHY.encode(), "text/plain"),
        ("notes.md", b"# Notes\n\nThe zeppelin hangar is near the harbour.\n", "text/markdown"),
        ("three.pdf", pdf, "application/pdf"),
        ("empty.txt", b"", "text/plain"),
        ("huge.txt", b"word " * 300_000, "text/plain"),
    ]).run()
    assert not at.exception, at.exception

    results = at.dataframe[0].value
    assert list(results["result"]) == ["added", "added", "added", "skipped", "skipped"]
    assert results["pages"].iloc[2] == 3
    reasons = list(results["reason"])
    assert reasons[3] and reasons[4] and "MB" in reasons[4]
    store = wiring.stores["documents"]
    assert sorted(d.source for d in store.documents()) == ["geo.txt", "notes.md", "three.pdf"]
    documents = at.dataframe[1].value
    assert sorted(documents["document"]) == ["geo.txt", "notes.md", "three.pdf"]

    at.run()  # a rerun sees the same uploads and indexes nothing again
    assert len(at.dataframe[0].value) == 5

    at.file_uploader(key="uploads").set_value(("geo-copy.txt", GEOGRAPHY.encode(), "text/plain")).run()
    assert list(at.dataframe[0].value["result"])[-1] == "already indexed"
    assert len(store.documents()) == 3


def test_upload_limit_is_told_without_the_settings_behind_it(settings: Settings, caplog: Any) -> None:
    at = start(FakeWiring({DEFAULT_READER: FakeReader("x")}), settings, "documents")
    text = captions(at)
    assert "Each file may be up to 1 MB." in text
    assert "max_file_mb" not in text and "QA_MAX_FILE_MB" not in text and "maxUploadSize" not in text
    assert not at.warning
    # 1 MB here vs the widget's 200 MB: whoever runs the app reads it in the server log
    assert any("upload limits differ" in r.getMessage() for r in caplog.records)


def test_delete_removes_the_chosen_document(settings: Settings) -> None:
    wiring = FakeWiring({DEFAULT_READER: FakeReader("x")})
    indexed(wiring, settings, ("geo.txt", GEOGRAPHY), ("freedonia.txt", FREEDONIA))
    at = start(wiring, settings, "documents")
    store = wiring.stores["documents"]
    geo = next(d.id for d in store.documents() if d.source == "geo.txt")
    at.multiselect(key="delete_choice").set_value([geo]).run()
    at.button(key="delete").click().run()
    assert not at.exception, at.exception
    assert [d.source for d in store.documents()] == ["freedonia.txt"]
    assert list(at.dataframe[0].value["document"]) == ["freedonia.txt"]


def test_the_index_check_finds_a_damaged_passage_and_repairs_it(settings: Settings) -> None:
    wiring = FakeWiring({DEFAULT_READER: FakeReader("x")})
    indexed(wiring, settings, ("geo.txt", GEOGRAPHY), ("freedonia.txt", FREEDONIA))
    at = start(wiring, settings, "documents")
    at.button(key="check_index").click().run()
    assert not at.exception, at.exception
    assert "No problems" in at.success[0].value
    store = wiring.stores["documents"]
    geo = next(d.id for d in store.documents() if d.source == "geo.txt")
    store._vectors[geo][0] = -store._vectors[geo][0]  # a damaged stored vector
    at.button(key="check_index").click().run()
    assert "1 with a wrong vector" in at.warning[0].value
    at.button(key="repair_index").click().run()
    assert not at.exception, at.exception
    assert "Repaired 1 passages" in at.success[0].value
    at.button(key="check_index").click().run()
    assert "No problems" in at.success[0].value


# --- Evaluate ----------------------------------------------------------------------------------

def tiny_squad() -> bytes:
    paris = "Paris is the capital of France. It lies on the Seine."
    rhine = "The Rhine flows from the Alps to the North Sea."
    data = {"version": "v2.0", "data": [{"title": "Places", "paragraphs": [
        {"context": paris, "qas": [
            {"id": "q1", "question": "What is the capital of France?", "is_impossible": False,
             "answers": [{"text": "Paris", "answer_start": 0}]},
            {"id": "q2", "question": "What is the capital of Mars?", "is_impossible": True, "answers": []},
        ]},
        {"context": rhine, "qas": [
            {"id": "q3", "question": "Where does the Rhine flow to?", "is_impossible": False,
             "answers": [{"text": "the North Sea", "answer_start": 33}]},
        ]},
    ]}]}
    return json.dumps(data).encode()


def run_uploaded(at: AppTest, reader: str) -> None:
    at.radio(key="eval_source").set_value("Upload a SQuAD-format JSON").run()
    at.file_uploader(key="eval_file").set_value(("tiny.json", tiny_squad(), "application/json")).run()
    at.selectbox(key="eval_reader").set_value(reader)
    at.button(key="eval_run").click().run()
    assert not at.exception, at.exception


def test_evaluate_uploaded_file_shows_metrics_table_passage_and_download(settings: Settings) -> None:
    wiring = FakeWiring({DEFAULT_READER: FakeReader("Paris"), "baseline": FakeReader("")})
    at = start(wiring, settings, "evaluate")
    run_uploaded(at, DEFAULT_READER)

    metrics = {m.label: m.value for m in at.metric}
    # the fake reader answers "Paris" wherever the paragraph holds it: q1 right, q2 (unanswerable,
    # same paragraph) wrongly answered, q3 wrongly unanswered
    assert metrics["overall EM / F1"] == "33.3 / 33.3"
    assert metrics["HasAns EM / F1"] == "50.0 / 50.0" and metrics["NoAns EM / F1"] == "0.0 / 0.0"
    table = at.dataframe[0].value
    assert dict(zip(table["id"], table["category"])) == {
        "q1": "correct", "q2": "false answer", "q3": "wrong abstention"}
    assert at.session_state["qa_eval_runs"][0].report["mode"] == "gold"
    assert wiring.built[-1].reader.calibration == "squad"  # SQuAD questions: the reader's SQuAD threshold
    assert "<mark>Paris</mark>" in html_of(at)  # passage of the first question, gold answer marked

    at.multiselect(key="eval_categories").set_value(["wrong abstention"]).run()
    assert list(at.dataframe[0].value["id"]) == ["q3"]
    assert "<mark>the North Sea</mark>" in html_of(at)

    download = at.get("download_button")[0]
    assert download.label == "Download results (JSON)"


def test_evaluate_compares_two_runs(settings: Settings) -> None:
    wiring = FakeWiring({DEFAULT_READER: FakeReader("Paris"), "baseline": FakeReader("")})
    at = start(wiring, settings, "evaluate")
    run_uploaded(at, DEFAULT_READER)
    run_uploaded(at, "baseline")

    runs = at.session_state["qa_eval_runs"]
    assert [r.report["reader"] for r in runs] == [DEFAULT_READER, "baseline"]
    side = at.dataframe[1].value.set_index("metric")
    assert side.loc["HasAns_exact", "A"] == pytest.approx(50.0)
    assert side.loc["HasAns_exact", "B"] == pytest.approx(0.0)  # abstains everywhere: only q2 right
    assert side.loc["NoAns_exact", "B - A"] == pytest.approx(100.0)
    diff = at.dataframe[2].value
    assert list(diff["id"]) == ["q1", "q2"]
    assert list(diff["A"]) == ["correct", "false answer"]
    assert list(diff["B"]) == ["wrong abstention", "correct"]


def test_evaluate_open_book_indexes_articles_retrieves_and_attributes_errors(settings: Settings) -> None:
    wiring = FakeWiring({DEFAULT_READER: FakeReader("Paris")})
    at = start(wiring, settings, "evaluate")
    at.radio(key="eval_mode").set_value("open").run()
    at.selectbox(key="eval_corpus").set_value("all")
    run_uploaded(at, DEFAULT_READER)

    report = at.session_state["qa_eval_runs"][0].report
    assert report["mode"] == "open" and report["questions"] == 3
    assert {s.reader.calibration for s in wiring.built[1:]} == {"squad"}  # every App after the page's own
    assert any(key.startswith("eval-squad-all") for key in wiring.stores)  # the article was indexed
    assert not wiring.stores.get("documents") or not wiring.stores["documents"].documents()  # user's docs untouched
    table = at.dataframe[0].value
    # the whole article is one short document: every window holds "Paris", so the fake reader
    # answers it everywhere; q3's gold span was in view, so its error is the reader's
    assert dict(zip(table["id"], table["category"])) == {"q1": "correct", "q2": "false answer", "q3": "reader miss"}
    assert "Retrieval" in captions(at)  # recall@k / MRR chart
    assert "end_to_end" in evaluation.frame(evaluation.latency_rows(report), "stage").index


def test_evaluate_builtin_split_on_a_small_sample(settings: Settings) -> None:
    wiring = FakeWiring({DEFAULT_READER: FakeReader("")})
    at = start(wiring, settings, "evaluate")
    at.number_input(key="eval_limit").set_value(4)
    at.button(key="eval_run").click().run()
    assert not at.exception, at.exception
    report = at.session_state["qa_eval_runs"][0].report
    assert report["split"] == "test" and report["questions"] == 4 and report["dataset"] == "squad-v2-dev"
    assert len(at.dataframe[0].value) == 4


def test_evaluate_rejects_a_file_that_is_not_squad(settings: Settings) -> None:
    at = start(FakeWiring({DEFAULT_READER: FakeReader("")}), settings, "evaluate")
    at.radio(key="eval_source").set_value("Upload a SQuAD-format JSON").run()
    at.file_uploader(key="eval_file").set_value(("bad.json", b'{"data": 3}', "application/json")).run()
    at.button(key="eval_run").click().run()
    assert "not in SQuAD format" in at.error[0].value
    assert "qa_eval_runs" not in at.session_state or not at.session_state["qa_eval_runs"]


# --- Settings ----------------------------------------------------------------------------------

def test_settings_change_makes_new_settings_and_app(settings: Settings) -> None:
    wiring = FakeWiring({DEFAULT_READER: FakeReader("Paris"), "baseline": FakeReader("Paris", name="baseline")})
    indexed(wiring, settings, ("geo.txt", GEOGRAPHY))
    at = start(wiring, settings, "settings")
    assert at.number_input(key="set_threshold").disabled  # the reader's own threshold is in force
    assert at.selectbox(key="set_collection").options == [settings.store.collection]
    at.checkbox(key="set_tuned").uncheck().run()
    assert not at.number_input(key="set_threshold").disabled
    at.number_input(key="set_top_k").set_value(9)
    at.number_input(key="set_window").set_value(2)
    at.selectbox(key="set_reader").set_value("baseline")
    at.number_input(key="set_threshold").set_value(1.5)
    assert at.selectbox(key="set_calibration").value == "documents"
    at.selectbox(key="set_calibration").set_value("squad")
    at.button(key="set_apply").click().run()
    assert not at.exception, at.exception

    new = at.session_state["qa_settings"]
    assert (new.retrieval.top_k, new.retrieval.window_chunks, new.reader.reader, new.reader.null_threshold,
            new.reader.calibration, new.store.collection) == (9, 2, "baseline", 1.5, "squad", settings.store.collection)
    assert new.store.data_dir == settings.store.data_dir  # everything else kept
    assert at.success[0].value == "Settings applied."

    at.switch_page(page_path("ask")).run()
    ask(at, "What is the capital of France?")
    assert wiring.built[-1] == new  # the page's App was built for the new Settings
    assert "reader baseline" in captions(at)

    at.switch_page(page_path("settings")).run()
    at.button(key="set_reset").click().run()
    assert at.session_state["qa_settings"] == settings
    assert at.number_input(key="set_top_k").value == settings.retrieval.top_k
