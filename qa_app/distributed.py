"""Batch indexing and evaluation on a Ray cluster (`qa-app index|eval ... --ray ADDRESS`). Imported
only when asked for.

The driver (the process running `qa-app index`) finds the files and sends each one's bytes to a Ray
task. The task parses, chunks and encodes it: the expensive part, spread over the cluster's CPUs.
Each worker process loads the encoder once and keeps it. The driver stores each finished document
through the same `Indexer.store_prepared` as the local indexer. So the guarantees are the same:
content-hash idempotency, a document registered only once all its chunks are stored, a skipped file
with its reason, progress per file.

Workers never write, so a worker that dies mid-document leaves nothing behind. Ray reruns the task
(`max_retries`). A file whose task still fails is reported as skipped, and rerunning the command
finishes the job. Before a file is encoded the worker checks its content hash against the documents
the collection already holds, so a rerun re-encodes only what is missing.

Evaluation (`RayReader` for gold mode, `ask_on_ray` for questions over a collection) runs one actor
per cluster CPU; each loads the reader once and answers a batch of questions, or a whole
conversation, at a time. The driver puts the records back in file order and scores them as a local
run does.

Use a Chroma server (`--chroma-host`) as the store, so that every process of the cluster and the
apps that query it share one index. The local path never imports ray (`tests/test_import_rules.py`).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from indexing.build import IndexOutcome, PreparedDocument, prepare_document
from indexing.loaders import MB, discover_files, load_bytes
from qa_app.config import Settings
from qa_app.errors import ConfigError, LoadError, QAError

TASK_RETRIES = 3  # reruns of a file's task after its worker process died
_WORKER_STATE: dict[str, Any] = {}  # per worker process: the settings hash -> (encoder, tokenizer)


@contextlib.contextmanager
def cluster(address: str) -> Iterator[Any]:
    """The `ray` module, connected to the cluster at `address` (e.g. "127.0.0.1:6379", or "auto").

    Ray's driver prints its workers' errors ("Task ... failed, retrying") to stdout, which would break
    `--json` output: while connected, they go to stderr. A connection made here is closed on exit; one
    the caller made stays open.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs the ray package: pip install 'qa-app[ray]' (on every node of the cluster)") from None
    ours = not ray.is_initialized()
    with contextlib.redirect_stdout(sys.stderr):
        if ours:
            try:
                ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(f"cannot reach the Ray cluster at {address} ({exc}); start it with `ray start "
                                  "--head` and give its address (host:port)") from None
        try:
            yield ray
        finally:
            if ours:
                ray.shutdown()


def _models(settings: Settings) -> tuple[Any, Any]:
    """The encoder and tokenizer of this worker process, loaded on its first task."""
    key = settings.hash()
    if key not in _WORKER_STATE:
        from qa_app.wiring import App

        app = App(settings)
        _WORKER_STATE[key] = (app.encoder, app.tokenizer)
    return _WORKER_STATE[key]


def prepare_file(settings: Settings, name: str, data: bytes, known: frozenset[str]) -> tuple[str, Any]:
    """The work of one Ray task: ("prepared", PreparedDocument), ("unchanged", doc_id) or ("skipped", reason)."""
    try:
        document = load_bytes(data, name, max_bytes=int(settings.store.max_file_mb * MB))
    except LoadError as exc:
        return "skipped", exc.reason
    if document.id in known:
        return "unchanged", document.id
    encoder, tokenizer = _models(settings)
    return "prepared", prepare_document(document, tokenizer=tokenizer, encoder=encoder, chunking=settings.chunking,
                                        name=name)


def index_paths_on_ray(app: Any, paths: Iterable[str | Path], address: str,
                       progress: Callable[[int, int, str], None] | None = None) -> list[IndexOutcome]:
    """Index files and folders with the cluster at `address` doing the parsing and encoding; `app`'s
    indexer stores. `progress(done, total, name)` after each file."""
    files, problems = discover_files(list(paths))
    outcomes = [IndexOutcome(name=p, status="skipped", reason=r) for p, r in problems]
    if not files:
        return outcomes
    with cluster(address) as ray:
        outcomes += _index_files(app, ray, files, progress)
    return outcomes


def _index_files(app: Any, ray: Any, files: list[Path],
                 progress: Callable[[int, int, str], None] | None) -> list[IndexOutcome]:
    indexer = app.indexer
    indexer.cleanup()
    known = ray.put(frozenset(d.id for d in app.store.documents()))
    task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(prepare_file)
    width = max(1, int(ray.cluster_resources().get("CPU", 1)))  # files in flight: one per CPU, bounded memory
    outcomes: list[IndexOutcome] = []  # one per file done: progress is len(outcomes) of len(files)
    pending: dict[Any, Path] = {}
    queue = list(files)
    while queue or pending:
        while queue and len(pending) < width:
            file = queue.pop(0)
            try:
                data = file.read_bytes()
            except OSError as exc:
                outcomes.append(IndexOutcome(name=str(file), status="skipped", reason=f"cannot read the file ({exc})"))
                if progress is not None:
                    progress(len(outcomes), len(files), str(file))
                continue
            pending[task.remote(app.settings, file.name, data, known)] = file
        if not pending:
            break
        ready, _ = ray.wait(list(pending), num_returns=1)
        file = pending.pop(ready[0])
        outcomes.append(_store(indexer, ray, ready[0], file))
        if progress is not None:
            progress(len(outcomes), len(files), str(file))
    return outcomes


