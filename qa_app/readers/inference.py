"""Batched forward passes of a span model over tokenised features (shared by reader and trainer).

Imports torch: an adapter module, loaded only when a trained reader runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from qa_app.config import PRECISIONS
from qa_app.machine import cpuinfo as machine_cpuinfo
from qa_app.readers.decoding import FeatureLogits
from qa_app.readers.features import EncodedFeatures


@dataclass(frozen=True)
class RawFeature:
    """Model outputs of one feature before the null score is fixed."""

    start: np.ndarray
    end: np.ndarray
    answer_logit: float
    offsets: np.ndarray
    sample_index: int

    def to_logits(self, answerability_weight: float, window_index: int | None = None) -> FeatureLogits:
        null = float(self.start[0] + self.end[0] - answerability_weight * self.answer_logit)
        index = self.sample_index if window_index is None else window_index
        return FeatureLogits(self.start, self.end, self.offsets, null, index)


def pad_batch(rows: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # x86 CPU flags of bf16 arithmetic in hardware


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU computes bf16 in hardware, read from its flags (Linux /proc/cpuinfo).

    oneDNN also reports bf16 support where it only emulates it (Intel Xeon with plain AVX-512): there
    bf16 autocast runs about 3x slower than fp32, so that report alone is not enough."""
    if cpuinfo is None:
        cpuinfo = machine_cpuinfo()
    flags = {word for line in cpuinfo.splitlines() if line.startswith(("flags", "Features")) for word in line.split()}
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


def use_bf16() -> bool:
    """bf16 autocast only where the CPU has native bf16 (AVX-512 BF16 / AMX) and oneDNN uses it; else fp32."""
    try:
        return cpu_has_native_bf16() and bool(
            torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_bf16(precision: str) -> bool:
    """Whether a reader of this precision autocasts to bf16: `auto` where the CPU has native bf16,
    `bf16` always (the user asked), `fp32` and `int8` never."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}")
    return use_bf16() if precision == "auto" else precision == "bf16"


def model_device(model: Any) -> torch.device:
    """Where the model's weights live: its batches go there (a model without parameters reads on the CPU)."""
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


def quantized_int8(model: Any) -> Any:
    """The model with its Linear layers quantised to int8 at run time (dynamic quantisation, CPU)."""
    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


@torch.inference_mode()
def run_features(
    model: Any, features: EncodedFeatures, *, batch_size: int = 16, bf16: bool = False, progress: Any = None
) -> list[RawFeature]:
    """Forward every feature, batching features of similar length to keep padding small, on the device
    the model is on."""
    order = sorted(range(len(features)), key=lambda i: len(features.input_ids[i]))
    out: list[RawFeature | None] = [None] * len(features)
    device = model_device(model)
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        ids, mask = pad_batch([features.input_ids[i] for i in idx])
        types, _ = pad_batch([features.token_type_ids[i] for i in idx])
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            start, end, answer = model(ids.to(device), mask.to(device), types.to(device))
        start_np, end_np, ans_np = (t.float().cpu().numpy() for t in (start, end, answer))
        for row, i in enumerate(idx):
            n = len(features.input_ids[i])
            out[i] = RawFeature(start_np[row, :n].copy(), end_np[row, :n].copy(), float(ans_np[row]),
                                features.offsets[i], features.sample_index[i])
        if progress is not None:
            progress(len(idx))
    return [r for r in out if r is not None]
