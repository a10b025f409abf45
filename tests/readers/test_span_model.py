"""The span model (tiny, random, built in code) and the TransformerReader around it.

Plumbing only: shapes, masking, checkpoint round trips, document offsets, score normalisation and
the window cache. Uses the real all-MiniLM-L6-v2 tokenizer files (local, no network).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from qa_app.config import ReaderConfig
from qa_app.errors import ModelNotFoundError
from qa_app.readers.checkpoint import READER_FILE, SpanReaderSettings
from qa_app.readers.span_model import (
    SpanReaderModel,
    build_tiny,
    load_checkpoint,
    save_checkpoint,
)
from qa_app.readers.transformer import TransformerReader
from qa_app.readers.weights import WEIGHTS_FILE
from qa_app.types import Window

DOCUMENT = " ".join(
    f"Paragraph {i} says that the river number {i} flows into lake {i * 7} near town {i * 3}." for i in range(40)
)
SETTINGS = SpanReaderSettings(base_model="tiny-random", max_length=64, stride=16, max_question_tokens=16)


@pytest.fixture(scope="module")
def model(tokenizer: Any) -> Any:
    torch.manual_seed(0)
    m = build_tiny(vocab_size=tokenizer.vocab_size)
    m.eval()
    return m


def window(start: int, end: int, *, rank: int = 1) -> Window:
    return Window(doc_id="doc", source="rivers.txt", title="Rivers", text=DOCUMENT[start:end], start=start, end=end,
                  first_chunk=0, last_chunk=0, rank=rank)


def inputs(tokenizer: Any, texts: Sequence[str]) -> tuple[Any, Any, Any]:
    enc = tokenizer(list(texts), padding=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]


# --- the model ----------------------------------------------------------------------------------


def test_tiny_model_forward_shapes(model: Any, tokenizer: Any) -> None:
    ids, mask, types = inputs(tokenizer, ["a short one", "a somewhat longer second sentence here"])
    with torch.no_grad():
        start, end, answer = model(ids, mask, types)
    assert start.shape == end.shape == ids.shape
    assert answer.shape == (2,)
    assert start.dtype == torch.float32


def test_padding_positions_get_masked_logits(model: Any, tokenizer: Any) -> None:
    ids, mask, types = inputs(tokenizer, ["a short one", "a somewhat longer second sentence here"])
    assert (mask == 0).any()
    with torch.no_grad():
        start, end, _ = model(ids, mask, types)
    assert (start[mask == 0] == -1e4).all() and (end[mask == 0] == -1e4).all()
    assert (start[mask == 1] > -1e3).all()
    # padding does not change the logits of real tokens
    alone_ids, alone_mask, alone_types = inputs(tokenizer, ["a short one"])
    with torch.no_grad():
        alone_start, _, _ = model(alone_ids, alone_mask, alone_types)
    n = alone_ids.shape[1]
    assert torch.allclose(start[0, :n], alone_start[0], atol=1e-5)


@pytest.mark.parametrize("precision, atol", [("float32", 1e-6), ("float16", 2e-3), ("int8", 2e-2)])
def test_checkpoint_round_trip_gives_the_same_outputs(
    model: Any, tokenizer: Any, tmp_path: Path, precision: str, atol: float
) -> None:
    out = save_checkpoint(model, tokenizer, SETTINGS, tmp_path / "ckpt", precision=precision)
    assert (out / WEIGHTS_FILE).is_file() and (out / READER_FILE).is_file()
    loaded, loaded_tok, loaded_settings = load_checkpoint(out)
    assert loaded_settings == SETTINGS
    assert not loaded.training
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    text = ["Where does river 3 flow?", DOCUMENT[:200]]
    assert loaded_tok(*text)["input_ids"] == tokenizer(*text)["input_ids"]
    ids, mask, types = inputs(tokenizer, [DOCUMENT[:300], DOCUMENT[300:420]])
    with torch.no_grad():
        a = model(ids, mask, types)
        b = loaded(ids, mask, types)
    for x, y in zip(a, b):
        assert torch.allclose(x, y, atol=atol), (x - y).abs().max()


def test_an_encoder_without_token_types_gets_none_and_round_trips(tokenizer: Any, tmp_path: Path) -> None:
    """MPNet (the transformer-mpnet base) refuses segment ids; BERT-style encoders take them."""
    from transformers import MPNetConfig, MPNetModel

    config = MPNetConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64)
    torch.manual_seed(0)
    mpnet = SpanReaderModel(MPNetModel(config, add_pooling_layer=False)).eval()
    assert not mpnet.takes_token_types and build_tiny(vocab_size=tokenizer.vocab_size).takes_token_types
    ids, mask, types = inputs(tokenizer, [DOCUMENT[:300], DOCUMENT[300:420]])
    out = save_checkpoint(mpnet, tokenizer, SETTINGS, tmp_path / "mpnet", precision="float32")
    loaded, _, _ = load_checkpoint(out)
    assert type(loaded.encoder).__name__ == "MPNetModel"
    with torch.no_grad():
        with_types, without, after_load = mpnet(ids, mask, types), mpnet(ids, mask), loaded(ids, mask, types)
    for x, y, z in zip(with_types, without, after_load):
        assert torch.equal(x, y) and torch.allclose(x, z, atol=1e-6)


def test_fp16_checkpoint_is_smaller(model: Any, tokenizer: Any, tmp_path: Path) -> None:
    half = save_checkpoint(model, tokenizer, SETTINGS, tmp_path / "half", precision="float16")
    full = save_checkpoint(model, tokenizer, SETTINGS, tmp_path / "full", precision="float32")
    assert (half / WEIGHTS_FILE).stat().st_size < 0.6 * (full / WEIGHTS_FILE).stat().st_size


def test_missing_checkpoint_raises_model_not_found(tmp_path: Path, model: Any, tokenizer: Any) -> None:
    with pytest.raises(ModelNotFoundError, match="qa-app train"):
        load_checkpoint(tmp_path / "nothing-here")
    partial = save_checkpoint(model, tokenizer, SETTINGS, tmp_path / "partial")
    (partial / READER_FILE).unlink()
    with pytest.raises(ModelNotFoundError):
        load_checkpoint(partial)


# --- the reader ---------------------------------------------------------------------------------


class CountingReader(TransformerReader):
    """Records which window texts go through the model (the cache should spare the others)."""

    contexts: list[list[str]]

    def raw_features(self, questions: Sequence[str], contexts: Sequence[str], progress: Any = None) -> list[Any]:
        self.contexts.append(list(contexts))
        return super().raw_features(questions, contexts, progress)


def make_reader(model: Any, tokenizer: Any, cls: type[TransformerReader] = CountingReader) -> Any:
    reader: Any = cls.from_model(model, tokenizer, SETTINGS, config=ReaderConfig(n_best=10), bf16=False)
    reader.contexts = []
    return reader


def test_read_returns_document_offsets_over_two_windows(model: Any, tokenizer: Any) -> None:
    reader = make_reader(model, tokenizer)
    windows = [window(0, 500), window(1200, 1500, rank=2)]  # the first is longer than one feature
    result = reader.read("Where does river 3 flow?", windows)
    assert result.spans
    assert len(result.window_null_logits) == 2
    assert {s.window_index for s in result.spans} <= {0, 1}
    for span in result.spans:
        w = windows[span.window_index]
        assert w.start <= span.start < span.end <= w.end
        assert span.text == w.text[span.start - w.start : span.end - w.start]
        assert span.text == DOCUMENT[span.start : span.end]
        assert 0.0 <= span.score <= 1.0
    assert 0.0 <= result.null_score <= 1.0
    assert sum(s.score for s in result.spans) + result.null_score <= 1.0 + 1e-9
    scores = [s.score for s in result.spans]
    assert scores == sorted(scores, reverse=True)
    assert result.null_logit_diff == pytest.approx(result.spans[0].logit - min(result.window_null_logits), abs=1e-4)
    probs = result.token_probs
    assert probs is not None
    for token, (s, e) in zip(probs.tokens, probs.offsets):
        assert DOCUMENT[s:e] == token


def test_reading_no_windows_is_a_certain_no_answer(model: Any, tokenizer: Any) -> None:
    result = make_reader(model, tokenizer).read("Anything?", [])
    assert result.spans == () and result.answerable is False and result.null_score == 1.0


def test_a_second_read_with_one_window_changed_reuses_the_cache(model: Any, tokenizer: Any) -> None:
    reader = make_reader(model, tokenizer)
    question = "Which lake does river 5 flow into?"
    first = [window(0, 300), window(900, 1200, rank=2)]
    reader.read(question, first)
    assert sorted(map(len, reader.contexts[0])) == [300, 300]
    grown = [first[0], window(850, 1250, rank=2)]  # the second window grew
    cached = reader.read(question, grown)
    assert reader.contexts[1] == [grown[1].text]  # only the changed window went through the model
    fresh = make_reader(model, tokenizer).read(question, grown)
    assert [(s.start, s.end, s.window_index) for s in cached.spans] == [
        (s.start, s.end, s.window_index) for s in fresh.spans
    ]
    for a, b in zip(cached.spans, fresh.spans):
        assert a.score == pytest.approx(b.score, abs=1e-6)
    assert cached.null_score == pytest.approx(fresh.null_score, abs=1e-6)
    # the same question over the same windows is answered from the cache alone
    reader.read(question, grown)
    assert len(reader.contexts) == 2


def test_read_many_matches_read(model: Any, tokenizer: Any) -> None:
    reader = make_reader(model, tokenizer)
    items = [("Where does river 2 flow?", [window(0, 300)]), ("Which town?", [window(600, 900), window(0, 200)])]
    many = reader.read_many(items)
    for (question, windows), batched in zip(items, many):
        single = make_reader(model, tokenizer).read(question, windows)
        assert [(s.start, s.end) for s in batched.spans] == [(s.start, s.end) for s in single.spans]
        assert batched.null_score == pytest.approx(single.null_score, abs=1e-5)


def test_a_checkpoint_loads_in_plain_transformers_with_the_same_logits(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import torch
    from transformers import AutoModelForQuestionAnswering

    model = build_tiny(vocab_size=tokenizer.vocab_size).eval()
    out = save_checkpoint(model, tokenizer, SETTINGS, tmp_path / "ckpt", precision="float32")
    plain = AutoModelForQuestionAnswering.from_pretrained(str(out)).eval()
    ids = torch.tensor([tokenizer("Who?", "The otter ate fish.")["input_ids"]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        start, end, _ = model(ids, mask, torch.zeros_like(ids))
        theirs = plain(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids))
    assert torch.allclose(start, theirs.start_logits, atol=1e-5) and torch.allclose(end, theirs.end_logits, atol=1e-5)
    again, _, _ = load_checkpoint(out)
    with torch.no_grad():
        assert torch.allclose(again(ids, mask, torch.zeros_like(ids))[2], model(ids, mask, torch.zeros_like(ids))[2])


def test_an_int8_checkpoint_exports_to_what_plain_transformers_loads(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoModelForQuestionAnswering

    from qa_app.errors import ConfigError
    from qa_app.readers.span_model import export_plain

    torch.manual_seed(0)
    stored = save_checkpoint(build_tiny(vocab_size=tokenizer.vocab_size).eval(), tokenizer, SETTINGS,
                             tmp_path / "int8", precision="int8")
    ours, _, settings = load_checkpoint(stored)
    out = export_plain(stored, tmp_path / "plain", precision="float16")
    assert load_checkpoint(out)[2] == settings  # the tuned threshold and settings travel too
    plain = AutoModelForQuestionAnswering.from_pretrained(str(out)).eval()
    assert {p.dtype for p in plain.parameters()} == {torch.float32}  # float16 on disk, upcast on load
    ids = torch.tensor([tokenizer("Who?", "The otter ate fish.")["input_ids"]])
    mask, types = torch.ones_like(ids), torch.zeros_like(ids)
    with torch.no_grad():
        start, end, _ = ours(ids, mask, types)
        theirs = plain(input_ids=ids, attention_mask=mask, token_type_ids=types)
    torch.testing.assert_close(theirs.start_logits, start, atol=2e-3, rtol=0)
    torch.testing.assert_close(theirs.end_logits, end, atol=2e-3, rtol=0)
    with pytest.raises(ConfigError, match="float16 or float32"):
        export_plain(stored, tmp_path / "again", precision="int8")
    with pytest.raises(ConfigError, match="is the checkpoint being exported"):
        export_plain(stored, stored)
