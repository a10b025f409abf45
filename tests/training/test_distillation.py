"""Knowledge distillation (qa_app/training/distillation.py): the loss, the teacher's cached logits,
and a training run that learns from a teacher.

Tiny random models (span_model.build_tiny, lstm_model.build_tiny) with the real all-MiniLM-L6-v2
tokenizer; everything is written under tmp_path.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from qa_app.errors import ConfigError
from qa_app.readers.inference import pad_batch
from qa_app.readers.lstm_model import build_tiny as build_tiny_lstm
from qa_app.readers.span_model import SpanReaderSettings, build_tiny, save_checkpoint
from qa_app.training import distillation
from qa_app.training.distillation import (
    CACHE_FILE,
    MASKED,
    TeacherTargets,
    average_targets,
    distillation_loss,
    teacher_dirs,
    teacher_names,
    teacher_targets,
)
from qa_app.training.labels import LabelledFeatures, label_features
from qa_app.training.loop import TrainConfig, train_span_model
from qa_app.training.transformer import TRANSFORMER
from tests.training.test_trainer import EXAMPLES, SHAPE, VOCAB, config

# --- the loss ---------------------------------------------------------------------------------------


def test_the_loss_vanishes_when_the_student_copies_the_teacher_where_it_can_choose() -> None:
    teacher_start = torch.tensor([[2.0, 0.5, -1.0, 9.0, 1.0]])
    teacher_end = torch.tensor([[0.0, 3.0, 1.0, 9.0, -2.0]])
    # the student can never choose position 3 (a question piece, say): the teacher's mass there is dropped
    student_start = teacher_start.clone()
    student_start[0, 3] = MASKED
    student_end = teacher_end.clone()
    student_end[0, 3] = MASKED
    certain = torch.tensor([30.0])  # answer probability 1 for both: BCE 0
    loss = distillation_loss(student_start, student_end, certain, (teacher_start, teacher_end, certain), 2.0)
    assert loss.item() == pytest.approx(0.0, abs=1e-4)

    disagreeing = torch.tensor([[0.0, 5.0, 0.0, MASKED, 0.0]])
    worse = distillation_loss(disagreeing, student_end, certain, (teacher_start, teacher_end, certain), 2.0)
    assert worse.item() > 0.1
    doubtful = distillation_loss(student_start, student_end, torch.tensor([-3.0]),
                                 (teacher_start, teacher_end, certain), 2.0)
    assert doubtful.item() > 1.0  # BCE towards the teacher's answer probability


def test_targets_pad_like_the_features() -> None:
    targets = TeacherTargets(start=[torch.tensor([1.0, 2.0]).numpy().astype("float16"),
                                    torch.tensor([3.0, 4.0, 5.0]).numpy().astype("float16")],
                             end=[torch.tensor([0.5, 0.25]).numpy().astype("float16"),
                                  torch.tensor([1.0, 1.0, 1.0]).numpy().astype("float16")],
                             answer=torch.tensor([0.1, -0.2]).numpy())
    start, end, answer = targets.batch([1, 0])
    assert start.tolist() == [[3.0, 4.0, 5.0], [1.0, 2.0, MASKED]]
    assert end.tolist() == [[1.0, 1.0, 1.0], [0.5, 0.25, MASKED]]
    assert answer.tolist() == pytest.approx([-0.2, 0.1])


def test_config_refuses_weights_outside_zero_to_one_and_nonpositive_temperatures() -> None:
    with pytest.raises(ConfigError, match="distill_weight"):
        TrainConfig(distill_weight=1.5)
    with pytest.raises(ConfigError, match="distill_temperature"):
        TrainConfig(distill_temperature=0.0)


# --- the teacher's logits ---------------------------------------------------------------------------


def sharp_teacher(seed: int = 1) -> Any:
    """A tiny random transformer reader with confident (peaked) start/end distributions."""
    torch.manual_seed(seed)
    model = build_tiny(vocab_size=VOCAB)
    with torch.no_grad():
        model.qa_outputs.weight.mul_(300.0)
        model.has_answer.weight.mul_(300.0)
    return model.eval()


def save_teacher(model: Any, tokenizer: Any, path: Path) -> Path:
    return save_checkpoint(model, tokenizer, SpanReaderSettings(base_model="tiny-teacher", **SHAPE), path, precision="float32")


def features(tokenizer: Any, n: int = 6) -> LabelledFeatures:
    return label_features(tokenizer, EXAMPLES[:n], **SHAPE)


def no_reading(path: Any) -> Any:
    raise AssertionError("the cached logits should have been used")


def test_teacher_logits_are_the_teachers_outputs_and_are_cached(tokenizer: Any, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    model = sharp_teacher()
    teacher_dir = save_teacher(model, tokenizer, tmp_path / "teacher")
    feats = features(tokenizer)
    logs: list[str] = []
    monkeypatch.setattr(distillation, "bf16_trains_on", lambda device: False)
    targets = teacher_targets(teacher_dir, tokenizer, feats, tmp_path, log=logs.append)
    ids, mask = pad_batch(feats.input_ids)
    types, _ = pad_batch(feats.token_type_ids)
    with torch.no_grad():
        start, end, answer = model(ids, mask, types)
    for i, row in enumerate(feats.input_ids):
        assert len(targets.start[i]) == len(row)
        assert torch.allclose(torch.from_numpy(targets.start[i].astype("float32")), start[i, : len(row)],
                              rtol=2e-3, atol=2e-2)  # float16 storage
    assert torch.allclose(torch.from_numpy(targets.answer), answer, atol=1e-4)
    assert (tmp_path / CACHE_FILE).is_file() and any("reads 6 training features" in m for m in logs)

    monkeypatch.setattr(distillation, "load_span_checkpoint", no_reading)
    cached = teacher_targets(teacher_dir, tokenizer, feats, tmp_path, log=logs.append)
    assert all((a == b).all() for a, b in zip(cached.start, targets.start))
    with pytest.raises(AssertionError, match="cached"):  # other features: read again
        teacher_targets(teacher_dir, tokenizer, features(tokenizer, 4), tmp_path, log=logs.append)


def test_an_lstm_checkpoint_can_teach_too(tokenizer: Any, tmp_path: Path) -> None:
    from qa_app.readers.lstm_model import save_checkpoint as save_lstm

    torch.manual_seed(0)
    settings = SpanReaderSettings(base_model="tiny-lstm", kind="lstm", **SHAPE)
    teacher_dir = save_lstm(build_tiny_lstm(vocab_size=VOCAB), tokenizer, settings, tmp_path / "lstm", precision="float32")
    targets = teacher_targets(teacher_dir, tokenizer, features(tokenizer, 2), tmp_path, log=lambda m: None)
    assert len(targets.start) == 2 and targets.answer.shape == (2,)


def test_a_teacher_with_other_word_pieces_or_no_checkpoint_is_refused(tokenizer: Any, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    other = AutoTokenizer.from_pretrained(tokenizer.name_or_path)
    other.add_tokens(["okapiology"])
    teacher_dir = save_teacher(sharp_teacher(), other, tmp_path / "teacher")
    with pytest.raises(ConfigError, match="other word pieces"):
        teacher_targets(teacher_dir, tokenizer, features(tokenizer, 2), tmp_path / "run", log=lambda m: None)
    with pytest.raises(ConfigError, match="qa-app train"):
        teacher_targets(tmp_path / "nowhere", tokenizer, features(tokenizer, 2), tmp_path / "run", log=lambda m: None)


def targets_of(start: list[list[float]], end: list[list[float]], answer: list[float]) -> TeacherTargets:
    return TeacherTargets([np.array(r, np.float16) for r in start], [np.array(r, np.float16) for r in end],
                          np.array(answer, np.float32))


def test_several_teachers_teach_their_mean_logits_and_a_position_any_cannot_choose_stays_masked() -> None:
    one = targets_of([[1.0, 3.0, MASKED]], [[2.0, 0.0, 4.0]], [1.0])
    two = targets_of([[3.0, -1.0, 5.0]], [[MASKED, 2.0, 0.0]], [-3.0])
    mean = average_targets([one, two])
    assert mean.start[0].tolist() == [2.0, 1.0, MASKED]
    assert mean.end[0].tolist() == [MASKED, 1.0, 2.0]
    assert mean.answer.tolist() == [-1.0]
    assert average_targets([one]) is one


def test_a_comma_separated_teacher_reads_every_teacher_and_caches_their_mean(
    tokenizer: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(distillation, "bf16_trains_on", lambda device: False)
    first = save_teacher(sharp_teacher(1), tokenizer, tmp_path / "first")
    second = save_teacher(sharp_teacher(2), tokenizer, tmp_path / "second")
    feats = features(tokenizer, 3)
    quiet = {"log": lambda m: None}
    alone = [teacher_targets(d, tokenizer, feats, tmp_path / name, **quiet)
             for d, name in ((first, "run-first"), (second, "run-second"))]
    both = teacher_targets(f"{first}, {second}", tokenizer, feats, tmp_path / "run-both", **quiet)
    expected = average_targets(alone)
    assert all(np.allclose(a.astype(np.float32), b.astype(np.float32), atol=2e-2)
               for a, b in zip(both.start, expected.start))
    assert np.allclose(both.answer, expected.answer, atol=1e-4)
    assert not np.allclose(both.answer, alone[0].answer, atol=1e-2)  # the two teachers differ

    # the cache belongs to this pair of teachers: the first alone reads again
    monkeypatch.setattr(distillation, "load_span_checkpoint", no_reading)
    again = teacher_targets([first, second], tokenizer, feats, tmp_path / "run-both", **quiet)
    assert again.answer.tolist() == both.answer.tolist()
    with pytest.raises(AssertionError, match="cached"):
        teacher_targets(first, tokenizer, feats, tmp_path / "run-both", **quiet)


def test_teacher_lists_name_real_checkpoints(tokenizer: Any, tmp_path: Path) -> None:
    first = save_teacher(sharp_teacher(1), tokenizer, tmp_path / "first")
    assert teacher_dirs(f"{first},") == [first] == teacher_dirs(first)
    assert teacher_names(" a , b,, ") == ["a", "b"]
    with pytest.raises(ConfigError, match="no teacher"):
        teacher_dirs(" , ")
    with pytest.raises(ConfigError, match=str(tmp_path / "missing")):
        teacher_dirs(f"{first},{tmp_path / 'missing'}")


# --- training with a teacher ------------------------------------------------------------------------


def kl_to_teacher(student: Any, teacher: Any, feats: LabelledFeatures) -> float:
    ids, mask = pad_batch(feats.input_ids)
    types, _ = pad_batch(feats.token_type_ids)
    student.eval()
    with torch.no_grad():
        s_start, s_end, s_answer = student(ids, mask, types)
        t_start, t_end, t_answer = teacher(ids, mask, types)
    return float(distillation_loss(s_start, s_end, s_answer, (t_start, t_end, t_answer), 1.0))


def test_training_with_only_the_teachers_loss_moves_the_student_towards_the_teacher(
    tokenizer: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(distillation, "bf16_trains_on", lambda device: False)
    teacher = sharp_teacher()
    teacher_dir = save_teacher(teacher, tokenizer, tmp_path / "teacher")
    feats = features(tokenizer, 16)
    torch.manual_seed(0)
    student = build_tiny(vocab_size=VOCAB)
    before = kl_to_teacher(student, teacher, feats)
    logs: list[str] = []
    train_span_model(kind=TRANSFORMER, model=student, tokenizer=tokenizer, base_model="tiny-student", train_examples=EXAMPLES,
                      validation_examples=EXAMPLES[:2], run_dir=tmp_path / "run", log=logs.append,
                      config=dataclasses.replace(config(epochs=6.0, learning_rate=5e-3), teacher=str(teacher_dir),
                                                 distill_weight=1.0, distill_temperature=1.0))
    after = kl_to_teacher(student, teacher, feats)
    assert after < 0.5 * before
    assert (tmp_path / "run" / CACHE_FILE).is_file() and any("teacher" in m for m in logs)


def test_qa_app_train_records_its_teacher_in_the_model_card(tokenizer: Any, tmp_path: Path) -> None:
    from qa_app.cli import main
    from tests.readers.test_lstm import write_tiny_squad

    teacher_dir = save_teacher(sharp_teacher(), tokenizer, tmp_path / "teacher")
    data = write_tiny_squad(tmp_path / "tiny.json")
    out = tmp_path / "models" / "lstm"
    code = main(["train", "--reader", "lstm", "--teacher", str(teacher_dir), "--distill-weight", "0.7",
                 "--data", str(data), "--out", str(out), "--run-dir", str(tmp_path / "run"), "--epochs", "1",
                 "--batch-size", "4"])
    assert code == 0
    hyper = json.loads((out / "card.json").read_text(encoding="utf-8"))["hyper_parameters"]
    assert hyper["teacher"] == str(teacher_dir) and hyper["distill_weight"] == 0.7
    assert (tmp_path / "run" / CACHE_FILE).is_file()


def test_the_model_card_names_every_teacher() -> None:
    from qa_app.training.runner import _teacher_lines

    settings = {"distill_weight": 0.5, "distill_temperature": 2.0}
    (single,) = _teacher_lines({**settings, "teacher": "models/lstm"})
    assert "the reader in models/lstm (as it was" in single
    (mean,) = _teacher_lines({**settings, "teacher": "models/transformer,models/lstm"})
    assert "mean logits of the readers in models/transformer, models/lstm (as they were" in mean
    assert _teacher_lines({"teacher": "", "init": ""}) == []
