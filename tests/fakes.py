"""Fakes for the stage protocols: deterministic, tiny and dependency-free (no torch, no downloads)."""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np

_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class HashingEncoder:
    """Bag-of-words hashing encoder: texts sharing words get similar vectors."""

    def __init__(self, *, dimension: int = 64) -> None:
        self._dimension = dimension

    @property
    def id(self) -> str:
        return f"fake/hashing-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                bucket = int(hashlib.md5(word.encode()).hexdigest(), 16) % self._dimension
                out[row, bucket] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out


class RegexTokenizer:
    """Words and punctuation as 'word pieces', with character offsets."""

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return [(m.start(), m.end()) for m in _WORD.finditer(text)]
