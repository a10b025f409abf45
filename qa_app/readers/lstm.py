"""The trained LSTM reader behind the `Reader` protocol.

Same contract as the transformer reader (strided features, n-best spans decoded over every window
of a question together, document offsets, token probabilities, window cache, `read_many`): all of
that lives in `SpanModelReader`; this class only says which checkpoint to load. The model loads on
first use; bf16 autocast where the CPU has it, as the transformer reader (measured 1.15-1.4x faster for the
contextual LSTM at the same validation F1: bench/reader_speed.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qa_app.readers.span_reader import SpanModelReader


class LSTMReader(SpanModelReader):
    """Span extraction with a checkpoint written by `qa-app train --reader lstm`."""

    name = "lstm"

    def _load_checkpoint(self, path: Path) -> tuple[Any, Any, Any]:
        from qa_app.readers.lstm_model import load_checkpoint

        return load_checkpoint(path)
