"""The human report of an open-book evaluation run: one self-contained HTML file.

Plots are hand-written inline SVG (no plotting library, no scripts, no external URLs): the recall@k
curve, a histogram of end-to-end latency and F1 by question type. Tables give the stamps, the
metrics, error causes, the fixed vs dynamic window comparison when present, and every failure
(question, gold, prediction, cause, source). Every text from the data is HTML-escaped.

Takes the report dict and per-question rows `qa_app.evaluation.open_book.evaluate_open` returns;
computes no metric of its own except the histogram bins.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Mapping, Sequence

from qa_app.evaluation.latency import histogram

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


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{_e(_fmt(c))}</td>' if isinstance(c, (int, float)) and not isinstance(c, bool)
                         else f"<td>{_e(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _stamps(report: Mapping[str, Any]) -> str:
    keys = ("reader", "model", "encoder", "config_hash", "dataset", "dataset_sha256", "seed", "split", "corpus",
            "questions", "date", "seconds")
    rows = [(k, report[k]) for k in keys if k in report]
    rows += [(f"retrieval.{k}", v) for k, v in report.get("retrieval", {}).items()]
    rows += [(f"index.{k}", v) for k, v in report.get("index", {}).items()]
    return _table(("stamp", "value"), rows)


def _metrics(report: Mapping[str, Any]) -> str:
    keys = ("exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total", "NoAns_exact", "NoAns_f1",
            "NoAns_total", "best_exact", "best_f1", "recall@1", "recall@5", "recall@10", "mrr",
            "hit_recall@1", "hit_recall@5", "hit_recall@10", "hit_mrr")
    rows = [(k, report[k]) for k in keys if k in report]
    rows += [(f"gold mode, same questions: {k}", v) for k, v in report.get("gold_same_questions", {}).items()]
    return _table(("metric", "value"), rows)


def _errors(report: Mapping[str, Any]) -> str:
    errors = report.get("errors", {})
    counts = errors.get("counts", {})
    rows = [(cause, counts.get(cause, 0), errors.get(cause, 0.0)) for cause in counts]
    return (f"<p>{_e(errors.get('total', 0))} wrong answers "
            f"({_e(_fmt(100 * errors.get('share_of_questions', 0.0)))}% of the questions).</p>"
            + _table(("cause", "count", "share of errors"), rows))


def _latency(report: Mapping[str, Any]) -> str:
    rows = [(stage, v.get("p50", 0.0), v.get("p95", 0.0), v.get("mean", 0.0))
            for stage, v in report.get("latency_ms", {}).items()]
    return _table(("stage", "p50 ms", "p95 ms", "mean ms"), rows)


def _window(report: Mapping[str, Any]) -> str:
    w = report.get("window", {})
    tokens = w.get("tokens_read_per_question", {})
    rows = [("growth steps (total)", w.get("growth_steps", 0)),
            ("growth steps per question", w.get("growth_steps_per_question", 0.0)),
            ("share of questions whose window grew", w.get("questions_grown", 0.0)),
            ("windows per question", w.get("windows_per_question", 0.0)),
            ("tokens read per question p50", tokens.get("p50", 0.0)),
            ("tokens read per question p95", tokens.get("p95", 0.0)),
            ("tokens read per question mean", tokens.get("mean", 0.0))]
    return _table(("dynamic window", "value"), rows)


def _compare(report: Mapping[str, Any]) -> str:
    compare = report.get("compare_windows")
    if not compare:
        return ""
    rows = []
    for name, c in compare.items():
        tokens = c.get("tokens_read_per_question", {})
        lat = c.get("latency_ms", {}).get("end_to_end", {})
        rows.append((name, c.get("exact", 0.0), c.get("f1", 0.0), c.get("HasAns_f1", 0.0), tokens.get("mean", 0.0),
                     lat.get("p50", 0.0), lat.get("p95", 0.0), c.get("growth_steps", 0)))
    return ("<h2>Fixed vs dynamic window (same questions)</h2>"
            + _table(("window", "EM", "F1", "HasAns F1", "tokens read (mean)", "latency p50 ms", "latency p95 ms",
                      "growth steps"), rows))


def _failures(rows: Sequence[Mapping[str, Any]], limit: int) -> str:
    failed = [r for r in rows if r.get("cause", "correct") != "correct"]
    shown = failed[:limit]
    table_rows = []
    for r in shown:
        where = r.get("source") or "-"
        if r.get("paragraph") is not None:
            where += f" \u00b6{r['paragraph']}"
        gold = " | ".join(r.get("golds", ())) or "(no answer)"
        gold += f" [{r.get('gold_source', '')} \u00b6{r.get('gold_paragraph', '')}]"
        table_rows.append((r.get("id", ""), r.get("question", ""), gold, r.get("prediction") or "(no answer)",
                           r.get("cause", ""), where, r.get("window_position") or "-", round(r.get("f1", 0.0), 3)))
    note = f"<p>{len(failed)} failures" + (f"; the first {limit} are shown" if len(failed) > limit else "") + ".</p>"
    return note + _table(("id", "question", "gold [article \u00b6paragraph]", "prediction", "cause",
                          "cited source \u00b6paragraph", "gold window position", "F1"), table_rows)


def render_report(report: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], *,
                  max_failures: int = MAX_FAILURE_ROWS) -> str:
    """The whole report as one HTML string (no scripts, no external resources)."""
    curve = report.get("recall_curve", {"k": [], "windows": [], "hits": []})
    recall = line_chart("recall-curve", "Retrieval recall@k (answerable questions)", curve["k"],
                        [("windows given to the reader", curve["windows"]), ("raw retriever hits", curve["hits"])],
                        y_max=1.0, x_label="k", y_label="recall")
    latency = latency_histogram([float(r.get("end_to_end_ms", 0.0)) for r in rows])
    types = report.get("by_question_type", {})
    f1_bars = [(f"{t} ({v['count']})", float(v["f1"]), f"{t}: F1 {v['f1']:.1f}, EM {v['exact']:.1f} ({v['count']} questions)")
               for t, v in types.items()]
    f1 = bar_chart("f1-by-type", "F1 by question type", f1_bars, y_max=100.0, x_label="first wh-word",
                   y_label="F1 (%)")
    title = f"Open-book evaluation: {report.get('reader', '')} on {report.get('split', '')} ({report.get('corpus', '')} corpus)"
    return "".join([
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        "<h2>Run</h2>", _stamps(report),
        "<h2>Scores</h2>", _metrics(report),
        f'<p class="note">{_e(report.get("noans_note", ""))}</p>',
        '<h2>Plots</h2><div class="plots">', recall, latency, f1, "</div>",
        "<h2>Errors by cause</h2>", _errors(report),
        "<h2>Latency</h2>", _latency(report),
        "<h2>Dynamic window</h2>", _window(report),
        _compare(report),
        "<h2>Failures</h2>", _failures(rows, max_failures),
        "</body></html>\n",
    ])


def write_report(path: str | Path, report: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(report, rows), encoding="utf-8")
    return path
