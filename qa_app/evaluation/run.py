"""`qa-app eval`: score readers on SQuAD-format data and stamp every run so runs compare.

Gold mode reads each question against its own paragraph. The open-book mode (retrieval over
whole articles) lives in `qa_app.evaluation.open_book`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Sequence

from qa_app.data.squad import (
    QAExample,
    SquadDataset,
    load_squad,
    locate_squad_v2_dev,
    sample_examples,
    split_examples,
)
from qa_app.evaluation.gold import gold_predictions, read_gold, score_gold

DEFAULT_SEED = 0


def load_eval_examples(dataset_arg: str, split: str, limit: int | None,
                       seed: int = DEFAULT_SEED) -> tuple[SquadDataset, list[QAExample]]:
    """`squad-v2` (the official file, split by article) or a path to any SQuAD-format file."""
    if dataset_arg == "squad-v2":
        dataset = load_squad(locate_squad_v2_dev())
        examples = split_examples(dataset, split)
    else:
        dataset = load_squad(dataset_arg)
        examples = split_examples(dataset, split if split != "test" or len(dataset.articles) >= 35 else "all")
    return dataset, list(sample_examples(examples, limit, seed=seed))


def evaluate_gold(
    reader: Any, reader_name: str, dataset: SquadDataset, examples: Sequence[QAExample], *, split: str,
    config_hash: str, model: str, seed: int = DEFAULT_SEED, progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Metrics (official SQuAD v2 semantics) plus stamps, and per-question predictions."""
    start = time.perf_counter()
    results = read_gold(reader, examples, progress)
    seconds = time.perf_counter() - start
    preds = gold_predictions(examples, results)
    scores = score_gold(examples, preds)
    report: dict[str, Any] = {
        **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in scores.items()},
        "reader": reader_name, "model": model, "mode": "gold", "split": split, "config_hash": config_hash,
        "dataset": dataset.source, "dataset_sha256": dataset.sha256, "seed": seed, "questions": len(examples),
        "seconds": round(seconds, 2), "questions_per_s": round(len(examples) / max(seconds, 1e-9), 2),
    }
    rows = [asdict(p) for p in preds]
    return report, rows


def write_outputs(out_dir: Path, name: str, report: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}-metrics.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    with (out_dir / f"{name}-predictions.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
