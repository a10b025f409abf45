"""The transformer span extractor: a BERT-style encoder, a start/end head and an answerability
head on the [CLS] state, plus saving/loading as safetensors with its tokenizer and settings.

Checkpoints use the transformers layout of `<Encoder>ForQuestionAnswering` (`bert.*` or `mpnet.*`
encoder weights, `qa_outputs.*`, `architectures` in config.json), so plain transformers
(`AutoModelForQuestionAnswering`) or Haystack's ExtractiveReader load a float32 or float16 checkpoint
as a span extractor; the answerability head (`has_answer.*`) lies beside them in the same file, and
transformers leaves it unused. int8 checkpoints (qa_app/readers/weights.py) load only here.
Checkpoints written before this layout (`encoder.*` keys) still load.

Imports torch and transformers: load this module only when a transformer reader is used.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from qa_app.config import offline_environment  # noqa: E402

offline_environment()

import torch  # noqa: E402
from torch import nn  # noqa: E402

from qa_app.errors import ConfigError  # noqa: E402
from qa_app.readers.checkpoint import (  # noqa: E402
    MASKED,
    SpanReaderSettings,
    read_weights_and_settings,
    write_weights_and_settings,
)


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


def build_from_base(base_path: str | Path) -> SpanReaderModel:
    from transformers import AutoModel

    # float32 whatever the stored weights are (a base stored in float16 trains in float32 all the same)
    encoder = AutoModel.from_pretrained(str(base_path), add_pooling_layer=False, dtype=torch.float32)
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
    """Write weights (safetensors, qa_app.readers.weights) in the transformers question-answering
    layout, the encoder config, tokenizer files and reader.json."""
    prefix = _encoder_prefix(model.encoder)
    state = {(f"{prefix}.{k[len(ENCODER_KEY):]}" if k.startswith(ENCODER_KEY) else k): v
             for k, v in model.state_dict().items()}
    out = write_weights_and_settings(state, tokenizer, settings, out_dir, precision=precision)
    config: Any = model.encoder.config
    config.architectures = [type(model.encoder).__name__.removesuffix("Model") + "ForQuestionAnswering"]
    config.dtype = torch.float32  # plain transformers then loads float16 weights in float32, as this project does
    config.save_pretrained(str(out))
    return out


PLAIN_PRECISIONS = ("float16", "float32")  # what plain transformers reads (int8 loads only here)


def export_plain(source: str | Path, out_dir: str | Path, *, precision: str = "float16") -> Path:
    """A copy of the checkpoint in `source` (any stored precision) that plain transformers
    (`AutoModelForQuestionAnswering`, Haystack's ExtractiveReader) loads: float16 or float32 weights."""
    if precision not in PLAIN_PRECISIONS:
        raise ConfigError(f"plain transformers reads {' or '.join(PLAIN_PRECISIONS)} weights, not {precision!r}")
    source, out = Path(source).resolve(), Path(out_dir).resolve()
    if out == source:
        raise ConfigError(f"--out {out_dir} is the checkpoint being exported; choose another folder")
    model, tokenizer, settings = load_checkpoint(source)
    return save_checkpoint(model, tokenizer, settings, out, precision=precision)


ENCODER_KEY = "encoder."  # prefix of the encoder's weights in SpanReaderModel.state_dict()


def _encoder_prefix(encoder: nn.Module) -> str:
    """Where transformers' QA models keep the encoder (`bert`, `mpnet`, ...)."""
    return str(getattr(encoder, "base_model_prefix", "") or "encoder")


def load_checkpoint(path: str | Path) -> tuple[SpanReaderModel, Any, SpanReaderSettings]:
    """Load a checkpoint written by save_checkpoint (weights upcast to float32)."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    root = Path(path)
    state, settings = read_weights_and_settings(root)
    config = AutoConfig.from_pretrained(str(root))
    model = SpanReaderModel(AutoModel.from_config(config, add_pooling_layer=False))
    prefix = _encoder_prefix(model.encoder) + "."
    if not any(k.startswith(ENCODER_KEY) for k in state):  # the transformers layout (older checkpoints: encoder.*)
        state = {(ENCODER_KEY + k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state.items()}
    model.load_state_dict(state)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(root))
    return model, tokenizer, settings
