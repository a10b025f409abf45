"""The LSTM span model (tiny, built in code), its checkpoints, the LSTMReader and its training.

Plumbing and learning ability only (no shipped checkpoint): forward contract shared with the
transformer (shapes, -1e4 masking, null at position 0), padding invariance, embeddings taken from
a BERT checkpoint, save/load round trips, document offsets, a tiny overfit, and `qa-app train
--reader lstm` end to end on a hand-made SQuAD file. Uses the real all-MiniLM-L6-v2 tokenizer
files (local, no network).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from qa_app.config import ReaderConfig, load_settings
from qa_app.data.squad import GoldAnswer, QAExample
from qa_app.errors import ConfigError, ModelNotFoundError
from qa_app.evaluation.gold import paragraph_window
from qa_app.readers.checkpoint import READER_FILE, SpanReaderSettings
from qa_app.readers.lstm import LSTMReader
from qa_app.readers.lstm_model import (
    ARCHITECTURE_FILE,
    LSTMConfig,
    LSTMSpanModel,
    build_from_base,
    build_tiny,
    load_base_embeddings,
    load_checkpoint,
    save_checkpoint,
)
from qa_app.readers.weights import WEIGHTS_FILE
from qa_app.training.labels import label_features
from qa_app.training.lstm import LSTM_TRAIN_DEFAULTS, lstm_configs
from qa_app.types import Window

DOCUMENT = " ".join(
    f"Paragraph {i} says that the river number {i} flows into lake {i * 7} near town {i * 3}." for i in range(40)
)
SETTINGS = SpanReaderSettings(base_model="tiny-random", max_length=64, stride=16, max_question_tokens=16, kind="lstm")

# (question, paragraph, answer or "" for no answer): what the tiny model must learn by heart
FACTS = [
    ("Where does the river Alder flow?", "The river Alder flows into Lake Mirren near the old mill.", "Lake Mirren"),
    ("Who built the tower?", "The tower was built by Clara Voss in 1820 for the harbour.", "Clara Voss"),
    ("When did the bridge open?", "The stone bridge opened in 1904 after six years of work.", "1904"),
    ("What colour is the door?", "Behind the house the door is painted bright green every spring.", "bright green"),
    ("How many windows does the hall have?", "The great hall has twelve windows and one heavy door.", "twelve"),
    ("Who painted the ceiling of the chapel?", "The chapel roof was repaired in the spring of 1911.", ""),
]


def examples(facts: Sequence[tuple[str, str, str]] = FACTS, article: int = 0) -> list[QAExample]:
    out = []
    for i, (question, context, answer) in enumerate(facts):
        gold = (GoldAnswer(answer, context.index(answer)),) if answer else ()
        out.append(QAExample(id=f"q{article}-{i}", question=question, context=context, answers=gold,
                             is_impossible=not answer, title=f"Article {article}", article_index=article,
                             paragraph_index=i))
    return out


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Any:
    """Tiny LSTMs are thousands of small sequential ops: on a busy machine, thread synchronisation
    made the overfit test ~15x slower with 2 threads than with 1 (measured)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model(tokenizer: Any) -> Any:
    torch.manual_seed(0)
    m = build_tiny(vocab_size=tokenizer.vocab_size)
    m.eval()
    return m


def inputs(tokenizer: Any, questions: Sequence[str], contexts: Sequence[str]) -> tuple[Any, Any, Any]:
    enc = tokenizer(list(questions), list(contexts), padding=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]


def window(start: int, end: int, *, rank: int = 1) -> Window:
    return Window(doc_id="doc", source="rivers.txt", title="Rivers", text=DOCUMENT[start:end], start=start, end=end,
                  first_chunk=0, last_chunk=0, rank=rank)


# --- the model ----------------------------------------------------------------------------------


def test_forward_gives_the_span_model_triple_over_the_full_sequence(model: Any, tokenizer: Any) -> None:
    ids, mask, types = inputs(tokenizer, ["Where?", "Which lake does the third river flow into?"],
                              ["Into lake 7 near town 3.", "It flows into lake 21."])
    assert (mask == 0).any()
    with torch.no_grad():
        start, end, answer = model(ids, mask, types)
    assert start.shape == end.shape == ids.shape
    assert answer.shape == (2,)
    assert start.dtype == end.dtype == answer.dtype == torch.float32
    assert torch.isfinite(answer).all()


