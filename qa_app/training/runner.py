"""What `qa-app train` does: load data and split, train, score the best epoch on test, export the
checkpoint (in the smallest stored precision that costs < 0.2 F1 on validation) with its model card.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch

from qa_app.config import ReaderConfig
from qa_app.data.squad import (
    OFFICIAL_ARTICLE_COUNT,
    SQUAD_PACKAGE,
    SQUAD_PACKAGE_VERSION,
    SQUAD_V2_DEV_SHA256,
    SquadDataset,
    load_squad,
    locate_squad_v2_dev,
    split_examples,
)
from qa_app.data.squad_v1_train import TRAIN_V1_MD5, WHEEL_MEMBER, WHEEL_REQUIREMENT, cached_squad_v1_train
from qa_app.errors import ConfigError, DatasetError
from qa_app.evaluation.gold import gold_predictions, read_gold, score_gold
from qa_app.readers.inference import autocast_bf16
from qa_app.readers.registry import load_span_checkpoint, reader_spec
from qa_app.training.bases import default_cache_dir
from qa_app.training.devices import describe, training_device
from qa_app.training.distillation import teacher_names
from qa_app.training.loop import THRESHOLD_TOLERANCE_F1, SpanModelKind, train_span_model, tune_on_validation
from qa_app.training.mix import MixConfig, build_training_mix


def load_training_data(data: str | None) -> tuple[SquadDataset, list[Any], list[Any], list[Any]]:
    """(dataset, train, validation, test) for the official file or any SQuAD-format file.

    A file that is not the official one (fewer than 35 articles) is split by article: the last
    10% of its articles validate, and it has no test part.
    """
    dataset = load_squad(data or locate_squad_v2_dev())
    if test_articles_present(dataset):
        return (dataset, list(split_examples(dataset, "train")), list(split_examples(dataset, "validation")),
                list(split_examples(dataset, "test")))
    n = len(dataset.articles)
    if n < 2:
        raise DatasetError(f"{dataset.source}: needs at least 2 articles to carve out validation data")
    cut = max(1, n - max(1, n // 10))
    train = [e for e in dataset.examples if e.article_index < cut]
    validation = [e for e in dataset.examples if e.article_index >= cut]
    return dataset, train, validation, []


def test_articles_present(dataset: SquadDataset) -> bool:
    """Whether the file is (shaped like) the official SQuAD v2.0 dev file with its fixed split."""
    return len(dataset.articles) >= OFFICIAL_ARTICLE_COUNT


def model_from_init(path: str, kind: str) -> tuple[Any, Any, str]:
    """(model in training mode, tokenizer, base-model name) of a trained checkpoint to continue."""
    model, tokenizer, settings = load_span_checkpoint(path)
    if settings.kind != kind:
        raise ConfigError(f"--init {path} holds a {settings.kind} reader; a {kind} reader continues only a {kind} checkpoint")
    model.train()
    return model, tokenizer, f"{settings.base_model}, trained further from {path}"


def training_split(data: str | None, config: Any, log: Callable[[str], None] = print,
                    ) -> tuple[SquadDataset, list[Any], list[Any], list[Any]]:
    """load_training_data (with the training mix when config.mix) and the config's smoke-test limits."""
    dataset, train, validation, test = load_training_data(data)
    if config.mix:
        train = _mixed(dataset, train, log)
    if config.limit_train:
        train = train[: config.limit_train]
    if config.limit_test:
        test = test[: config.limit_test]
    if config.limit_validation:
        validation = validation[: config.limit_validation]
    return dataset, train, validation, test


