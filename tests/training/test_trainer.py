"""Training the span reader: labels, length-grouped batches, a tiny model that overfits a handful of
examples, checkpoint + resume, and the best checkpoint in run_dir/best.

A tiny random BERT (span_model.build_tiny) with the real all-MiniLM-L6-v2 tokenizer (local files,
tokenizer only). Every run is a few seconds at most and writes only under tmp_path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from qa_app.config import ReaderConfig
from qa_app.data.squad import GoldAnswer, QAExample
from qa_app.readers.inference import pad_batch
from qa_app.readers.span_model import build_tiny, load_checkpoint
from qa_app.readers.transformer import TransformerReader
from qa_app.training.batches import length_grouped_batches
from qa_app.training.labels import LabelledFeatures, label_features
from qa_app.training.loop import (
    STATE_FILE,
    TrainConfig,
    TrainState,
    train_span_model,
)
from qa_app.training.transformer import TRANSFORMER

VOCAB = 30522  # all-MiniLM-L6-v2's word pieces
ANIMALS = ("alpaca", "zebra", "otter", "falcon", "badger", "lemur", "walrus", "ibis", "koala", "tapir", "heron",
           "bison", "gecko", "marmot", "puffin", "okapi")
PLACES = ("Peru", "Kenya", "Norway", "Spain", "Wales", "Madagascar", "Alaska", "Egypt", "Queensland", "Brazil",
          "Holland", "Montana", "Borneo", "Tyrol", "Iceland", "Congo")
SHAPE: dict[str, Any] = {"max_length": 64, "stride": 16, "max_question_tokens": 16}


def examples() -> list[QAExample]:
    out = []
    for i, (animal, place) in enumerate(zip(ANIMALS, PLACES)):
        context = f"The {animal} is an animal. The {animal} lives in {place} with its family. It eats leaves."
        out.append(QAExample(id=f"q{i}", question=f"Where does the {animal} live?", context=context,
                             answers=(GoldAnswer(place, context.index(place)),), is_impossible=False,
                             title="Animals", article_index=0, paragraph_index=i))
    return out


EXAMPLES = examples()


def config(**kwargs: Any) -> TrainConfig:
    base: dict[str, Any] = dict(epochs=2.0, learning_rate=3e-3, batch_size=4, accumulation=1, warmup=0.0,
                                bf16=False, checkpoint_minutes=60.0, eval_batch_size=16, **SHAPE)
    base.update(kwargs)
    return TrainConfig(**base)


def tiny(seed: int = 0) -> Any:
    torch.manual_seed(seed)
    return build_tiny(vocab_size=VOCAB)


def span_loss(model: Any, feats: LabelledFeatures) -> float:
    model.eval()
    ids, mask = pad_batch(feats.input_ids)
    types, _ = pad_batch(feats.token_type_ids)
    with torch.no_grad():
        start, end, _ = model(ids, mask, types)
    ce = torch.nn.functional.cross_entropy
    return float((ce(start, torch.tensor(feats.start_positions)) + ce(end, torch.tensor(feats.end_positions))) / 2)


# --- labels ---------------------------------------------------------------------------------------


def test_labels_point_at_the_answer_tokens(tokenizer: Any) -> None:
    feats = label_features(tokenizer, EXAMPLES[:4], **SHAPE)
    assert len(feats) == 4
    for i, example in enumerate(EXAMPLES[:4]):
        s, e = feats.start_positions[i], feats.end_positions[i]
        assert 0 < s <= e and feats.has_answer[i] == 1
        pieces = tokenizer.convert_ids_to_tokens(feats.input_ids[i][s : e + 1])
        assert tokenizer.convert_tokens_to_string(pieces) == example.answers[0].text.lower()


def test_unanswerable_questions_and_features_without_the_answer_point_at_cls(tokenizer: Any) -> None:
    filler = " ".join(f"Filler sentence number {i} says nothing." for i in range(30))
    context = filler + " The answer is Tyrol."
    long = QAExample(id="long", question="What is the answer?", context=context,
                     answers=(GoldAnswer("Tyrol", context.index("Tyrol")),), is_impossible=False,
                     title="T", article_index=0, paragraph_index=0)
    impossible = QAExample(id="none", question="What is the answer?", context=filler, answers=(),
                           is_impossible=True, title="T", article_index=0, paragraph_index=1)
    feats = label_features(tokenizer, [long, impossible], **SHAPE)
    labels = list(zip(feats.start_positions, feats.end_positions, feats.has_answer))
    assert len(labels) > 4
    answered = [lab for lab in labels if lab[2] == 1]
    assert len(answered) == 1  # only the last feature of the long context holds "Tyrol"
    assert all(lab == (0, 0, 0) for lab in labels if lab[2] == 0)
    assert sum(1 for lab in labels if lab[2] == 0) == len(labels) - 1


# --- batches --------------------------------------------------------------------------------------


def test_length_grouped_batches_are_deterministic_and_cover_every_index() -> None:
    lengths = [(i * 37) % 101 for i in range(230)]
    a = length_grouped_batches(lengths, 16, seed=3)
    assert a == length_grouped_batches(lengths, 16, seed=3)
    assert a != length_grouped_batches(lengths, 16, seed=4)
    flat = [i for batch in a for i in batch]
    assert sorted(flat) == list(range(230))
    assert all(1 <= len(batch) <= 16 for batch in a)
    assert sum(len(batch) < 16 for batch in a) <= 1


def test_length_grouped_batches_hold_similar_lengths() -> None:
    lengths = list(range(200))
    batches = length_grouped_batches(lengths, 10, seed=0, group_batches=50)  # one group: a full sort
    for batch in batches:
        spread = max(lengths[i] for i in batch) - min(lengths[i] for i in batch)
        assert spread == 9


def test_length_grouped_batches_of_nothing() -> None:
    assert length_grouped_batches([], 8, seed=0) == []


# --- training -------------------------------------------------------------------------------------


class Bar:
    """A progress bar that can stop the run after `stop_after` batches (like Ctrl-C)."""

    def __init__(self, stop_after: int | None, opened: list[dict[str, Any]], **kwargs: Any) -> None:
        opened.append(kwargs)
        self.kwargs = kwargs
        self.updates = 0
        self.stop_after = stop_after

    def update(self, n: int) -> None:
        self.updates += n
        if self.stop_after is not None and self.updates >= self.stop_after:
            raise KeyboardInterrupt

    def set_postfix(self, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def bar_factory(opened: list[dict[str, Any]], stop_after: int | None = None) -> Any:
    return lambda **kwargs: Bar(stop_after, opened, **kwargs)


@pytest.fixture(scope="module")
def overfit(tokenizer: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One short run on the 16 examples, validated on four of them."""
    model = tiny()
    feats = label_features(tokenizer, EXAMPLES, **SHAPE)
    before = span_loss(model, feats)
    run_dir = tmp_path_factory.mktemp("overfit")
    best, state = train_span_model(kind=TRANSFORMER, model=model, tokenizer=tokenizer, base_model="tiny-random",
                                    train_examples=EXAMPLES, validation_examples=EXAMPLES[:4], run_dir=run_dir,
                                    config=config(epochs=6.0, learning_rate=5e-3), log=lambda message: None)
    return {"model": model, "before": before, "after": span_loss(model, feats), "best": best, "state": state,
            "run_dir": run_dir}


