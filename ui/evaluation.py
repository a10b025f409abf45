"""The Evaluate page's data: load questions, run an evaluation, shape results for display.

Scoring is `qa_app.evaluation` (official SQuAD v2.0 semantics); this module calls it and turns the
typed report and per-question predictions (`qa_app.evaluation.results`) into rows, chart tables,
comparisons and a JSON download.
`outcome_category` labels one prediction for the filterable table from the `cause` every
prediction row carries. `run_collection` scores a question file (CSV, JSONL or SQuAD JSON) over the
current collection through `qa_app.evaluation.collection`. No Streamlit import.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Callable, Literal, Mapping, Sequence, cast, get_args

from qa_app.data.squad import QAExample, SquadDataset
from qa_app.evaluation.results import CollectionReport, CollectionRow, EvalReport, GoldRow, OpenRow, RetrievalScores

CATEGORIES = ("correct", "retrieval miss", "reader miss", "wrong abstention", "false answer")
OPEN_CORPORA = {"test": "the articles of the evaluated split", "all": "every article of the file"}
MODE_NOTE = ("Gold mode reads each question against its own paragraph. Open-book mode indexes whole articles as "
             "long documents (once; cached under the data directory), then retrieves and reads like the Ask page, "
             "and attributes each error to retrieval or the reader.")
MetricKey = Literal["exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1", "best_exact", "best_f1"]
METRIC_KEYS: tuple[MetricKey, ...] = get_args(MetricKey)
_COUNT_KEYS: tuple[Literal["questions", "questions_per_s"], ...] = ("questions", "questions_per_s")
_RETRIEVAL_KEYS = RetrievalScores.__required_keys__ | RetrievalScores.__optional_keys__
QUESTION_FILE_TYPES = ["csv", "jsonl", "json"]
MY_DOCUMENTS = "My documents: a question file (CSV, JSONL or JSON)"
COLLECTION_NOTE = ("Each question is asked like on the Ask page, over the documents of the current collection; a "
                   "follow-up (`follows`) with the conversation of the question it follows. A question file is CSV or "
                   "JSONL (id, question, answers, source, page, follows) or SQuAD JSON.")
Report = EvalReport | CollectionReport
Row = GoldRow | OpenRow | CollectionRow


@dataclass(frozen=True)
class EvalRun:
    """One finished evaluation: the stamped report, per-question rows and their paragraphs."""

    label: str
    report: Report
    rows: tuple[Mapping[str, Any], ...]  # predictions with "category", "text" and "gold" added
    examples: Mapping[str, QAExample]  # question id -> example (for the passage view)


def load_builtin(split: str, limit: int | None, seed: int) -> tuple[SquadDataset, list[QAExample]]:
    """A seeded sample of one split of the official SQuAD v2.0 dev file (DatasetError if missing)."""
    from qa_app.evaluation.run import load_eval_examples

    return load_eval_examples("squad-v2", split, limit, seed=seed)


def load_uploaded(data: bytes, name: str, limit: int | None, seed: int) -> tuple[SquadDataset, list[QAExample]]:
    """A seeded sample of every question of an uploaded SQuAD-format file (DatasetError if invalid)."""
    from qa_app.evaluation.run import load_eval_examples

    fd, path = tempfile.mkstemp(suffix=".json", prefix="qa-upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return load_eval_examples(path, "all", limit, seed=seed)
    finally:
        os.unlink(path)


def run_gold(
    app: Any, reader_name: str, dataset: SquadDataset, examples: Sequence[QAExample], *, split: str, seed: int,
    dataset_name: str, number: int, on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> EvalRun:
    """Read every question against its own paragraph with the App's reader and score it."""
    from qa_app.evaluation.run import evaluate_gold
    from qa_app.wiring import models_stamp

    reader = app.reader(reader_name)
    progress = _counting(len(examples), on_progress)

    report, rows = evaluate_gold(reader, reader_name, dataset, examples, split=split, config_hash=app.settings.hash(),
                                 model=models_stamp(app.settings, reader_name), seed=seed, progress=progress)
    return make_run({**report, "dataset": dataset_name}, rows, examples, number)


def _counting(total: int, on_progress: Callable[[int, int], None]) -> Callable[[int], None]:
    """A progress callback taking increments, reporting (done, total) to `on_progress`."""
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        on_progress(min(done, total), total)

    return progress