def test_only_the_null_and_passage_pieces_can_be_span_boundaries(model: Any, tokenizer: Any) -> None:
    ids, mask, types = inputs(tokenizer, ["Where?", "Which lake does the third river flow into?"],
                              ["Into lake 7 near town 3.", "It flows into lake 21."])
    with torch.no_grad():
        start, end, _ = model(ids, mask, types)
    sep = ids == tokenizer.sep_token_id
    passage = (types == 1) & (mask == 1) & ~sep
    for logits in (start, end):
        assert (logits[mask == 0] == -1e4).all()  # padding
        assert (logits[:, 1:][((types == 0) | sep)[:, 1:]] == -1e4).all()  # question pieces and [SEP]
        assert (logits[passage] > -1e3).all()
        assert (logits[:, 0] > -1e3).all()  # the null span


def test_padding_and_missing_token_types_do_not_change_the_outputs(model: Any, tokenizer: Any) -> None:
    question, context = "Which lake does the third river flow into?", "It flows into lake 21 near town 9."
    longer = ("Where does the second river of the old northern valley flow in the spring?",
              "Into lake 7 near a town called Brill, after passing the mill and three stone bridges.")
    ids, mask, types = inputs(tokenizer, [longer[0], question], [longer[1], context])
    alone_ids, alone_mask, alone_types = inputs(tokenizer, [question], [context])
    assert (mask[1] == 0).any()  # the row under test is padded, and its question is shorter than row 0's
    assert ((types[1] == 0) & (mask[1] == 1)).sum() < ((types[0] == 0) & (mask[0] == 1)).sum()
    with torch.no_grad():
        start, end, answer = model(ids, mask, types)
        a_start, a_end, a_answer = model(alone_ids, alone_mask, alone_types)
        n_start, _, n_answer = model(ids, mask, None)
    n = alone_ids.shape[1]
    assert torch.allclose(start[1, :n], a_start[0], atol=1e-5)
    assert torch.allclose(end[1, :n], a_end[0], atol=1e-5)
    assert answer[1].item() == pytest.approx(a_answer[0].item(), abs=1e-5)
    assert torch.equal(n_start, start) and torch.equal(n_answer, answer)


