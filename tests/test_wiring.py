"""The composition root: which reader serves a name, and store settings applied to the real (embedded Chroma) store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qa_app.config import load_settings
from qa_app.errors import ConfigError, ModelNotFoundError
from qa_app.wiring import App, build_reader


def test_the_store_searches_with_the_configured_ef_search(tmp_path: Path) -> None:
    app = App(load_settings(overrides={"data_dir": str(tmp_path / "data"), "ef_search": 250}, environ={}))
    assert app.store.ef_search == 250
    del app  # releases the data dir
    with pytest.raises(ConfigError, match="ef_search"):
        load_settings(environ={"QA_EF_SEARCH": "0"})


def test_each_span_reader_is_served_from_its_own_folder_under_its_own_name(tokenizer: Any, tmp_path: Path) -> None:
    from qa_app.readers.span_model import SpanReaderSettings, build_tiny, save_checkpoint
    from qa_app.readers.weights import INDEX_FILE, save_weights

    model = build_tiny(vocab_size=tokenizer.vocab_size)
    folder = save_checkpoint(model, tokenizer, SpanReaderSettings(base_model="tiny"), tmp_path / "models" / "transformer-mpnet")
    save_weights(model.state_dict(), folder, precision="float16", max_shard_bytes=500_000)  # sharded, as shipped
    assert (folder / INDEX_FILE).is_file()
    settings = load_settings(overrides={"models_dir": str(tmp_path / "models")}, environ={})
    reader = build_reader(settings, "transformer-mpnet")
    assert reader.name == "transformer-mpnet"
    assert reader.settings.base_model == "tiny"  # loaded from the shards
    with pytest.raises(ModelNotFoundError, match="no transformer reader checkpoint") as missing:
        build_reader(settings, "transformer")  # no folder of its own
    message = str(missing.value)  # where it looked, where readers come from, the readers to pick instead
    assert str((tmp_path / "models" / "transformer").resolve()) in message
    assert "--models-dir" in message and "QA_MODELS_DIR" in message and "transformer-mpnet" in message


@pytest.mark.parametrize(("precision", "bf16", "quantised"), [("fp32", False, False), ("bf16", True, False),
                                                                ("int8", False, True)])
def test_the_precision_setting_reaches_the_reader(tokenizer: Any, tmp_path: Path, precision: str, bf16: bool,
                                                   quantised: bool) -> None:
    from qa_app.readers.span_model import SpanReaderSettings, build_tiny, save_checkpoint
    from qa_app.types import Window

    save_checkpoint(build_tiny(vocab_size=tokenizer.vocab_size), tokenizer, SpanReaderSettings(base_model="tiny"),
                    tmp_path / "models" / "transformer", precision="float32")
    settings = load_settings(overrides={"models_dir": str(tmp_path / "models")}, environ={"QA_PRECISION": precision})
    reader = build_reader(settings, "transformer")
    text = "The otter eats fish in the river."
    window = Window(doc_id="d", source="d.txt", title="d", text=text, start=0, end=len(text), first_chunk=0, last_chunk=0)
    result = reader.read("What does the otter eat?", [window])
    assert result.null_logit_diff == result.null_logit_diff  # a number came out
    model = reader._load()[0]  # type: ignore[attr-defined]
    assert reader._bf16 is bf16  # type: ignore[attr-defined]
    assert any("quantized" in type(m).__module__ for m in model.modules()) is quantised
    with pytest.raises(ConfigError, match="precision"):
        load_settings(environ={"QA_PRECISION": "fp16"})


def test_the_calibration_picks_which_recorded_threshold_the_reader_abstains_with(tokenizer: Any, tmp_path: Path) -> None:
    from qa_app.readers.span_model import SpanReaderSettings, build_tiny, save_checkpoint
    from qa_app.wiring import tuned_threshold

    recorded = SpanReaderSettings(base_model="tiny", null_threshold=4.5, documents_null_threshold=-3.0)
    save_checkpoint(build_tiny(vocab_size=tokenizer.vocab_size), tokenizer, recorded, tmp_path / "models" / "transformer",
                    precision="float32")
    models = {"models_dir": str(tmp_path / "models")}
    documents = load_settings(overrides=models, environ={})
    assert documents.reader.calibration == "documents"  # the app's default: questions over the user's documents
    squad = load_settings(overrides=models, environ={"QA_CALIBRATION": "squad"})
    forced = load_settings(overrides={**models, "null_threshold": 1.25}, environ={"QA_CALIBRATION": "squad"})
    assert [build_reader(s, "transformer").threshold for s in (documents, squad, forced)] == [-3.0, 4.5, 1.25]
    assert [tuned_threshold(s, "transformer") for s in (documents, squad)] == [-3.0, 4.5]  # what the Settings page shows
    assert tuned_threshold(documents, "baseline") is None  # no checkpoint, no threshold
    with pytest.raises(ConfigError, match="calibration"):
        load_settings(environ={"QA_CALIBRATION": "strict"})


def test_a_checkpoint_without_a_documents_threshold_uses_its_squad_one() -> None:
    from qa_app.readers.checkpoint import SpanReaderSettings

    recorded = SpanReaderSettings(base_model="tiny", null_threshold=2.0)
    assert recorded.threshold_for("documents") == recorded.threshold_for("squad") == 2.0
