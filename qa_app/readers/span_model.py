"""The transformer span extractor: a BERT-style encoder, a start/end head and an answerability
head on the [CLS] state, plus saving/loading as safetensors with its tokenizer and settings.

Imports torch and transformers: load this module only when a transformer reader is used.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qa_app.config import offline_environment  # noqa: E402

offline_environment()

import torch  # noqa: E402
from torch import nn  # noqa: E402

from qa_app.errors import ModelNotFoundError  # noqa: E402
from qa_app.readers.weights import WEIGHTS_FILE, has_weights, load_weights, save_weights  # noqa: E402

READER_FILE = "reader.json"
MASKED = -1e4  # start/end logit of positions that can never be a span boundary (every span model)


@dataclass(frozen=True)
class SpanReaderSettings:
    """What a checkpoint needs besides its weights, saved as reader.json."""

    base_model: str  # where the encoder came from (name, for the model card)
    max_length: int = 384  # word pieces per feature
    stride: int = 128  # overlap between features of one long window
    max_question_tokens: int = 64
    null_threshold: float = 0.0  # answer when best span logit - null logit > this
    answerability_weight: float = 1.0  # how much of the answerability logit goes into the null score
    kind: str = "transformer"


class SpanReaderModel(nn.Module):
    """Encoder + start/end logits + an answerability logit from [CLS]."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        # BERT-style encoders take segment ids; MPNet and RoBERTa-style ones refuse them
        self.takes_token_types = "token_type_ids" in inspect.signature(encoder.forward).parameters
        hidden = int(encoder.config.hidden_size)  # type: ignore[union-attr,arg-type]
        self.qa_outputs = nn.Linear(hidden, 2)
        self.has_answer = nn.Linear(hidden, 1)
        for layer in (self.qa_outputs, self.has_answer):
            nn.init.normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None and self.takes_token_types:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state
        logits = self.qa_outputs(hidden).float()
        start, end = logits[..., 0], logits[..., 1]
        masked = attention_mask == 0
        start = start.masked_fill(masked, MASKED)
        end = end.masked_fill(masked, MASKED)
        answer_logit = self.has_answer(hidden[:, 0]).float().squeeze(-1)
        return start, end, answer_logit


def null_logits(start: torch.Tensor, end: torch.Tensor, answer_logit: torch.Tensor, weight: float) -> torch.Tensor:
    """SQuAD2 null score (CLS start + end) shifted by the answerability head (higher = no answer)."""
    return start[:, 0] + end[:, 0] - weight * answer_logit


def build_from_base(base_path: str | Path) -> SpanReaderModel:
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(str(base_path), add_pooling_layer=False)
    return SpanReaderModel(encoder)


def build_tiny(vocab_size: int = 1000) -> SpanReaderModel:
    """A tiny random model built from a config in code, for plumbing tests (no download)."""
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=512,
    )
    return SpanReaderModel(BertModel(config, add_pooling_layer=False))


def save_checkpoint(
    model: SpanReaderModel, tokenizer: Any, settings: SpanReaderSettings, out_dir: str | Path, *,
    precision: str = "float16",
) -> Path:
    """Write weights (safetensors, qa_app.readers.weights), encoder config, tokenizer files and reader.json."""
    out = write_weights_and_settings(model.state_dict(), tokenizer, settings, out_dir, precision=precision)
    model.encoder.config.save_pretrained(str(out))  # type: ignore[union-attr,operator]
    return out


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


def read_weights_and_settings(root: Path) -> tuple[dict[str, torch.Tensor], SpanReaderSettings]:
    """Weights (as float32) and reader.json of a checkpoint; ModelNotFoundError if missing."""
    if not has_weights(root) or not (root / READER_FILE).is_file():
        raise ModelNotFoundError(
            f"no reader checkpoint in {root}: expected {WEIGHTS_FILE} (or its shards) and {READER_FILE}; "
            "train one with `qa-app train` or pass --models-dir"
        )
    settings = SpanReaderSettings(**json.loads((root / READER_FILE).read_text(encoding="utf-8")))
    return load_weights(root), settings


def load_checkpoint(path: str | Path) -> tuple[SpanReaderModel, Any, SpanReaderSettings]:
    """Load a checkpoint written by save_checkpoint (weights upcast to float32)."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    root = Path(path)
    state, settings = read_weights_and_settings(root)
    config = AutoConfig.from_pretrained(str(root))
    model = SpanReaderModel(AutoModel.from_config(config, add_pooling_layer=False))
    model.load_state_dict(state)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(root))
    return model, tokenizer, settings


def load_any_checkpoint(path: str | Path) -> tuple[nn.Module, Any, SpanReaderSettings]:
    """Load a span-reader checkpoint of either kind (transformer or lstm), as reader.json says."""
    root = Path(path)
    if not (root / READER_FILE).is_file():
        raise ModelNotFoundError(f"{root} is not a reader checkpoint (no {READER_FILE}); "
                                 "pass a folder written by `qa-app train`, for example models/transformer")
    kind = json.loads((root / READER_FILE).read_text(encoding="utf-8")).get("kind", "transformer")
    if kind == "lstm":
        from qa_app.readers.lstm_model import load_checkpoint as load_lstm

        lstm, tokenizer, settings = load_lstm(root)
        return lstm, tokenizer, settings
    return load_checkpoint(root)
