"""Question + window tokenisation shared by training and inference of the span readers.

Long windows are cut into overlapping features (`stride`); questions are capped first so that
`truncation="only_second"` never fails on a long question. Works with any fast tokenizer; imports
no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class EncodedFeatures:
    """Tokenised features of several (question, window) pairs."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]]
    offsets: list[np.ndarray]  # (L, 2) char offsets into the window; (-1, -1) outside the context
    sample_index: list[int]  # which input pair each feature came from

    def __len__(self) -> int:
        return len(self.input_ids)


def cap_question(tokenizer: Any, question: str, max_tokens: int) -> str:
    """The question cut to at most `max_tokens` word pieces (at a piece boundary)."""
    question = question.strip()
    enc = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    if len(offsets) <= max_tokens:
        return question
    return question[: offsets[max_tokens - 1][1]]


def encode_pairs(
    tokenizer: Any,
    questions: Sequence[str],
    contexts: Sequence[str],
    *,
    max_length: int = 384,
    stride: int = 128,
    max_question_tokens: int = 64,
) -> EncodedFeatures:
    """Tokenise question/context pairs into features with offsets into each context."""
    capped = [cap_question(tokenizer, q, max_question_tokens) for q in questions]
    # The stride must leave room for the question; keep it below the context budget.
    enc = tokenizer(
        capped,
        list(contexts),
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )
    offsets: list[np.ndarray] = []
    for i in range(len(enc["input_ids"])):
        seq_ids = enc.sequence_ids(i)
        off = np.array(enc["offset_mapping"][i], dtype=np.int64).reshape(-1, 2)
        mask = np.array([s != 1 for s in seq_ids])
        off[mask] = -1
        offsets.append(off)
    token_types = enc.get("token_type_ids") or [[0] * len(ids) for ids in enc["input_ids"]]
    return EncodedFeatures(
        input_ids=[list(x) for x in enc["input_ids"]],
        token_type_ids=[list(x) for x in token_types],
        offsets=offsets,
        sample_index=list(enc["overflow_to_sample_mapping"]),
    )


def span_labels(offsets: np.ndarray, answer_start: int, answer_end: int) -> tuple[int, int]:
    """Token positions of the answer inside one feature, or (0, 0) (CLS) if it is not all inside."""
    context = np.flatnonzero(offsets[:, 0] >= 0)
    if answer_end <= answer_start or context.size == 0:
        return 0, 0
    if offsets[context[0], 0] > answer_start or offsets[context[-1], 1] < answer_end:
        return 0, 0
    starts = context[offsets[context, 0] <= answer_start]
    ends = context[offsets[context, 1] >= answer_end]
    return int(starts[-1]), int(ends[0])
