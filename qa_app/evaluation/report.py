"""The human report of an open-book evaluation run: one self-contained HTML file.

Plots are hand-written inline SVG (no plotting library, no scripts, no external URLs): the recall@k
curve, a histogram of end-to-end latency and F1 by question type. Tables give the stamps, the
metrics, error causes, the fixed vs dynamic window comparison when present, and every failure
(question, gold, prediction, cause, source). Every text from the data is HTML-escaped.

Takes the typed report and per-question rows `qa_app.evaluation.open_book.evaluate_open` returns
(`qa_app.evaluation.results`); computes no metric of its own except the histogram bins.
`render_collection_report` does the same for a run over the user's own documents
(`qa_app.evaluation.collection`), with sections for page@1 / source@1, abstention and follow-ups.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Literal, Sequence, get_args

from qa_app.evaluation.latency import histogram
from qa_app.evaluation.results import (
    CAUSES,
    CollectionReport,
    CollectionRow,
    ErrorShares,
    EvalReport,
    LatencySummary,
    OpenRow,
    RecallCurve,
)

_StampKey = Literal["reader", "model", "encoder", "config_hash", "dataset", "dataset_sha256", "seed", "split", "corpus",
                    "questions", "date", "seconds"]
_MetricKey = Literal["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total", "NoAns_exact", "NoAns_f1",
                     "NoAns_total", "best_exact", "best_f1", "recall@1", "recall@5", "recall@10", "mrr",
                     "hit_recall@1", "hit_recall@5", "hit_recall@10", "hit_mrr"]
_STAMP_KEYS: tuple[_StampKey, ...] = get_args(_StampKey)
_METRIC_KEYS: tuple[_MetricKey, ...] = get_args(_MetricKey)

MAX_FAILURE_ROWS = 1000
_W, _H = 560, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 32, 44
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figcaption { font-size: .85em; color: #555; }
svg text { font-size: 11px; fill: #333; }
.note { color: #555; font-size: .9em; max-width: 60em; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def _frame(chart_id: str, title: str, body: list[str], x_label: str, y_label: str) -> str:
    return (
        f'<figure><svg id="{_e(chart_id)}" role="img" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}">'
        f"<title>{_e(title)}</title>"
        f'<text x="{_W / 2}" y="18" text-anchor="middle" font-weight="bold">{_e(title)}</text>'
        f'<line x1="{_LEFT}" y1="{_H - _BOTTOM}" x2="{_W - _RIGHT}" y2="{_H - _BOTTOM}" stroke="#333"/>'
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_H - _BOTTOM}" stroke="#333"/>'
        + "".join(body)
        + f'<text x="{(_LEFT + _W - _RIGHT) / 2}" y="{_H - 6}" text-anchor="middle">{_e(x_label)}</text>'
        f'<text x="14" y="{(_TOP + _H - _BOTTOM) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(_TOP + _H - _BOTTOM) / 2})">{_e(y_label)}</text>'
        f"</svg><figcaption>{_e(title)}</figcaption></figure>"
    )


def _y_axis(y_max: float, ticks: int = 5) -> list[str]:
    out = []
    for i in range(ticks + 1):
        value = y_max * i / ticks
        y = _H - _BOTTOM - (_H - _TOP - _BOTTOM) * i / ticks
        out.append(f'<line x1="{_LEFT - 4}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}" stroke="#eee"/>'
                   f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value:.3g}</text>')
    return out


def line_chart(chart_id: str, title: str, xs: Sequence[float], series: Sequence[tuple[str, Sequence[float]]],
               *, y_max: float, x_label: str, y_label: str) -> str:
    """Lines with point markers over shared x values; y from 0 to `y_max`."""
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    lo, hi = min(xs, default=0), max(xs, default=1)
    span = (hi - lo) or 1

    def px(x: float) -> float:
        return _LEFT + plot_w * (x - lo) / span

    def py(y: float) -> float:
        return _H - _BOTTOM - plot_h * min(max(y, 0.0), y_max) / (y_max or 1)

    body = _y_axis(y_max)
    body += [f'<text x="{px(x):.1f}" y="{_H - _BOTTOM + 14}" text-anchor="middle">{_e(_fmt(x))}</text>' for x in xs]
    for i, (label, ys) in enumerate(series):
        color = _COLORS[i % len(_COLORS)]
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys))
        body.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        body += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"><title>{_e(label)} '
                 f'k={_e(_fmt(x))}: {_e(_fmt(y))}</title></circle>' for x, y in zip(xs, ys)]
        body.append(f'<rect x="{_LEFT + 10}" y="{_TOP + 8 + 16 * i}" width="10" height="10" fill="{color}"/>'
                    f'<text x="{_LEFT + 26}" y="{_TOP + 17 + 16 * i}">{_e(label)}</text>')
    return _frame(chart_id, title, body, x_label, y_label)


def bar_chart(chart_id: str, title: str, bars: Sequence[tuple[str, float, str]], *, y_max: float,
              x_label: str, y_label: str) -> str:
    """Vertical bars: (label under the bar, value, tooltip)."""
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    slot = plot_w / max(1, len(bars))
    body = _y_axis(y_max)
    for i, (label, value, tip) in enumerate(bars):
        h = plot_h * min(max(value, 0.0), y_max) / (y_max or 1)
        x = _LEFT + slot * i + slot * 0.15
        body.append(f'<rect class="bar" x="{x:.1f}" y="{_H - _BOTTOM - h:.1f}" width="{slot * 0.7:.1f}" '
                    f'height="{h:.1f}" fill="{_COLORS[0]}"><title>{_e(tip)}</title></rect>')
        if label:
            body.append(f'<text x="{x + slot * 0.35:.1f}" y="{_H - _BOTTOM + 14}" text-anchor="middle">{_e(label)}</text>')
    return _frame(chart_id, title, body, x_label, y_label)


def latency_histogram(values: Sequence[float], bins: int = 20) -> str:
    edges, counts = histogram(values, bins)
    bars = []
    for i, count in enumerate(counts):
        every = max(1, len(counts) // 5)
        label = f"{edges[i]:.0f}" if i % every == 0 else ""
        bars.append((label, float(count), f"{edges[i]:.0f}-{edges[i + 1]:.0f} ms: {count} questions"))
    return bar_chart("latency-histogram", "End-to-end latency per question", bars,
                     y_max=float(max(counts, default=1) or 1), x_label="milliseconds (bin start)", y_label="questions")


def _page(title: str, body: Sequence[str]) -> str:
    """A self-contained HTML page: the title as <title> and <h1>, the style sheet, then `body`."""
    return "".join([
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        *body,
        "</body></html>\n",
    ])


def _write(path: str | Path, page: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{_e(_fmt(c))}</td>' if isinstance(c, (int, float)) and not isinstance(c, bool)
                         else f"<td>{_e(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _stamps(report: EvalReport) -> str:
    rows: list[tuple[str, Any]] = [(k, report[k]) for k in _STAMP_KEYS if k in report]
    if "retrieval" in report:
        rows += [(f"retrieval.{k}", v) for k, v in report["retrieval"].items()]
    if "index" in report:
        rows += [(f"index.{k}", v) for k, v in report["index"].items()]
    return _table(("stamp", "value"), rows)


def _metrics(report: EvalReport) -> str:
    rows: list[tuple[str, Any]] = [(k, report[k]) for k in _METRIC_KEYS if k in report]
    if "gold_same_questions" in report:
        rows += [(f"gold mode, same questions: {k}", v) for k, v in report["gold_same_questions"].items()]
    return _table(("metric", "value"), rows)


def _errors(report: EvalReport) -> str:
    return _error_table(report.get("errors"))


def _error_table(errors: ErrorShares | None) -> str:
    total, share, rows = 0, 0.0, []
    if errors is not None:
        total, share = errors["total"], errors["share_of_questions"]
        rows = [(cause, errors["counts"][cause], errors[cause]) for cause in CAUSES]
    return (f"<p>{_e(total)} wrong answers ({_e(_fmt(100 * share))}% of the questions).</p>"
            + _table(("cause", "count", "share of errors"), rows))


def _latency(report: EvalReport) -> str:
    return _latency_table(report.get("latency_ms", {}))


def _latency_table(stages: dict[str, LatencySummary]) -> str:
    rows = [(stage, v["p50"], v["p95"], v["mean"]) for stage, v in stages.items()]
    return _table(("stage", "p50 ms", "p95 ms", "mean ms"), rows)


_WINDOW_LABELS = ("growth steps (total)", "growth steps per question", "share of questions whose window grew",
                  "windows per question", "tokens read per question p50", "tokens read per question p95",
                  "tokens read per question mean")


def _window(report: EvalReport) -> str:
    values: tuple[float, ...] = (0,) * len(_WINDOW_LABELS)
    if "window" in report:
        w = report["window"]
        tokens = w["tokens_read_per_question"]
        values = (w["growth_steps"], w["growth_steps_per_question"], w["questions_grown"], w["windows_per_question"],
                  tokens["p50"], tokens["p95"], tokens["mean"])
    return _table(("dynamic window", "value"), list(zip(_WINDOW_LABELS, values)))


def _compare(report: EvalReport) -> str:
    compare = report.get("compare_windows")
    if not compare:
        return ""
    rows = []
    for name, c in compare.items():
        tokens = c.get("tokens_read_per_question")
        lat = c.get("latency_ms", {}).get("end_to_end")
        rows.append((name, c.get("exact", 0.0), c.get("f1", 0.0), c.get("HasAns_f1", 0.0), tokens["mean"] if tokens else 0.0,
                     lat["p50"] if lat else 0.0, lat["p95"] if lat else 0.0, c.get("growth_steps", 0)))
    return ("<h2>Fixed vs dynamic window (same questions)</h2>"
            + _table(("window", "EM", "F1", "HasAns F1", "tokens read (mean)", "latency p50 ms", "latency p95 ms",
                      "growth steps"), rows))


def _failures(rows: Sequence[OpenRow], limit: int) -> str:
    failed = [r for r in rows if r["cause"] != "correct"]
    shown = failed[:limit]
    table_rows = []
    for r in shown:
        where = r["source"] or "-"
        if r["paragraph"] is not None:
            where += f" \u00b6{r['paragraph']}"
        gold = " | ".join(r["golds"]) or "(no answer)"
        gold += f" [{r['gold_source']} \u00b6{r['gold_paragraph']}]"
        table_rows.append((r["id"], r["question"], gold, r["prediction"] or "(no answer)",
                           r["cause"], where, r["window_position"] or "-", round(r["f1"], 3)))
    note = f"<p>{len(failed)} failures" + (f"; the first {limit} are shown" if len(failed) > limit else "") + ".</p>"
    return note + _table(("id", "question", "gold [article \u00b6paragraph]", "prediction", "cause",
                          "cited source \u00b6paragraph", "gold window position", "F1"), table_rows)


def render_report(report: EvalReport, rows: Sequence[OpenRow], *, max_failures: int = MAX_FAILURE_ROWS) -> str:
    """The whole report as one HTML string (no scripts, no external resources)."""
    curve: RecallCurve = report["recall_curve"] if "recall_curve" in report else {"k": [], "windows": [], "hits": []}
    recall = line_chart("recall-curve", "Retrieval recall@k (answerable questions)", curve["k"],
                        [("windows given to the reader", curve["windows"]), ("raw retriever hits", curve["hits"])],
                        y_max=1.0, x_label="k", y_label="recall")
    latency = latency_histogram([r["end_to_end_ms"] for r in rows])
    types = report.get("by_question_type", {})
    f1_bars = [(f"{t} ({v['count']})", float(v["f1"]), f"{t}: F1 {v['f1']:.1f}, EM {v['exact']:.1f} ({v['count']} questions)")
               for t, v in types.items()]
    f1 = bar_chart("f1-by-type", "F1 by question type", f1_bars, y_max=100.0, x_label="first wh-word",
                   y_label="F1 (%)")
    title = f"Open-book evaluation: {report.get('reader', '')} on {report.get('split', '')} ({report.get('corpus', '')} corpus)"
    return _page(title, [
        "<h2>Run</h2>", _stamps(report),
        "<h2>Scores</h2>", _metrics(report),
        f'<p class="note">{_e(report.get("noans_note", ""))}</p>',
        '<h2>Plots</h2><div class="plots">', recall, latency, f1, "</div>",
        "<h2>Errors by cause</h2>", _errors(report),
        "<h2>Latency</h2>", _latency(report),
        "<h2>Dynamic window</h2>", _window(report),
        _compare(report),
        "<h2>Failures</h2>", _failures(rows, max_failures),
    ])


def write_report(path: str | Path, report: EvalReport, rows: Sequence[OpenRow]) -> Path:
    return _write(path, render_report(report, rows))


# ---------------------------------------------------------------- a run over the user's own documents

_CollectionStampKey = Literal["reader", "model", "encoder", "collection", "store", "documents", "dataset", "dataset_sha256",
                              "format", "config_hash", "seed", "questions", "date", "seconds"]
_COLLECTION_STAMP_KEYS: tuple[_CollectionStampKey, ...] = get_args(_CollectionStampKey)
_ScoreKey = Literal["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total", "NoAns_exact", "NoAns_f1",
                    "NoAns_total", "best_exact", "best_f1"]
_SCORE_KEYS: tuple[_ScoreKey, ...] = get_args(_ScoreKey)
CITATION_NOTE = (
    "page@1 / source@1: share of the answerable questions naming an expected page (document) whose top answer "
    "cites that page of the expected document (that document). Saying \"not found\" counts as a miss; the same page "
    "number in another document is a miss too."
)


def _collection_stamps(report: CollectionReport) -> str:
    rows: list[tuple[str, Any]] = [(k, report[k]) for k in _COLLECTION_STAMP_KEYS if k in report]
    rows += [(f"retrieval.{k}", v) for k, v in report["retrieval"].items()]
    if report.get("unknown_sources"):
        rows.append(("expected sources not indexed", ", ".join(report.get("unknown_sources", []))))
    return _table(("stamp", "value"), rows)


def _citations(report: CollectionReport) -> str:
    rows: list[tuple[str, Any, Any]] = []
    if "page@1" in report:
        rows.append(("page@1", report["page@1"], report.get("page_questions", 0)))
    if "source@1" in report:
        rows.append(("source@1", report["source@1"], report.get("source_questions", 0)))
    if not rows:
        return "<p>No question names an expected page or document.</p>"
    return _table(("citation of the top answer", "share", "questions scored"), rows) + f'<p class="note">{_e(CITATION_NOTE)}</p>'


def _abstention(report: CollectionReport) -> str:
    a = report["abstention"]
    return _table(("questions", "count", "answered \"not found\""), [
        ("unanswerable (right to abstain)", a["unanswerable"], a["abstained_on_unanswerable"]),
        ("answerable (wrong to abstain)", a["answerable"], a["abstained_on_answerable"]),
    ])


def _turns(report: CollectionReport) -> str:
    if "follow_ups" not in report:
        return "<p>The file has no follow-up questions.</p>"
    rows = [(name, s["total"], s["exact"], s["f1"], s.get("HasAns_f1", "-"), s.get("NoAns_exact", "-"))
            for name, s in (("first questions", report.get("first_turns")), ("follow-ups", report["follow_ups"]))
            if s is not None]
    return _table(("turns", "count", "EM", "F1", "HasAns F1", "NoAns EM"), rows)


def _by_source(report: CollectionReport) -> str:
    sources = report.get("by_source", {})
    if not sources:
        return ""
    return "<h2>By expected document</h2>" + _table(
        ("document", "questions", "EM", "F1"), [(name, v["count"], v["exact"], v["f1"]) for name, v in sources.items()])


def _where(source: str | None, page: int | None) -> str:
    if not source and page is None:
        return "-"
    return f"{source or '?'}" + (f", p. {page}" if page is not None else "")


def _collection_failures(rows: Sequence[CollectionRow], limit: int) -> str:
    failed = [r for r in rows if r["cause"] != "correct" or r["page_hit"] is False or r["source_hit"] is False]
    table_rows = [(r["id"], r["question"] + (f" [follows {r['follows']}]" if r["follows"] else ""),
                   " | ".join(r["golds"]) or "(no answer)", r["prediction"] or "(not found)", r["cause"],
                   _where(r["expected_source"], r["expected_page"]), _where(r["cited_source"], r["cited_page"]),
                   round(r["f1"], 3)) for r in failed[:limit]]
    note = (f"<p>{len(failed)} questions answered wrongly or citing another page or document"
            + (f"; the first {limit} are shown" if len(failed) > limit else "") + ".</p>")
    return note + _table(("id", "question", "expected answers", "answer", "cause", "expected source, page",
                          "cited source, page", "F1"), table_rows)


def render_collection_report(report: CollectionReport, rows: Sequence[CollectionRow], *,
                             max_failures: int = MAX_FAILURE_ROWS) -> str:
    """The report of a run over an indexed collection as one HTML string (no scripts, no external resources)."""
    latency = latency_histogram([r["end_to_end_ms"] for r in rows])
    sources = report.get("by_source", {})
    f1_bars = [(name[:14], float(v["f1"]), f"{name}: F1 {v['f1']:.1f}, EM {v['exact']:.1f} ({v['count']} questions)")
               for name, v in sources.items()]
    f1 = bar_chart("f1-by-source", "F1 by expected document", f1_bars, y_max=100.0, x_label="document",
                   y_label="F1 (%)") if f1_bars else ""
    title = f"Evaluation on your documents: {report['reader']} on collection {report['collection']}"
    return _page(title, [
        "<h2>Run</h2>", _collection_stamps(report),
        "<h2>Scores</h2>", _table(("metric", "value"), [(k, report[k]) for k in _SCORE_KEYS if k in report]),
        "<h2>Citations: page@1 and source@1</h2>", _citations(report),
        "<h2>Abstention</h2>", _abstention(report),
        "<h2>Follow-up questions</h2>", _turns(report),
        _by_source(report),
        '<h2>Plots</h2><div class="plots">', latency, f1, "</div>",
        "<h2>Errors by cause</h2>", _error_table(report["errors"]),
        "<h2>Latency</h2>", _latency_table(report["latency_ms"]),
        "<h2>Failures</h2>", _collection_failures(rows, max_failures),
    ])


def write_collection_report(path: str | Path, report: CollectionReport, rows: Sequence[CollectionRow]) -> Path:
    return _write(path, render_collection_report(report, rows))
