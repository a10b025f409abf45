"""Batch indexing on a real local Ray cluster (two nodes, `.ci/ray_cluster.sh`) into a real Chroma
server: the same documents, chunks and vectors as the local indexer; a rerun encodes nothing
again; a worker killed mid-document leaves nothing partial and the run still finishes.

Runs the real encoder (the workers load it), so each test takes tens of seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa_app.cli import main
from qa_app.config import PROJECT_ROOT, Settings
from qa_app.wiring import App
from tests.reliability import ray_env, server_env

DOCS = PROJECT_ROOT / "corpora" / "docs"


@pytest.fixture
def address() -> str:
    return ray_env.address_or_skip()


def folder(tmp_path: Path, copies: int = 1) -> Path:
    """Two small real documents (optionally more copies with distinct text) and one broken PDF."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("tl7-tide-logger-manual.md", "sotu-1962-kennedy.txt"):
        text = (DOCS / name).read_text(encoding="utf-8")
        for i in range(copies):
            target = docs / (name if i == 0 else f"copy{i}-{name}")
            target.write_text(text if i == 0 else f"Copy {i}.\n\n{text}", encoding="utf-8")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7 truncated")
    return docs


def remote_args(server: server_env.ChromaServer, collection: str, tmp_path: Path) -> list[str]:
    return ["--chroma-host", server.host, "--chroma-port", str(server.port), f"--chroma-token={server.token}",
            "--collection", collection, "--data-dir", str(tmp_path / "driver")]


