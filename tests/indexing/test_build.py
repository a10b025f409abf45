"""The Indexer with fakes: added / unchanged / replaced / skipped, progress stages, failing writes,
extra sinks, cleanup and the writer lock. Files are written under tmp_path; PDFs are made in code."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexing.build import STAGES, Indexer, IndexEvent
from indexing.stores import InMemoryStore, StoreSignature
from qa_app.config import ChunkingConfig
from qa_app.errors import ConfigError, DocumentNotFoundError, StoreError
from qa_app.types import Chunk, DocumentInfo, SpanInContext
from tests import pdf_factory
from tests.fakes import HashingEncoder, RegexTokenizer
from tests.files import write

CHUNKING = ChunkingConfig(chunk_tokens=20, overlap_tokens=4, contextual="header")
ENCODER = HashingEncoder(dimension=32)
SIGNATURE = StoreSignature.for_encoder(ENCODER.id, ENCODER.dimension, CHUNKING)

RIVERS = ("The Rhine rises in the Swiss Alps. It flows north through Germany and the Netherlands. "
          "Barges carry coal and grain on the Rhine. The river reaches the North Sea near Rotterdam.")
PLANETS = "# Planets\n\nMars is the fourth planet. Jupiter is the largest planet.\n\n## Rings\n\nSaturn has rings."


class RecordingStore(InMemoryStore):
    """InMemoryStore that counts cleanup runs and can be told to fail writes."""

    def __init__(self) -> None:
        super().__init__(signature=SIGNATURE)
        self.cleanups = 0
        self.fail_writes = False

    def cleanup_incomplete(self) -> int:
        self.cleanups += 1
        return 0

    def add_document(self, info: DocumentInfo, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        if self.fail_writes:
            raise StoreError(f"cannot store document {info.source!r}: disk full")
        super().add_document(info, chunks, vectors)


class BatchingEncoder(HashingEncoder):
    """HashingEncoder with `encode_batches`, like the real encoder (progress per batch)."""

    def encode_batches(self, texts: Sequence[str]) -> Iterator[np.ndarray]:
        for a in range(0, len(texts), 2):
            yield self.encode(texts[a : a + 2])


class LateEncoder(HashingEncoder):
    """HashingEncoder that also "late-chunks": a span's vector is that of its prefix, the span and
    the context's first word (so context changes the vector); every call is recorded."""

    def __init__(self) -> None:
        super().__init__(dimension=32)
        self.items: list[SpanInContext] = []

    def encode_in_context(self, items: Sequence[SpanInContext]) -> Iterator[np.ndarray]:
        for a in range(0, len(items), 2):
            batch = items[a : a + 2]
            self.items.extend(batch)
            yield self.encode([f"{i.prefix} {i.context.split()[0]} {i.context[i.start:i.end]}" for i in batch])


class Sink:
    """An extra index (like BM25) fed by the indexer."""

    def __init__(self, *, fail: bool = False) -> None:
        self.docs: dict[str, list[Chunk]] = {}
        self.fail = fail

    def add(self, doc_id: str, chunks: Sequence[Chunk]) -> None:
        if self.fail:
            raise StoreError("the keyword index cannot be written")
        self.docs[doc_id] = list(chunks)

    def delete(self, doc_id: str) -> None:
        del self.docs[doc_id]


class CountingLock:
    def __init__(self) -> None:
        self.entered = 0
        self.held = False

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        assert not self.held, "the lock is not re-entered"
        self.entered += 1
        self.held = True
        try:
            yield
        finally:
            self.held = False


@pytest.fixture
def store() -> RecordingStore:
    return RecordingStore()


def make_indexer(store: Any, **kwargs: Any) -> Indexer:
    kwargs.setdefault("encoder", ENCODER)
    return Indexer(store=store, tokenizer=RegexTokenizer(), chunking=CHUNKING, **kwargs)


def statuses(outcomes: Sequence[Any]) -> dict[str, str]:
    return {Path(o.name).name: o.status for o in outcomes}


