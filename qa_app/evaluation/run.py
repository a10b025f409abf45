"""`qa-app eval`: score readers on SQuAD-format data and stamp every run so runs compare.

Gold mode reads each question against its own paragraph. The open-book mode (retrieval over
whole articles) lives in `qa_app.evaluation.open_book`, the run over the user's own indexed
documents in `qa_app.evaluation.collection`; all return the typed results of
`qa_app.evaluation.results`, which `write_outputs` writes as they are.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from qa_app.config import Settings
from qa_app.data.squad import (
    QAExample,
    SquadDataset,
    load_squad,
    locate_squad_v2_dev,
    sample_examples,
    split_examples,
)
from qa_app.evaluation.gold import gold_predictions, gold_row, read_gold, score_gold
from qa_app.evaluation.results import CollectionReport, CollectionRow, EvalReport, GoldRow, OpenRow, report_scores

DEFAULT_SEED = 0
OFFICIAL_DATASET = "squad-v2"  # the name `qa-app eval` takes for the official SQuAD v2.0 dev file


def default_split(dataset_arg: str) -> str:
    """The split scored when none is asked for: `test` (articles 28-34) of the official file, and
    every question of any other file (the split by article is defined on the official file only)."""
    return "test" if dataset_arg == OFFICIAL_DATASET else "all"


def eval_mode(dataset_arg: str, mode: str | None, collection: str | None) -> str:
    """What `qa-app eval DATASET` runs: the --mode given, else "collection" (the questions asked over
    the user's indexed documents) for a .csv or .jsonl question file or when --collection is given,
    else "gold". A .csv / .jsonl file holds no paragraphs, so gold and open-book mode refuse it."""
    from qa_app.errors import ConfigError

    suffix = Path(dataset_arg).suffix.lower()
    if mode is None:
        return "collection" if collection or suffix in (".csv", ".jsonl") else "gold"
    if mode in ("gold", "open") and suffix in (".csv", ".jsonl"):
        raise ConfigError(f"{dataset_arg}: a {suffix} question file has no paragraphs to read in {mode} mode; "
                          "it is asked over your indexed documents (leave out --mode, or give --mode collection)")
    return mode


def squad_settings(settings: Settings) -> Settings:
    """The settings a SQuAD run (gold or open mode) reads with: the reader's SQuAD threshold, tuned on SQuAD v2
    validation paragraphs (half unanswerable), not the one chosen for the user's documents."""
    return settings.replace(calibration="squad")


def load_eval_examples(dataset_arg: str, split: str | None, limit: int | None,
                       seed: int = DEFAULT_SEED) -> tuple[SquadDataset, list[QAExample]]:
    """`squad-v2` (the official file, split by article) or a path to any SQuAD-format file.

    `split` None is `default_split(dataset_arg)`. A named split other than "all" of a file with fewer
    articles than the official one is a DatasetError (`split_examples`), never silently all of it."""
    split = split or default_split(dataset_arg)
    dataset = load_squad(locate_squad_v2_dev() if dataset_arg == OFFICIAL_DATASET else dataset_arg)
    examples = split_examples(dataset, split)
    return dataset, list(sample_examples(examples, limit, seed=seed))


def evaluate_gold(
    reader: Any, reader_name: str, dataset: SquadDataset, examples: Sequence[QAExample], *, split: str,
    config_hash: str, model: str, seed: int = DEFAULT_SEED, progress: Callable[[int], None] | None = None,
) -> tuple[EvalReport, list[GoldRow]]:
    """Metrics (official SQuAD v2 semantics) plus stamps, and per-question predictions."""
    start = time.perf_counter()
    results = read_gold(reader, examples, progress)
    seconds = time.perf_counter() - start
    preds = gold_predictions(examples, results)
    scores = score_gold(examples, preds)
    report: EvalReport = {
        **report_scores(scores),
        "reader": reader_name, "model": model, "mode": "gold", "split": split, "config_hash": config_hash,
        "dataset": dataset.source, "dataset_sha256": dataset.sha256, "seed": seed, "questions": len(examples),
        "seconds": round(seconds, 2), "questions_per_s": round(len(examples) / max(seconds, 1e-9), 2),
    }
    return report, [gold_row(p) for p in preds]


def write_outputs(out_dir: Path, name: str, report: EvalReport | CollectionReport,
                  rows: Sequence[GoldRow] | Sequence[OpenRow] | Sequence[CollectionRow]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}-metrics.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    with (out_dir / f"{name}-predictions.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