def _mixed(dataset: SquadDataset, v2_train: list[Any], log: Callable[[str], None]) -> list[Any]:
    """The training mix of SQuAD v1.1 train and `v2_train` (qa_app/training/mix.py)."""
    if not test_articles_present(dataset):
        raise ConfigError("--mix adds SQuAD v1.1 train to the official SQuAD v2.0 dev file's train split; "
                          "drop --data or --mix")
    v1 = load_squad(cached_squad_v1_train(default_cache_dir()))
    mix = build_training_mix(v1=v1, v2=dataset, v2_train=v2_train)
    log(f"training mix: {len(mix.examples)} examples ({', '.join(f'{k} {v}' for k, v in mix.counts.items())}); "
        f"v1.1 paragraphs left out as overlapping SQuAD v2.0 dev: {', '.join(mix.dropped_paragraphs) or 'none'}")
    return mix.examples


@dataclasses.dataclass(frozen=True)
class _Exported:
    model: Any  # the shipped model (after a round trip through its stored precision)
    settings: Any  # its SpanReaderSettings (tuned threshold and weight)
    precision: str  # stored precision of the shipped weights (qa_app.readers.weights.PRECISIONS)
    bf16: bool  # the reader autocasts to bf16: tuned and scored so
    validation: dict[str, dict[str, Any]]  # precision -> gold scores on validation (float32 and those tried)
    test: dict[str, Any]


SHIPPING_PRECISIONS = ("int8", "float16")  # smallest first; float32 ships when neither is close enough
PRECISION_TOLERANCE_F1 = 0.2  # a smaller precision ships when it loses less validation F1 than this


def train_and_export(
    *, reader: str, kind: SpanModelKind, model: Any, tokenizer: Any, base_name: str, dataset: SquadDataset,
    split: tuple[list[Any], list[Any], list[Any]], config: Any, hyper_parameters: dict[str, Any], run_dir: Path,
    out_dir: Path, resume: bool, log: Callable[[str], None], progress_factory: Callable[..., Any] | None,
) -> tuple[dict[str, Any], _Exported]:
    """Train (qa_app/training/loop.py), export the best epoch to out_dir (export_best); the model card's
    contents and what was exported. Every reader's trainer ends here."""
    train, validation, test = split
    started = time.monotonic()
    best_dir, state = train_span_model(
        model=model, tokenizer=tokenizer, base_model=base_name, train_examples=train,
        validation_examples=validation, run_dir=run_dir, config=config, resume=resume, log=log,
        progress_factory=progress_factory, kind=kind,
    )
    exported = export_best(best_dir=best_dir, run_dir=run_dir, out_dir=out_dir, config=config, validation=validation,
                           test=test, log=log, kind=kind, inference_precision=reader_spec(reader).precision)
    card = model_card(reader=reader, base_model=base_name, exported=exported, dataset=dataset, split=split,
                      hyper_parameters=hyper_parameters, state=state, started=started)
    return card, exported


def export_best(
    *, best_dir: Path, run_dir: Path, out_dir: Path, config: Any, validation: list[Any], test: list[Any],
    log: Callable[[str], None], kind: SpanModelKind, inference_precision: str,
) -> _Exported:
    """Ship the best epoch: stored in the smallest precision that costs < PRECISION_TOLERANCE_F1 on
    validation, its no-answer threshold tuned again on validation with the current rule for the weights
    it ships (rounding moves the margins), scored once on test, saved to out_dir."""
    bf16 = autocast_bf16(inference_precision)  # tune and score at the precision the shipped reader runs at
    device = training_device(config.device)
    best_model, best_tok, best_settings = kind.load_checkpoint(best_dir)
    best_model.to(device)
    best_settings, tuned = tune_on_validation(best_model, best_tok, best_settings, validation, config.eval_batch_size,
                                              bf16, kind=kind)
    log(f"threshold {best_settings.null_threshold:.3f}, answerability weight {best_settings.answerability_weight}: "
        f"validation F1 {tuned['f1']:.2f} (best at any threshold {tuned['best_f1_any_threshold']:.2f}), "
        f"answering {100 * tuned['answered_share']:.0f}% of questions")
    reader_cfg = ReaderConfig(batch_size=config.eval_batch_size)
    val_scores: dict[str, dict[str, Any]] = {"float32": tuned}
    chosen, precision = best_model, "float32"
    for candidate in SHIPPING_PRECISIONS:
        stored_dir = run_dir / f"best-{candidate}"
        kind.save_checkpoint(best_model, best_tok, best_settings, stored_dir, precision=candidate)
        stored_model, _, _ = kind.load_checkpoint(stored_dir)
        stored_model.to(device)
        # rounding the weights moves the span-vs-null margins: each precision gets its own threshold
        stored_settings, val_scores[candidate] = tune_on_validation(
            stored_model, best_tok, best_settings, validation, config.eval_batch_size, bf16, kind=kind)
        log(f"validation F1 float32 {tuned['f1']:.2f}, {candidate} {val_scores[candidate]['f1']:.2f} "
            f"(threshold {stored_settings.null_threshold:.3f})")
        if tuned["f1"] - val_scores[candidate]["f1"] < PRECISION_TOLERANCE_F1:
            chosen, precision, best_settings = stored_model, candidate, stored_settings
            break
    log(f"shipping {precision} weights")
    test_scores: dict[str, Any] = {}
    if test:
        log(f"scoring the best epoch on the {len(test)} test questions (reported, never tuned on) ...")
        reader = kind.reader_class.from_model(chosen, best_tok, best_settings, config=reader_cfg, bf16=bf16)
        test_scores = score_gold(test, gold_predictions(test, read_gold(reader, test)))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    kind.save_checkpoint(chosen, best_tok, best_settings, out_dir, precision=precision)
    return _Exported(chosen, best_settings, precision, bf16, val_scores, test_scores)