def test_embeddings_come_from_a_bert_checkpoint_and_stay_frozen_by_default(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    matrix = torch.randn(50, 8)
    save_file({"embeddings.word_embeddings.weight": matrix, "embeddings.position_embeddings.weight": torch.randn(4, 8)},
              str(tmp_path / "model.safetensors"))
    loaded = load_base_embeddings(tmp_path)
    assert torch.equal(loaded, matrix)
    config = LSTMConfig(vocab_size=50, embedding_dim=8, projection_dim=4, hidden_size=4, passage_layers=1,
                        question_layers=1)
    frozen = LSTMSpanModel(config, loaded)
    assert torch.equal(frozen.embedding.weight, matrix)
    assert not frozen.embedding.weight.requires_grad
    assert frozen.projection.weight.requires_grad
    tuned = LSTMSpanModel(dataclasses.replace(config, embeddings="tuned"), loaded)
    assert tuned.embedding.weight.requires_grad
    with pytest.raises(ValueError, match="do not fit"):
        LSTMSpanModel(dataclasses.replace(config, vocab_size=49), loaded)
    with pytest.raises(ModelNotFoundError):
        load_base_embeddings(tmp_path / "nowhere")


def test_frozen_embeddings_get_no_gradient_but_the_projection_does(tokenizer: Any) -> None:
    m = build_tiny(vocab_size=tokenizer.vocab_size)
    ids, mask, types = inputs(tokenizer, ["Who built it?"], ["Clara built it."])
    start, end, answer = m(ids, mask, types)
    (start[:, 0] + end.logsumexp(-1) + answer).sum().backward()
    assert m.embedding.weight.grad is None
    projection = m.projection
    assert isinstance(projection, torch.nn.Linear)
    assert projection.weight.grad is not None and projection.weight.grad.abs().sum() > 0
    assert m.null.grad is not None and m.null.grad.abs().sum() > 0


def tiny_bert_base(path: Path, vocab_size: int, layers: int = 3) -> Path:
    """A random BERT checkpoint folder (config.json + weights), as a base model would be."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(1)
    BertModel(BertConfig(vocab_size=vocab_size, hidden_size=16, num_hidden_layers=layers, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=128),
              add_pooling_layer=False).save_pretrained(str(path))
    return path


TINY_CONTEXTUAL = LSTMConfig(contextual_layers=2, projection_dim=8, hidden_size=4, passage_layers=1, question_layers=1,
                             dropout=0.0)


def test_contextual_inputs_come_from_the_base_encoders_lowest_layers_frozen(tokenizer: Any, tmp_path: Path) -> None:
    from transformers import AutoModel

    base = tiny_bert_base(tmp_path / "base", tokenizer.vocab_size)
    m = build_from_base(base, TINY_CONTEXTUAL)
    assert m.embedding is None and m.config.encoder_config["num_hidden_layers"] == 2
    reference = AutoModel.from_pretrained(str(base), add_pooling_layer=False).state_dict()
    for name, value in m.context.state_dict().items():
        assert torch.equal(value, reference[name]), name  # layers 0-1 of the base, unchanged
    assert not any(p.requires_grad for p in m.context.parameters())
    ids, mask, types = inputs(tokenizer, ["Who built the tower?", "When did it rain?"],
                              ["Clara Voss built it.", "Clara Voss built it."])
    start, end, answer = m(ids, mask, types)
    (start[:, 0] + end.logsumexp(-1) + answer).sum().backward()
    assert all(p.grad is None for p in m.context.parameters())
    assert m.projection.weight.grad is not None and m.projection.weight.grad.abs().sum() > 0
    # the same passage piece reads differently after another question: contextual, unlike embeddings
    piece = (ids[0] == tokenizer.convert_tokens_to_ids("built")).nonzero()[-1].item()
    second = (ids[1] == tokenizer.convert_tokens_to_ids("built")).nonzero()[-1].item()
    with torch.no_grad():
        states = m._inputs(ids, mask, types)
    assert not torch.allclose(states[0, piece], states[1, second], atol=1e-4)


def test_contextual_checkpoints_round_trip_and_bad_settings_are_refused(tokenizer: Any, tmp_path: Path) -> None:
    m = build_from_base(tiny_bert_base(tmp_path / "base", tokenizer.vocab_size), TINY_CONTEXTUAL).eval()
    out = save_checkpoint(m, tokenizer, SETTINGS, tmp_path / "ckpt", precision="float32")
    loaded, _, _ = load_checkpoint(out)
    assert loaded.config == m.config and loaded.embedding is None
    ids, mask, types = inputs(tokenizer, ["Who built it?"], ["Clara Voss built the tower in 1820."])
    with torch.no_grad():
        for x, y in zip(m(ids, mask, types), loaded(ids, mask, types)):
            assert torch.allclose(x, y, atol=1e-6)
    with pytest.raises(ValueError, match="frozen"):
        LSTMConfig(contextual_layers=1, embeddings="tuned")
    with pytest.raises(ValueError, match="encoder_config"):
        LSTMSpanModel(LSTMConfig(contextual_layers=1))
    with pytest.raises(ConfigError, match="unknown LSTM training setting"):
        lstm_configs({"encoder_config": {}})  # set from the base model, never by hand


# --- checkpoints --------------------------------------------------------------------------------


@pytest.mark.parametrize("precision, atol", [("float32", 1e-6), ("float16", 2e-2)])
def test_checkpoint_round_trip_gives_the_same_outputs(
    model: Any, tokenizer: Any, tmp_path: Path, precision: str, atol: float
) -> None:
    out = save_checkpoint(model, tokenizer, SETTINGS, tmp_path / "ckpt", precision=precision)
    assert {WEIGHTS_FILE, READER_FILE, ARCHITECTURE_FILE} <= {p.name for p in out.iterdir()}
    loaded, loaded_tok, loaded_settings = load_checkpoint(out)
    assert loaded_settings == SETTINGS
    assert loaded.config == model.config
    assert not loaded.training
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert not loaded.embedding.weight.requires_grad
    assert loaded_tok("Where?", DOCUMENT[:100])["input_ids"] == tokenizer("Where?", DOCUMENT[:100])["input_ids"]
    ids, mask, types = inputs(tokenizer, ["Where does river 3 flow?", "Which town?"], [DOCUMENT[:300], DOCUMENT[300:420]])
    with torch.no_grad():
        for x, y in zip(model(ids, mask, types), loaded(ids, mask, types)):
            assert torch.allclose(x, y, atol=atol), (x - y).abs().max()


def test_checkpoints_of_the_wrong_kind_are_refused(model: Any, tokenizer: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind 'lstm'"):
        save_checkpoint(model, tokenizer, dataclasses.replace(SETTINGS, kind="transformer"), tmp_path / "x")
    with pytest.raises(ModelNotFoundError, match="qa-app train"):
        load_checkpoint(tmp_path / "nothing-here")
    out = save_checkpoint(model, tokenizer, SETTINGS, tmp_path / "ckpt")
    (out / ARCHITECTURE_FILE).unlink()
    with pytest.raises(ModelNotFoundError, match="--reader lstm"):
        load_checkpoint(out)


# --- the reader ---------------------------------------------------------------------------------


def test_read_returns_document_offsets_over_two_windows(model: Any, tokenizer: Any) -> None:
    reader = LSTMReader.from_model(model, tokenizer, SETTINGS, config=ReaderConfig(n_best=10))
    windows = [window(0, 500), window(1200, 1500, rank=2)]  # the first is longer than one feature
    result = reader.read("Where does river 3 flow?", windows)
    assert result.spans and len(result.window_null_logits) == 2
    for span in result.spans:
        w = windows[span.window_index]
        assert w.start <= span.start < span.end <= w.end
        assert span.text == w.text[span.start - w.start : span.end - w.start] == DOCUMENT[span.start : span.end]
    assert sum(s.score for s in result.spans) + result.null_score <= 1.0 + 1e-9
    assert result.null_logit_diff == pytest.approx(result.spans[0].logit - min(result.window_null_logits), abs=1e-4)
    assert result.token_probs is not None
    for token, (s, e) in zip(result.token_probs.tokens, result.token_probs.offsets):
        assert DOCUMENT[s:e] == token
    assert sum(result.token_probs.start) == pytest.approx(1.0, abs=1e-3)


def test_read_many_matches_read(model: Any, tokenizer: Any) -> None:
    reader = LSTMReader.from_model(model, tokenizer, SETTINGS, config=ReaderConfig(n_best=10))
    items = [("Where does river 2 flow?", [window(0, 300)]), ("Which town?", [window(600, 900), window(0, 200)])]
    for (question, windows), batched in zip(items, reader.read_many(items)):
        single = LSTMReader.from_model(model, tokenizer, SETTINGS, config=ReaderConfig(n_best=10)).read(question, windows)
        assert [(s.start, s.end) for s in batched.spans] == [(s.start, s.end) for s in single.spans]
        assert batched.null_score == pytest.approx(single.null_score, abs=1e-5)


def test_build_reader_loads_the_lstm_checkpoint_on_first_use(model: Any, tokenizer: Any, tmp_path: Path) -> None:
    from qa_app.wiring import build_reader

    settings = load_settings(overrides={"models_dir": str(tmp_path)}, environ={})
    with pytest.raises(ModelNotFoundError, match="--reader lstm"):
        build_reader(settings, "lstm")
    save_checkpoint(model, tokenizer, SETTINGS, tmp_path / "lstm")
    reader = build_reader(settings, "lstm")
    assert isinstance(reader, LSTMReader) and reader.name == "lstm"
    result = reader.read("Which lake?", [window(0, 200)])
    assert all(DOCUMENT[s.start : s.end] == s.text for s in result.spans)


# --- learning -----------------------------------------------------------------------------------


def test_a_tiny_lstm_learns_six_questions_by_heart(tokenizer: Any) -> None:
    torch.manual_seed(0)
    m = build_tiny(vocab_size=tokenizer.vocab_size, hidden_size=24)
    data = examples()
    feats = label_features(tokenizer, data, max_length=64, stride=16, max_question_tokens=16)
    assert len(feats) == len(FACTS)
    ids = torch.nn.utils.rnn.pad_sequence([torch.tensor(x) for x in feats.input_ids], batch_first=True)
    types = torch.nn.utils.rnn.pad_sequence([torch.tensor(x) for x in feats.token_type_ids], batch_first=True)
    mask = (torch.arange(ids.shape[1])[None, :] < torch.tensor([len(x) for x in feats.input_ids])[:, None]).long()
    starts, ends = torch.tensor(feats.start_positions), torch.tensor(feats.end_positions)
    has = torch.tensor(feats.has_answer, dtype=torch.float32)
    optimizer = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    m.train()
    for _ in range(80):
        start, end, answer = m(ids, mask, types)
        loss = (torch.nn.functional.cross_entropy(start, starts) + torch.nn.functional.cross_entropy(end, ends)) / 2
        loss = loss + torch.nn.functional.binary_cross_entropy_with_logits(answer, has)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0], losses[::10]
    m.eval()
    reader = LSTMReader.from_model(m, tokenizer, SETTINGS, config=ReaderConfig())
    for example, result in zip(data, reader.read_many([(e.question, [paragraph_window(e)]) for e in data])):
        if example.answers:
            assert result.spans[0].text == example.answers[0].text
            assert result.null_logit_diff > 0
        else:
            assert result.null_logit_diff < 0  # the null span wins


def test_lstm_training_defaults_and_overrides() -> None:
    train, arch = lstm_configs({"epochs": 2.0, "learning_rate": None, "hidden_size": 64, "embeddings": "tuned"})
    assert train.epochs == 2.0 and train.learning_rate == LSTM_TRAIN_DEFAULTS["learning_rate"] == 2e-3
    assert train.bf16 is False
    assert arch.hidden_size == 64 and arch.embeddings == "tuned" and arch.passage_layers == 3
    with pytest.raises(ConfigError, match="unknown"):
        lstm_configs({"hidden": 64})
    with pytest.raises(ConfigError, match="embeddings"):
        lstm_configs({"embeddings": "thawed"})


def write_tiny_squad(path: Path) -> Path:
    """Two articles of hand-made questions (some unanswerable) in SQuAD v2.0 format."""
    facts = FACTS * 2
    articles = []
    for a in range(2):
        paragraphs = [{"context": c, "qas": [{"id": f"a{a}q{i}", "question": q, "is_impossible": not ans,
                                             "answers": [{"text": ans, "answer_start": c.index(ans)}] if ans else []}]}
                      for i, (q, c, ans) in enumerate(facts[a * 3 : a * 3 + 6])]
        articles.append({"title": f"Article {a}", "paragraphs": paragraphs})
    path.write_text(json.dumps({"version": "v2.0", "data": articles}), encoding="utf-8")
    return path


def test_qa_app_train_lstm_with_tuned_embeddings_trains_the_matrix_too(tmp_path: Path, capsys) -> None:
    from qa_app.cli import main

    data = write_tiny_squad(tmp_path / "tiny.json")
    out = tmp_path / "models" / "lstm"
    code = main(["train", "--reader", "lstm", "--embeddings", "tuned", "--data", str(data), "--out", str(out),
                 "--run-dir", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "4"])
    assert code == 0
    card = json.loads((out / "card.json").read_text(encoding="utf-8"))
    assert card["hyper_parameters"]["architecture"]["embeddings"] == "tuned"
    assert card["trainable_parameters"] == card["parameters"]
    capsys.readouterr()
    code = main(["train", "--reader", "transformer", "--embeddings", "tuned", "--data", str(data),
                 "--out", str(tmp_path / "t"), "--run-dir", str(tmp_path / "t-run")])
    assert code == 2 and "LSTM reader only" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_qa_app_train_reader_lstm_end_to_end(tmp_path: Path) -> None:
    """`qa-app train --reader lstm` on a hand-made SQuAD file: checkpoint, model card, then reads."""
    from qa_app.cli import main
    from qa_app.wiring import build_reader

    data = write_tiny_squad(tmp_path / "tiny.json")
    out, run_dir = tmp_path / "models" / "lstm", tmp_path / "run"
    code = main(["train", "--reader", "lstm", "--data", str(data), "--out", str(out), "--run-dir", str(run_dir),
                 "--epochs", "1", "--batch-size", "4"])
    assert code == 0
    card = json.loads((out / "card.json").read_text(encoding="utf-8"))
    assert card["reader"] == "lstm"
    assert card["hyper_parameters"]["learning_rate"] == 2e-3 and card["hyper_parameters"]["optimizer"] == "adamax"
    assert card["hyper_parameters"]["architecture"]["vocab_size"] == 30522
    assert 0 < card["trainable_parameters"] < card["parameters"]
    assert card["data"]["train_questions"] == 6 and card["data"]["validation_questions"] == 6
    assert (out / "MODEL_CARD.md").read_text(encoding="utf-8").startswith("# Model card: lstm reader")
    assert json.loads((out / READER_FILE).read_text(encoding="utf-8"))["kind"] == "lstm"
    assert (run_dir / "train_state.pt").is_file() and (run_dir / "best" / ARCHITECTURE_FILE).is_file()
    settings = load_settings(overrides={"models_dir": str(tmp_path / "models")}, environ={})
    reader = build_reader(settings, "lstm")
    question, context, _ = FACTS[0]
    result = reader.read(question, [Window(doc_id="d", source="s", title="t", text=context, start=10,
                                           end=10 + len(context), first_chunk=0, last_chunk=0)])
    assert all(context[s.start - 10 : s.end - 10] == s.text for s in result.spans)
    # a resumed run with another architecture is refused instead of crashing on the weights
    from qa_app.training.lstm import train_lstm_reader

    with pytest.raises(ConfigError, match="another LSTM architecture"):
        train_lstm_reader(data=str(data), base=None, out_dir=out, run_dir=run_dir, resume=True,
                          overrides={"hidden_size": 16}, log=lambda m: None, progress_factory=None)
