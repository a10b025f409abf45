"""Shared pieces of the reliability tests: an `App` wired with fakes, and a snapshot of a store.

`fake_app` builds the real composition root (`qa_app.wiring.App`: embedded Chroma in a tmp dir,
writer lock, Indexer) with the dependency-free fakes of `tests.fakes` in place of the models.
`snapshot` records what a reader of a store sees, so that tests (and the child processes of the
kill test) can check that no half-written document is visible. No torch, no downloads.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa_app.config import ENCODER_DIMENSION, Settings
from qa_app.types import chunk_id
from qa_app.wiring import App
from tests.fakes import FakeReader, HashingEncoder, RegexTokenizer

CHUNK_TOKENS = 48  # small chunks: several per small test document
OVERLAP_TOKENS = 8

# Words, or single CJK characters (so Chinese text is not one giant "word" between punctuation).
_TERM = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_]+", re.UNICODE)


class CountingTokenizer(RegexTokenizer):
    """RegexTokenizer plus `count_tokens`, which the window builder of `App.pipeline()` needs."""

    def count_tokens(self, text: str) -> int:
        return len(self.token_offsets(text))


class BigramHashingEncoder(HashingEncoder):
    """HashingEncoder over words and CJK character bigrams: Chinese questions match Chinese chunks."""

    @property
    def id(self) -> str:
        return f"fake/bigram-hashing-{self.dimension}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return super().encode([" ".join(_terms(t)) for t in texts])


def _terms(text: str) -> list[str]:
    units = _TERM.findall(text.lower())
    out = [u for u in units if len(u) > 1 or not _is_cjk(u)]
    cjk = [u for u in units if len(u) == 1 and _is_cjk(u)]
    out += ["".join(pair) for pair in itertools.pairwise(cjk)] or cjk
    return out


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


SYLLABLES = "ka lo mi ne ru ta vo si pe da gu fi zo be ha".split()


def made_up_text(name: str, sentences: int = 30) -> str:
    """Sentences of made-up words drawn with `name` as seed.

    The words vary so that no two chunks are near-duplicates: HNSW may leave a near-duplicate out of
    its graph (no query reaches it although it is stored), which a lost-vector check would misread;
    templated sentences ("sample 3 of beta0 was 0 grams") made chunks 0.98 cosine-similar."""
    rng = random.Random(name)
    words = ["".join(rng.choices(SYLLABLES, k=3)) for _ in range(sentences * 6)]
    return " ".join(f"The {name} sample {i} reads {' '.join(words[6 * i:6 * i + 6])}." for i in range(sentences))


def fake_settings(data_dir: Path | str, **overrides: Any) -> Settings:
    """Defaults (no config file, no QA_* variables) with small chunks and this data dir."""
    flat = {"data_dir": str(data_dir), "chunk_tokens": CHUNK_TOKENS, "overlap_tokens": OVERLAP_TOKENS}
    return Settings().replace(**(flat | overrides))


def app_factory(answer: str = "", *, encoder: Any = None) -> Callable[[Settings], App]:
    """A `make_app` for `qa_app.cli.main`: the real wiring with fake encoder, tokenizer and reader,
    and the small chunks of `fake_settings` (so CLI and `fake_app` share one store)."""

    def make(settings: Settings) -> App:
        settings = settings.replace(chunk_tokens=CHUNK_TOKENS, overlap_tokens=OVERLAP_TOKENS)
        return App(settings, encoder=encoder or HashingEncoder(dimension=ENCODER_DIMENSION),
                   tokenizer=CountingTokenizer(), readers={settings.reader.reader: FakeReader(answer)})

    return make


def fake_app(data_dir: Path | str, *, answer: str = "", encoder: Any = None, **overrides: Any) -> App:
    """The real App (embedded Chroma under data_dir, writer lock) over fakes."""
    return app_factory(answer, encoder=encoder)(fake_settings(data_dir, **overrides))


def snapshot(store: Any, encoder: Any, contextual: str) -> dict[str, Any]:
    """What a reader of `store` sees, as JSON-ready data (no cleanup is run first).

    - documents: the registry (id, origin, chunks)
    - fetched: per document, the chunk indices `get_chunks` returns for range(chunks)
    - streamed: per document id, how many chunks `all_chunks` yields
    - nearest: per document, whether a query with its first chunk's vector finds that chunk, or a chunk
      of the same document with the same header and text (an exact copy has the same vector, and
      which of several tied copies the index returns first is arbitrary)
    - registered_after: the registry again at the end (a writer may have added documents meanwhile)
    """
    from indexing.chunking import embedding_texts

    docs = store.documents()
    fetched = {d.id: [c.index for c in store.get_chunks(d.id, range(d.chunks))] for d in docs}
    streamed = Counter(c.doc_id for c in store.all_chunks())
    nearest: dict[str, bool] = {}
    hit_docs: set[str] = set()
    for d in docs:
        first = store.get_chunks(d.id, [0])
        if not first:
            nearest[d.id] = False
            continue
        hits = store.query(encoder.encode(embedding_texts(first, contextual))[0], 3)
        nearest[d.id] = any(_same_row_or_copy(h.chunk, first[0]) for h in hits)
        hit_docs |= {h.chunk.doc_id for h in hits}
    return {
        "documents": [{"id": d.id, "origin": d.origin, "source": d.source, "chunks": d.chunks} for d in docs],
        "registered_after": sorted(d.id for d in store.documents()),  # writers may add some meanwhile
        "fetched": fetched,
        "streamed": dict(streamed),
        "nearest": nearest,
        "hit_docs": sorted(hit_docs),
    }


def _same_row_or_copy(found: Any, wanted: Any) -> bool:
    return found.id == wanted.id or (
        found.doc_id == wanted.doc_id and found.header == wanted.header and found.text == wanted.text)


def _encoded_documents(store: Any, encoder: Any, contextual: str) -> Iterator[tuple[Any, list[Any], np.ndarray]]:
    """(document, its chunks that `get_chunks` returns, their vectors as the encoder gives them) for
    every registered document."""
    from indexing.chunking import embedding_texts

    for doc in store.documents():
        chunks = store.get_chunks(doc.id, range(doc.chunks))
        yield doc, chunks, encoder.encode(embedding_texts(chunks, contextual))


def unreachable_rows(store: Any, encoder: Any, contextual: str) -> list[str]:
    """Ids of the registered documents' chunk rows that no dense query finds, not even a query made
    with the row's own vector that asks for every row: [] unless a vector was lost from the index.

    One query for all rows is not enough: after deletes HNSW may return fewer than k rows although
    none is lost (chroma-core/chroma #7758), so a row missing from one answer is asked for with its
    own vector.
    """
    every_row = store.count()
    found: set[str] = set()
    missing = []
    for _, chunks, vectors in _encoded_documents(store, encoder, contextual):
        for chunk, vector in zip(chunks, vectors):
            if chunk.id not in found:
                found |= {hit.chunk.id for hit in store.query(vector, every_row)}
            if chunk.id not in found:
                missing.append(chunk.id)
    return missing


def stored_vector_problems(chunk_collection: Any, app: App) -> list[str]:
    """Chunk rows of `app`'s registered documents whose vector in `chunk_collection` (the chromadb
    collection behind `app.store`) is missing or differs from what the app's encoder gives its text."""
    problems = []
    for doc, chunks, expected in _encoded_documents(app.store, app.encoder, app.settings.chunking.contextual):
        got = chunk_collection.get(ids=[c.id for c in chunks], include=["embeddings"])
        stored = dict(zip(got["ids"], got["embeddings"]))
        present = {c.index for c in chunks}
        problems += [f"{chunk_id(doc.id, i)}: no row" for i in range(doc.chunks) if i not in present]
        for chunk, vector in zip(chunks, expected):
            if stored.get(chunk.id) is None or not np.allclose(stored[chunk.id], vector, atol=1e-5):
                problems.append(f"{chunk.id}: stored vector differs from the encoded text")
    return problems


def snapshot_problems(snap: dict[str, Any]) -> list[str]:
    """Ways in which a snapshot shows a partial or inconsistent document (empty list: none)."""
    problems = []
    registered = {d["id"]: d["chunks"] for d in snap["documents"]}
    for doc_id, n in registered.items():
        if snap["fetched"].get(doc_id) != list(range(n)):
            problems.append(f"{doc_id}: get_chunks gave {snap['fetched'].get(doc_id)}, registry says {n} chunks")
        if snap["streamed"].get(doc_id, 0) != n:
            problems.append(f"{doc_id}: all_chunks yielded {snap['streamed'].get(doc_id, 0)} of {n} chunks")
        if n and not snap["nearest"].get(doc_id):
            problems.append(f"{doc_id}: a query with its first chunk's vector does not find it")
    known = set(registered) | set(snap["registered_after"])
    for doc_id in set(snap["streamed"]) - known:
        problems.append(f"{doc_id}: all_chunks yields chunks of an unregistered document")
    for doc_id in set(snap["hit_docs"]) - known:
        problems.append(f"{doc_id}: query returns chunks of an unregistered document")
    return problems