def test_added_then_unchanged(tmp_path: Path, store: RecordingStore) -> None:
    write(tmp_path / "docs" / "rivers.txt", RIVERS)
    write(tmp_path / "docs" / "planets.md", PLANETS)
    indexer = make_indexer(store)
    first = indexer.index_paths([tmp_path / "docs"])
    assert statuses(first) == {"planets.md": "added", "rivers.txt": "added"}
    assert {d.source for d in store.documents()} == {"rivers.txt", "planets.md"}
    for o in first:
        info = store.get_document(o.doc_id)
        assert info is not None and info.chunks == o.chunks > 0
        assert info.origin == str((tmp_path / "docs" / Path(o.name).name).resolve())
        chunks = store.get_chunks(o.doc_id, range(o.chunks))
        assert len(chunks) == o.chunks
    planets = next(o for o in first if o.name.endswith("planets.md"))
    assert store.get_document(planets.doc_id).title == "Planets"  # type: ignore[union-attr]
    again = indexer.index_paths([tmp_path / "docs"])
    assert statuses(again) == {"planets.md": "unchanged", "rivers.txt": "unchanged"}
    assert [o.doc_id for o in again] == [o.doc_id for o in first]
    assert store.count() == sum(o.chunks for o in first)


def test_same_content_at_another_path_is_unchanged(tmp_path: Path, store: RecordingStore) -> None:
    indexer = make_indexer(store)
    (a,) = indexer.index_paths([write(tmp_path / "a.txt", RIVERS)])
    (b,) = indexer.index_paths([write(tmp_path / "copy" / "b.txt", RIVERS)])
    assert (a.status, b.status) == ("added", "unchanged")
    assert len(store.documents()) == 1


def test_changed_file_replaces_its_old_version(tmp_path: Path, store: RecordingStore) -> None:
    path = write(tmp_path / "rivers.txt", RIVERS)
    indexer = make_indexer(store)
    (old,) = indexer.index_paths([path])
    write(path, RIVERS + " The Danube flows east.")
    (new,) = indexer.index_paths([path])
    assert new.status == "replaced"
    assert new.replaced_id == old.doc_id != new.doc_id
    assert store.get_document(old.doc_id) is None
    assert store.get_chunks(old.doc_id, range(old.chunks)) == []
    assert [d.id for d in store.documents()] == [new.doc_id]
    assert all(c.doc_id == new.doc_id for c in store.all_chunks())
    assert any("Danube" in c.text for c in store.all_chunks())


def test_uploads_are_replaced_by_name(store: RecordingStore) -> None:
    indexer = make_indexer(store)
    first = indexer.index_bytes(RIVERS.encode(), "rivers.txt")
    second = indexer.index_bytes((RIVERS + " More.").encode(), "rivers.txt")
    other = indexer.index_bytes(PLANETS.encode(), "planets.md")
    assert (first.status, second.status, other.status) == ("added", "replaced", "added")
    assert store.get_document(second.doc_id).origin == "upload:rivers.txt"  # type: ignore[union-attr]
    assert {d.source for d in store.documents()} == {"rivers.txt", "planets.md"}


def test_bad_files_are_skipped_with_reasons_and_the_batch_goes_on(tmp_path: Path, store: RecordingStore) -> None:
    folder = tmp_path / "mixed"
    write(folder / "good.txt", RIVERS)
    write(folder / "notes.md", PLANETS)
    write(folder / "empty.txt", b"")
    write(folder / "broken.pdf", pdf_factory.make_truncated_pdf())
    write(folder / "locked.pdf", pdf_factory.make_encrypted_pdf())
    unsupported = write(tmp_path / "report.odt", b"PK\x03\x04")
    outcomes = make_indexer(store).index_paths([folder, unsupported, tmp_path / "missing.txt"])
    by_name = {Path(o.name).name: o for o in outcomes}
    assert {n: o.status for n, o in by_name.items()} == {
        "good.txt": "added", "notes.md": "added", "empty.txt": "skipped", "broken.pdf": "skipped",
        "locked.pdf": "skipped", "report.odt": "skipped", "missing.txt": "skipped",
    }
    assert "empty" in by_name["empty.txt"].reason
    assert "encrypted" in by_name["locked.pdf"].reason
    assert "PDF" in by_name["broken.pdf"].reason
    assert "unsupported" in by_name["report.odt"].reason
    assert "not found" in by_name["missing.txt"].reason
    assert {d.source for d in store.documents()} == {"good.txt", "notes.md"}


