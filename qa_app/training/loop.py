"""The training loop every span reader shares (`train_span_model`), and the tuning of the no-answer
threshold and answerability weight on validation data (`tune_on_validation`).

CPU-minded (length-grouped batches with dynamic padding, bf16 autocast where the CPU has it,
gradient accumulation, linear warm-up/decay), and runs on a GPU where there is one
(`device`, qa_app/training/devices.py). Checkpoints the full training state every few
minutes (atomic write) so `--resume` loses little. After every epoch it scores the validation
articles, tunes the no-answer threshold and the answerability weight there, and keeps the best
epoch. Never looks at the test split except for the final, reported evaluation.

The loop is generic over span models (anything whose forward(input_ids, attention_mask,
token_type_ids) returns (start, end, answer_logit)): a `SpanModelKind` says how to checkpoint the
model, which reader wraps it for validation and which optimizer trains it; qa_app/training/transformer.py
and qa_app/training/lstm.py declare theirs. With `teacher` set, the loss also learns from a trained
reader's outputs (qa_app/training/distillation.py).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from qa_app.config import ReaderConfig
from qa_app.data.squad import QAExample
from qa_app.errors import ConfigError
from qa_app.evaluation.gold import gold_predictions, paragraph_window, score_gold
from qa_app.evaluation.thresholds import NEVER_ABSTAIN, Margins, choose_threshold, f1_curve
from qa_app.readers.checkpoint import SpanReaderSettings
from qa_app.readers.inference import model_device, pad_batch
from qa_app.training.batches import length_grouped_batches
from qa_app.training.devices import bf16_trains_on, describe, training_device
from qa_app.training.distillation import TeacherTargets, distillation_loss, teacher_targets
from qa_app.training.labels import LabelledFeatures, label_features

STATE_FILE = "train_state.pt"
ANSWERABILITY_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0)
# prefer answering where validation F1 is this close to its best; chosen by leaving one validation article out
# (docs/readers.md, "The SQuAD threshold rule")
THRESHOLD_TOLERANCE_F1 = 1.0


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 3.0  # passes over the training features (fractions allowed)
    learning_rate: float = 1e-4
    batch_size: int = 16  # features per forward pass
    accumulation: int = 2  # forward passes per optimizer step
    warmup: float = 0.1  # share of steps with a rising learning rate
    weight_decay: float = 0.01
    max_length: int = 384
    stride: int = 128
    max_question_tokens: int = 64
    answerability_loss: float = 1.0  # weight of the answerability BCE next to the span loss
    seed: int = 13
    bf16: bool = True  # autocast where the device computes bf16 (qa_app/training/devices.py)
    device: str = "auto"  # auto (a GPU if PyTorch sees one), cpu, cuda or cuda:N
    checkpoint_minutes: float = 5.0
    eval_batch_size: int = 32
    mix: bool = False  # train on SQuAD v1.1 train + the v2 train split, shaped like retrieval windows (training/mix.py)
    limit_train: int = 0  # >0: train on this many examples only (smoke tests)
    limit_validation: int = 0
    limit_test: int = 0
    init: str = ""  # a trained checkpoint of the same reader to start from; "" = the base model
    teacher: str = ""  # trained reader checkpoint(s), comma-separated, to distil from (training/distillation.py); "" = none
    distill_weight: float = 0.5  # share of the teacher's loss in the total (with a teacher)
    distill_temperature: float = 2.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.distill_weight <= 1.0 or self.distill_temperature <= 0:
            raise ConfigError("distill_weight must lie in [0, 1] and distill_temperature be > 0")


@dataclass(frozen=True)
class SpanModelKind:
    """What differs between span models in training; the loop, labels and tuning are shared."""

    name: str  # SpanReaderSettings.kind of its checkpoints
    save_checkpoint: Callable[..., Path]  # (model, tokenizer, settings, out_dir, *, precision) -> out_dir
    load_checkpoint: Callable[[Path], tuple[Any, Any, SpanReaderSettings]]  # (model, tokenizer, settings)
    reader_class: Any  # a SpanModelReader subclass (from_model(model, tokenizer, settings, config=, bf16=))
    make_optimizer: Callable[[nn.Module, TrainConfig], torch.optim.Optimizer]


@dataclass
class TrainState:
    epoch: int = 0
    batch_in_epoch: int = 0
    optimizer_steps: int = 0
    examples_seen: int = 0
    wall_seconds: float = 0.0
    best_f1: float = -1.0
    history: list[dict[str, float]] = dataclasses.field(default_factory=list)


def train_span_model(
    *,
    model: nn.Module,
    tokenizer: Any,
    base_model: str,
    train_examples: list[QAExample],
    validation_examples: list[QAExample],
    run_dir: Path,
    config: TrainConfig,
    resume: bool = False,
    log: Callable[[str], None] = print,
    progress_factory: Callable[..., Any] | None = None,
    kind: SpanModelKind,
) -> tuple[Path, TrainState]:
    """Train, keeping the best validation checkpoint in run_dir/best. Returns (best dir, state)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    device = training_device(config.device)
    model.to(device)
    bf16 = config.bf16 and bf16_trains_on(device)
    log(f"tokenising {len(train_examples)} training questions ...")
    feats = label_features(tokenizer, train_examples, max_length=config.max_length, stride=config.stride,
                           max_question_tokens=config.max_question_tokens)
    lengths = [len(x) for x in feats.input_ids]
    teacher = None
    if config.teacher:
        teacher = teacher_targets(config.teacher, tokenizer, feats, run_dir, batch_size=config.eval_batch_size,
                                  log=log, progress_factory=progress_factory, device=device)
    batches_per_epoch = math.ceil(len(feats) / config.batch_size)
    total_batches = max(1, int(batches_per_epoch * config.epochs))  # a fraction of an epoch still trains
    total_steps = max(1, math.ceil(total_batches / config.accumulation))
    optimizer = kind.make_optimizer(model, config)
    warmup_steps = int(total_steps * config.warmup)

    def lr_lambda(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    state = TrainState()
    state_path = run_dir / STATE_FILE
    if resume and state_path.is_file():
        saved = torch.load(state_path, map_location="cpu", weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        state = TrainState(**saved["state"])
        torch.set_rng_state(saved["torch_rng"])
        optimizer.zero_grad(set_to_none=True)
        log(f"resumed at epoch {state.epoch}, batch {state.batch_in_epoch}, step {state.optimizer_steps}")
    elif resume:
        log(f"nothing to resume in {run_dir}; starting fresh")
    log(f"{len(feats)} features, {batches_per_epoch} batches/epoch, {total_steps} optimizer steps, "
        f"on {describe(device)}, bf16={bf16}")

    loss_fn = nn.CrossEntropyLoss()
    bce = nn.BCEWithLogitsLoss()
    last_save = time.monotonic()
    done_batches = state.epoch * batches_per_epoch + state.batch_in_epoch
    bar = progress_factory(total=total_batches, initial=done_batches, unit="batch") if progress_factory else None
    window_loss: list[float] = []
    t_start = time.monotonic()
    seen_at_start = state.examples_seen

    def save_state() -> None:
        tmp = state_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "state": asdict(state),
                    "torch_rng": torch.get_rng_state(), "config": asdict(config)}, tmp)
        os.replace(tmp, state_path)

    pending = 0  # batches whose gradients wait for the next optimizer step; saves happen only at 0
    while done_batches < total_batches:
        order = length_grouped_batches(lengths, config.batch_size, seed=config.seed * 1000 + state.epoch)
        model.train()
        for b in range(state.batch_in_epoch, len(order)):
            if done_batches >= total_batches:
                break
            loss = _batch_loss(model, feats, order[b], bf16, loss_fn, bce, config, teacher)
            (loss / config.accumulation).backward()
            window_loss.append(loss.item())
            done_batches += 1
            state.batch_in_epoch = b + 1
            state.examples_seen += len(order[b])
            pending += 1
            if pending == config.accumulation or done_batches == total_batches or b == len(order) - 1:
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state.optimizer_steps += 1
                pending = 0
            if bar is not None:
                elapsed = time.monotonic() - t_start
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(window_loss[-50:]):.3f}",
                                ex_s=f"{(state.examples_seen - seen_at_start) / max(elapsed, 1e-6):.1f}",
                                lr=f"{scheduler.get_last_lr()[0]:.1e}")
            if pending == 0 and time.monotonic() - last_save > config.checkpoint_minutes * 60:
                state.wall_seconds += time.monotonic() - last_save
                last_save = time.monotonic()
                save_state()
        finished_epoch = state.batch_in_epoch == len(order)
        if finished_epoch or done_batches >= total_batches:
            epoch_done = state.epoch + state.batch_in_epoch / len(order)
            if finished_epoch:
                state.epoch += 1
                state.batch_in_epoch = 0
            state.wall_seconds += time.monotonic() - last_save
            scores = evaluate_and_keep_best(model, tokenizer, base_model, validation_examples, run_dir, config, state, bf16,
                                            log, kind=kind)
            state.history.append({"epoch": round(epoch_done, 3), **scores})
            last_save = time.monotonic()
            save_state()
    if bar is not None:
        bar.close()
    return run_dir / "best", state


