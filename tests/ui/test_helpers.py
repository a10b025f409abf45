"""The web app's pure helpers: escaping and highlighting, heat maps, upload progress and wording,
evaluation rows and comparisons, the settings form, and the upload limit in .streamlit/config.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import cast

import pytest

from indexing.build import IndexEvent, IndexOutcome
from qa_app.config import Settings
from qa_app.data.squad import GoldAnswer, QAExample
from qa_app.errors import ConfigError
from qa_app.evaluation.results import EvalReport, GoldRow
from qa_app.types import Answer, Citation, DocumentInfo, Growth, TokenProbs, Window
from ui import evaluation, render, uploads
from ui.settings_form import overrides_from_form, settings_rows

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ('<script>alert(1)</script> <iframe srcdoc="<script>x()</script>"></iframe> '
           "![t](http://evil.example/t.png) [link](http://evil.example) $x^2$ :red[red] **bold** `code`")


def window(text: str, start: int = 0, **kw) -> Window:  # type: ignore[no-untyped-def]
    return Window(doc_id="d1", source="doc.txt", title="Doc", text=text, start=start, end=start + len(text),
                  first_chunk=0, last_chunk=0, **kw)


def visible(html: str) -> str:
    """What a browser shows of our HTML: tags dropped, numeric entities decoded."""
    text = re.sub(r"<[^>]+>", "", html.replace("<br>", "\n"))
    return re.sub(r"&#(\d+);", lambda m: chr(int(m.group(1))), text)


# --- escaping and highlighting ------------------------------------------------------------------

def test_escape_text_leaves_no_markup_and_keeps_every_character() -> None:
    html = render.escape_text(HOSTILE + "\nnext line")
    assert not re.search(r"[<>\[\]()!$:*`\"']", html.replace("<br>", ""))
    assert visible(html) == HOSTILE + "\nnext line"


def test_escape_label_backslash_escapes_markdown() -> None:
    label = render.escape_label("[x](http://e) ![i](u) $a$\n:red[b]")
    assert label == r"\[x\]\(http\://e\) \!\[i\]\(u\) \$a\$ \:red\[b\]"


def test_highlighted_passage_marks_the_cited_span_from_offsets() -> None:
    text = "Intro <b>bold</b>. Paris is the capital. " + HOSTILE
    w = window(text, start=100)
    at = text.index("Paris")
    citation = Citation(doc_id="d1", source="doc.txt", start=100 + at, end=105 + at, page=1, quote="Paris")
    html = render.highlighted_passage(citation, (w,))
    assert html.startswith('<div class="qa-passage">') and html.count("<mark>") == 1
    assert "<mark>Paris</mark>" in html
    assert "<b>" not in html and "<script" not in html and "<iframe" not in html
    assert visible(html) == text


def test_highlighted_passage_trims_long_context_with_ellipses() -> None:
    text = "a" * 1000 + "ANSWER" + "b" * 1000
    citation = Citation(doc_id="d1", source="doc.txt", start=1000, end=1006, page=1, quote="ANSWER")
    html = render.highlighted_passage(citation, (window(text),), chars=50)
    assert visible(html) == "…" + "a" * 50 + "ANSWER" + "b" * 50 + "…"


def test_highlighted_passage_without_its_window_shows_the_escaped_quote() -> None:
    citation = Citation(doc_id="other", source="x", start=0, end=8, page=1, quote="<i>x</i>")
    assert render.highlighted_passage(citation, (window("text"),)) == \
        '<div class="qa-passage"><mark>&#60;i&#62;x&#60;/i&#62;</mark></div>'


def test_token_heatmap_escapes_tokens_and_shades_by_probability() -> None:
    tokens = ("<script>", "Paris", "is")
    tp = TokenProbs(tokens=tokens, offsets=((0, 8), (9, 14), (15, 17)), start=(0.0, 0.8, 0.2), end=(0.1, 0.1, 0.8))
    html = render.token_heatmap_html(tp, "start")
    assert "<script" not in html and "&#60;script&#62;" in html
    assert 'rgba(46,160,67,1.00)' in html and 'title="0.800">Paris</span>' in html  # the peak is fully shaded
    assert 'rgba(46,160,67,0.00)' in html  # zero probability, no shade
    assert visible(html) == "<script> Paris is"
    assert 'title="0.800">is</span>' in render.token_heatmap_html(tp, "end")


def test_token_heatmap_shows_a_window_around_the_peak() -> None:
    n = 500
    start = tuple(1.0 if i == 400 else 0.0 for i in range(n))
    tp = TokenProbs(tokens=tuple(f"t{i}" for i in range(n)), offsets=tuple((3 * i, 3 * i + 2) for i in range(n)),
                    start=start, end=start)
    shown = visible(render.token_heatmap_html(tp, "start", limit=20)).strip("…").split()
    assert len(shown) == 20 and "t400" in shown


def test_window_rows_report_rank_score_growth_and_where_the_answer_is() -> None:
    grown = window("Paris is the capital.", rank=1, score=0.75,
                   growth=(Growth(side="right", chunks_added=1, reason="edge"),))
    other = Window(doc_id="d2", source="b.txt", title="B", text="x", start=0, end=1, first_chunk=3, last_chunk=4,
                   rank=2, score=0.5)
    answer = Answer(question="q", text="Paris", score=0.9, windows=(grown, other),
                    citations=(Citation("d1", "doc.txt", 0, 5, 1, "Paris"),))
    rows = render.window_rows(answer)
    assert [r["rank"] for r in rows] == [1, 2] and rows[0]["retrieval score"] == 0.75
    assert rows[0]["grew"] == "+1 chunk right (answer touched the edge)" and rows[1]["grew"] == "no"
    assert [r["answer here"] for r in rows] == ["yes", ""]


# --- uploads ------------------------------------------------------------------------------------

class FakeUpload:
    def __init__(self, name: str, data: bytes, file_id: str) -> None:
        self.name, self.file_id, self._data = name, file_id, data

    def getvalue(self) -> bytes:
        return self._data


class RecordingIndexer:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def index_bytes(self, data: bytes, name: str, progress=None) -> IndexOutcome:  # type: ignore[no-untyped-def]
        self.calls.append(name)
        progress(IndexEvent(name, "chunk", 2, 2))
        return IndexOutcome(name=name, status="added" if data else "skipped", reason="" if data else "empty file")


def test_index_uploads_indexes_each_upload_once_and_reports_progress() -> None:
    indexer, processed, events = RecordingIndexer(), set(), []
    files = [FakeUpload("a.txt", b"a", "id-a"), FakeUpload("b.txt", b"", "id-b")]
    results = uploads.index_uploads(indexer, files, processed, on_start=lambda f: events.append)
    assert [r.outcome.status for r in results] == ["added", "skipped"] and [r.ok for r in results] == [True, False]
    assert processed == {"id-a", "id-b"} and [e.stage for e in events] == ["chunk", "chunk"]
    assert uploads.index_uploads(indexer, files, processed, on_start=lambda f: events.append) == []
    assert indexer.calls == ["a.txt", "b.txt"]


def test_stage_fraction_and_text_cover_the_four_stages() -> None:
    assert uploads.stage_fraction(IndexEvent("f", "parse", 1, 2)) == pytest.approx(0.125)
    assert uploads.stage_fraction(IndexEvent("f", "embed", 3, 3)) == pytest.approx(0.75)
    assert uploads.stage_fraction(IndexEvent("f", "store", 0, 0)) == pytest.approx(1.0)
    assert uploads.stage_text(IndexEvent("f", "parse", 3, 10)) == "parse: 3 of 10 pages"


def test_outcome_wording_says_already_indexed_and_gives_reasons() -> None:
    same = IndexOutcome(name="a.pdf", status="unchanged", pages=3, chunks=7)
    bad = IndexOutcome(name="b.pdf", status="skipped", reason="the PDF is encrypted")
    assert uploads.outcome_text(same) == "a.pdf: already indexed (3 pages, 7 chunks)"
    assert uploads.outcome_text(bad) == "b.pdf: skipped: the PDF is encrypted"
    assert [r["result"] for r in uploads.result_rows([uploads.UploadResult("1", same), uploads.UploadResult("2", bad)])] \
        == ["already indexed", "skipped"]


def test_document_rows_show_pages_chunks_and_a_readable_date() -> None:
    info = DocumentInfo(id="abc", source="r.pdf", title="R", pages=12, chunks=40, chars=9000,
                        indexed_at="2026-01-02T03:04:05+00:00")
    assert uploads.document_rows([info]) == [
        {"document": "r.pdf", "pages": 12, "chunks": 40, "indexed": "2026-01-02 03:04:05 UTC", "id": "abc"}]


def test_upload_limit_is_the_smaller_one_and_config_toml_matches_the_default() -> None:
    limit = uploads.UploadLimit(app_mb=50, server_mb=200)
    assert limit.effective_mb == 50 and not limit.consistent and limit.explanation() == "Each file may be up to 50 MB."
    assert "the smaller applies" in (limit.admin_warning() or "")
    assert uploads.UploadLimit(app_mb=200, server_mb=200).admin_warning() is None
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == Settings().store.max_file_mb
    assert uploads.UPLOAD_TYPES == ["pdf", "txt", "md", "markdown", "docx", "html", "htm"]


# --- evaluation ---------------------------------------------------------------------------------

def example(qid: str, answers: tuple[GoldAnswer, ...] = ()) -> QAExample:
    return QAExample(id=qid, question=f"question {qid}?", context="Paris is the capital of France.",
                     answers=answers, is_impossible=not answers, title="T", article_index=0, paragraph_index=0)


@pytest.mark.parametrize(("row", "category"), [
    ({"cause": "correct"}, "correct"),
    ({"cause": "reader_miss"}, "reader miss"),
    ({"cause": "wrong_abstention"}, "wrong abstention"),
    ({"cause": "false_answer"}, "false answer"),
    ({"cause": "retrieval_miss"}, "retrieval miss"),
])
def test_outcome_category(row: GoldRow, category: str) -> None:
    assert evaluation.outcome_category(row) == category


def test_make_run_rows_tables_filters_and_json() -> None:
    examples = [example("q1", (GoldAnswer("Paris", 0),)), example("q2")]
    report: EvalReport = {
        "exact": 50.0, "f1": 50.0, "total": 2, "HasAns_exact": 100.0, "HasAns_f1": 100.0, "HasAns_total": 1,
        "NoAns_exact": 0.0, "NoAns_f1": 0.0, "NoAns_total": 1, "reader": "r", "model": "models/r", "mode": "gold",
        "split": "all", "config_hash": "abc", "dataset": "/tmp/x/tiny.json", "dataset_sha256": "f" * 64, "seed": 0,
        "questions": 2, "seconds": 0.5}
    rows: list[GoldRow] = [
        {"id": "q1", "question": "question q1?", "text": "Paris", "forced_text": "Paris", "na_score": -2.0, "exact": 1,
         "f1": 1.0, "has_answer": True, "cause": "correct"},
        {"id": "q2", "question": "question q2?", "text": "France", "forced_text": "France", "na_score": -1.0, "exact": 0,
         "f1": 0.0, "has_answer": False, "cause": "false_answer"}]
    run = evaluation.make_run(report, rows, examples, number=3)
    assert run.label == "#3 r · gold · tiny.json all · 2 questions"
    assert [r["questions"] for r in evaluation.metric_rows(report)] == ["overall", "HasAns", "NoAns"]
    assert evaluation.latency_rows(report) == [{"stage": "read (mean per question)", "ms": 250.0}]
    table = evaluation.question_rows(run)
    assert [r["gold"] for r in table] == ["Paris", "(no answer)"]
    assert [r["id"] for r in evaluation.filter_rows(table, ["false answer"])] == ["q2"]
    assert [r["id"] for r in evaluation.filter_rows(table, ["correct", "false answer"], "PARIS")] == ["q1"]
    assert evaluation.category_counts(run) == {"correct": 1, "false answer": 1}
    assert '"category": "false answer"' in evaluation.results_json(run)
    assert "<mark>Paris</mark> is the capital" in evaluation.paragraph_html(examples[0])


def test_compare_runs_side_by_side() -> None:
    examples = [example("q1", (GoldAnswer("Paris", 0),))]
    # partial reports and rows: the comparison reads only these keys
    a = evaluation.make_run(cast(EvalReport, {"exact": 100.0, "f1": 100.0}),
                            [cast(GoldRow, {"id": "q1", "text": "Paris", "exact": 1, "f1": 1.0, "has_answer": True,
                                            "cause": "correct"})], examples, 1)
    b = evaluation.make_run(cast(EvalReport, {"exact": 0.0, "f1": 40.0}),
                            [cast(GoldRow, {"id": "q1", "text": "Paris is", "exact": 0, "f1": 0.4, "has_answer": True,
                                            "cause": "reader_miss"})], examples, 2)
    assert evaluation.compare_metric_rows(a, b) == [{"metric": "exact", "A": 100.0, "B": 0.0, "B - A": -100.0},
                                                    {"metric": "f1", "A": 100.0, "B": 40.0, "B - A": -60.0}]
    assert evaluation.compare_question_rows(a, b) == [{"id": "q1", "question": "", "A": "correct", "B": "reader miss",
                                                       "A answer": "Paris", "B answer": "Paris is"}]


def test_retrieval_and_stage_latency_rows_of_an_open_report() -> None:
    report = cast(EvalReport, {  # partial: only what these rows read
        "recall@1": 0.5, "recall@5": 0.8, "mrr": 0.6, "hit_recall@5": 0.9, "recall_curve": {"k": [1]},
        "latency_ms": {"retrieve": {"p50": 10.0, "p95": 20.0}, "read": {"p50": 100.0, "p95": 150.0}}})
    assert [r["metric"] for r in evaluation.retrieval_rows(report)] == ["recall@1", "recall@5", "mrr", "hit_recall@5"]
    assert evaluation.latency_rows(report) == [{"stage": "retrieve", "p50": 10.0, "p95": 20.0},
                                               {"stage": "read", "p50": 100.0, "p95": 150.0}]
    assert evaluation.frame([], "stage") is None


# --- settings form ------------------------------------------------------------------------------

def test_form_values_become_a_new_settings() -> None:
    values = {"reader": "baseline", "top_k": 8.0, "window_chunks": 2, "token_budget": 1024, "tuned": False,
              "null_threshold": -1.5, "calibration": "squad", "collection": " manuals "}
    new = Settings().replace(**overrides_from_form(values))
    assert (new.reader.reader, new.retrieval.top_k, new.retrieval.window_chunks, new.retrieval.token_budget,
            new.reader.null_threshold, new.store.collection) == ("baseline", 8, 2, 1024, -1.5, "manuals")
    assert new.reader.calibration == "squad"
    tuned = Settings().replace(**overrides_from_form({**values, "tuned": True}))
    assert tuned.reader.null_threshold is None
    with pytest.raises(ConfigError):
        Settings().replace(**overrides_from_form({**values, "token_budget": 10}))
    fresh = Settings().replace(**overrides_from_form({**values, "new_collection": " reports-2026 "}))
    assert fresh.store.collection == "reports-2026"  # a new name wins over the chosen collection


def test_settings_rows_never_show_the_server_token() -> None:
    s = Settings().replace(chroma_host="db.example", chroma_token="s3cret")
    rows = settings_rows(s)
    assert "s3cret" not in str(rows) and {"setting": "data_dir", "value": "server db.example"} in rows


def test_answer_caption_shows_the_section_escaped() -> None:
    citation = Citation("d1", "doc.md", 0, 5, 2, "Paris", section="[Capitals](http://x) *now*")
    answer = Answer(question="q", text="Paris", score=0.9, citations=(citation,), reader="fake")
    caption = render.answer_caption(answer)
    assert caption.startswith("doc\\.md, page 2 · section \\[Capitals\\]\\(http\\:")
    assert "](" not in caption and " *now*" not in caption
    plain = Answer(question="q", text="Paris", score=0.9, citations=(Citation("d1", "doc.md", 0, 5, 1, "Paris"),))
    assert "section" not in render.answer_caption(plain)
