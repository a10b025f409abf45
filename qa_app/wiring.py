"""The composition root: the only place that picks concrete classes and wires them together.

CLI, web app and Python API get their objects from here. Constructors are cheap: models load on
first use, so building an App costs milliseconds until something is indexed or asked.
"""

from __future__ import annotations

import contextlib
import sys
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from qa_app.config import ENCODER_DIMENSION, ENCODER_ID, Settings
from qa_app.errors import ModelNotFoundError, StoreError, StoreLockedError
from qa_app.pipeline import Pipeline, PipelineOptions
from qa_app.protocols import Reader
from qa_app.readers.registry import import_object, reader_names, reader_spec
from qa_app.readers.weights import has_weights

LOCK_TIMEOUT_S = 600.0


QUIET_WAIT_S = 1.0  # a lock wait longer than this is announced on stderr


def _acquire(lock: Any, timeout: float, waiting_for: str) -> None:
    """Acquire `lock` within `timeout` seconds; a wait longer than QUIET_WAIT_S says what it waits for
    (on stderr: a command that seems to hang for 30 s without a word looks broken). filelock.Timeout
    when the time is up."""
    from filelock import Timeout

    try:
        lock.acquire(timeout=min(timeout, QUIET_WAIT_S))
        return
    except Timeout:
        if timeout <= QUIET_WAIT_S:
            raise
    print(f"qa-app: waiting up to {timeout:.0f}s for {waiting_for} ...", file=sys.stderr, flush=True)
    lock.acquire(timeout=timeout - QUIET_WAIT_S)


@contextlib.contextmanager
def writer_lock(data_dir: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """One writer per embedded store (Chroma is thread-safe, not process-safe)."""
    from filelock import FileLock, Timeout

    data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(data_dir / "writer.lock"))
    try:
        _acquire(lock, timeout, f"another writer of {data_dir} to finish")
    except Timeout:
        raise StoreLockedError(
            f"another process is writing to {data_dir} (waited {timeout:.0f}s); wait for it to finish and retry"
        ) from None
    try:
        yield
    finally:
        lock.release()


def hold_data_dir(data_dir: Path, timeout: float = LOCK_TIMEOUT_S) -> Any:
    """Claim the embedded store in `data_dir` for this process, until it exits.

    Chroma keeps an in-memory HNSW index per process and persists it over the other processes'
    writes, so serialising single writes is not enough: a second process that has the store open
    while another writes loses vectors or reads stale ones (and may crash). Re-entrant within one
    process (every App and thread shares the claim); another process waits up to `timeout`, then fails.
    """
    from filelock import FileLock, Timeout

    data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(data_dir / "store.lock"), thread_local=False, is_singleton=True)
    try:
        _acquire(lock, timeout, f"another process (qa-app, the web app or a Python program) to close {data_dir}")
    except Timeout:
        raise StoreLockedError(
            f"another process has the store in {data_dir} open (qa-app index or ask, or the web app; "
            f"waited {timeout:.0f}s); wait for it to finish or stop it, or share one index between "
            "processes through a Chroma server (--chroma-host)"
        ) from None
    return lock


