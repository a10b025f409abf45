"""`qa-app train --reader transformer[-mpnet]`: fine-tune a BERT-style encoder (all-MiniLM-L6-v2,
all-mpnet-base-v2 or a folder) as a span extractor.

Only what is specific to the transformer lives here: its optimizer (AdamW, BERT recipe), its
checkpoint format and reader (`TRANSFORMER`), and the trainer the reader registry names. The loop,
labels and tuning are shared (qa_app/training/loop.py); data, export and model card too
(qa_app/training/runner.py).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from transformers import AutoTokenizer

from qa_app.readers.registry import reader_spec
from qa_app.readers.span_model import build_from_base, load_checkpoint, save_checkpoint
from qa_app.readers.transformer import TransformerReader
from qa_app.training.bases import resolve_base
from qa_app.training.loop import SpanModelKind, TrainConfig, seed_everything
from qa_app.training.runner import model_from_init, train_and_export, training_split, write_model_card


def adamw_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW without weight decay on biases and LayerNorm weights (BERT recipe)."""
    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    decayed = [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)]
    undecayed = [p for n, p in model.named_parameters() if any(k in n for k in no_decay)]
    groups = [{"params": decayed, "weight_decay": config.weight_decay}, {"params": undecayed, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.learning_rate)



TRANSFORMER = SpanModelKind("transformer", save_checkpoint, load_checkpoint, TransformerReader, adamw_optimizer)


def train_transformer_reader(
    *, reader: str = "transformer", data: str | None, base: str | None, out_dir: Path, run_dir: Path, resume: bool,
    overrides: dict[str, Any], log: Callable[[str], None], progress_factory: Callable[..., Any] | None,
) -> dict[str, Any]:
    """`qa-app train` for a transformer span reader: train from `base` (or --init), export the best
    epoch with its model card (qa_app/training/runner.py)."""
    config = dataclasses.replace(TrainConfig(), **{k: v for k, v in overrides.items() if v is not None})
    dataset, train, validation, test = training_split(data, config, log)
    seed_everything(config.seed)
    if config.init:
        model, tokenizer, base_name = model_from_init(config.init, "transformer")
    else:
        base_model = resolve_base(base or reader_spec(reader).default_base)
        tokenizer = AutoTokenizer.from_pretrained(str(base_model.path))
        model, base_name = build_from_base(base_model.path), base_model.name
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2), encoding="utf-8")
    card, _ = train_and_export(reader=reader, kind=TRANSFORMER, model=model, tokenizer=tokenizer, base_name=base_name,
                               dataset=dataset, split=(train, validation, test), config=config,
                               hyper_parameters=dataclasses.asdict(config), run_dir=run_dir, out_dir=out_dir,
                               resume=resume, log=log, progress_factory=progress_factory)
    write_model_card(out_dir, card)
    return card
