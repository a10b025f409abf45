"""The real App over a real embedded Chroma store in the settings' data dir, with fake models: a
hashing encoder and a reader that finds DESIGNER (the API and HTTP server tests use it)."""

from __future__ import annotations

from pathlib import Path

from indexing.stores import ChromaStore, StoreSignature
from qa_app.config import Settings
from qa_app.wiring import App, hold_data_dir
from tests.fakes import FakeReader, HashingEncoder, RegexTokenizer

ROOT = Path(__file__).resolve().parents[1]
MANUAL = ROOT / "corpora" / "docs" / "tl7-tide-logger-manual.md"
DESIGNER = "Ingrid Halvorsen"
ENCODER = HashingEncoder(dimension=64)


def fake_app(settings: Settings) -> App:
    """The real App and embedded Chroma store, with a hashing encoder and a reader that finds DESIGNER."""
    store = ChromaStore.open_embedded(Path(settings.store.data_dir) / "chroma", collection=settings.store.collection,
                                      signature=StoreSignature.for_encoder(ENCODER.id, ENCODER.dimension,
                                                                           settings.chunking))
    app = App(settings, encoder=ENCODER, tokenizer=RegexTokenizer(), store=store,
              readers={settings.reader.reader: FakeReader(DESIGNER, name=settings.reader.reader)})
    app._data_dir_claim = hold_data_dir(Path(settings.store.data_dir))  # as App.store does for a real store
    return app
