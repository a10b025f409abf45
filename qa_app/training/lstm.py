"""`qa-app train --reader lstm`: the LSTM span reader trained by the shared span-model loop.

Everything but the model is shared with the transformer reader (qa_app/training/loop.py and runner.py):
features and labels, length-grouped batches, checkpoint/resume, per-epoch validation with tuning
of the no-answer threshold and answerability weight. This module only supplies the LSTM's
defaults (Adamax at 2e-3, larger batches, no bf16), its optimizer and its checkpoint format,
splits overrides into training and architecture settings, and holds the trainer the reader registry
names (`train_lstm_reader`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from transformers import AutoTokenizer

from qa_app.errors import ConfigError
from qa_app.readers.lstm import LSTMReader
from qa_app.readers.lstm_model import LSTMConfig, build_from_base, load_checkpoint, save_checkpoint
from qa_app.readers.registry import reader_spec
from qa_app.training.bases import resolve_base
from qa_app.training.loop import SpanModelKind, TrainConfig, seed_everything
from qa_app.training.runner import model_from_init, train_and_export, training_split, write_model_card

# Training defaults of the LSTM where they differ from the transformer's (DrQA: Adamax, lr 2e-3).
LSTM_TRAIN_DEFAULTS: dict[str, Any] = {
    "epochs": 8.0,
    "learning_rate": 2e-3,
    "batch_size": 32,
    "accumulation": 1,
    "warmup": 0.02,
    "weight_decay": 0.0,
    "bf16": False,  # not measured faster for the LSTM on CPU (see the model card's hyper-parameters)
}


def adamax_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adamax over the trainable parameters only (frozen embeddings stay out)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.Adamax(params, lr=config.learning_rate, weight_decay=config.weight_decay)


LSTM = SpanModelKind("lstm", save_checkpoint, load_checkpoint, LSTMReader, adamax_optimizer)


def lstm_configs(overrides: Mapping[str, Any] | None = None) -> tuple[TrainConfig, LSTMConfig]:
    """(training, architecture) settings: LSTM defaults, then the overrides that are not None.

    Keys of TrainConfig (epochs, learning_rate, ...) go to training, keys of LSTMConfig
    (hidden_size, embeddings, ...) to the architecture; any other key is a ConfigError.
    """
    train_keys = {f.name for f in dataclasses.fields(TrainConfig)}
    derived = {"vocab_size", "embedding_dim", "embedding_source", "encoder_config"}  # taken from the base model
    arch_keys = {f.name for f in dataclasses.fields(LSTMConfig)} - derived
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(given) - train_keys - arch_keys)
    if unknown:
        raise ConfigError(f"unknown LSTM training setting(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(train_keys | arch_keys))}")
    train = dataclasses.replace(TrainConfig(), **{**LSTM_TRAIN_DEFAULTS, **{k: v for k, v in given.items() if k in train_keys}})
    try:
        arch = LSTMConfig(**{k: v for k, v in given.items() if k in arch_keys})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid LSTM architecture setting: {exc}") from None
    return train, arch


def train_lstm_reader(
    *, reader: str = "lstm", data: str | None, base: str | None, out_dir: Path, run_dir: Path, resume: bool,
    overrides: dict[str, Any], log: Callable[[str], None], progress_factory: Callable[..., Any] | None,
) -> dict[str, Any]:
    """`qa-app train` for the LSTM reader (as qa_app/training/transformer.py for the transformer).
    `base` gives the tokenizer and the initial word-piece embeddings; overrides may hold training
    (TrainConfig) and architecture (LSTMConfig) keys."""
    config, architecture = lstm_configs(overrides)
    dataset, train, validation, test = training_split(data, config, log)
    base_model = resolve_base(base or reader_spec(reader).default_base)
    seed_everything(config.seed)
    if config.init:
        architecture_keys = {f.name for f in dataclasses.fields(architecture)}
        if any(overrides.get(k) is not None for k in architecture_keys):
            raise ConfigError("--init continues a trained LSTM with its own architecture; drop the architecture "
                              "settings (such as --embeddings) or train from the base model")
        model, tokenizer, _ = model_from_init(config.init, "lstm")
    else:
        tokenizer = AutoTokenizer.from_pretrained(str(base_model.path))
        model = build_from_base(base_model.path, dataclasses.replace(architecture, embedding_source=base_model.name))
    if len(tokenizer) > model.config.vocab_size:
        raise ConfigError(f"the tokenizer of {base_model.path} has {len(tokenizer)} pieces "
                          f"but its embeddings only {model.config.vocab_size}")
    run_config = {**dataclasses.asdict(config), "optimizer": "adamax", "architecture": dataclasses.asdict(model.config)}
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / "config.json"
    if resume and config_path.is_file():
        previous = json.loads(config_path.read_text(encoding="utf-8")).get("architecture")
        if previous is not None and previous != run_config["architecture"]:
            raise ConfigError(f"{run_dir} holds a run of another LSTM architecture ({previous}); "
                              "resume with the same settings or choose another --run-dir")
    config_path.write_text(json.dumps(run_config, indent=2), encoding="utf-8")
    layers = model.config.contextual_layers
    inputs = (f"contextual word pieces from the lowest {layers} layer{'s' if layers > 1 else ''} (frozen)" if layers
              else f"{model.config.embeddings} word-piece embeddings")
    base_name = f"BiLSTM reader over {inputs} of {base_model.name}"
    if config.init:
        base_name += f", trained further from {config.init}"
    card, exported = train_and_export(reader=reader, kind=LSTM, model=model, tokenizer=tokenizer, base_name=base_name,
                                      dataset=dataset, split=(train, validation, test), config=config,
                                      hyper_parameters=run_config, run_dir=run_dir, out_dir=out_dir, resume=resume,
                                      log=log, progress_factory=progress_factory)
    card["trainable_parameters"] = sum(p.numel() for p in exported.model.parameters() if p.requires_grad)
    write_model_card(out_dir, card)
    return card