class App:
    """The wired objects for one set of settings. Heavy parts are created on first access."""

    def __init__(
        self, settings: Settings, *, encoder: Any = None, tokenizer: Any = None, store: Any = None,
        readers: Mapping[str, Reader] | None = None,
    ) -> None:
        """Given collaborators replace the real ones (tests pass fakes here)."""
        self.settings = settings
        for name, given in (("encoder", encoder), ("tokenizer", tokenizer), ("store", store)):
            if given is not None:
                self.__dict__[name] = given  # pre-fills the cached_property
        self._readers = dict(readers or {})
        self._data_dir_claim: Any = None  # this process's claim on an embedded store (hold_data_dir)

    @property
    def data_dir(self) -> Path:
        return Path(self.settings.store.data_dir).expanduser()

    @cached_property
    def encoder(self) -> Any:
        from indexing.encoder import SentenceTransformerEncoder

        return SentenceTransformerEncoder(batch_size=self.settings.store.encode_batch_size)

    @cached_property
    def tokenizer(self) -> Any:
        from indexing.tokenizer import WordPieceTokenizer

        return WordPieceTokenizer()

    @cached_property
    def store(self) -> Any:
        from indexing.stores import ChromaStore, StoreSignature

        s = self.settings.store
        signature = StoreSignature.for_encoder(ENCODER_ID, ENCODER_DIMENSION, self.settings.chunking)
        if s.chroma_host:
            return ChromaStore.open_server(s.chroma_host, s.chroma_port, collection=s.collection, signature=signature,
                                           ssl=s.chroma_ssl, token=s.chroma_token, ef_search=s.ef_search)
        self._data_dir_claim = hold_data_dir(self.data_dir, s.lock_timeout_s)  # before Chroma loads anything
        return ChromaStore.open_embedded(self.data_dir / "chroma", collection=s.collection, signature=signature,
                                         ef_search=s.ef_search)

    @cached_property
    def indexer(self) -> Any:
        from indexing.build import Indexer
        from indexing.loaders import MB

        s = self.settings.store
        lock = (lambda: writer_lock(self.data_dir, s.lock_timeout_s)) if not s.chroma_host else contextlib.nullcontext
        return Indexer(store=self.store, encoder=self.encoder, tokenizer=self.tokenizer,
                       chunking=self.settings.chunking, max_bytes=int(self.settings.store.max_file_mb * MB), lock=lock,
                       extra_sinks=(self.sparse_index,),
                       cleanup_on_index=not self.settings.store.chroma_host)  # a server has other writers

    @cached_property
    def sparse_index(self) -> Any:
        """The BM25 index next to the store (`<data_dir>/bm25/<collection>/`), reconciled with the
        store when opened: documents the store lacks are dropped, missing ones re-added from it."""
        from indexing.sparse import BM25Index, sync_index

        index = BM25Index(path=self.data_dir / "bm25" / self.settings.store.collection)
        sync_index(index, self.store)
        return index

    def collections(self) -> list[str]:
        """Names of the collections in this data directory (or Chroma server), the current one included, sorted."""
        return sorted(set(self.store.collection_names()) | {self.settings.store.collection})

    def load_models(self, reader: str | None = None) -> None:
        """Open the store and load the encoder and the reader now (each does on first use otherwise), so
        that the first question's timings measure answering, not loading."""
        from qa_app.types import Window

        self.store.count()
        self.encoder.encode(["warm up"])
        text = "Models load before the first question."
        self.reader(reader).read("When do models load?", [Window(doc_id="warm-up", source="", title="", text=text,
                                                                 start=0, end=len(text), first_chunk=0, last_chunk=0)])

    def check_store(self, *, repair: bool = False, reencode: bool = True,
                    progress: Callable[[int, int], None] | None = None) -> Any:
        """`indexing.check.check_store` on this collection; a repair holds the writer lock (embedded store)."""
        from indexing.check import check_store

        s = self.settings.store
        lock = writer_lock(self.data_dir, s.lock_timeout_s) if repair and not s.chroma_host else contextlib.nullcontext()
        with lock:
            return check_store(self.store, self.encoder, self.settings.chunking.contextual, repair=repair,
                               reencode=reencode, progress=progress)

    def require_existing_store(self) -> None:
        """For commands that only read: StoreError, creating nothing, when the embedded store in
        data_dir does not exist (a mistyped --data-dir must not leave a new empty store behind)."""
        if "store" in self.__dict__ or self.settings.store.chroma_host:
            return
        if not (self.data_dir / "chroma").is_dir():
            raise StoreError(f"no index in {self.data_dir.resolve()}: nothing was indexed there; check --data-dir "
                             f"(or QA_DATA_DIR), or index documents first with `qa-app index PATH --data-dir {self.data_dir}`")

    def close(self) -> None:
        """Close the store and give the data directory back to other processes. Make a new App to go
        on (the API's `QA.close` does; its models go with this App)."""
        store = self.__dict__.pop("store", None)
        for name in ("indexer", "sparse_index"):
            self.__dict__.pop(name, None)
        if store is not None and hasattr(store, "close"):
            store.close()
        claim, self._data_dir_claim = self._data_dir_claim, None
        if claim is not None:
            claim.release()

    def retriever(self) -> Any:
        from qa_app.retrieval.dense import DenseRetriever
        from qa_app.retrieval.hybrid import HybridRetriever
        from qa_app.retrieval.sparse import SparseRetriever

        r = self.settings.retrieval
        if r.retriever == "dense":
            return DenseRetriever(encoder=self.encoder, store=self.store)
        sparse = SparseRetriever(index=self.sparse_index, store=self.store)
        if r.retriever == "sparse":
            return sparse
        dense = DenseRetriever(encoder=self.encoder, store=self.store)
        return HybridRetriever(retrievers=[(dense, r.dense_weight), (sparse, r.sparse_weight)],
                               rrf_k=r.rrf_k, candidates=r.candidates)

    def reader(self, name: str | None = None) -> Reader:
        name = name or self.settings.reader.reader
        if name not in self._readers:
            self._readers[name] = build_reader(self.settings, name, self.reader)
        return self._readers[name]

    def pipeline(self, reader: str | None = None) -> Pipeline:
        from qa_app.retrieval.windows import WindowBuilder

        r = self.settings.retrieval
        windows = WindowBuilder(source=self.store, width=r.window_chunks, token_budget=r.token_budget,
                                max_per_document=r.max_per_document, count_tokens=self.tokenizer.count_tokens)
        name = reader or self.settings.reader.reader
        options = PipelineOptions(top_k=r.top_k, candidates=r.candidates, dynamic=r.dynamic,
                                  max_growth_steps=r.max_growth_steps, grow_on_abstention=r.grow_on_abstention,
                                  read_history_query=name in reader_names() and reader_spec(name).reads_history_query)
        return Pipeline(retriever=self.retriever(), windows=windows, reader=self.reader(name), options=options,
                        chunks=self.store)