def test_training_lowers_the_loss_and_overfits_a_handful_of_examples(overfit: dict[str, Any]) -> None:
    assert overfit["after"] < 0.5 * overfit["before"]
    state: TrainState = overfit["state"]
    assert state.epoch == 6 and state.optimizer_steps == 24 and state.examples_seen == 6 * 16
    assert [round(h["epoch"]) for h in state.history] == list(range(1, 7))
    assert state.history[-1]["f1"] > state.history[0]["f1"]
    assert state.best_f1 >= 75.0


def test_run_dir_best_holds_a_loadable_trained_checkpoint(overfit: dict[str, Any], tokenizer: Any) -> None:
    best: Path = overfit["best"]
    assert best == overfit["run_dir"] / "best"
    model, tok, settings = load_checkpoint(best)
    assert (settings.max_length, settings.stride, settings.max_question_tokens) == (64, 16, 16)
    assert settings.base_model == "tiny-random"
    assert (best / "validation.json").is_file()
    reader = TransformerReader.from_model(model, tok, settings, config=ReaderConfig(), bf16=False)
    from qa_app.evaluation.gold import paragraph_window

    right = 0
    for example in EXAMPLES[:4]:
        result = reader.read(example.question, [paragraph_window(example)])
        right += result.spans[0].text == example.answers[0].text
    assert right >= 3


