"""HTTP API under load: N concurrent clients ask questions for a fixed time against a warm
`qa-app serve`; latency p50/p95 of whole requests, requests per second and errors (expected: none).

    python bench/http_server.py --docs corpora/docs --clients 1,4 --seconds 30 --reader transformer

The server runs as a child process (`qa-app serve` on a free loopback port, a bearer token, a fresh
data dir in a temporary folder, or --data-dir of an index made before). Documents are uploaded
through the API before the clock starts; the first question warms the reader up. Each client cycles
through the questions of --questions (a text file, one per line) or a built-in list about the sample
corpus, all clients and steps taking the next one in turn: readers cache their work per question and
window, so a question asked again is answered from that cache, and `repeated_questions` says how many
requests of a step were such repeats (give more questions or fewer seconds to keep it at 0).
Prints one JSON object; the machine's CPU is in it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from qa_app.machine import cpu_model_name

QUESTIONS = [
    "Who was the lead designer of the TL-7?",
    "How many adult Americans are functionally illiterate?",
    "What does the function lm do in R?",
    "How do you quit R?",
    "What battery does the tide logger use?",
    "What did Kennedy propose about taxes?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def run_clients(url: str, token: str, questions: list[str], clients: int, seconds: float,
                asked: itertools.count) -> dict[str, Any]:
    """`clients` threads ask for `seconds`; every request takes the next question of `asked` (shared by all
    runs), so a question comes back only after the whole list was asked: the readers cache their work
    per question and window, and a repeat would measure that cache. `repeated_questions` counts those."""
    latencies: list[float] = []
    errors: list[str] = []
    repeats = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
            while time.monotonic() < stop_at:
                with lock:
                    i = next(asked)
                    repeats[0] += i >= len(questions)
                t0 = time.perf_counter()
                try:
                    response = http.post("/ask", json={"question": questions[i % len(questions)]})
                    ok = response.status_code == 200
                    problem = "" if ok else f"{response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, problem = False, repr(exc)
                elapsed = (time.perf_counter() - t0) * 1000
                with lock:
                    (latencies if ok else errors).append(elapsed if ok else problem)  # type: ignore[arg-type]

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    return {"clients": clients, "seconds": round(wall, 1), "requests": len(latencies), "errors": len(errors),
            "repeated_questions": repeats[0],
            "error_examples": errors[:3], "p50_ms": round(percentile(latencies, 0.5), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
            "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
            "requests_per_s": round(len(latencies) / wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", default="corpora/docs", help="files or a folder uploaded before the clock starts")
    parser.add_argument("--data-dir", help="an index made before (then --docs is not uploaded)")
    parser.add_argument("--collection", default="documents")
    parser.add_argument("--reader", default="transformer")
    parser.add_argument("--clients", default="1,4", help="comma-separated client counts, each measured in turn")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--questions", help="a text file, one question per line")
    args = parser.parse_args()

    questions = QUESTIONS
    if args.questions:
        questions = [q.strip() for q in Path(args.questions).read_text(encoding="utf-8").splitlines() if q.strip()]
    token = secrets.token_urlsafe(16)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or str(Path(tmp) / "data")
        env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")} | {"QA_SERVER_TOKEN": token}
        qa_app = Path(sys.executable).parent / "qa-app"
        command = [str(qa_app), "serve", "--port", str(port), "--data-dir", data_dir, "--collection", args.collection,
                   "--reader", args.reader]
        server = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
        try:
            started = time.monotonic()
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600) as http:
                while True:
                    if server.poll() is not None:
                        sys.exit(f"qa-app serve exited: {server.stderr.read() if server.stderr else ''}")
                    try:
                        if http.get("/health").status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.5)
                load_s = time.monotonic() - started
                uploaded = []
                if not args.data_dir:
                    from indexing.loaders import discover_files

                    files, _ = discover_files([args.docs])
                    for f in files:
                        with open(f, "rb") as handle:
                            uploaded += http.post("/documents", files=[("files", (f.name, handle))]).json()["outcomes"]
                        print(f"uploaded {f.name}", file=sys.stderr)
                http.post("/ask", json={"question": questions[0]})  # warm-up
            runs = []
            asked = itertools.count(1)  # questions[0] warmed up
            for clients in [int(c) for c in args.clients.split(",")]:
                print(f"{clients} client(s) for {args.seconds:g} s ...", file=sys.stderr)
                runs.append(run_clients(url, token, questions, clients, args.seconds, asked))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(json.dumps({
        "benchmark": "http_server", "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "cpu": cpu_model_name(), "cores": os.cpu_count(), "reader": args.reader, "questions": len(questions),
        "documents_uploaded": sum(o["status"] in ("added", "unchanged") for o in uploaded),
        "server_start_and_model_load_s": round(load_s, 1), "runs": runs,
    }, indent=2))


if __name__ == "__main__":
    main()
