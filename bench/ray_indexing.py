"""Indexing throughput on Ray vs the local indexer, on this machine. Prints one JSON object.

    python bench/ray_indexing.py --files 8 --pages 20 --workers 1,2 --repeats 3

Input: `--files` generated PDFs of `--pages` pages of deterministic prose each (different seeds, so
no two share content; see bench/index_memory.py). Each repeat indexes them all into a fresh embedded
data dir:

- `local`: `App.indexer.index_paths`, the path `qa-app index` takes (torch uses every core);
- `ray_N`: `qa_app.distributed.index_paths_on_ray` on a local Ray cluster of N worker CPUs
  (`ray.init(num_cpus=N)`, each worker one torch thread); this process stores, as with `--ray`.

Figures: chunks/s of each repeat (whole runs: parse, chunk, encode, store); the first Ray repeat
is reported apart as `cold` (it starts the workers and loads the encoder in each), the median of
the others as `warm`; and each warm median's ratio to the local median. On a real cluster expect
the ray_N figure per node to scale with its CPUs, capped by what the driver can store (see the
README, Scaling out). Needs the ray extra (`pip install -e '.[ray]'`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from index_memory import write_prose_pdf


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed_run(index: Callable[[Any, list[Path]], list[Any]], files: list[Path], work: Path, label: str) -> float:
    """chunks/s of one run into a fresh data dir (opening the store and loading the encoder excluded)."""
    from qa_app.config import Settings
    from qa_app.wiring import App

    app = App(Settings().replace(data_dir=str(work / label)))
    app.encoder.encode(["warm up"])  # the driver's encoder (the local run's) is loaded before the clock starts
    started = time.perf_counter()
    outcomes = index(app, files)
    seconds = time.perf_counter() - started
    added = [o for o in outcomes if o.status == "added"]
    if len(added) != len(files):
        raise SystemExit(f"{label}: {len(files) - len(added)} file(s) not added: {outcomes}")
    chunks = sum(o.chunks for o in added)
    app.close()
    log(f"{label}: {chunks} chunks in {seconds:.1f} s = {chunks / seconds:.1f} chunks/s")
    return chunks / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--words-per-page", type=int, default=350)
    parser.add_argument("--workers", default="1,2", help="Ray worker CPUs to measure, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import ray

    from qa_app.distributed import index_paths_on_ray
    from qa_app.machine import cpu_model_name

    with tempfile.TemporaryDirectory(prefix="ray-indexing-") as tmp:
        work = Path(tmp)
        files = [write_prose_pdf(work / f"doc{i}.pdf", args.pages, words_per_page=args.words_per_page, seed=i)
                 for i in range(args.files)]
        local = [timed_run(lambda app, fs: app.indexer.index_paths(fs), files, work, f"local-{r}")
                 for r in range(args.repeats)]
        result: dict[str, Any] = {"local": {"chunks_per_s": [round(x, 1) for x in local],
                                            "median": round(statistics.median(local), 1)}}
        for n in [int(w) for w in args.workers.split(",") if w.strip()]:
            ray.init(address="local", num_cpus=n, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
            runs = [timed_run(lambda app, fs: index_paths_on_ray(app, fs, "local"), files, work, f"ray{n}-{r}")
                    for r in range(args.repeats + 1)]
            ray.shutdown()
            warm = statistics.median(runs[1:])
            result[f"ray_{n}"] = {"cold": round(runs[0], 1), "chunks_per_s": [round(x, 1) for x in runs[1:]],
                                  "median": round(warm, 1),
                                  "ratio_to_local": round(warm / statistics.median(local), 3)}
    print(json.dumps({
        "benchmark": "ray_indexing",
        "command": "python bench/ray_indexing.py " + " ".join(sys.argv[1:]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model_name(), "cores": os.cpu_count(), "ray": ray.__version__,
        "files": args.files, "pages_per_file": args.pages, "repeats": args.repeats,
        **result,
    }, indent=2))


if __name__ == "__main__":
    main()
