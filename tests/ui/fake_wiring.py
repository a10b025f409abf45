"""An App factory wiring fakes (hashing encoder, regex tokenizer, in-memory store, fake readers).

The web app takes its App from a factory (`ui.main.main(make_app=...)`), as the CLI handlers do;
tests hand it this one. One store per collection is shared by every App the factory builds, so
documents survive a Settings change the way they do on disk with Chroma.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from indexing.stores import InMemoryStore, StoreSignature
from qa_app.config import Settings
from qa_app.types import ReaderResult, TokenProbs, Window
from qa_app.wiring import App
from tests.fakes import FakeReader, HashingEncoder, RegexTokenizer


class CountingTokenizer(RegexTokenizer):
    """RegexTokenizer plus the `count_tokens` that `App.pipeline` asks the tokenizer for."""

    def count_tokens(self, text: str) -> int:
        return len(self.token_offsets(text))


class ProbsReader(FakeReader):
    """FakeReader that also reports start/end probabilities over the winning window's words."""

    def read(self, question: str, windows: Sequence[Window]) -> ReaderResult:
        result = super().read(question, windows)
        if not result.spans:
            return result
        span = result.spans[0]
        window = windows[span.window_index]
        offsets = [(window.start + a, window.start + b) for a, b in RegexTokenizer().token_offsets(window.text)]
        tokens = tuple(window.text[a - window.start:b - window.start] for a, b in offsets)
        start = tuple(0.9 if a == span.start else 0.1 / len(offsets) for a, _ in offsets)
        end = tuple(0.9 if b == span.end else 0.1 / len(offsets) for _, b in offsets)
        probs = TokenProbs(tokens=tokens, offsets=tuple(offsets), start=start, end=end)
        return dataclasses.replace(result, token_probs=probs)


class FakeWiring:
    """Callable `Settings -> App`; records the Settings of every App it builds."""

    def __init__(self, readers: dict[str, FakeReader]) -> None:
        self.readers = readers
        self.encoder = HashingEncoder()
        self.stores: dict[str, InMemoryStore] = {}
        self.built: list[Settings] = []

    def store(self, settings: Settings) -> InMemoryStore:
        signature = StoreSignature.for_encoder(self.encoder.id, self.encoder.dimension, settings.chunking)
        return self.stores.setdefault(settings.store.collection, InMemoryStore(signature=signature))

    def __call__(self, settings: Settings) -> App:
        self.built.append(settings)
        return App(settings, encoder=self.encoder, tokenizer=CountingTokenizer(), store=self.store(settings),
                   readers=self.readers)
