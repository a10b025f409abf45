"""`qa-app train --init PATH`: continue training a trained checkpoint instead of the base model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from qa_app.cli import main
from qa_app.readers.span_model import SpanReaderSettings, build_tiny, load_checkpoint, save_checkpoint
from tests.readers.test_lstm import write_tiny_squad
from tests.training.test_trainer import SHAPE, VOCAB


def tiny_checkpoint(tokenizer: Any, path: Path) -> Path:
    torch.manual_seed(3)
    return save_checkpoint(build_tiny(vocab_size=VOCAB), tokenizer, SpanReaderSettings(base_model="tiny-random", **SHAPE),
                           path, precision="float32")


def test_training_continues_from_the_given_checkpoint(tokenizer: Any, tmp_path: Path) -> None:
    init = tiny_checkpoint(tokenizer, tmp_path / "init")
    data = write_tiny_squad(tmp_path / "tiny.json")
    out = tmp_path / "out"
    code = main(["train", "--reader", "transformer", "--init", str(init), "--data", str(data), "--out", str(out),
                 "--run-dir", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "4", "--learning-rate", "1e-3"])
    assert code == 0
    card = json.loads((out / "card.json").read_text(encoding="utf-8"))
    assert card["base_model"] == f"tiny-random, trained further from {init}"
    assert card["hyper_parameters"]["init"] == str(init)
    f1 = card["validation_f1_by_precision"]  # float32 first, then the smaller precisions tried, smallest first
    assert list(f1)[0] == "float32" and card["weights_dtype"] in f1
    if card["weights_dtype"] != "float32":
        assert f1["float32"] - f1[card["weights_dtype"]] < 0.2 + 0.01  # card figures are rounded
    before, _, _ = load_checkpoint(init)
    after, _, _ = load_checkpoint(out)
    assert after.encoder.config.hidden_size == 32  # the tiny checkpoint's shape, not the base model's 384
    moved = [name for (name, a), (_, b) in zip(before.state_dict().items(), after.state_dict().items())
             if not torch.allclose(a, b.float(), atol=1e-3)]
    assert moved, "training from --init changed no weight"


def test_init_of_another_reader_kind_or_with_architecture_settings_is_refused(tokenizer: Any, tmp_path: Path,
                                                                             capsys: Any) -> None:
    init = tiny_checkpoint(tokenizer, tmp_path / "init")
    data = write_tiny_squad(tmp_path / "tiny.json")
    common = ["--data", str(data), "--out", str(tmp_path / "out"), "--run-dir", str(tmp_path / "run"), "--epochs", "1"]
    assert main(["train", "--reader", "lstm", "--init", str(init), *common]) == 2
    assert "holds a transformer reader" in capsys.readouterr().err
    assert main(["train", "--reader", "lstm", "--init", str(init), "--embeddings", "tuned", *common]) == 2
    assert "own architecture" in capsys.readouterr().err
    assert main(["train", "--reader", "transformer", "--init", str(tmp_path / "nowhere"), *common]) == 2
    assert "not a reader checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_shipped_threshold_is_tuned_for_the_shipped_weights(tokenizer: Any, tmp_path: Path,
                                                                 monkeypatch: Any) -> None:
    """int8 rounding moves the span-vs-null margins: the stored threshold must be the one the rule
    picks for the stored weights, not the float32 model's."""
    from qa_app.training import runner
    from qa_app.training.loop import tune_on_validation
    from qa_app.training.runner import load_training_data
    from qa_app.training.transformer import TRANSFORMER

    monkeypatch.setattr(runner, "PRECISION_TOLERANCE_F1", 1e9)  # int8 ships whatever it costs

    init = tiny_checkpoint(tokenizer, tmp_path / "init")
    data = write_tiny_squad(tmp_path / "tiny.json")
    out = tmp_path / "out"
    assert main(["train", "--reader", "transformer", "--init", str(init), "--data", str(data), "--out", str(out),
                 "--run-dir", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "4",
                 "--learning-rate", "1e-3"]) == 0
    card = json.loads((out / "card.json").read_text(encoding="utf-8"))
    assert card["weights_dtype"] == "int8"
    _, _, validation, _ = load_training_data(str(data))
    model, tok, settings = TRANSFORMER.load_checkpoint(out)
    retuned, scores = tune_on_validation(model, tok, settings, list(validation), 32, card["inference_bf16"],
                                         kind=TRANSFORMER)
    assert (retuned.null_threshold, retuned.answerability_weight) == (settings.null_threshold,
                                                                       settings.answerability_weight)
    assert abs(scores["f1"] - card["validation"]["f1"]) < 0.01 + 1e-9
