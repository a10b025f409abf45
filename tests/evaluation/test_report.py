"""The open-book HTML report: self-contained, with its three plots, and escaping every text from the data."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, cast

import pytest

from qa_app.evaluation.latency import histogram, percentile, stage_latencies, summarize
from qa_app.evaluation.report import bar_chart, line_chart, render_report, write_report
from qa_app.evaluation.results import EvalReport, OpenRow

EVIL = "<script>alert('x')</script> & \"quotes\""


def sample_report() -> EvalReport:
    ks = list(range(1, 11))
    return {
        "reader": "transformer", "model": "models/transformer", "mode": "open", "split": "test", "corpus": "all",
        "config_hash": "abc123", "dataset": "squad.json", "dataset_sha256": "f" * 64, "seed": 0, "questions": 3,
        "date": "2025-01-01T00:00:00+00:00", "seconds": 1.5,
        "exact": 33.3333, "f1": 50.0, "total": 3, "HasAns_exact": 50.0, "HasAns_f1": 75.0, "NoAns_exact": 0.0,
        "recall@1": 0.5, "recall@5": 1.0, "recall@10": 1.0, "mrr": 0.75,
        "hit_recall@1": 0.5, "hit_recall@5": 0.5, "hit_recall@10": 1.0, "hit_mrr": 0.6,
        "gold_same_questions": {"HasAns_exact": 62.5, "open_HasAns_exact_share": 0.8},
        "recall_curve": {"k": ks, "windows": [0.5] + [1.0] * 9, "hits": [0.5] * 5 + [1.0] * 5},
        "errors": {"total": 2, "share_of_questions": 0.6667, "retrieval_miss": 0.5, "reader_miss": 0.0,
                   "wrong_abstention": 0.0, "false_answer": 0.5,
                   "counts": {"retrieval_miss": 1, "reader_miss": 0, "wrong_abstention": 0, "false_answer": 1}},
        "latency_ms": {"read": {"p50": 100.0, "p95": 180.0, "mean": 110.0},
                       "end_to_end": {"p50": 150.0, "p95": 260.0, "mean": 160.0}},
        "window": {"growth_steps": 2, "growth_steps_per_question": 0.667, "questions_grown": 0.3333,
                   "windows_per_question": 3.0, "tokens_read_per_question": {"p50": 900.0, "p95": 1500.0, "mean": 1000.0}},
        "by_question_type": {"what": {"count": 2, "exact": 50.0, "f1": 60.0}, "who": {"count": 1, "exact": 0.0, "f1": 0.0}},
        "noans_note": "NoAns questions are scored as in the official script.",
        "compare_windows": {
            "fixed": {"exact": 30.0, "f1": 45.0, "tokens_read_per_question": {"p50": 700.0, "p95": 900.0, "mean": 700.0},
                      "latency_ms": {"end_to_end": {"p50": 120.0, "p95": 200.0, "mean": 130.0}}, "dynamic": False,
                      "window_chunks": 1},
            "dynamic": {"exact": 33.3, "f1": 50.0,
                        "tokens_read_per_question": {"p50": 900.0, "p95": 1500.0, "mean": 1000.0},
                        "latency_ms": {"end_to_end": {"p50": 150.0, "p95": 260.0, "mean": 160.0}}, "dynamic": True,
                        "window_chunks": 1}},
    }


def open_row(**fields: Any) -> OpenRow:
    """One per-question row: a right answer read from the first window, unless `fields` say otherwise."""
    row: OpenRow = {
        "id": "q", "question": "?", "qtype": "other", "golds": [], "has_answer": False, "prediction": "", "exact": 1,
        "f1": 1.0, "na_score": None, "cause": "correct", "window_position": None, "hit_position": None, "windows": 1,
        "growth_steps": 0, "tokens_read": 100, "end_to_end_ms": 100.0, "timings_ms": {}, "source": "",
        "paragraph": None, "gold_source": "", "gold_paragraph": 0}
    return cast(OpenRow, {**row, **fields})


def sample_rows() -> list[OpenRow]:
    return [
        open_row(id="q1", question="What flows?", golds=["the Rhine"], has_answer=True, prediction="the Rhine", cause="correct",
                 f1=1.0, end_to_end_ms=120.0, source="Rhine.txt", paragraph=0, gold_source="Rhine.txt",
                 gold_paragraph=0, window_position=1),
        open_row(id="q2", question=EVIL, golds=["<b>gold</b>"], has_answer=True, prediction="", cause="retrieval_miss",
                 exact=0, f1=0.0, end_to_end_ms=250.0, source="", paragraph=None, gold_source="Evil<i>.txt",
                 gold_paragraph=3, window_position=None),
        open_row(id="q3", question="Who sang?", golds=[], prediction="Ada <img src=x>", cause="false_answer",
                 exact=0, f1=0.0, end_to_end_ms=160.0, source="Ada.txt", paragraph=2, gold_source="Ada.txt",
                 gold_paragraph=2, window_position=None),
    ]


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(page)
    return collector


def test_report_has_the_three_plots_and_the_tables() -> None:
    page = render_report(sample_report(), sample_rows())
    for chart in ("recall-curve", "latency-histogram", "f1-by-type"):
        assert f'<svg id="{chart}"' in page
    tags = parse(page)
    assert tags.tags.count("svg") == 3
    assert tags.tags.count("polyline") == 2  # windows and hits curves
    assert page.count('class="bar"') >= 2 + 1  # two question types, at least one histogram bin
    text = "".join(tags.text)
    assert "Fixed vs dynamic window" in text and "retrieval_miss" in text and "abc123" in text
    assert "2 failures" in text  # the correct answer is not listed
    assert "gold mode, same questions: open_HasAns_exact_share" in text and "62.5" in text


def test_report_escapes_every_text_from_the_data_and_is_self_contained(tmp_path: Path) -> None:
    path = write_report(tmp_path / "sub" / "r.html", sample_report(), sample_rows())
    page = path.read_text(encoding="utf-8")
    tags = parse(page)
    assert "script" not in tags.tags and "img" not in tags.tags and "b" not in tags.tags and "i" not in tags.tags
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    assert EVIL in "".join(tags.text)  # shown to the reader as text
    assert "Ada <img src=x>" in "".join(tags.text)
    # nothing to fetch: no src/href attributes, no URLs at all
    assert not [a for a in tags.attrs if a[0] in ("src", "href")]
    assert not re.search(r"https?://", page)


def test_charts_clamp_values_and_handle_empty_input() -> None:
    line = line_chart("c", "t <x>", [1, 2], [("a&b", [0.5, 7.0])], y_max=1.0, x_label="k", y_label="r")
    assert "t &lt;x&gt;" in line and "a&amp;b" in line
    ys = [float(y) for y in re.findall(r"cy=\"([\d.]+)\"", line)]
    assert min(ys) >= 32  # 7.0 is drawn at the top of the plot, not above it
    empty = bar_chart("e", "nothing", [], y_max=1.0, x_label="x", y_label="y")
    assert "<svg" in empty and "<rect class=\"bar\"" not in empty
    assert "<svg" in render_report(cast(EvalReport, {}), [])  # an empty report still renders


def test_percentiles_and_histogram() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 95) == 10
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95) == pytest.approx(9.55)
    with pytest.raises(ValueError):
        percentile([1], 101)
    assert summarize([]) == {"p50": 0.0, "p95": 0.0, "mean": 0.0}
    stages = stage_latencies([{"read": 10.0, "total": 20.0}, {"read": 30.0, "total": 40.0}])
    assert stages["read"]["p50"] == 20.0 and stages["total"]["mean"] == 30.0
    edges, counts = histogram([0.0, 1.0, 2.0, 10.0], bins=5)
    assert len(edges) == 6 and sum(counts) == 4 and counts[-1] == 1 and counts[0] == 2
    assert histogram([5.0, 5.0], bins=3)[1] == [2]
