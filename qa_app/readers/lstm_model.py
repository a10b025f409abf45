"""The LSTM span extractor (DrQA/BiDAF family) and its checkpoints.

Reads the same features as the transformer reader (all-MiniLM-L6-v2 word pieces of
`[CLS] question [SEP] passage [SEP]`, cut by `qa_app.readers.features.encode_pairs`) and returns
the same triple as `SpanReaderModel.forward`: start and end logits over the *full* sequence
(position 0 = the null span, padding and question pieces = -1e4) and an answerability logit, so
that offsets, decoding, thresholds and training are shared.

Architecture: word-piece embeddings (initialised from all-MiniLM-L6-v2's input embedding matrix,
frozen by default), or with `contextual_layers` the states of that encoder's lowest layers (frozen,
ELMo-style contextual inputs; the shipped reader reads 3) -> trainable projection; passage features = projected embedding, aligned
question embedding (DrQA attention), exact match with a question piece, token type; stacked
BiLSTM encoders for passage and question; question self-attention summary; bilinear start/end.
The passage state at position 0 is replaced by a learned null vector, so start[0] + end[0] is a
SQuAD2 null score; the answerability logit comes from the max-pooled passage and the question
summary. Does not tokenise, decode or train.

Imports torch: load this module only when an LSTM reader is used.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qa_app.config import offline_environment

offline_environment()

import torch
from torch import nn

from qa_app.errors import ModelNotFoundError
from qa_app.readers.checkpoint import (
    MASKED,
    SpanReaderSettings,
    read_weights_and_settings,
    write_weights_and_settings,
)

ARCHITECTURE_FILE = "lstm.json"
EMBEDDING_KEY = "word_embeddings.weight"  # suffix of the input embedding matrix in a BERT checkpoint


@dataclass(frozen=True)
class LSTMConfig:
    """Architecture of an LSTM reader, saved as lstm.json next to the weights."""

    vocab_size: int = 30522  # word pieces of the tokenizer (all-MiniLM-L6-v2: 30522)
    embedding_dim: int = 384  # width of the embedding matrix (all-MiniLM-L6-v2: 384)
    embeddings: str = "frozen"  # frozen: only the projection learns; tuned: the matrix learns too
    projection_dim: int = 256  # trainable linear projection of the embeddings (0 = none)
    hidden_size: int = 128  # LSTM units per direction
    passage_layers: int = 3
    question_layers: int = 3
    dropout: float = 0.3  # on embeddings and between LSTM layers
    concat_layers: bool = True  # DrQA: an encoder's output is all its layers concatenated
    pad_token_id: int = 0
    sep_token_id: int = 102  # [SEP]: never a span boundary; splits question/passage without token types
    embedding_source: str = ""  # where the initial embeddings came from (for the model card)
    contextual_layers: int = 0  # >0: the base encoder's lowest layers (frozen) turn pieces into contextual inputs
    encoder_config: dict[str, Any] | None = None  # BertConfig of those layers (set by build_from_base)

    def __post_init__(self) -> None:
        if self.embeddings not in ("frozen", "tuned"):
            raise ValueError(f"embeddings must be 'frozen' or 'tuned', got {self.embeddings!r}")
        if self.contextual_layers < 0:
            raise ValueError("contextual_layers must be >= 0")
        if self.contextual_layers and self.embeddings == "tuned":
            raise ValueError("contextual inputs come from frozen encoder layers; use embeddings='frozen' with them")
        if min(self.hidden_size, self.passage_layers, self.question_layers) < 1 or self.projection_dim < 0:
            raise ValueError("hidden_size and layers must be >= 1 and projection_dim >= 0")


class StackedBiLSTM(nn.Module):
    """BiLSTM layers over right-padded sequences; padding never reaches the states of real tokens.

    The backward direction reads each row reversed within its own length (padding stays at the
    end), so both directions are plain dense LSTM calls: on CPU that trains ~3x faster than packed
    sequences (measured), with the same result.
    """

    def __init__(self, input_size: int, hidden_size: int, layers: int, dropout: float, concat: bool) -> None:
        super().__init__()
        sizes = [input_size] + [2 * hidden_size] * (layers - 1)
        self.forward_layers = nn.ModuleList(nn.LSTM(n, hidden_size, batch_first=True) for n in sizes)
        self.backward_layers = nn.ModuleList(nn.LSTM(n, hidden_size, batch_first=True) for n in sizes)
        self.dropout = nn.Dropout(dropout)
        self.concat = concat
        self.output_size = 2 * hidden_size * (layers if concat else 1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        steps = torch.arange(x.shape[1], device=x.device)[None, :]
        lengths = lengths[:, None]
        # position t of a row reads position n-1-t (t < n): an involution, so it also maps outputs back
        flip = torch.where(steps < lengths, lengths - 1 - steps, steps)[..., None]
        outputs = []
        for i, (fwd, bwd) in enumerate(zip(self.forward_layers, self.backward_layers)):
            inp = self.dropout(x) if i > 0 else x
            ahead = fwd(inp)[0]
            back = bwd(inp.gather(1, flip.expand(-1, -1, inp.shape[-1])))[0]
            x = torch.cat([ahead, back.gather(1, flip.expand(-1, -1, back.shape[-1]))], dim=-1)
            outputs.append(x)
        return torch.cat(outputs, dim=-1) if self.concat else outputs[-1]


def _masked_softmax(scores: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    return torch.softmax(scores.masked_fill(~keep, MASKED), dim=-1)


class LSTMSpanModel(nn.Module):
    """forward(input_ids, attention_mask, token_type_ids) -> (start, end, answer_logit)."""

    def __init__(self, config: LSTMConfig, embeddings: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        c = config
        self.context: nn.Module | None = None
        self.embedding: nn.Embedding | None = None
        if c.contextual_layers:  # frozen lower encoder layers (their own embeddings included): no matrix here
            from transformers import BertConfig, BertModel

            if not c.encoder_config:
                raise ValueError("contextual_layers needs the encoder_config of those layers (build_from_base sets it)")
            self.context = BertModel(BertConfig(**c.encoder_config), add_pooling_layer=False)
            self.context.requires_grad_(False)
        else:
            self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim, padding_idx=c.pad_token_id)
            if embeddings is not None:
                if tuple(embeddings.shape) != (c.vocab_size, c.embedding_dim):
                    raise ValueError(f"embeddings of shape {tuple(embeddings.shape)} do not fit "
                                     f"vocab_size={c.vocab_size}, embedding_dim={c.embedding_dim}")
                with torch.no_grad():
                    self.embedding.weight.copy_(embeddings)
            self.embedding.weight.requires_grad_(c.embeddings == "tuned")
        width = c.projection_dim or c.embedding_dim
        self.projection: nn.Module = nn.Linear(c.embedding_dim, width) if c.projection_dim else nn.Identity()
        self.dropout = nn.Dropout(c.dropout)
        self.align = nn.Linear(width, width)  # DrQA aligned question embedding: relu(Wp) . relu(Wq)
        self.passage_rnn = StackedBiLSTM(2 * width + 2, c.hidden_size, c.passage_layers, c.dropout, c.concat_layers)
        self.question_rnn = StackedBiLSTM(width, c.hidden_size, c.question_layers, c.dropout, c.concat_layers)
        p_size, q_size = self.passage_rnn.output_size, self.question_rnn.output_size
        self.question_attention = nn.Linear(q_size, 1)
        self.start_bilinear = nn.Linear(q_size, p_size)
        self.end_bilinear = nn.Linear(q_size, p_size)
        self.null = nn.Parameter(torch.randn(p_size) * 0.1)  # passage state of the null span (position 0)
        self.has_answer = nn.Linear(p_size + q_size, 1)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c = self.config
        mask = attention_mask.bool()
        is_sep = input_ids == c.sep_token_id
        if token_type_ids is None:  # everything after the first [SEP] is the passage
            token_type_ids = (torch.cumsum(is_sep.long(), dim=1) - is_sep.long()) > 0
        passage = (token_type_ids > 0) & mask
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        lengths = mask.sum(1)
        question_length = (mask & ~passage).sum(1)  # [CLS] question [SEP]
        width_q = int(question_length.max())
        question = (positions[None, :width_q] >= 1) & (positions[None, :width_q] < question_length[:, None] - 1)

        x = self.dropout(self.projection(self.dropout(self._inputs(input_ids, attention_mask, token_type_ids))))
        q_x = x[:, :width_q]
        q_ids = input_ids[:, :width_q]
        exact = ((input_ids[:, :, None] == q_ids[:, None, :]) & question[:, None, :]).any(-1) & passage
        a, b = torch.relu(self.align(x)), torch.relu(self.align(q_x))
        alpha = _masked_softmax(a @ b.transpose(1, 2), question[:, None, :])
        aligned = (alpha @ q_x) * passage[..., None]
        features = torch.cat([x, aligned, exact[..., None].to(x.dtype), passage[..., None].to(x.dtype)], dim=-1)
        p = self.passage_rnn(features, lengths)
        q = self.question_rnn(q_x, question_length)

        weights = _masked_softmax(self.question_attention(q).squeeze(-1), question)
        q_summary = (weights[:, None, :] @ q).squeeze(1)
        p = torch.cat([self.null.expand(p.shape[0], 1, -1).to(p.dtype), p[:, 1:]], dim=1)
        start = (p @ self.start_bilinear(q_summary)[..., None]).squeeze(-1).float()
        end = (p @ self.end_bilinear(q_summary)[..., None]).squeeze(-1).float()
        boundary = (passage & ~is_sep) | (positions[None, :] == 0)
        start = start.masked_fill(~boundary, MASKED)
        end = end.masked_fill(~boundary, MASKED)
        pooled = p.masked_fill(~(passage & ~is_sep)[..., None], MASKED).max(dim=1).values
        pooled = torch.where(pooled <= MASKED / 2, torch.zeros_like(pooled), pooled)  # a passage-less feature
        answer_logit = self.has_answer(torch.cat([pooled, q_summary], dim=-1)).float().squeeze(-1)
        return start, end, answer_logit

    def _inputs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        """Per-piece input vectors: word-piece embeddings, or the frozen encoder layers' states."""
        if self.context is None:
            assert self.embedding is not None
            return self.embedding(input_ids)
        from qa_app.readers.inference import use_bf16

        # frozen, so never in the backward pass; bf16 where the CPU has it (as the transformer reader)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16()):
            states = self.context(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids.long()).last_hidden_state
        return states.float()


