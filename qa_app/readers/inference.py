"""Batched forward passes of a span model over tokenised features (shared by reader and trainer).

Imports torch: an adapter module, loaded only when a trained reader runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

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


def use_bf16() -> bool:
    """bf16 autocast only where the CPU has native bf16 (AVX-512 BF16 / AMX); else fp32."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@torch.inference_mode()
def run_features(
    model: Any, features: EncodedFeatures, *, batch_size: int = 16, bf16: bool = False, progress: Any = None
) -> list[RawFeature]:
    """Forward every feature, batching features of similar length to keep padding small."""
    order = sorted(range(len(features)), key=lambda i: len(features.input_ids[i]))
    out: list[RawFeature | None] = [None] * len(features)
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        ids, mask = pad_batch([features.input_ids[i] for i in idx])
        types, _ = pad_batch([features.token_type_ids[i] for i in idx])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            start, end, answer = model(ids, mask, types)
        start_np, end_np, ans_np = start.float().numpy(), end.float().numpy(), answer.float().numpy()
        for row, i in enumerate(idx):
            n = len(features.input_ids[i])
            out[i] = RawFeature(start_np[row, :n].copy(), end_np[row, :n].copy(), float(ans_np[row]),
                                features.offsets[i], features.sample_index[i])
        if progress is not None:
            progress(len(idx))
    return [r for r in out if r is not None]