def run(tokenizer: Any, run_dir: Path, *, resume: bool = False, stop_after: int | None = None,
        logs: list[str] | None = None, opened: list[dict[str, Any]] | None = None, **kwargs: Any) -> tuple[Any, Any]:
    model = tiny(seed=0 if not resume else 99)  # a resumed run must not depend on its fresh weights
    state = train_span_model(kind=TRANSFORMER, model=model, tokenizer=tokenizer, base_model="tiny-random",
                              train_examples=EXAMPLES, validation_examples=EXAMPLES[:2], run_dir=run_dir,
                              config=config(checkpoint_minutes=0.0, **kwargs), resume=resume,
                              log=(logs if logs is not None else []).append,
                              progress_factory=bar_factory(opened if opened is not None else [], stop_after))[1]
    return model, state


@pytest.mark.parametrize("accumulation, stop_after", [(1, 7), (2, 6)],
                         ids=["no-accumulation", "stopped-between-accumulated-batches"])
def test_a_stopped_run_resumes_from_its_checkpoint(tokenizer: Any, tmp_path: Path, accumulation: int,
                                                   stop_after: int) -> None:
    """Stopped during batch `stop_after` (checkpoints after every optimizer step, never between
    accumulated batches): the resumed run redoes what was not saved and ends where an uninterrupted
    run ends, with the same weights."""
    reference, ref_state = run(tokenizer, tmp_path / "reference", accumulation=accumulation)
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run(tokenizer, run_dir, stop_after=stop_after, accumulation=accumulation)  # 4 batches per epoch
    assert (run_dir / STATE_FILE).is_file()
    logs: list[str] = []
    opened: list[dict[str, Any]] = []
    resumed, state = run(tokenizer, run_dir, resume=True, logs=logs, opened=opened, accumulation=accumulation)
    done = stop_after - 1
    saved_batch = (done - 4) // accumulation * accumulation  # last step boundary in epoch 2
    assert any(f"resumed at epoch 1, batch {saved_batch}" in line for line in logs), logs
    assert opened[0]["initial"] == 4 + saved_batch and opened[0]["total"] == 8
    assert state.epoch == ref_state.epoch == 2
    assert state.optimizer_steps == ref_state.optimizer_steps
    assert state.examples_seen == ref_state.examples_seen
    assert len(state.history) == len(ref_state.history) == 2
    for (name, a), (_, b) in zip(reference.state_dict().items(), resumed.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-5), f"{name} differs from an uninterrupted run"
    load_checkpoint(run_dir / "best")


def test_resume_without_a_checkpoint_starts_fresh(tokenizer: Any, tmp_path: Path) -> None:
    logs: list[str] = []
    _, state = run(tokenizer, tmp_path / "empty", resume=True, logs=logs, epochs=1.0)
    assert any("nothing to resume" in line for line in logs)
    assert state.epoch == 1 and state.optimizer_steps == 4


def test_a_fraction_of_a_short_epoch_still_trains_one_batch(tokenizer: Any, tmp_path: Path) -> None:
    """--epochs 0.2 over 4 examples in batches of 4: one batch, validated and kept (was none: no best)."""
    best, state = train_span_model(kind=TRANSFORMER, model=tiny(), tokenizer=tokenizer, base_model="tiny-random",
                                   train_examples=EXAMPLES[:4], validation_examples=EXAMPLES[:2], run_dir=tmp_path,
                                   config=config(epochs=0.2), log=lambda message: None)
    assert state.optimizer_steps == 1 and state.examples_seen == 4 and len(state.history) == 1
    load_checkpoint(best)
