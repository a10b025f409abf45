"""Typed evaluation results: what gold and open-book runs return holds exactly the keys (and value
types) their TypedDicts declare, and round-trips through JSON to the same dict the CLI prints."""

from __future__ import annotations

import json
import types
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from qa_app.config import Settings, load_settings
from qa_app.data.squad import load_squad, split_examples
from qa_app.evaluation.gold import gold_predictions, gold_row, read_gold
from qa_app.evaluation.open_book import OpenRecord, evaluate_open, record_row
from qa_app.evaluation.results import EvalReport, GoldRow, OpenRow, Scores, report_scores
from qa_app.evaluation.run import evaluate_gold
from qa_app.wiring import App
from tests.evaluation.scripted import ScriptedReader
from tests.evaluation.test_open_book import (
    SCRIPT,
    app_factory,
    memory_store,
    run_cli,
    write_dataset,
)


@pytest.fixture
def dataset_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny SQuAD v2 file of the open-book tests, with the data dir and working dir in tmp_path."""
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return write_dataset(tmp_path / "tiny.json")


def conforms(value: Any, hint: Any, where: str = "result") -> list[str]:
    """Where `value` does not match the type `hint` (TypedDicts checked key by key, recursively)."""
    if hint is Any:
        return []
    if is_typeddict(hint):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not a dict"]
        hints = get_type_hints(hint)
        problems = [f"{where}.{k}: undeclared" for k in value if k not in hints]
        problems += [f"{where}.{k}: missing" for k in hint.__required_keys__ if k not in value]
        for k, v in value.items():
            if k in hints:
                problems += conforms(v, hints[k], f"{where}.{k}")
        return problems
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return [] if value in args else [f"{where}: {value!r} not in {args}"]
    if origin in (Union, types.UnionType):
        return [] if any(not conforms(value, a, where) for a in args) else [f"{where}: {value!r} is none of {args}"]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: not a dict"]
        return [p for k, v in value.items() for p in conforms(k, args[0], where) + conforms(v, args[1], f"{where}.{k}")]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [p for i, v in enumerate(value) for p in conforms(v, args[0], f"{where}[{i}]")]
    if hint is float:  # JSON numbers: an int is a float, a bool is not
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [f"{where}: {value!r}"]
    if hint is int:
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where}: {value!r}"]
    return [] if isinstance(value, hint) else [f"{where}: {value!r} is not {hint.__name__}"]


def round_trips(value: Any) -> bool:
    return json.loads(json.dumps(value, ensure_ascii=False)) == value


def test_the_checker_finds_undeclared_missing_and_mistyped_keys() -> None:
    assert conforms({"exact": 1.0, "f1": 2.0, "total": 3}, Scores) == []
    assert conforms({"exact": 1.0, "f1": 2.0, "total": 3, "exactt": 1.0}, Scores) == ["result.exactt: undeclared"]
    assert conforms({"exact": 1.0, "total": 3}, Scores) == ["result.f1: missing"]
    assert conforms({"exact": "1", "f1": 2.0, "total": 3.5}, Scores) == ["result.exact: '1'", "result.total: 3.5"]


def test_gold_report_and_rows_are_typed_and_round_trip_to_the_same_json(dataset_path: Path) -> None:
    dataset = load_squad(dataset_path)
    examples = split_examples(dataset, "all")
    report, rows = evaluate_gold(ScriptedReader(SCRIPT), "scripted", dataset, examples, split="all",
                                 config_hash="abc123", model="models/scripted")
    assert conforms(report, EvalReport) == []
    assert report["mode"] == "gold" and report["total"] == 5 and "HasAns_f1_forced" in report
    assert all(conforms(row, GoldRow, f"row {row['id']}") == [] for row in rows)
    assert round_trips(report) and round_trips(rows)
    # the rows are the prediction dataclasses' fields, in their order, as before they were typed
    predictions = gold_predictions(examples, read_gold(ScriptedReader(SCRIPT), examples))
    assert rows == [asdict(p) for p in predictions]
    assert [list(gold_row(p)) for p in predictions] == [list(asdict(p)) for p in predictions]


def test_open_report_and_rows_are_typed_and_round_trip_to_the_same_json(dataset_path: Path) -> None:
    make_app = app_factory(memory_store(), ScriptedReader(SCRIPT))
    app: App = make_app(load_settings())  # the data dir of `dataset_path`
    dataset = load_squad(dataset_path)
    report, rows = evaluate_open(app=app, make_app=make_app, dataset=dataset, examples=split_examples(dataset, "all"),
                                 split="test", corpus="all", reader_name="scripted", model="models/scripted", seed=0,
                                 compare_windows=True)
    assert conforms(report, EvalReport) == []
    assert report["mode"] == "open" and set(report["compare_windows"]) == {"fixed", "dynamic"}
    assert all(conforms(row, OpenRow, f"row {row['id']}") == [] for row in rows)
    assert round_trips(report) and round_trips(rows)
    assert all(list(row) == list(OpenRecord.__dataclass_fields__) for row in rows)


def test_the_cli_prints_and_writes_the_typed_report(dataset_path: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    for mode in ("gold", "open"):
        out_dir = tmp_path / mode
        make_app = app_factory(memory_store(), ScriptedReader(SCRIPT))
        built: list[Settings] = []
        code, out = run_cli(["eval", str(dataset_path), "--mode", mode, "--reader", "scripted", "--json",
                             "--out", str(out_dir)], lambda s: built.append(s) or make_app(s), capsys)
        assert code == 0
        assert {s.reader.calibration for s in built} == {"squad"}  # SQuAD questions: SQuAD's own threshold
        printed = json.loads(out)
        assert conforms(printed, EvalReport) == []
        (metrics,) = out_dir.glob("*-metrics.json")
        assert json.loads(metrics.read_text(encoding="utf-8")) == printed
        (predictions,) = out_dir.glob("*-predictions.jsonl")
        row_type = GoldRow if mode == "gold" else OpenRow
        assert all(conforms(json.loads(line), row_type) == [] for line in predictions.read_text().splitlines())


def test_report_scores_rounds_and_refuses_undeclared_keys() -> None:
    scores = report_scores({"exact": 100 / 3, "f1": 50.0, "total": 3})
    assert scores == {"exact": 33.3333, "f1": 50.0, "total": 3} and list(scores) == ["exact", "f1", "total"]
    with pytest.raises(ValueError, match="undeclared score keys: recall"):
        report_scores({"exact": 1.0, "f1": 1.0, "total": 1, "recall": 0.5})


def test_open_rows_keep_the_record_order_and_round_times() -> None:
    record = OpenRecord(id="q", question="Q?", qtype="other", golds=("a",), has_answer=True, prediction="a", exact=1,
                        f1=1.0, na_score=None, cause="correct", window_position=1, hit_position=None, windows=2,
                        growth_steps=0, tokens_read=10, end_to_end_ms=1.234, timings_ms={"read": 0.96})
    expected = {**asdict(record), "golds": ["a"], "end_to_end_ms": 1.2, "timings_ms": {"read": 1.0}}
    assert record_row(record) == expected and list(record_row(record)) == list(expected)
