"""The transformer reader: `SpanModelReader` over a checkpoint of the transformer span model
(qa_app/readers/span_model.py), written by `qa-app train --reader transformer[-mpnet]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qa_app.readers.span_reader import SpanModelReader


class TransformerReader(SpanModelReader):
    """Span extraction with a checkpoint written by `qa-app train --reader transformer[-mpnet]`."""

    name = "transformer"

    def _load_checkpoint(self, path: Path) -> tuple[Any, Any, Any]:
        from qa_app.readers.span_model import load_checkpoint

        return load_checkpoint(path)