def _batch_loss(model: nn.Module, feats: LabelledFeatures, idx: list[int], bf16: bool, loss_fn: nn.Module,
                bce: nn.Module, config: TrainConfig, teacher: TeacherTargets | None = None) -> torch.Tensor:
    """Span CE + weighted answerability BCE against the gold labels, mixed with the teacher's
    distillation loss when there is a teacher."""
    device = model_device(model)
    ids, mask = pad_batch([feats.input_ids[i] for i in idx])
    types, _ = pad_batch([feats.token_type_ids[i] for i in idx])
    starts = torch.tensor([feats.start_positions[i] for i in idx], device=device)
    ends = torch.tensor([feats.end_positions[i] for i in idx], device=device)
    has = torch.tensor([feats.has_answer[i] for i in idx], dtype=torch.float32, device=device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        start, end, answer = model(ids.to(device), mask.to(device), types.to(device))
    span_loss = (loss_fn(start.float(), starts) + loss_fn(end.float(), ends)) / 2
    gold = span_loss + config.answerability_loss * bce(answer.float(), has)
    if teacher is None:
        return gold
    t_start, t_end, t_answer = (t.to(device) for t in teacher.batch(idx))
    soft = distillation_loss(start, end, answer, (t_start, t_end, t_answer), config.distill_temperature)
    return (1 - config.distill_weight) * gold + config.distill_weight * soft


def _read_validation(
    model: nn.Module, tokenizer: Any, settings: SpanReaderSettings, examples: list[QAExample], reader_config: ReaderConfig,
    bf16: bool, kind: SpanModelKind,
) -> tuple[list[Any], Any, Any]:
    """One forward pass over the validation paragraphs: (items, raw outputs, owner) to decode under any settings."""
    probe = kind.reader_class.from_model(model, tokenizer, settings, config=reader_config, bf16=bf16)
    items = [(e.question, [paragraph_window(e)]) for e in examples]
    model.eval()
    raws, owner = probe.raw_for_items(items)
    return items, raws, owner


def _margins(
    model: nn.Module, tokenizer: Any, settings: SpanReaderSettings, examples: list[QAExample], reader_config: ReaderConfig,
    bf16: bool, kind: SpanModelKind, read: tuple[list[Any], Any, Any],
) -> dict[float, Margins]:
    items, raws, owner = read
    margins = {}
    for weight in ANSWERABILITY_WEIGHTS:
        forced = dataclasses.replace(settings, answerability_weight=weight, null_threshold=NEVER_ABSTAIN)
        reader = kind.reader_class.from_model(model, tokenizer, forced, config=reader_config, bf16=bf16)
        preds = gold_predictions(examples, reader.results_from_raws(items, raws, owner))
        margins[weight] = Margins(np.array([-p.na_score for p in preds]), np.array([p.f1 for p in preds]))
    return margins


def validation_margins(
    model: nn.Module, tokenizer: Any, settings: SpanReaderSettings, examples: list[QAExample],
    batch_size: int, bf16: bool, *, kind: SpanModelKind,
) -> dict[float, Margins]:
    """Per answerability weight, each validation question's span-vs-null margin and forced-answer F1."""
    reader_config = ReaderConfig(batch_size=batch_size)
    read = _read_validation(model, tokenizer, settings, examples, reader_config, bf16, kind)
    return _margins(model, tokenizer, settings, examples, reader_config, bf16, kind, read)


def tune_on_validation(
    model: nn.Module, tokenizer: Any, settings: SpanReaderSettings, examples: list[QAExample],
    batch_size: int, bf16: bool, *, kind: SpanModelKind,
) -> tuple[SpanReaderSettings, dict[str, float]]:
    """Pick the answerability weight and no-answer threshold on validation data: the most answering
    setting whose F1 is within THRESHOLD_TOLERANCE_F1 of the best (see qa_app.evaluation.thresholds)."""
    reader_config = ReaderConfig(batch_size=batch_size)
    read = _read_validation(model, tokenizer, settings, examples, reader_config, bf16, kind)
    has_answer = np.array([not e.is_impossible for e in examples])
    curves = {weight: f1_curve(m.diffs, m.forced_f1, has_answer)
              for weight, m in _margins(model, tokenizer, settings, examples, reader_config, bf16, kind, read).items()}
    weight, point = choose_threshold(curves, THRESHOLD_TOLERANCE_F1)
    tuned = dataclasses.replace(settings, answerability_weight=weight, null_threshold=point.threshold)
    reader = kind.reader_class.from_model(model, tokenizer, tuned, config=reader_config, bf16=bf16)
    final = score_gold(examples, gold_predictions(examples, reader.results_from_raws(*read)))
    final["best_f1_any_threshold"] = max(p.f1 for points in curves.values() for p in points)
    final["answered_share"] = point.answered
    return tuned, {k: v if isinstance(v, int) else float(v) for k, v in final.items()}


def evaluate_and_keep_best(
    model: nn.Module, tokenizer: Any, base_model: str, examples: list[QAExample], run_dir: Path,
    config: TrainConfig, state: TrainState, bf16: bool, log: Callable[[str], None], *,
    kind: SpanModelKind,
) -> dict[str, float]:
    settings = SpanReaderSettings(base_model=base_model, max_length=config.max_length, stride=config.stride,
                                  max_question_tokens=config.max_question_tokens, kind=kind.name)
    t0 = time.monotonic()
    tuned, scores = tune_on_validation(model, tokenizer, settings, examples, config.eval_batch_size, bf16, kind=kind)
    model.train()
    log(f"epoch {state.epoch}: validation F1 {scores['f1']:.2f} EM {scores['exact']:.2f} "
        f"HasAns F1 {scores.get('HasAns_f1', 0):.2f} NoAns {scores.get('NoAns_exact', 0):.2f} "
        f"(weight {tuned.answerability_weight}, threshold {tuned.null_threshold:.3f}, {time.monotonic() - t0:.0f}s)")
    if scores["f1"] > state.best_f1:
        state.best_f1 = scores["f1"]
        kind.save_checkpoint(model, tokenizer, tuned, run_dir / "best", precision="float32")
        (run_dir / "best" / "validation.json").write_text(json.dumps(
            {"epoch": state.epoch, "examples_seen": state.examples_seen, **scores}, indent=2), encoding="utf-8")
        log(f"kept as best in {run_dir / 'best'}")
    return {"f1": scores["f1"], "exact": scores["exact"], "HasAns_f1": scores.get("HasAns_f1", 0.0),
            "NoAns_exact": scores.get("NoAns_exact", 0.0), "weight": tuned.answerability_weight,
            "threshold": tuned.null_threshold, "examples_seen": float(state.examples_seen)}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
