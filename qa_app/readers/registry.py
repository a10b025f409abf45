"""The one list of readers. Wiring, the CLI (choices and help), `qa-app train`, checkpoint loading,
the web app's pages and the benches all read `READERS`; adding a reader is one entry here plus its
module.

Classes, trainers and checkpoint loaders are named as "module:attribute" strings and imported on
first use, so reading this table imports no torch. Builds nothing; wiring does.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa_app.errors import ConfigError


@dataclass(frozen=True)
class ReaderSpec:
    """One reader as users and code name it."""

    name: str  # --reader NAME, the Settings page, and its checkpoint folder models/NAME
    kind: str  # model family, as its checkpoints record it in reader.json (a key of CHECKPOINT_LOADERS), or "rules"
    description: str  # one line for help texts and the Settings page
    reader_class: str  # "module:Class" implementing the Reader protocol
    trainer: str = ""  # "module:function" behind `qa-app train --reader NAME`; "" = nothing to train
    default_base: str = ""  # the base encoder `qa-app train` starts from (qa_app/training/bases.py)
    precision: str = "auto"  # inference default: auto = bf16 autocast where the CPU has native bf16, else fp32
    # read a follow-up as its history query (question + the last turn's words) instead of as asked; chosen per
    # reader on the validation dialogues (bench/conversational_reading.py): it helps only where it is True
    reads_history_query: bool = False
    # a cascade's readers by name: (scout, finisher); the scout reads every window, the finisher re-reads its best
    parts: tuple[str, ...] = ()

    @property
    def needs_checkpoint(self) -> bool:
        return self.kind in CHECKPOINT_LOADERS


READERS: tuple[ReaderSpec, ...] = (
    ReaderSpec("transformer-mpnet", "transformer",
               "span extractor fine-tuned from all-mpnet-base-v2 (109M parameters; most accurate on SQuAD, slowest)",
               "qa_app.readers.transformer:TransformerReader", "qa_app.training.transformer:train_transformer_reader",
               "mpnet", reads_history_query=True),
    ReaderSpec("transformer", "transformer",
               "span extractor fine-tuned from all-MiniLM-L6-v2 on SQuAD v1.1 + v2 (22.6M parameters; 6x faster)",
               "qa_app.readers.transformer:TransformerReader", "qa_app.training.transformer:train_transformer_reader",
               "minilm", reads_history_query=True),
    ReaderSpec("lstm", "lstm", "BiLSTM reader (DrQA/BiDAF family) over frozen all-MiniLM-L6-v2 layers",
               "qa_app.readers.lstm:LSTMReader", "qa_app.training.lstm:train_lstm_reader", "minilm"),
    ReaderSpec("cascade", "cascade",
               "transformer reads every window, transformer-mpnet re-reads about 192 word pieces around its best "
               "answer and decides (about transformer-mpnet's accuracy at a third of its latency)",
               "qa_app.readers.cascade:CascadeReader", parts=("transformer", "transformer-mpnet"),
               reads_history_query=True),
    ReaderSpec("baseline", "rules", "the window sentence sharing most words with the question (no model)",
               "qa_app.readers.baseline:BaselineSentenceReader", precision="-"),
)

# model family -> "module:function" loading (model, tokenizer, SpanReaderSettings) from a checkpoint folder
CHECKPOINT_LOADERS = {
    "transformer": "qa_app.readers.span_model:load_checkpoint",
    "lstm": "qa_app.readers.lstm_model:load_checkpoint",
}


def reader_names() -> tuple[str, ...]:
    return tuple(spec.name for spec in READERS)


def trainable_names() -> tuple[str, ...]:
    return tuple(spec.name for spec in READERS if spec.trainer)


def reader_spec(name: str) -> ReaderSpec:
    for spec in READERS:
        if spec.name == name:
            return spec
    raise ConfigError(f"unknown reader {name!r}; choose one of: {', '.join(reader_names())}")


def readers_help() -> str:
    """`name: description` of every reader, for help texts."""
    return "; ".join(f"{spec.name}: {spec.description}" for spec in READERS)


def import_object(reference: str) -> Any:
    """The attribute a "module:attribute" reference names."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def load_span_checkpoint(path: str | Path) -> tuple[Any, Any, Any]:
    """(model, tokenizer, SpanReaderSettings) of a span-reader checkpoint of any family, as its
    reader.json says."""
    from qa_app.readers.checkpoint import checkpoint_kind

    root = Path(path)
    kind = checkpoint_kind(root)
    if kind not in CHECKPOINT_LOADERS:
        raise ConfigError(f"{root} holds a reader of unknown kind {kind!r}; known: {', '.join(CHECKPOINT_LOADERS)}")
    loaded: tuple[Any, Any, Any] = import_object(CHECKPOINT_LOADERS[kind])(root)
    return loaded
