"""Concurrency: two indexer processes on one data dir, and queries while indexing.

Within one process, every write sequence of the embedded store (cleanup, one document's add and
the retirement of its old version, a delete) runs under `qa_app.wiring.writer_lock`, an OS file
lock on `<data_dir>/writer.lock` that the OS drops when its holder dies; a writer that cannot get
it in time fails with StoreLockedError. Readers take no lock: the store writes a document's chunks
before its registry row, so a query sees whole documents or nothing.

Between processes that is not enough: Chroma keeps an HNSW index in memory per process and writes
it over the other processes' writes, so two processes with the store open lose vectors (and may
crash). The two-writer test checks what matters, whatever the mechanism: both finish, and no
document, chunk row or vector is lost. The HNSW index is persisted every 8 rows there, so that a
lost vector shows up in a small test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qa_app.errors import StoreLockedError
from qa_app.wiring import writer_lock
from tests.reliability.helpers import (
    fake_app,
    made_up_text,
    snapshot,
    snapshot_problems,
)
from tests.reliability.test_crash import ROOT, child_env

STARTUP_S = 3.0  # enough for two interpreters to import chromadb on a busy two-core machine


def write_docs(folder: Path, prefix: str, count: int, shared: str = "") -> None:
    """`count` files `<prefix><n>.txt` of made-up text, and `shared.txt` holding `shared` if given."""
    folder.mkdir(parents=True)
    for n in range(count):
        text = made_up_text(f"{prefix}{n}")
        (folder / f"{prefix}{n}.txt").write_text(text, encoding="utf-8")
    if shared:
        (folder / "shared.txt").write_text(shared, encoding="utf-8")


def child(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.reliability.indexer_child", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env=child_env() | env)


def result_of(proc: subprocess.Popen[str]) -> dict:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_two_indexer_processes_on_one_data_dir_lose_nothing(tmp_path: Path) -> None:
    shared = made_up_text("shared")  # one file, the same in both folders
    write_docs(tmp_path / "a", "alpha", 4, shared)
    write_docs(tmp_path / "b", "beta", 4, shared)
    data = tmp_path / "data"
    result_of(child("precreate", str(data), "8"))  # Chroma persists its HNSW every 8 rows
    # Both start writing at the same moment and pause between documents, so their writes interleave
    # unless the locking keeps the second process out of the store until the first is done.
    start = str(time.time() + STARTUP_S)
    writers = [child("index", str(data), str(tmp_path / name), RELIABILITY_START_AT=start, RELIABILITY_PAUSE="0.2")
               for name in ("a", "b")]
    results = [result_of(w) for w in writers]

    for result in results:  # both finish, every file indexed (the shared one once)
        assert [o for o in result["outcomes"] if o["status"] == "skipped"] == []
    statuses = sorted(o["status"] for r in results for o in r["outcomes"] if o["name"].endswith("shared.txt"))
    assert statuses == ["added", "unchanged"]
    added = {o["doc_id"] for r in results for o in r["outcomes"]}
    assert len(added) == 9

    # Looked at from another process: a damaged HNSW index can crash the one that opens it.
    snap = result_of(child("inspect", str(data)))
    assert snapshot_problems(snap) == []  # nothing half-written, every first chunk findable
    assert {d["id"] for d in snap["documents"]} == added  # no document lost
    rows = sum(d["chunks"] for d in snap["documents"])
    assert snap["rows"] == rows
    assert snap["unreachable_rows"] == []  # no vector lost from the HNSW index either
    assert snap["bm25"] == sorted(added)


def test_queries_while_indexing_in_the_same_process_see_only_whole_documents(tmp_path: Path) -> None:
    write_docs(tmp_path / "docs", "gamma", 8)
    app = fake_app(tmp_path / "data")
    store, encoder, contextual = app.store, app.encoder, app.settings.chunking.contextual
    stop = threading.Event()
    seen: list[dict] = []
    failures: list[BaseException] = []

    def read_repeatedly() -> None:
        try:
            while not stop.is_set():
                seen.append(snapshot(store, encoder, contextual))
        except BaseException as exc:  # noqa: BLE001 - surfaced below: a thread's exception would be lost
            failures.append(exc)

    thread = threading.Thread(target=read_repeatedly)
    thread.start()
    try:
        outcomes = app.indexer.index_paths([tmp_path / "docs"])
    finally:
        stop.set()
        thread.join(timeout=60)
    assert failures == []
    assert [o.status for o in outcomes] == ["added"] * 8
    assert len(seen) >= 2
    assert [p for s in seen for p in snapshot_problems(s)] == []
    counts = [len(s["documents"]) for s in seen]
    assert counts == sorted(counts) and counts[-1] <= 8  # documents appear one by one, never vanish


def test_a_long_wait_for_the_store_says_what_it_waits_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qa_app.wiring import hold_data_dir

    holder = subprocess.Popen([sys.executable, "-c", HOLD_STORE, str(tmp_path / "store.lock")], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        with pytest.raises(StoreLockedError, match="another process has the store"):
            hold_data_dir(tmp_path, timeout=1.5)
        err = capsys.readouterr().err
        assert "waiting up to 2s for another process" in err and str(tmp_path) in err
    finally:
        holder.kill()
        holder.wait()
    claim = hold_data_dir(tmp_path, timeout=5)  # free again: no wait, no message
    claim.release()
    assert capsys.readouterr().err == ""


HOLD_STORE = """
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1])  # kept referenced: a collected FileLock releases itself
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_writer_waits_for_the_lock_and_then_fails_clearly(tmp_path: Path) -> None:
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with writer_lock(tmp_path):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(10)
        with pytest.raises(StoreLockedError, match=r"another process is writing to .*waited"), \
                writer_lock(tmp_path, timeout=0.2):
            pass
    finally:
        release.set()
        thread.join()
    with writer_lock(tmp_path, timeout=1):  # released: the next writer gets it at once
        pass