def test_progress_reports_every_stage_in_order(tmp_path: Path, store: RecordingStore) -> None:
    events: list[IndexEvent] = []
    indexer = make_indexer(store, encoder=BatchingEncoder(dimension=32))
    path = write(tmp_path / "rivers.txt", RIVERS * 3)
    (outcome,) = indexer.index_paths([path], progress=events.append)
    stages = [e.stage for e in events]
    assert set(stages) == set(STAGES) == {"parse", "chunk", "embed", "store"}
    assert stages == sorted(stages, key=STAGES.index), "stages come in pipeline order"
    for stage in STAGES:
        last = [e for e in events if e.stage == stage][-1]
        assert last.done == last.total
    embeds = [e for e in events if e.stage == "embed"]
    assert len(embeds) > 1 and [e.done for e in embeds] == sorted(e.done for e in embeds)
    assert embeds[-1].total == outcome.chunks
    assert all(e.name == str(path) for e in events)


def test_pdf_progress_counts_pages(tmp_path: Path, store: RecordingStore) -> None:
    events: list[IndexEvent] = []
    path = write(tmp_path / "three.pdf", pdf_factory.make_text_pdf())
    (outcome,) = make_indexer(store).index_paths([path], progress=events.append)
    assert outcome.status == "added" and outcome.pages == 3
    assert [(e.done, e.total) for e in events if e.stage == "parse"] == [(1, 3), (2, 3), (3, 3)]


def test_a_failing_store_write_registers_nothing(tmp_path: Path, store: RecordingStore) -> None:
    store.fail_writes = True
    good = write(tmp_path / "a" / "rivers.txt", RIVERS)
    outcomes = make_indexer(store).index_paths([good])
    assert [o.status for o in outcomes] == ["skipped"]
    assert "disk full" in outcomes[0].reason
    assert store.documents() == [] and store.count() == 0
    store.fail_writes = False
    (retry,) = make_indexer(store).index_paths([good])
    assert retry.status == "added"


def test_a_failing_replacement_keeps_the_old_version(tmp_path: Path, store: RecordingStore) -> None:
    path = write(tmp_path / "rivers.txt", RIVERS)
    indexer = make_indexer(store)
    (old,) = indexer.index_paths([path])
    write(path, RIVERS + " Changed.")
    store.fail_writes = True
    (failed,) = indexer.index_paths([path])
    assert failed.status == "skipped"
    assert [d.id for d in store.documents()] == [old.doc_id]


def test_sinks_follow_adds_replacements_and_deletes(tmp_path: Path, store: RecordingStore) -> None:
    sink = Sink()
    indexer = make_indexer(store, extra_sinks=[sink])
    path = write(tmp_path / "rivers.txt", RIVERS)
    (old,) = indexer.index_paths([path])
    assert list(sink.docs) == [old.doc_id] and len(sink.docs[old.doc_id]) == old.chunks
    write(path, RIVERS + " Changed.")
    (new,) = indexer.index_paths([path])
    assert list(sink.docs) == [new.doc_id]
    indexer.delete(new.doc_id)
    assert sink.docs == {} and store.documents() == []
    with pytest.raises(DocumentNotFoundError):
        indexer.delete(new.doc_id)


def test_a_failing_sink_write_leaves_no_registered_document(tmp_path: Path, store: RecordingStore) -> None:
    """A file reported as skipped must not be half indexed (in the vector store, not in BM25):
    otherwise indexing it again says "unchanged" and the keyword index never gets it."""
    indexer = make_indexer(store, extra_sinks=[Sink(fail=True)])
    (outcome,) = indexer.index_paths([write(tmp_path / "rivers.txt", RIVERS)])
    assert outcome.status == "skipped"
    assert store.documents() == []


def test_cleanup_runs_before_indexing_under_the_lock(tmp_path: Path, store: RecordingStore) -> None:
    lock = CountingLock()
    indexer = make_indexer(store, lock=lock)
    indexer.index_paths([write(tmp_path / "a.txt", RIVERS), write(tmp_path / "b.md", PLANETS)])
    assert store.cleanups == 1
    assert lock.entered == 3  # cleanup + one per document
    assert indexer.cleanup() == 0 and store.cleanups == 2


