"""`qa-app train --reader lstm`: the LSTM span reader trained by the shared span-model loop.

Everything but the model is shared with the transformer reader (qa_app/training/transformer.py):
features and labels, length-grouped batches, checkpoint/resume, per-epoch validation with tuning
of the no-answer threshold and answerability weight. This module only supplies the LSTM's
defaults (Adamax at 2e-3, larger batches, no bf16), its optimizer and its checkpoint format, and
splits overrides into training and architecture settings. Builds no model and reads no data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from qa_app.errors import ConfigError
from qa_app.readers.lstm import LSTMReader
from qa_app.readers.lstm_model import LSTMConfig, save_checkpoint
from qa_app.training.transformer import (
    SpanModelKind,
    TrainConfig,
    TrainState,
    train_transformer,
)

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


LSTM = SpanModelKind("lstm", save_checkpoint, LSTMReader, adamax_optimizer)


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


def train_lstm(**kwargs: Any) -> tuple[Path, TrainState]:
    """`train_transformer` (same keyword arguments) with the LSTM's optimizer, reader and checkpoints."""
    return train_transformer(**kwargs, kind=LSTM)
