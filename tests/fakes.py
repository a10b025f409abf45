"""Fakes for the stage protocols: deterministic, tiny and dependency-free (no torch, no downloads)."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Callable, Sequence

import numpy as np

from qa_app.types import ReaderResult, Span, Window

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

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))


class FakeReader:
    """Reader that "finds" a chosen answer: the first window whose text holds `answer` gives the span.

    It abstains (no spans, `answerable=False`) when no window holds the answer or `answer` is "".
    Every call is recorded in `calls` as (question, windows), so tests can see what was (re-)read.
    """

    def __init__(self, answer: str = "", *, score: float = 0.9, name: str = "fake") -> None:
        self._answer = answer
        self._score = score
        self.name = name
        self.calls: list[tuple[str, tuple[Window, ...]]] = []

    def read(self, question: str, windows: Sequence[Window]) -> ReaderResult:
        self.calls.append((question, tuple(windows)))
        nulls = tuple(0.0 for _ in windows)
        for index, window in enumerate(windows):
            at = window.text.find(self._answer) if self._answer else -1
            if at >= 0:
                start = window.start + at
                span = Span(text=self._answer, start=start, end=start + len(self._answer), score=self._score,
                            logit=5.0, window_index=index)
                return ReaderResult(spans=(span,), null_score=1.0 - self._score, null_logit_diff=5.0,
                                    answerable=True, window_null_logits=nulls)
        return ReaderResult(spans=(), null_score=1.0, null_logit_diff=float("-inf"), answerable=False,
                            window_null_logits=nulls)


class RegistryWrappingClient:
    """A Chroma client whose registry collections (names ending in `__docs`) come wrapped by `wrap`
    (to make registry writes fail or pause); every other call goes to the real client."""

    def __init__(self, inner: Any, wrap: Callable[[Any], Any]) -> None:
        self._inner, self._wrap_registry = inner, wrap

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get_collection(self, name: str, **kwargs: Any) -> Any:
        return self._wrap(name, self._inner.get_collection(name, **kwargs))

    def get_or_create_collection(self, name: str, **kwargs: Any) -> Any:
        return self._wrap(name, self._inner.get_or_create_collection(name, **kwargs))

    def _wrap(self, name: str, collection: Any) -> Any:
        return self._wrap_registry(collection) if name.endswith("__docs") else collection