def model_card(
    *, reader: str, base_model: str, exported: _Exported, dataset: SquadDataset,
    split: tuple[list[Any], list[Any], list[Any]], hyper_parameters: dict[str, Any], state: Any, started: float,
) -> dict[str, Any]:
    train, validation, test = split
    val_scores = exported.validation
    return {
        "reader": reader, "base_model": base_model,
        "parameters": sum(p.numel() for p in exported.model.parameters()),
        "data": {"file": _dataset_name(dataset), "sha256": dataset.sha256, "train_questions": len(train),
                 **({"mix": _mix_description()} if hyper_parameters.get("mix") else {}),
                 "validation_questions": len(validation), "test_questions": len(test),
                 "split": "train = articles 0-24, validation = 25-27, test = 28-34" if test else "last 10% of articles validate"},
        "hyper_parameters": hyper_parameters,
        "examples_seen": state.examples_seen, "epochs_history": state.history,
        "wall_time_minutes": round((time.monotonic() - started) / 60, 1),
        "training_wall_seconds": round(state.wall_seconds),
        "null_threshold": exported.settings.null_threshold, "answerability_weight": exported.settings.answerability_weight,
        "weights_dtype": exported.precision, "inference_bf16": exported.bf16,
        "validation": _rounded(val_scores[exported.precision]),
        "validation_f1_by_precision": {name: round(float(s["f1"]), 2) for name, s in val_scores.items()},
        "test": _rounded(exported.test),
        "machine": _machine(hyper_parameters.get("device", "cpu")),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
    }


def _machine(device: str) -> str:
    """Where the reader trained, for its model card."""
    cpu = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    trained_on = training_device(device)
    return f"{describe(trained_on)} ({cpu})" if trained_on.type == "cuda" else cpu


def _mix_description() -> str:
    return (f"SQuAD v1.1 train ({WHEEL_MEMBER} of the {WHEEL_REQUIREMENT} wheel, md5 {TRAIN_V1_MD5}; paragraphs "
            f"overlapping the SQuAD v2.0 dev file left out) + the v2 train split, as built by "
            f"qa_app/training/mix.py with {dataclasses.asdict(MixConfig())}")


def _precision_list(f1_by_precision: dict[str, float]) -> str:
    return ", ".join(f"{name} {f1}" for name, f1 in f1_by_precision.items())