def checkpoint_dir(settings: Settings, name: str) -> Path:
    return Path(settings.reader.models_dir).expanduser() / name


def models_stamp(settings: Settings, name: str) -> str:
    """The checkpoint folder(s) the `name` reader reads, for stamping evaluation runs ("+"-joined for a cascade)."""
    parts = reader_spec(name).parts if name in reader_names() else ()
    return "+".join(str(checkpoint_dir(settings, n)) for n in parts or (name,))


def tuned_threshold(settings: Settings, name: str) -> float | None:
    """The no-answer threshold the `name` checkpoint was tuned with (its reader.json) for the settings'
    calibration, None when the reader has no checkpoint. Reads one small file; loads no model."""
    from qa_app.readers.checkpoint import READER_FILE, read_settings

    if reader_spec(name).parts:  # a cascade answers as its finisher decides
        return tuned_threshold(settings, reader_spec(name).parts[-1])
    root = checkpoint_dir(settings, name)
    if not reader_spec(name).needs_checkpoint or not (root / READER_FILE).is_file():
        return None
    return read_settings(root).threshold_for(settings.reader.calibration)


def build_reader(settings: Settings, name: str, part: Callable[[str], Reader] | None = None) -> Reader:
    """The reader the registry (qa_app/readers/registry.py) declares under `name`; a cascade's readers
    come from `part` (App.reader shares them with the app) or are built here."""
    spec = reader_spec(name)
    reader_class = import_object(spec.reader_class)
    if spec.parts:
        build_part = part or (lambda n: build_reader(settings, n))
        try:
            scout, finisher = (build_part(n) for n in spec.parts)
        except ModelNotFoundError as error:
            raise ModelNotFoundError(f"the {name} reader reads with {' and '.join(spec.parts)}: {error}") from None
        cascade: Reader = reader_class(scout=scout, finisher=finisher, rereads=settings.reader.cascade_rereads,
                                       tokens=settings.reader.cascade_tokens, name=name)
        return cascade
    if not spec.needs_checkpoint:
        reader: Reader = reader_class()
        return reader
    path = checkpoint_dir(settings, name)
    if not has_weights(path):
        raise ModelNotFoundError(
            f"no {name} reader checkpoint in {path.resolve()}. The trained readers ship in the project's source "
            f"repository (folder models/); point --models-dir (or QA_MODELS_DIR) at a copy of it, or pick another "
            f"reader with --reader ({', '.join(n for n in reader_names() if n != name)}); training your own takes "
            f"hours: `qa-app train --reader {name}`"
        )
    precision = spec.precision if settings.reader.precision == "auto" else settings.reader.precision
    reader = reader_class(checkpoint=path, config=settings.reader, name=name, precision=precision)
    return reader