def test_cleanup_without_support_in_the_store_is_a_no_op(tmp_path: Path) -> None:
    plain = InMemoryStore(signature=SIGNATURE)
    lock = CountingLock()
    indexer = make_indexer(plain, lock=lock)
    assert indexer.cleanup() == 0
    assert lock.entered == 0
    (o,) = indexer.index_paths([write(tmp_path / "a.txt", RIVERS)])
    assert o.status == "added"


def test_chunks_keep_exact_offsets_and_headers(tmp_path: Path, store: RecordingStore) -> None:
    path = write(tmp_path / "planets.md", PLANETS)
    (o,) = make_indexer(store).index_paths([path])
    text = path.read_text(encoding="utf-8")
    chunks = store.get_chunks(o.doc_id, range(o.chunks))
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.header.startswith("Planets")
    assert any(c.header == "Planets > Rings" for c in chunks)


def test_late_chunking_hands_the_encoder_each_chunk_in_its_context(tmp_path: Path) -> None:
    late = ChunkingConfig(chunk_tokens=20, overlap_tokens=4, contextual="late")
    encoder = LateEncoder()
    store = InMemoryStore(signature=StoreSignature.for_encoder(encoder.id, encoder.dimension, late))
    events: list[IndexEvent] = []
    indexer = Indexer(store=store, encoder=encoder, tokenizer=RegexTokenizer(), chunking=late)
    (o,) = indexer.index_paths([write(tmp_path / "planets.md", PLANETS * 3)], progress=events.append)
    chunks = store.get_chunks(o.doc_id, range(o.chunks))
    assert o.status == "added" and len(encoder.items) == len(chunks) > 2
    for chunk, item in zip(chunks, encoder.items):
        assert item.context[item.start:item.end] == chunk.text and item.prefix == chunk.header
    assert any(item.start > 0 for item in encoder.items)  # later chunks carry text before them
    embeds = [e.done for e in events if e.stage == "embed"]
    assert len(embeds) > 1 and embeds[-1] == len(chunks)
    hits = store.query(encoder.encode(["Planets Saturn has rings"])[0], 1)
    assert "Saturn" in hits[0].chunk.text


def test_late_chunking_needs_an_encoder_with_token_vectors() -> None:
    late = ChunkingConfig(chunk_tokens=20, overlap_tokens=4, contextual="late")
    with pytest.raises(ConfigError, match="contextual = header"):
        Indexer(store=RecordingStore(), encoder=ENCODER, tokenizer=RegexTokenizer(), chunking=late)


def test_a_document_prepared_elsewhere_is_stored_like_one_indexed_here(tmp_path: Path) -> None:
    from indexing.build import prepare_document
    from indexing.loaders import load_document

    path = write(tmp_path / "planets.md", PLANETS)
    here, there = RecordingStore(), RecordingStore()
    (local,) = make_indexer(here).index_paths([path])
    prepared = prepare_document(load_document(path), tokenizer=RegexTokenizer(), encoder=ENCODER, chunking=CHUNKING)
    stored = make_indexer(there).store_prepared(prepared, origin=str(path.resolve()), name=str(path))
    assert (stored.status, stored.doc_id, stored.chunks) == ("added", local.doc_id, local.chunks)
    assert list(there.all_chunks()) == list(here.all_chunks())
    again = make_indexer(there).store_prepared(prepared, origin=str(path.resolve()), name=str(path))
    assert again.status == "unchanged" and there.count() == local.chunks  # content-hash idempotency


def test_a_document_prepared_with_another_encoder_is_refused(tmp_path: Path, store: RecordingStore) -> None:
    from indexing.build import prepare_document
    from indexing.loaders import load_document

    other = HashingEncoder(dimension=16)
    prepared = prepare_document(load_document(write(tmp_path / "rivers.txt", RIVERS)), tokenizer=RegexTokenizer(),
                                encoder=other, chunking=CHUNKING)
    assert other.id != ENCODER.id
    with pytest.raises(ConfigError, match="same settings"):
        make_indexer(store).store_prepared(prepared)
    assert store.documents() == []
