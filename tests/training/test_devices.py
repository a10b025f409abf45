"""Where a reader trains (`--device`): the choice, its errors, and a model's batches following it."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from qa_app.errors import ConfigError
from qa_app.readers.inference import model_device, use_bf16
from qa_app.training import devices
from qa_app.training.devices import bf16_trains_on, describe, training_device


def without_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def with_gpus(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def test_auto_takes_the_gpu_only_where_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    without_gpu(monkeypatch)
    assert training_device("auto") == torch.device("cpu")
    with_gpus(monkeypatch, 1)
    assert training_device("auto") == torch.device("cuda")


def test_asking_for_a_gpu_that_is_not_there_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    without_gpu(monkeypatch)
    with pytest.raises(ConfigError, match="no CUDA GPU.*--device cpu"):
        training_device("cuda")
    with_gpus(monkeypatch, 2)
    assert training_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ConfigError, match="there are 2 GPUs"):
        training_device("cuda:2")


@pytest.mark.parametrize("name", ["gpu", "tpu", "CPU", ""])
def test_unknown_devices_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="choose auto, cpu, cuda or cuda:N"):
        training_device(name)


def test_bf16_on_the_cpu_follows_the_cpu_s_own_capability(monkeypatch: pytest.MonkeyPatch) -> None:
    assert bf16_trains_on(torch.device("cpu")) == use_bf16()
    monkeypatch.setattr(devices, "use_bf16", lambda: False)
    assert not bf16_trains_on(torch.device("cpu"))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert bf16_trains_on(torch.device("cuda"))


def test_the_cpu_is_described_by_its_threads() -> None:
    assert describe(torch.device("cpu")) == f"CPU, {torch.get_num_threads()} threads"


def test_a_model_reads_where_its_weights_are() -> None:
    assert model_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(torch.nn.Linear(2, 2, device="meta")) == torch.device("meta")
    assert model_device(torch.nn.ReLU()) == torch.device("cpu")  # no parameters: the CPU


def test_the_training_loop_runs_on_the_device_it_is_given(tokenizer: Any, tmp_path: Any) -> None:
    from qa_app.training.loop import train_span_model
    from qa_app.training.transformer import TRANSFORMER
    from tests.training.test_trainer import EXAMPLES, config, tiny

    logs: list[str] = []
    model = tiny()
    train_span_model(kind=TRANSFORMER, model=model, tokenizer=tokenizer, base_model="tiny-random",
                     train_examples=EXAMPLES[:4], validation_examples=EXAMPLES[:2], run_dir=tmp_path,
                     config=config(epochs=1.0, device="cpu"), log=logs.append)
    assert any(f"on CPU, {torch.get_num_threads()} threads" in line for line in logs), logs
    assert model_device(model) == torch.device("cpu")
    with pytest.raises(ConfigError, match="choose auto, cpu"):
        train_span_model(kind=TRANSFORMER, model=tiny(), tokenizer=tokenizer, base_model="tiny-random",
                         train_examples=EXAMPLES[:4], validation_examples=EXAMPLES[:2], run_dir=tmp_path / "x",
                         config=config(epochs=1.0, device="gpu"), log=logs.append)
