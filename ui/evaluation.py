"""The Evaluate page's data: load questions, run the gold evaluation, shape results for display.

Scoring is `qa_app.evaluation` (official SQuAD v2.0 semantics); this module calls it and turns the
report and per-question predictions into rows, chart tables, comparisons and a JSON download.
`outcome_category` labels one prediction for the filterable table from the `cause` every
prediction row carries. No Streamlit import.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Callable, Mapping, Sequence

from qa_app.data.squad import QAExample, SquadDataset

OPEN_BOOK_MODULE = "qa_app.evaluation.open_book"
CATEGORIES = ("correct", "retrieval miss", "reader miss", "wrong abstention", "false answer")
OPEN_CORPORA = {"test": "the articles of the evaluated split", "all": "every article of the file"}
METRIC_KEYS = ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1", "best_exact", "best_f1")
_GROUPS = (("overall", ""), ("HasAns", "HasAns_"), ("NoAns", "NoAns_"))


@dataclass(frozen=True)
class EvalRun:
    """One finished evaluation: the stamped report, per-question rows and their paragraphs."""

    label: str
    report: Mapping[str, Any]
    rows: tuple[Mapping[str, Any], ...]  # predictions with "category" and "gold" added
    examples: Mapping[str, QAExample]  # question id -> example (for the passage view)


def open_mode_available(module: str = OPEN_BOOK_MODULE) -> bool:
    """Whether open-book evaluation (`evaluate_open`) is part of this installation."""
    if importlib.util.find_spec(module) is None:
        return False
    return hasattr(importlib.import_module(module), "evaluate_open")


def open_mode_note(module: str = OPEN_BOOK_MODULE) -> str:
    """What each mode does, and why open-book mode cannot be chosen when it cannot."""
    gold = "Gold mode reads each question against its own paragraph."
    if open_mode_available(module):
        return (gold + " Open-book mode indexes whole articles as long documents (once; cached under the data "
                "directory), then retrieves and reads like the Ask page, and attributes each error to retrieval "
                "or the reader.")
    return (gold + f" Open-book mode (index whole articles, retrieve, then read) needs `{module}`, "
            "which is not part of this installation.")


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
    from qa_app.wiring import checkpoint_dir

    reader = app.reader(reader_name)
    progress = _counting(len(examples), on_progress)

    report, rows = evaluate_gold(reader, reader_name, dataset, examples, split=split, config_hash=app.settings.hash(),
                                 model=str(checkpoint_dir(app.settings, reader_name)), seed=seed, progress=progress)
    report = {**report, "dataset": dataset_name}
    return make_run(report, rows, examples, number)


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
    from qa_app.wiring import checkpoint_dir

    progress = _counting(len(examples), on_progress)

    report, rows = evaluate_open(app=app, make_app=make_app, dataset=dataset, examples=examples, split=split,
                                 corpus=corpus, reader_name=reader_name,
                                 model=str(checkpoint_dir(app.settings, reader_name)), seed=seed, progress=progress)
    report = {**report, "dataset": dataset_name}
    return make_run(report, rows, examples, number)


def make_run(report: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], examples: Sequence[QAExample],
             number: int) -> EvalRun:
    by_id = {e.id: e for e in examples}
    full = tuple({**row, "category": outcome_category(row), "text": prediction_of(row),
                  "gold": [a.text for a in by_id[row["id"]].answers] if row["id"] in by_id else []} for row in rows)
    label = (f"#{number} {report.get('reader', '?')} · {report.get('mode', '?')} · "
             f"{PurePath(str(report.get('dataset', ''))).name} {report.get('split', '')} · {len(rows)} questions")
    return EvalRun(label=label, report=dict(report), rows=full, examples=by_id)


def prediction_of(row: Mapping[str, Any]) -> str:
    """The answer given ("" = abstained): gold rows call it "text", open-book rows "prediction"."""
    return str(row.get("text", row.get("prediction", "")))


def outcome_category(row: Mapping[str, Any]) -> str:
    """Display label of one prediction: its `cause` from qa_app.evaluation (gold and open-book)."""
    return str(row["cause"]).replace("_", " ")


def metric_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """EM and F1 (percent) overall, on answerable and on unanswerable questions."""
    rows = []
    for group, prefix in _GROUPS:
        if f"{prefix}exact" in report:
            rows.append({"questions": group, "EM": report[f"{prefix}exact"], "F1": report[f"{prefix}f1"],
                         "count": report.get(f"{prefix}total", report.get("questions"))})
    return rows


def retrieval_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Retrieval figures of an open-book report (recall@k and MRR, over windows and raw hits); empty
    for gold mode."""
    return [{"metric": k, "value": v} for k, v in report.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
            and (k.startswith(("recall@", "hit_recall@")) or k in ("mrr", "hit_mrr"))]


def latency_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per-stage latency (p50/p95 ms) when the report has it, else the mean time per question."""
    stages = report.get("latency_ms")
    if isinstance(stages, Mapping) and stages:
        return [{"stage": name, **{k: v for k, v in values.items() if isinstance(v, (int, float))}}
                for name, values in stages.items() if isinstance(values, Mapping)]
    questions = report.get("questions") or 0
    seconds = report.get("seconds")
    if not questions or seconds is None:
        return []
    return [{"stage": "read (mean per question)", "ms": round(1000.0 * float(seconds) / questions, 2)}]


def question_rows(run: EvalRun) -> list[dict[str, Any]]:
    return [{"id": r["id"], "category": r["category"], "question": r.get("question", ""),
             "prediction": r["text"], "gold": " | ".join(r.get("gold", [])) or "(no answer)",
             "F1": round(float(r.get("f1", 0.0)), 3), "no-answer score": r.get("na_score")} for r in run.rows]


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
    rows = []
    for key in METRIC_KEYS:
        if key in a.report and key in b.report:
            va, vb = float(a.report[key]), float(b.report[key])
            rows.append({"metric": key, "A": round(va, 2), "B": round(vb, 2), "B - A": round(vb - va, 2)})
    for key in ("questions", "questions_per_s"):
        if key in a.report and key in b.report:
            rows.append({"metric": key, "A": a.report[key], "B": b.report[key],
                         "B - A": round(float(b.report[key]) - float(a.report[key]), 2)})
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
