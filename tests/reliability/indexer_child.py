"""A real indexer process for the kill and concurrency tests: the App over fakes, embedded Chroma.

    python -m tests.reliability.indexer_child index DATA_DIR PATH...  index; print one JSON line
    python -m tests.reliability.indexer_child inspect DATA_DIR         print what a fresh process sees
    python -m tests.reliability.indexer_child watch DATA_DIR SECONDS   query repeatedly; print what it saw
    python -m tests.reliability.indexer_child serve DATA_DIR           fork server for the kill test
    python -m tests.reliability.indexer_child precreate DATA_DIR N     chunk collection persisting every N rows

Environment: RELIABILITY_OVERRIDES (JSON settings for every command, e.g. a Chroma server's
address); for `index`, RELIABILITY_START_AT and RELIABILITY_PAUSE line up concurrent writers.

`serve` imports everything once and then forks one process per step, so twenty kills cost twenty
forks, not twenty interpreter start-ups. It reads commands on stdin and answers one JSON line each:
`index PATH` (fork an indexer, which first takes a snapshot of the store as it finds it, before
any cleanup; answers {"pid", "snapshot"} just before it starts writing: the caller then SIGKILLs it
or waits), `reap PID` (its exit status and result), `inspect` (a snapshot in a freshly forked
process), `quit`. No Chroma client exists in the server process itself, so forking is safe.

The writer is `App.indexer` itself (store, writer lock, BM25 sink), over the fakes of `tests.fakes`.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from indexing.build import IndexEvent
from indexing.sparse import BM25Index
from qa_app.wiring import App
from tests.reliability.helpers import (
    fake_app,
    snapshot,
    snapshot_problems,
    unreachable_rows,
)

OVERRIDES = "RELIABILITY_OVERRIDES"  # JSON settings for the child, e.g. a Chroma server's address
START_AT = "RELIABILITY_START_AT"  # `index`: once its store is open, wait until this time.time()
PAUSE = "RELIABILITY_PAUSE"  # `index`: seconds to pause before storing each document (writers interleave)


def child_app(data_dir: Path) -> App:
    return fake_app(data_dir, **json.loads(os.environ.get(OVERRIDES) or "{}"))


def bm25_path(app: App) -> Path:
    """Where `App.sparse_index` keeps the BM25 files (read here without its start-up sync)."""
    return app.data_dir / "bm25" / app.settings.store.collection


def open_writer(data_dir: Path) -> tuple[App, Any]:
    """The App with its store open and its Indexer (BM25 sink synchronised with the store)."""
    app = child_app(data_dir)
    return app, app.indexer


def precreate(data_dir: Path, sync_threshold: int) -> dict[str, Any]:
    """Create the chunk collection with a tiny HNSW sync threshold before any App opens it, so that
    Chroma persists its vector index every few rows: a vector lost between processes then shows up
    in small tests (the default persists every 1,000 rows)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from indexing.stores import StoreSignature
    from qa_app.config import ENCODER_DIMENSION, ENCODER_ID

    app = child_app(data_dir)
    signature = StoreSignature.for_encoder(ENCODER_ID, ENCODER_DIMENSION, app.settings.chunking)
    client = chromadb.PersistentClient(path=str(app.data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    hnsw: Any = {"space": "cosine", "sync_threshold": sync_threshold, "batch_size": max(2, sync_threshold // 2)}
    client.create_collection(app.settings.store.collection, metadata=signature.as_metadata(),
                             configuration={"hnsw": hnsw}, embedding_function=None)
    return {"created": app.settings.store.collection}


def maxrss_kb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def index(data_dir: Path, paths: list[str]) -> dict[str, Any]:
    _, indexer = open_writer(data_dir)
    opened_at = time.time()
    time.sleep(max(0.0, float(os.environ.get(START_AT) or 0) - time.time()))
    pause = float(os.environ.get(PAUSE) or 0)
    last: dict[str, list[int]] = {}
    events = 0

    def progress(event: IndexEvent) -> None:
        nonlocal events
        events += 1
        last[f"{Path(event.name).name}:{event.stage}"] = [event.done, event.total]
        if event.stage == "parse" and event.done == event.total:  # loaded, before the writer lock is taken
            time.sleep(pause)

    rss_before = maxrss_kb()
    t0 = time.perf_counter()
    outcomes = indexer.index_paths(paths, progress=progress)
    return {
        "outcomes": [{"name": o.name, "status": o.status, "doc_id": o.doc_id, "reason": o.reason,
                      "chunks": o.chunks} for o in outcomes],
        "progress": last, "events": events, "seconds": time.perf_counter() - t0,
        "maxrss_before_kb": rss_before, "maxrss_after_kb": maxrss_kb(), "pid": os.getpid(),
        "opened_at": opened_at, "finished_at": time.time(),
    }


def inspect(data_dir: Path) -> dict[str, Any]:
    """A snapshot as a fresh reader process sees it, before any writer cleans up, plus BM25's view."""
    app = child_app(data_dir)
    snap = snapshot(app.store, app.encoder, app.settings.chunking.contextual)
    snap["bm25"] = BM25Index(path=bm25_path(app)).doc_ids()
    snap["rows"] = app.store.count()
    snap["unreachable_rows"] = unreachable_rows(app.store, app.encoder, app.settings.chunking.contextual)
    return snap


def watch(data_dir: Path, seconds: float) -> dict[str, Any]:
    """Query and snapshot repeatedly for `seconds` (a reader process next to an indexer)."""
    app = child_app(data_dir)
    deadline = time.monotonic() + seconds
    rounds, seen, problems, longest = 0, set(), [], 0.0
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        snap = snapshot(app.store, app.encoder, app.settings.chunking.contextual)
        longest = max(longest, time.monotonic() - t0)
        problems += snapshot_problems(snap)
        seen |= {d["id"] for d in snap["documents"]}
        rounds += 1
    return {"rounds": rounds, "seen": sorted(seen), "problems": problems, "longest_s": longest}


# -- the fork server of the kill test ---------------------------------------------------------------


def _forked(work: Callable[[int], object]) -> tuple[int, int]:
    """Fork; the child runs work(write_fd) and exits. Returns (pid, read_fd) in the parent."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into the server loop
        code = 0
        try:
            os.close(read_fd)
            work(write_fd)
        except BaseException:  # noqa: BLE001 - reported, and the child exits non-zero
            traceback.print_exc()
            code = 1
        finally:
            sys.stderr.flush()
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def _read_all(fd: int) -> bytes:
    chunks = []
    while data := os.read(fd, 65536):
        chunks.append(data)
    os.close(fd)
    return b"".join(chunks)


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:  # nothing or half a result: the process was killed
        return None


def _status(status: int) -> dict[str, Any]:
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status), "code": None}
    return {"signal": None, "code": os.WEXITSTATUS(status)}


def serve(data_dir: Path) -> None:
    import chromadb
    import chromadb.api.rust
    import chromadb.config  # noqa: F401

    def reply(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    pipes: dict[int, Any] = {}  # pid of a running indexer -> read end of its pipe (a binary file)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "index":  # first a snapshot (before any cleanup), then write
            def work(fd: int, path: str = arg) -> None:
                os.write(fd, json.dumps(inspect(data_dir)).encode() + b"\n")
                result = index(data_dir, [path])
                os.write(fd, json.dumps(result).encode())

            pid, fd = _forked(work)
            pipe = os.fdopen(fd, "rb")
            snap = _json_or_none(pipe.readline())
            if snap is None:
                pipe.close()
                _, status = os.waitpid(pid, 0)
                reply({"error": "the indexer failed before it could write", **_status(status)})
                continue
            pipes[pid] = pipe
            reply({"pid": pid, "snapshot": snap})
        elif command == "reap":  # its result, when it was not killed
            pid = int(arg)
            with pipes.pop(pid) as pipe:
                data = pipe.read()
            _, status = os.waitpid(pid, 0)
            reply({**_status(status), "result": _json_or_none(data)})
        elif command == "inspect":
            pid, fd = _forked(lambda fd: os.write(fd, json.dumps(inspect(data_dir)).encode()))
            data = _read_all(fd)
            _, status = os.waitpid(pid, 0)
            snap = _json_or_none(data)
            reply({"snapshot": snap} if snap is not None else {"error": "inspect failed", **_status(status)})
        elif command == "quit":
            break
        else:
            reply({"error": f"unknown command {command!r}"})
    for pid, pipe in pipes.items():  # never leave an indexer running behind a finished test
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pipe.close()


def main(argv: list[str]) -> int:
    command, data_dir = argv[0], Path(argv[1])
    if command == "index":
        result = index(data_dir, argv[2:])
    elif command == "inspect":
        result = inspect(data_dir)
    elif command == "watch":
        result = watch(data_dir, float(argv[2]))
    elif command == "precreate":
        result = precreate(data_dir, int(argv[2]))
    elif command == "serve":
        serve(data_dir)
        return 0
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