def _dataset_name(dataset: SquadDataset) -> str:
    """The data file as a reader of the card can find it (no local paths for the official file)."""
    if dataset.sha256 == SQUAD_V2_DEV_SHA256:  # wherever the file was read from (a copy on a GPU machine)
        return f"squad.json of {SQUAD_PACKAGE}=={SQUAD_PACKAGE_VERSION}"
    return Path(str(dataset.source)).name


def _rounded(scores: dict[str, Any]) -> dict[str, Any]:
    return {k: round(float(v), 2) if isinstance(v, float) else v for k, v in scores.items()}


def _teacher_lines(hyper_parameters: dict[str, Any]) -> list[str]:
    """Model-card lines for a run that continued a checkpoint or learned from a teacher."""
    lines = []
    if hyper_parameters.get("init"):
        lines.append(f"- Continued from the trained checkpoint {hyper_parameters['init']}")
    if hyper_parameters.get("teacher"):
        teachers = teacher_names(str(hyper_parameters["teacher"]))
        who, were = ((f"the reader in {teachers[0]}", "it was") if len(teachers) == 1
                     else (f"the mean logits of the readers in {', '.join(teachers)}", "they were"))
        lines.append(f"- Distilled from {who} (as {were} when training ran; "
                     f"distillation weight {hyper_parameters['distill_weight']}, temperature "
                     f"{hyper_parameters['distill_temperature']}), next to the gold labels")
    return lines


def write_model_card(out_dir: Path, card: dict[str, Any]) -> None:
    """card.json (machine-readable) and MODEL_CARD.md (for people) next to the weights."""
    (out_dir / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    t, v, data = card.get("test", {}), card.get("validation", {}), card["data"]

    def row(name: str, s: dict[str, Any]) -> str:
        keys = ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "total")
        return f"| {name} | " + " | ".join(str(s.get(k, "-")) for k in keys) + " |"

    lines = [
        f"# Model card: {card['reader']} reader", "",
        f"- Base model: {card['base_model']} ({card['parameters']:,} parameters)",
        f"- Data: SQuAD v2.0 dev ({data['file']}, sha256 {data['sha256'][:12]}...); split: {data['split']}",
        *([f"- Training mix: {data['mix']}"] if data.get("mix") else []),
        f"- Questions: {data['train_questions']} train, {data['validation_questions']} validation, {data['test_questions']} test",
        f"- Examples seen: {card['examples_seen']:,}; "
        f"training wall time {card['training_wall_seconds'] / 60:.0f} min on {card['machine']}",
        f"- No-answer threshold {card['null_threshold']:.3f}, answerability weight {card['answerability_weight']} "
        f"(tuned on validation: the most answering threshold within {THRESHOLD_TOLERANCE_F1:g} F1 points of the best "
        "validation F1)",
        f"- Weights: {card['weights_dtype']} safetensors (the smallest stored precision within "
        f"{PRECISION_TOLERANCE_F1} validation F1 of float32; validation F1 by precision: "
        f"{_precision_list(card['validation_f1_by_precision'])}); "
        f"figures measured with {'bf16 autocast' if card.get('inference_bf16') else 'float32'} inference, as the reader runs",
        *_teacher_lines(card["hyper_parameters"]),
        f"- Date: {card['date']}", "",
        "| split | EM | F1 | HasAns EM | HasAns F1 | NoAns EM | questions |", "|---|---|---|---|---|---|---|",
        row("validation", v), row("test", t), "",
        f"Test figures are reproduced by `qa-app eval squad-v2 --split test --mode gold --reader {card['reader']} --json`.", "",
        "## Hyper-parameters", "", "```json", json.dumps(card["hyper_parameters"], indent=2), "```", "",
        "## Per epoch (validation)", "", "```json", json.dumps(card["epochs_history"], indent=2), "```", "",
        "## Limits", "",
        f"Trained on {card['examples_seen']:,} windows drawn from {data['train_questions']:,} questions about English "
        "Wikipedia paragraphs; "
        "answers are extracted spans, never generated. Expect weaker results on other domains and languages.", "",
    ]
    (out_dir / "MODEL_CARD.md").write_text("\n".join(lines), encoding="utf-8")