def load_base_embeddings(base_path: str | Path) -> torch.Tensor:
    """The input word-piece embedding matrix of a BERT-style checkpoint (model.safetensors)."""
    from safetensors import safe_open

    path = Path(base_path) / "model.safetensors"
    if not path.is_file():
        raise ModelNotFoundError(f"no model.safetensors in {base_path}: cannot initialise the LSTM embeddings")
    with safe_open(str(path), framework="pt") as f:
        names: list[str] = list(f.keys())  # safe_open is not a dict
        keys = [k for k in names if k.endswith(EMBEDDING_KEY)]
        if not keys:
            raise ModelNotFoundError(f"{path} holds no '*{EMBEDDING_KEY}' tensor")
        return f.get_tensor(min(keys, key=len)).float()


# The BertConfig keys that rebuild the frozen contextual layers (dropout off: they never train).
ENCODER_CONFIG_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                       "hidden_act", "max_position_embeddings", "type_vocab_size", "layer_norm_eps", "pad_token_id")


def build_from_base(base_path: str | Path, config: LSTMConfig | None = None) -> LSTMSpanModel:
    """An LSTM reader whose inputs start from the base model: its input embeddings, or (with
    contextual_layers) its lowest encoder layers, frozen."""
    from dataclasses import replace

    config = config or LSTMConfig()
    source = config.embedding_source or str(base_path)
    if config.contextual_layers:
        from transformers import AutoModel

        encoder = AutoModel.from_pretrained(str(base_path), num_hidden_layers=config.contextual_layers,
                                            add_pooling_layer=False)
        settings = encoder.config.to_dict()
        encoder_config = {k: settings[k] for k in ENCODER_CONFIG_KEYS} | {"hidden_dropout_prob": 0.0,
                                                                           "attention_probs_dropout_prob": 0.0}
        config = replace(config, vocab_size=settings["vocab_size"], embedding_dim=settings["hidden_size"],
                         embedding_source=source, encoder_config=encoder_config)
        model = LSTMSpanModel(config)
        assert model.context is not None
        model.context.load_state_dict(encoder.state_dict())
        return model
    embeddings = load_base_embeddings(base_path)
    config = replace(config, vocab_size=embeddings.shape[0], embedding_dim=embeddings.shape[1], embedding_source=source)
    return LSTMSpanModel(config, embeddings)


