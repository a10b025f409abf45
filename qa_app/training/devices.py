"""Where a reader trains: `--device auto | cpu | cuda | cuda:N`.

`auto` takes the GPU when PyTorch sees one (the training loop, validation, distillation and the
export all run there), else the CPU. bf16 autocast follows the device: on a GPU where it computes
bf16 (Ampere and newer), on a CPU where it has bf16 in hardware (qa_app.readers.inference.use_bf16).
"""

from __future__ import annotations

import torch

from qa_app.errors import ConfigError
from qa_app.readers.inference import use_bf16


def training_device(name: str) -> torch.device:
    """The torch device for a --device value; a clear error when a GPU is asked for but not there."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name}: PyTorch sees no CUDA GPU here (torch {torch.__version__}); "
                              "train with --device cpu, or install a CUDA build of torch on a machine with a GPU")
        try:
            device = torch.device(name)
        except RuntimeError:
            raise ConfigError(f"unknown device {name!r}: choose auto, cpu, cuda or cuda:N") from None
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {name}: there are {torch.cuda.device_count()} GPUs (cuda:0 ...)")
        return device
    raise ConfigError(f"unknown device {name!r}: choose auto, cpu, cuda or cuda:N")


def bf16_trains_on(device: torch.device) -> bool:
    """Whether bf16 autocast pays on this device (it is emulated, 3x slower, on CPUs without it)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return use_bf16()


def describe(device: torch.device) -> str:
    """The device for a model card: the GPU's name, or the CPU's threads."""
    if device.type == "cuda":
        return f"GPU {torch.cuda.get_device_name(device)}"
    return f"CPU, {torch.get_num_threads()} threads"
