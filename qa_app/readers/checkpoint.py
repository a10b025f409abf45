"""What every span-reader checkpoint holds besides its model: `reader.json` (`SpanReaderSettings`),
safetensors weights (qa_app/readers/weights.py) and the tokenizer files; and the logit value every span
model gives positions that can never be a span boundary.

Shared by the transformer and the LSTM span models; knows neither. Imports torch only for type hints.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa_app.errors import ModelNotFoundError
from qa_app.readers.weights import WEIGHTS_FILE, has_weights, load_weights, save_weights

if TYPE_CHECKING:
    import torch

READER_FILE = "reader.json"
MASKED = -1e4  # start/end logit of positions that can never be a span boundary (every span model)


@dataclass(frozen=True)
class SpanReaderSettings:
    """What a checkpoint needs besides its weights, saved as reader.json."""

    base_model: str  # where the encoder came from (name, for the model card)
    max_length: int = 384  # word pieces per feature
    stride: int = 128  # overlap between features of one long window
    max_question_tokens: int = 64
    null_threshold: float = 0.0  # answer when best span logit - null logit > this (chosen on SQuAD v2 validation)
    answerability_weight: float = 1.0  # how much of the answerability logit goes into the null score
    kind: str = "transformer"  # model family (qa_app/readers/registry.py: CHECKPOINT_LOADERS)
    # the threshold for questions over the user's documents, chosen on the project's real-document validation set
    # (bench/documents_threshold.py); None = null_threshold
    documents_null_threshold: float | None = None

    def threshold_for(self, calibration: str) -> float:
        """The no-answer threshold of this checkpoint for a calibration of qa_app.config.CALIBRATIONS."""
        if calibration == "documents" and self.documents_null_threshold is not None:
            return self.documents_null_threshold
        return self.null_threshold


def checkpoint_kind(root: Path) -> str:
    """The model family a checkpoint folder records in reader.json; ModelNotFoundError if none."""
    if not (root / READER_FILE).is_file():
        raise ModelNotFoundError(f"{root} is not a reader checkpoint (no {READER_FILE}); "
                                 "pass a folder written by `qa-app train`, for example models/transformer")
    return str(json.loads((root / READER_FILE).read_text(encoding="utf-8")).get("kind", "transformer"))


def write_weights_and_settings(
    state_dict: dict[str, torch.Tensor], tokenizer: Any, settings: SpanReaderSettings, out_dir: str | Path, *,
    precision: str,
) -> Path:
    """What every span-reader checkpoint holds: weights (safetensors), tokenizer files, reader.json."""
    out = Path(out_dir)
    save_weights(state_dict, out, precision=precision)
    tokenizer.save_pretrained(str(out))
    (out / READER_FILE).write_text(json.dumps(asdict(settings), indent=2) + "\n", encoding="utf-8")
    return out


def read_settings(root: Path) -> SpanReaderSettings:
    """The reader.json of a checkpoint folder (no weights read)."""
    return SpanReaderSettings(**json.loads((root / READER_FILE).read_text(encoding="utf-8")))


def read_weights_and_settings(root: Path) -> tuple[dict[str, torch.Tensor], SpanReaderSettings]:
    """Weights (as float32) and reader.json of a checkpoint; ModelNotFoundError if missing."""
    if not has_weights(root) or not (root / READER_FILE).is_file():
        raise ModelNotFoundError(
            f"no reader checkpoint in {root}: expected {WEIGHTS_FILE} (or its shards) and {READER_FILE}; "
            "train one with `qa-app train` or pass --models-dir"
        )
    return load_weights(root), read_settings(root)
