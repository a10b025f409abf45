"""Crash safety: an indexer killed with SIGKILL at random points never leaves a partial document.

The indexer is a real process (embedded Chroma + BM25 files in tmp_path, fake encoder) forked by
`tests.reliability.indexer_child serve`; this test picks seeded random delays and kills it. After
every kill a freshly forked process opens the store and checks what a reader sees; at the end an
uninterrupted run must complete and leave exactly the current version of every file, with BM25
and Chroma holding the same documents.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from indexing.build import Indexer
from indexing.loaders import load_document
from indexing.stores import InMemoryStore, StoreSignature
from qa_app.config import ChunkingConfig
from tests.fakes import HashingEncoder
from tests.reliability.helpers import CountingTokenizer, made_up_text, snapshot_problems

ROOT = Path(__file__).resolve().parents[2]
RUNS = 20
SEED = 20240607
FILES = 6
CHANGED_PER_RUN = 2


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    return env


def write_version(path: Path, version: int) -> str:
    """Made-up text seeded by file and version, so no chunk text is shared between versions."""
    path.write_text(made_up_text(f"{path.stem}-v{version}", 24), encoding="utf-8")
    return load_document(path).id


class ForkServer:
    """Talks to `indexer_child serve` over its stdin/stdout."""

    def __init__(self, data_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.indexer_child", "serve", str(data_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=child_env(),
        )

    def ask(self, line: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        assert answer, f"the fork server died answering {line!r}"
        reply = json.loads(answer)
        assert "error" not in reply, reply
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            self.ask_quit()
        self.proc.wait(timeout=30)

    def ask_quit(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()


def test_sigkill_at_random_points_never_shows_a_partial_document(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    docs = tmp_path / "docs"
    docs.mkdir()
    files = [docs / f"report{n}.txt" for n in range(FILES)]
    version = {f: 0 for f in files}
    ids_of: dict[Path, set[str]] = {f: {write_version(f, 0)} for f in files}  # every version written
    origin_of = {str(f.resolve()): f for f in files}

    def check(snap: dict[str, Any], after: str) -> None:
        """What a fresh process finds after a kill, before any cleanup."""
        assert snapshot_problems(snap) == [], after
        by_file: dict[Path, list[str]] = {f: [] for f in files}
        for d in snap["documents"]:
            f = origin_of[d["origin"]]
            assert d["id"] in ids_of[f], f"{after}: {d['id']} is no version of {f.name}"
            by_file[f].append(d["id"])
        for f in files:  # a replacement stores the new version before it retires the old one
            assert by_file[f], f"{after}: every version of {f.name} is lost"
        assert set(snap["bm25"]) <= {i for ids in ids_of.values() for i in ids}, after

    server = ForkServer(tmp_path / "data")
    try:
        first = server.ask(f"index {docs}")
        done = server.ask(f"reap {first['pid']}")
        assert done["code"] == 0 and done["result"] is not None
        assert {o["status"] for o in done["result"]["outcomes"]} == {"added"}
        per_doc = done["result"]["seconds"] / FILES  # kills land while a run still writes

        killed = 0
        for run in range(RUNS):
            for f in rng.sample(files, CHANGED_PER_RUN):  # replacements: add new, then retire old
                version[f] += 1
                ids_of[f].add(write_version(f, version[f]))
            started = server.ask(f"index {docs}")
            check(started["snapshot"], f"after run {run - 1}")
            time.sleep(rng.uniform(0.0, per_doc * (CHANGED_PER_RUN + 1)))
            os.kill(started["pid"], signal.SIGKILL)
            status = server.ask(f"reap {started['pid']}")
            killed += status["signal"] == signal.SIGKILL
        assert killed >= RUNS * 3 // 4, f"only {killed} of {RUNS} runs were killed before they finished"

        final = server.ask(f"index {docs}")  # re-indexing after the last kill completes
        check(final["snapshot"], f"after run {RUNS - 1}")
        result = server.ask(f"reap {final['pid']}")
        assert result["code"] == 0 and result["result"] is not None
        assert all(o["status"] != "skipped" for o in result["result"]["outcomes"])
        snap = server.ask("inspect")["snapshot"]
        assert snapshot_problems(snap) == []
        current = {load_document(f).id for f in files}
        assert {d["id"] for d in snap["documents"]} == current  # exactly the current version of each file
        assert sorted(snap["bm25"]) == sorted(current)  # BM25 and Chroma agree
        assert snap["rows"] == sum(d["chunks"] for d in snap["documents"])  # no stray row
        assert snap["unreachable_rows"] == []  # every row found by a query with its own vector
    finally:
        server.close()


class _CrashingStore(InMemoryStore):
    """Dies (like SIGKILL would) on the first delete: after a new version is stored, before the old
    one is retired."""

    crash = True

    def delete_document(self, doc_id: str) -> None:
        if self.crash:
            raise SystemExit("killed")
        super().delete_document(doc_id)


def test_replacement_interrupted_before_the_old_version_is_retired_is_finished_next_time(tmp_path: Path) -> None:
    encoder = HashingEncoder(dimension=32)
    chunking = ChunkingConfig(chunk_tokens=48, overlap_tokens=8)
    store = _CrashingStore(signature=StoreSignature.for_encoder(encoder.id, 32, chunking))
    indexer = Indexer(store=store, encoder=encoder, tokenizer=CountingTokenizer(), chunking=chunking)
    path = tmp_path / "report.txt"
    old = write_version(path, 0)
    store.crash = False
    indexer.index_paths([path])
    new = write_version(path, 1)
    store.crash = True
    with pytest.raises(SystemExit):
        indexer.index_paths([path])
    assert {d.id for d in store.documents()} == {old, new}  # both versions complete: nothing lost

    store.crash = False
    outcome, = indexer.index_paths([path])
    assert outcome.doc_id == new and outcome.status in ("unchanged", "replaced")
    assert [d.id for d in store.documents()] == [new]  # the stale version is retired after all
