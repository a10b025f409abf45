"""The reader registry is the one list of readers: every consumer sees the same names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa_app.cli import build_parser
from qa_app.config import DEFAULT_MODELS_DIR, DEFAULT_READER, Settings
from qa_app.errors import ConfigError, ModelNotFoundError
from qa_app.readers.registry import (
    CHECKPOINT_LOADERS,
    READERS,
    import_object,
    load_span_checkpoint,
    reader_names,
    reader_spec,
    trainable_names,
)
from qa_app.wiring import build_reader


def subparser(name: str):  # type: ignore[no-untyped-def]
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    return commands.choices[name]  # type: ignore[index]


def option(parser, flag: str):  # type: ignore[no-untyped-def]
    return next(a for a in parser._actions if flag in a.option_strings)


def test_names_are_unique_and_the_default_is_registered() -> None:
    assert len(set(reader_names())) == len(READERS)
    assert DEFAULT_READER in reader_names()


def test_every_class_and_trainer_named_in_the_registry_exists() -> None:
    for spec in READERS:
        assert callable(import_object(spec.reader_class)), spec.name
        assert all(reader_spec(part).needs_checkpoint for part in spec.parts), spec.name  # model readers
        if spec.trainer:
            assert callable(import_object(spec.trainer)), spec.name
            assert spec.default_base, f"{spec.name} trains from a base"
    for loader in CHECKPOINT_LOADERS.values():
        assert callable(import_object(loader))


def test_cli_offers_the_registry_names() -> None:
    train = subparser("train")
    assert tuple(option(train, "--reader").choices) == trainable_names()
    for command in ("ask", "chat", "eval"):
        help_text = option(subparser(command), "--reader").help
        assert all(name in help_text for name in reader_names()), command


def test_unknown_reader_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        reader_spec("bert-large")
    assert all(name in str(info.value) for name in reader_names())
    with pytest.raises(ConfigError):
        build_reader(Settings(), "bert-large")


def test_wiring_builds_every_reader_under_its_registry_name(tmp_path: Path) -> None:
    settings = Settings().replace(models_dir=str(tmp_path / "empty"))
    for spec in READERS:
        if spec.needs_checkpoint or spec.parts:  # a cascade needs its parts' checkpoints
            with pytest.raises(ModelNotFoundError, match=spec.parts[0] if spec.parts else spec.name):
                build_reader(settings, spec.name)
        else:
            assert build_reader(settings, spec.name).name == spec.name


@pytest.mark.parametrize("name", [s.name for s in READERS if s.needs_checkpoint and (DEFAULT_MODELS_DIR / s.name).is_dir()])
def test_shipped_checkpoints_record_the_registry_kind_and_name(name: str) -> None:
    folder = DEFAULT_MODELS_DIR / name
    recorded = json.loads((folder / "reader.json").read_text(encoding="utf-8"))
    assert recorded["kind"] == reader_spec(name).kind
    # chosen on the real-document validation set (bench/documents_threshold.py --write); a retrained checkpoint needs it
    assert isinstance(recorded["documents_null_threshold"], float)
    assert json.loads((folder / "card.json").read_text(encoding="utf-8"))["reader"] == name
    assert build_reader(Settings(), name).name == name


def test_a_tiny_checkpoint_loads_through_the_registry_by_its_kind(tmp_path: Path) -> None:
    from transformers import BertTokenizerFast

    from qa_app.readers.checkpoint import SpanReaderSettings
    from qa_app.readers.lstm_model import build_tiny as tiny_lstm
    from qa_app.readers.lstm_model import save_checkpoint as save_lstm
    from qa_app.readers.span_model import build_tiny, save_checkpoint

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]), encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    save_checkpoint(build_tiny(vocab_size=7), tokenizer, SpanReaderSettings(base_model="tiny"), tmp_path / "t",
                    precision="float32")
    save_lstm(tiny_lstm(vocab_size=7), tokenizer, SpanReaderSettings(base_model="tiny", kind="lstm"), tmp_path / "l",
              precision="float32")
    assert type(load_span_checkpoint(tmp_path / "t")[0]).__name__ == "SpanReaderModel"
    assert type(load_span_checkpoint(tmp_path / "l")[0]).__name__ == "LSTMSpanModel"
    with pytest.raises(ModelNotFoundError):
        load_span_checkpoint(tmp_path)


def test_every_trained_reader_has_a_quality_floor_in_the_slow_tier() -> None:
    from tests.slow.test_reader_quality import FLOORS

    assert set(FLOORS) == {spec.name for spec in READERS if spec.needs_checkpoint or spec.parts}