def index_json(args: list[str], capsys: Any) -> tuple[int, list[dict[str, Any]]]:
    code = main(["index", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)["outcomes"]


def by_name(outcomes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {Path(o["name"]).name: o for o in outcomes}


def server_app(server: server_env.ChromaServer, collection: str, tmp_path: Path) -> App:
    return App(Settings().replace(chroma_host=server.host, chroma_port=server.port, chroma_token=server.token,
                                  collection=collection, data_dir=str(tmp_path / "check")))


def test_ray_indexing_stores_what_the_local_indexer_stores_and_a_rerun_encodes_nothing(
        address: str, server: server_env.ChromaServer, collection: str, tmp_path: Path, capsys: Any) -> None:
    docs = folder(tmp_path)
    code, local = index_json([str(docs), "--data-dir", str(tmp_path / "local")], capsys)
    assert code == 1 and sorted(o["status"] for o in local) == ["added", "added", "skipped"]

    code, on_ray = index_json([str(docs), "--ray", address, *remote_args(server, collection, tmp_path)], capsys)
    assert code == 1  # the broken PDF, as locally
    local_by, ray_by = by_name(local), by_name(on_ray)
    assert local_by.keys() == ray_by.keys()
    for name, expected in local_by.items():
        got = ray_by[name]
        assert (got["status"], got["doc_id"], got["source"], got["pages"], got["chunks"]) == (
            expected["status"], expected["doc_id"], expected["source"], expected["pages"], expected["chunks"]), name
    assert ray_by["broken.pdf"]["reason"]

    here = App(Settings().replace(data_dir=str(tmp_path / "local")))
    there = server_app(server, collection, tmp_path)
    local_chunks = {c.id: c for c in here.store.all_chunks()}
    ray_chunks = {c.id: c for c in there.store.all_chunks()}
    assert local_chunks == ray_chunks  # same ids, offsets, texts, pages and headers
    ids = sorted(local_chunks)
    mine, theirs = here.store.stored_vectors(ids), there.store.stored_vectors(ids)
    assert all(np.allclose(mine[i], theirs[i], atol=1e-4) for i in ids)  # the same encoder in the workers
    report = there.check_store()
    assert (report.unreachable, report.mismatched, report.missing) == ((), (), ())
    here.close()

    started = time.perf_counter()
    code, again = index_json([str(docs), "--ray", address, *remote_args(server, collection, tmp_path)], capsys)
    assert sorted(o["status"] for o in again) == ["skipped", "unchanged", "unchanged"]
    assert time.perf_counter() - started < 60  # nothing was encoded again


def worker_pids() -> list[int]:
    """Processes running a file's Ray task right now (Ray names them after the task)."""
    done = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True)
    return [int(line.split(None, 1)[0]) for line in done.stdout.splitlines() if "ray::prepare_file" in line]


def test_a_worker_killed_mid_document_leaves_nothing_partial_and_the_run_finishes(
        address: str, server: server_env.ChromaServer, collection: str, tmp_path: Path) -> None:
    docs = folder(tmp_path, copies=3)
    command = [sys.executable, "-m", "qa_app.cli", "index", str(docs), "--ray", address, "--json",
               *remote_args(server, collection, tmp_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    run = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and run.poll() is None and time.monotonic() < deadline:
        pids = worker_pids()
        if pids:
            killed = pids[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    out, err = run.communicate(timeout=600)
    assert killed is not None, "no Ray task was seen running"
    assert run.returncode == 1, err[-2000:]  # only the broken PDF is skipped
    outcomes = json.loads(out)["outcomes"]
    assert sorted(o["status"] for o in outcomes) == ["added"] * 6 + ["skipped"]
    there = server_app(server, collection, tmp_path)
    documents = there.store.documents()
    assert len(documents) == 6
    stored = list(there.store.all_chunks())
    assert len(stored) == sum(d.chunks for d in documents)  # every registered document is whole
    report = there.check_store(reencode=False)
    assert (report.unreachable, report.missing) == ((), ())


FOLLOW_UPS = [  # two conversations over the sample manual and speech, one unanswerable question
    {"id": "a1", "question": "Who was the lead designer of the TL-7?", "answers": ["Ingrid Halvorsen"],
     "source": "tl7-tide-logger-manual.md", "follows": None},
    {"id": "a2", "question": "How heavy is it with its batteries in?", "answers": ["610 grams"],
     "source": "tl7-tide-logger-manual.md", "follows": "a1"},
    {"id": "b1", "question": "Who is the new Speaker addressed at the start of the speech?",
     "answers": ["John McCormack"], "source": "sotu-1962-kennedy.txt", "follows": None},
    {"id": "a3", "question": "And how long do a new pair of batteries last?", "answers": ["about 14 months"],
     "source": "tl7-tide-logger-manual.md", "follows": "a2"},
    {"id": "c1", "question": "What is the highest water temperature the TL-7 can work in?", "answers": [],
     "source": "tl7-tide-logger-manual.md", "follows": None},
    {"id": "b2", "question": "What did Khrushchev once call the American economy?", "answers": ["stumbling horse"],
     "source": "sotu-1962-kennedy.txt", "follows": "b1"},
]
TIMING_KEYS = {"seconds", "questions_per_s", "date", "latency_ms"}  # where a run, local or not, differs


def eval_json(args: list[str], capsys: Any) -> dict[str, Any]:
    assert main(["eval", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def predictions(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for p in out.glob("*-predictions.jsonl") for line in p.read_text().splitlines()]


def without_times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("end_to_end_ms", "timings_ms")} for r in rows]


def same_report(local: dict[str, Any], on_ray: dict[str, Any]) -> None:
    assert local.keys() == on_ray.keys()
    for key in local.keys() - TIMING_KEYS:
        if isinstance(local[key], float):
            assert on_ray[key] == pytest.approx(local[key], abs=0.02), key  # best_*_thresh: last-digit arithmetic
        else:
            assert on_ray[key] == local[key], key


def test_gold_evaluation_on_ray_gives_the_local_report(address: str, capsys: Any) -> None:
    # fp32: in bf16 a different batching of the same questions moves scores by more than a near-tie
    args = ["squad-v2", "--split", "validation", "--limit", "40", "--reader", "transformer", "--precision", "fp32"]
    local = eval_json(args, capsys)
    on_ray = eval_json([*args, "--ray", address], capsys)
    same_report(local, on_ray)
    assert local["questions"] == 40


def test_collection_evaluation_on_ray_gives_the_local_report_conversations_kept_together(
        address: str, server: server_env.ChromaServer, collection: str, tmp_path: Path, capsys: Any) -> None:
    store = remote_args(server, collection, tmp_path)
    assert main(["index", str(DOCS / "tl7-tide-logger-manual.md"), str(DOCS / "sotu-1962-kennedy.txt"), *store]) == 0
    capsys.readouterr()
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(q) + "\n" for q in FOLLOW_UPS), encoding="utf-8")
    args = [str(questions), "--reader", "transformer", *store]
    local_out, ray_out = tmp_path / "local", tmp_path / "ray"
    local = eval_json([*args, "--out", str(local_out)], capsys)
    on_ray = eval_json([*args, "--out", str(ray_out), "--ray", address], capsys)
    same_report(local, on_ray)
    assert local["follow_ups"]["total"] == 3
    local_rows, ray_rows = predictions(local_out), predictions(ray_out)
    assert len(local_rows) == len(FOLLOW_UPS)  # same answers, same search queries (the conversation went along)
    assert without_times(local_rows) == without_times(ray_rows)
    assert [r["id"] for r in ray_rows] == [q["id"] for q in FOLLOW_UPS]


def test_collection_evaluation_on_ray_needs_a_chroma_server(address: str, tmp_path: Path, capsys: Any) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps(FOLLOW_UPS[0]) + "\n", encoding="utf-8")
    assert main(["index", str(DOCS / "tl7-tide-logger-manual.md"), "--data-dir", str(tmp_path / "d")]) == 0
    capsys.readouterr()
    code = main(["eval", str(questions), "--data-dir", str(tmp_path / "d"), "--reader", "transformer",
                 "--ray", address])
    assert code == 2 and "--chroma-host" in capsys.readouterr().err