def _store(indexer: Any, ray: Any, ref: Any, file: Path) -> IndexOutcome:
    name, origin = str(file), str(file.resolve())
    try:
        status, value = ray.get(ref)
    except ray.exceptions.RayError as exc:
        reason = f"the Ray task failed {TASK_RETRIES + 1} times ({type(exc).__name__}); index again to retry"
        return IndexOutcome(name=name, status="skipped", reason=reason)
    if status == "skipped":
        return IndexOutcome(name=name, status="skipped", reason=str(value))
    try:
        if status == "unchanged":  # the same outcome a local run gives, through the local code path
            existing = indexer.existing_outcome(str(value), origin=origin, name=name)
            if existing is not None:
                return existing
            raise QAError(f"{name} was reported indexed but is not in the collection; index again")
        prepared: PreparedDocument = value
        return indexer.store_prepared(prepared, origin=origin, name=name)
    except QAError as exc:
        return IndexOutcome(name=name, status="skipped", reason=str(exc))


# --- evaluation: questions spread over actors, each holding its reader -------------------------------

EVAL_BATCH = 16  # gold-mode questions per actor call: small enough for steady progress


class _ReaderActor:
    """One per CPU of the cluster: loads the app (store, encoder) and the reader once, then answers batches.
    Its data dir (where a client of a Chroma server keeps its BM25 index) is its own: a fresh temporary folder."""

    def __init__(self, settings: Settings, reader_name: str) -> None:
        import tempfile

        from qa_app.wiring import App

        self.data_dir = tempfile.mkdtemp(prefix="qa-ray-actor-")
        self.app = App(settings.replace(data_dir=self.data_dir))
        self.reader_name = reader_name

    def close(self) -> None:
        import shutil

        self.app.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def read(self, index: int, items: list[tuple[str, Any]]) -> tuple[int, list[Any]]:
        from qa_app.readers.batch import read_all

        return index, read_all(self.app.reader(self.reader_name), items)

    def ask(self, index: int, questions: list[Any], sources: dict[str, str | None]) -> tuple[int, list[Any]]:
        from qa_app.evaluation.collection import ask_questions

        return index, ask_questions(self.app.pipeline(self.reader_name), questions, sources)


def _spread(ray: Any, settings: Settings, reader_name: str, jobs: list[Any], call: Callable[[Any, int, Any], Any],
            progress: Callable[[int], None] | None) -> list[Any]:
    """Results of `call(actor, index, job)` (an actor method returning (index, result)) for every job
    (a list of questions), in job order, on one actor per cluster CPU; `progress(questions done)`."""
    from ray.util import ActorPool

    width = max(1, min(len(jobs), int(ray.cluster_resources().get("CPU", 1))))
    actor = ray.remote(num_cpus=1, max_restarts=TASK_RETRIES, max_task_retries=TASK_RETRIES)(_ReaderActor)
    actors = [actor.remote(settings, reader_name) for _ in range(width)]
    pool = ActorPool(actors)
    results: dict[int, Any] = {}
    try:
        for index, result in pool.map_unordered(lambda a, job: call(a, *job), list(enumerate(jobs))):
            results[index] = result
            if progress is not None:
                progress(len(jobs[index]))
    except ray.exceptions.RayError as exc:
        raise QAError(f"the evaluation failed on the Ray cluster ({type(exc).__name__}: {exc}); run it again") from None
    finally:
        with contextlib.suppress(ray.exceptions.RayError):
            ray.get([a.close.remote() for a in actors], timeout=60)
    return [results[i] for i in range(len(jobs))]


class RayReader:
    """A reader whose `read_many` spreads the items over the cluster at `address` (gold-mode evaluation);
    `qa_app.evaluation.gold.read_gold` uses it like a local reader."""

    def __init__(self, settings: Settings, reader_name: str, address: str) -> None:
        self.settings, self.reader_name, self.address = settings, reader_name, address

    def read_many(self, items: Iterable[tuple[str, Any]], progress: Callable[[int], None] | None = None) -> list[Any]:
        items = list(items)
        batches = [items[i:i + EVAL_BATCH] for i in range(0, len(items), EVAL_BATCH)]
        with cluster(self.address) as ray:
            done = _spread(ray, self.settings, self.reader_name, batches,
                           lambda a, i, job: a.read.remote(i, job), progress)
        return [result for batch in done for result in batch]


def ask_on_ray(settings: Settings, reader_name: str, address: str, questions: Sequence[Any],
               sources: Mapping[str, str | None], progress: Callable[[int], None] | None = None) -> list[Any]:
    """`qa_app.evaluation.collection.ask_questions` with each conversation (a first question and the
    follow-ups under it) asked on one actor; records in file order. The store must be a Chroma server,
    which every node reaches."""
    if not settings.store.chroma_host:
        raise ConfigError("evaluating over your documents on a Ray cluster needs a Chroma server that every node "
                          "reaches: give --chroma-host (see README, Scaling out)")
    conversations = _conversations(questions)
    with cluster(address) as ray:
        done = _spread(ray, settings, reader_name, conversations,
                       lambda a, i, job: a.ask.remote(i, job, {q.id: sources.get(q.id) for q in job}), progress)
    order = {q.id: i for i, q in enumerate(questions)}
    return sorted((record for records in done for record in records), key=lambda r: order[r.id])


def _conversations(questions: Sequence[Any]) -> list[list[Any]]:
    """The questions grouped by the first question of their conversation (`follows` chains), file order kept."""
    root: dict[str, str] = {}
    groups: dict[str, list[Any]] = {}
    for q in questions:
        root[q.id] = root.get(q.follows, q.follows) if q.follows is not None else q.id
        groups.setdefault(root[q.id], []).append(q)
    return list(groups.values())