def run_open(
    app: Any, make_app: Callable[[Any], Any], reader_name: str, dataset: SquadDataset,
    examples: Sequence[QAExample], *, split: str, corpus: str, seed: int, dataset_name: str, number: int,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> EvalRun:
    """Open-book run through `qa_app.evaluation.open_book.evaluate_open` (index, retrieve, read)."""
    from qa_app.evaluation.open_book import evaluate_open
    from qa_app.wiring import models_stamp

    progress = _counting(len(examples), on_progress)

    report, rows = evaluate_open(app=app, make_app=make_app, dataset=dataset, examples=examples, split=split,
                                 corpus=corpus, reader_name=reader_name,
                                 model=models_stamp(app.settings, reader_name), seed=seed, progress=progress)
    return make_run({**report, "dataset": dataset_name}, rows, examples, number)


def run_collection(
    app: Any, reader_name: str, data: bytes, name: str, *, limit: int | None, seed: int, number: int,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> EvalRun:
    """Ask the questions of an uploaded question file over the App's collection and score them
    (`qa_app.evaluation.collection`; DatasetError for a bad file, QAError for an empty collection)."""
    from qa_app.data.questions import parse_questions, sample_questions
    from qa_app.evaluation.collection import evaluate_collection
    from qa_app.wiring import models_stamp

    dataset = parse_questions(data, name)
    questions = sample_questions(dataset.questions, limit, seed=seed)
    report, rows = evaluate_collection(app=app, dataset=dataset, questions=questions, reader_name=reader_name,
                                       model=models_stamp(app.settings, reader_name), seed=seed,
                                       progress=_counting(len(questions), on_progress))
    return make_run(report, rows, [], number)


def make_run(report: Report, rows: Sequence[Row], examples: Sequence[QAExample], number: int) -> EvalRun:
    by_id = {e.id: e for e in examples}
    full = tuple({**row, "category": outcome_category(row), "text": prediction_of(row),
                  "gold": gold_of(row, by_id)} for row in rows)
    label = (f"#{number} {report.get('reader', '?')} · {report.get('mode', '?')} · "
             f"{PurePath(str(report.get('dataset', ''))).name} {_where_run(report)} · {len(rows)} questions")
    return EvalRun(label=label, report=report.copy(), rows=full, examples=by_id)


def _where_run(report: Report) -> str:
    """The split a SQuAD-format run scored, or the collection a run over the user's documents asked."""
    if report.get("mode") == "collection":
        return str(report.get("collection", ""))
    return str(report.get("split", ""))


def gold_of(row: Row, examples: Mapping[str, QAExample]) -> list[str]:
    """The expected answers of a row: its own "golds" (open-book, collection) or its example's."""
    if "golds" in row:
        return list(row["golds"])
    return [a.text for a in examples[row["id"]].answers] if row["id"] in examples else []


def prediction_of(row: Row) -> str:
    """The answer given ("" = abstained): gold rows call it "text", open-book and collection rows "prediction"."""
    return row["text"] if "text" in row else row["prediction"]


def outcome_category(row: Row) -> str:
    """Display label of one prediction: its `cause` from qa_app.evaluation (gold and open-book)."""
    return row["cause"].replace("_", " ")


def metric_rows(report: Report) -> list[dict[str, Any]]:
    """EM and F1 (percent) overall, on answerable and on unanswerable questions."""
    count = report.get("questions")
    rows = [{"questions": "overall", "EM": report["exact"], "F1": report["f1"], "count": report.get("total", count)}]
    if "HasAns_exact" in report:
        rows.append({"questions": "HasAns", "EM": report["HasAns_exact"], "F1": report["HasAns_f1"],
                     "count": report.get("HasAns_total", count)})
    if "NoAns_exact" in report:
        rows.append({"questions": "NoAns", "EM": report["NoAns_exact"], "F1": report["NoAns_f1"],
                     "count": report.get("NoAns_total", count)})
    return rows


def retrieval_rows(report: Report) -> list[dict[str, Any]]:
    """Retrieval figures of an open-book report (recall@k and MRR, over windows and raw hits); empty
    for gold mode."""
    return [{"metric": k, "value": v} for k, v in report.items() if k in _RETRIEVAL_KEYS]


def collection_rows(report: Report) -> list[dict[str, Any]]:
    """The figures only a run over the user's documents has: page@1 and source@1 (share of the
    answerable questions naming a page / document whose top answer cites it), abstention, and EM/F1 of
    follow-up turns. Empty for other runs."""
    if report.get("mode") != "collection" or "abstention" not in report:
        return []
    report = cast(CollectionReport, report)
    rows: list[dict[str, Any]] = []
    if "page@1" in report:
        rows.append({"metric": "page@1", "value": f"{report['page@1']:.1%}", "questions": report.get("page_questions", 0)})
    if "source@1" in report:
        rows.append({"metric": "source@1", "value": f"{report['source@1']:.1%}",
                     "questions": report.get("source_questions", 0)})
    a = report["abstention"]
    rows.append({"metric": "not found on unanswerable (right)", "value": f"{a['abstained_on_unanswerable']:.1%}",
                 "questions": a["unanswerable"]})
    rows.append({"metric": "not found on answerable (wrong)", "value": f"{a['abstained_on_answerable']:.1%}",
                 "questions": a["answerable"]})
    if "follow_ups" in report:
        f = report["follow_ups"]
        rows.append({"metric": "follow-ups EM / F1", "value": f"{f['exact']:.1f} / {f['f1']:.1f}", "questions": f["total"]})
    return rows


def download_name(report: Report) -> str:
    return f"evaluation-{report.get('reader', 'reader')}-{_where_run(report)}.json"


def latency_rows(report: Report) -> list[dict[str, Any]]:
    """Per-stage latency (p50/p95 ms) when the report has it, else the mean time per question."""
    stages = report.get("latency_ms")
    if stages:
        return [{"stage": name, **values} for name, values in stages.items()]
    if not report["questions"]:
        return []
    return [{"stage": "read (mean per question)", "ms": round(1000.0 * report["seconds"] / report["questions"], 2)}]


def question_rows(run: EvalRun) -> list[dict[str, Any]]:
    rows = [{"id": r["id"], "category": r["category"], "question": r.get("question", ""),
             "prediction": r["text"], "gold": " | ".join(r.get("gold", [])) or "(no answer)",
             "F1": round(float(r.get("f1", 0.0)), 3), "no-answer score": r.get("na_score")} for r in run.rows]
    if run.report.get("mode") == "collection":  # where the answer should be and what the top answer cited
        for row, r in zip(rows, run.rows):
            row.update({"follows": r.get("follows") or "", "expected": _where(r.get("expected_source"), r.get("expected_page")),
                        "cited": _where(r.get("cited_source"), r.get("cited_page")),
                        "source ok": _hit(r.get("source_hit")), "page ok": _hit(r.get("page_hit"))})
    return rows


def _where(source: str | None, page: int | None) -> str:
    if not source and page is None:
        return ""
    return (source or "?") + (f", p. {page}" if page is not None else "")


def _hit(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def filter_rows(rows: Sequence[Mapping[str, Any]], categories: Sequence[str], text: str = "") -> list[Mapping[str, Any]]:
    """Rows of the chosen categories whose question, prediction or gold contains `text`."""
    needle = text.strip().lower()
    wanted = set(categories)
    return [r for r in rows if r["category"] in wanted and (
        not needle or any(needle in str(r.get(k, "")).lower() for k in ("question", "prediction", "gold", "id")))]


def category_counts(run: EvalRun) -> dict[str, int]:
    counts = {c: 0 for c in CATEGORIES}
    for r in run.rows:
        counts[r["category"]] = counts.get(r["category"], 0) + 1
    return {c: n for c, n in counts.items() if n}


def gold_spans(example: QAExample) -> list[tuple[int, int]]:
    """Gold answer offsets in the paragraph, overlapping ones merged (for highlighting)."""
    spans: list[tuple[int, int]] = []
    for start, end in sorted((a.start, a.end) for a in example.answers):
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def paragraph_html(example: QAExample) -> str:
    """The question's paragraph, escaped, with every gold answer in <mark>."""
    from ui.render import block, escape_text

    parts, at = [], 0
    for start, end in gold_spans(example):
        parts.append(escape_text(example.context[at:start]))
        parts.append(f"<mark>{escape_text(example.context[start:end])}</mark>")
        at = end
    parts.append(escape_text(example.context[at:]))
    return block("".join(parts), "qa-passage")


def frame(rows: Sequence[Mapping[str, Any]], index: str, columns: Sequence[str] | None = None) -> Any:
    """A pandas DataFrame for a chart (None when there is nothing to draw)."""
    import pandas as pd

    if not rows:
        return None
    df = pd.DataFrame(list(rows)).set_index(index)
    return df[list(columns)] if columns else df


def results_json(run: EvalRun) -> str:
    """The download: the stamped report and every prediction (with category and gold answers)."""
    return json.dumps({"report": dict(run.report), "predictions": [dict(r) for r in run.rows]},
                      indent=2, ensure_ascii=False)


def compare_metric_rows(a: EvalRun, b: EvalRun) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key in METRIC_KEYS:
        if key in a.report and key in b.report:
            va, vb = float(a.report[key]), float(b.report[key])
            rows.append({"metric": key, "A": round(va, 2), "B": round(vb, 2), "B - A": round(vb - va, 2)})
    for count in _COUNT_KEYS:
        if count in a.report and count in b.report:
            rows.append({"metric": count, "A": a.report[count], "B": b.report[count],
                         "B - A": round(float(b.report[count]) - float(a.report[count]), 2)})
    return rows


def compare_question_rows(a: EvalRun, b: EvalRun) -> list[dict[str, Any]]:
    """Questions both runs asked whose outcome differs."""
    b_rows = {r["id"]: r for r in b.rows}
    out = []
    for ra in a.rows:
        rb = b_rows.get(ra["id"])
        if rb is not None and (ra["category"] != rb["category"] or ra.get("text") != rb.get("text")):
            out.append({"id": ra["id"], "question": ra.get("question", ""), "A": ra["category"], "B": rb["category"],
                        "A answer": ra.get("text", ""), "B answer": rb.get("text", "")})
    return out