def build_tiny(vocab_size: int = 1000, **overrides: Any) -> LSTMSpanModel:
    """A tiny random LSTM reader built in code, for plumbing tests (no files)."""
    settings: dict[str, Any] = {"vocab_size": vocab_size, "embedding_dim": 16, "projection_dim": 16, "hidden_size": 16,
                                "passage_layers": 2, "question_layers": 1, "dropout": 0.0, "embedding_source": "random",
                                **overrides}
    return LSTMSpanModel(LSTMConfig(**settings))


def save_checkpoint(
    model: LSTMSpanModel, tokenizer: Any, settings: SpanReaderSettings, out_dir: str | Path, *, precision: str = "float16"
) -> Path:
    """Weights (safetensors), lstm.json, tokenizer files and reader.json into out_dir."""
    if settings.kind != "lstm":
        raise ValueError(f"an LSTM checkpoint needs reader settings of kind 'lstm', got {settings.kind!r}")
    out = write_weights_and_settings(model.state_dict(), tokenizer, settings, out_dir, precision=precision)
    (out / ARCHITECTURE_FILE).write_text(json.dumps(asdict(model.config), indent=2) + "\n", encoding="utf-8")
    return out


def load_checkpoint(path: str | Path) -> tuple[LSTMSpanModel, Any, SpanReaderSettings]:
    """Load a checkpoint written by save_checkpoint (weights upcast to float32, eval mode)."""
    from transformers import AutoTokenizer

    root = Path(path)
    state, settings = read_weights_and_settings(root)
    if settings.kind != "lstm" or not (root / ARCHITECTURE_FILE).is_file():
        raise ModelNotFoundError(f"{root} holds a {settings.kind} reader, not an LSTM reader ({ARCHITECTURE_FILE} "
                                 "missing or kind mismatch); train one with `qa-app train --reader lstm`")
    config = LSTMConfig(**json.loads((root / ARCHITECTURE_FILE).read_text(encoding="utf-8")))
    model = LSTMSpanModel(config)
    model.load_state_dict(state)
    model.eval()
    return model, AutoTokenizer.from_pretrained(str(root)), settings
