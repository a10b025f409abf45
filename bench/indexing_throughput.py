"""Indexing throughput: the whole indexing pipeline vs the raw encoder on the same chunks, measured
in one run. Prints one JSON object (progress on stderr).

    python bench/indexing_throughput.py [--pages 200] [--words-per-page 350] [--repeats 3] [--profile auto]
    python bench/indexing_throughput.py --files corpora/docs --repeats 3

Input: a generated PDF of `--pages` pages of deterministic prose (see bench/index_memory.py), or the
given files and folders. The chunks and their embedding texts are computed once, exactly as the
indexer computes them (`chunk_document` + `embedding_texts` with the default settings). Then, with
the repeats alternated (ABBA order) so drift hits both alike:

- raw: `SentenceTransformerEncoder.encode(texts)` on those texts;
- pipeline: `App(settings, encoder=..., tokenizer=...).indexer.index_paths(files)` into a fresh
  embedded data dir: load (pypdf), chunk, encode, Chroma, BM25.

Both share one encoder and tokenizer instance, loaded and warmed up before timing (model loading
is a one-off cost, not throughput); opening the store (`open_s`) is reported but not timed either.
Reported: medians of chunks/s, their ratio (target pipeline >= 0.9x raw), and a stage breakdown of
the pipeline from its IndexEvent progress (time between consecutive events, attributed to the
later event's stage; the store stage split into Chroma and BM25 by timing those two calls).
With `--profile auto` a ratio below 0.9 triggers one extra pipeline run under cProfile whose top
functions are reported. Nothing in the project is changed; data lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

from index_memory import write_prose_pdf

TARGET_RATIO = 0.9


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def embedding_texts_of(files: list[Path], settings: Any, tokenizer: Any) -> list[str]:
    """The texts the indexer would embed for `files`, in indexing order."""
    from indexing.chunking import chunk_document, embedding_texts
    from indexing.loaders import load_document

    texts: list[str] = []
    for file in files:
        chunks = chunk_document(load_document(file), tokenizer, settings.chunking)
        texts += embedding_texts(chunks, settings.chunking.contextual)
    return texts


def timed(fn: Callable[..., Any], into: dict[str, float], key: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            into[key] += time.perf_counter() - t

    return wrapper


def run_pipeline(files: list[Path], data_dir: Path, settings: Any, encoder: Any, tokenizer: Any,
                 profiler: cProfile.Profile | None = None) -> dict[str, Any]:
    """Index `files` into a fresh data dir; seconds, chunks and a per-stage breakdown."""
    from qa_app.wiring import App

    t = time.perf_counter()
    app = App(settings.replace(data_dir=str(data_dir)), encoder=encoder, tokenizer=tokenizer)
    indexer = app.indexer  # opens Chroma and the BM25 index: not part of the throughput
    open_s = time.perf_counter() - t
    calls: dict[str, float] = defaultdict(float)
    app.store.add_document = timed(app.store.add_document, calls, "chroma_add")
    app.sparse_index.add = timed(app.sparse_index.add, calls, "bm25_add")
    stages: dict[str, float] = defaultdict(float)
    last = [0.0]

    def progress(event: Any) -> None:
        now = time.perf_counter()
        stages[event.stage] += now - last[0]
        last[0] = now

    if profiler is not None:
        profiler.enable()
    start = last[0] = time.perf_counter()
    outcomes = indexer.index_paths(files, progress=progress)
    seconds = time.perf_counter() - start
    if profiler is not None:
        profiler.disable()
    stages["after_last_event"] += start + seconds - last[0]
    bad = [o for o in outcomes if o.status != "added"]
    if bad:
        raise SystemExit(f"indexing did not add every file: {bad}")
    if "store" in stages:  # the store stage = Chroma add + BM25 add + the rest (info, bookkeeping)
        stages["store_other"] = stages.pop("store") - calls["chroma_add"] - calls["bm25_add"]
        stages.update(calls)
    return {"seconds": seconds, "chunks": sum(o.chunks for o in outcomes), "open_s": open_s, "stages": dict(stages)}


def top_functions(profiler: cProfile.Profile, key: str, limit: int) -> list[dict[str, Any]]:
    stats = pstats.Stats(profiler, stream=io.StringIO()).sort_stats(key)
    rows = []
    for func in stats.fcn_list[:limit]:  # type: ignore[attr-defined]
        _, nc, tt, ct, _ = stats.stats[func]  # type: ignore[attr-defined]
        file, line, name = func
        rows.append({"function": f"{Path(file).name}:{line}({name})", "calls": nc,
                     "tottime_s": round(tt, 3), "cumtime_s": round(ct, 3)})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", nargs="*", help="files/folders to index instead of a generated PDF")
    ap.add_argument("--pages", type=int, default=200, help="pages of the generated PDF")
    ap.add_argument("--words-per-page", type=int, default=350)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each (median reported)")
    ap.add_argument("--profile", choices=("auto", "always", "never"), default="auto",
                    help="profile one extra pipeline run (auto: only when the ratio is below the target)")
    args = ap.parse_args()

    from indexing.encoder import SentenceTransformerEncoder
    from indexing.loaders import discover_files
    from indexing.tokenizer import WordPieceTokenizer
    from qa_app.config import Settings

    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="bench-indexing-", ignore_cleanup_errors=True) as tmp_name:
        tmp = Path(tmp_name)
        if args.files:
            files, problems = discover_files(args.files)
            if problems:
                raise SystemExit(f"cannot use {problems}")
            source = {"files": [str(f) for f in files]}
        else:
            t = time.perf_counter()
            files = [write_prose_pdf(tmp / "prose.pdf", args.pages, words_per_page=args.words_per_page, seed=args.seed)]
            log(f"generated a {args.pages}-page PDF in {time.perf_counter() - t:.1f}s")
            source = {"generated_pdf_pages": args.pages, "words_per_page": args.words_per_page, "seed": args.seed}
        encoder = SentenceTransformerEncoder(batch_size=settings.store.encode_batch_size)
        tokenizer = WordPieceTokenizer()
        texts = embedding_texts_of(files, settings, tokenizer)
        log(f"{len(texts)} chunks to embed; warming up")
        encoder.encode(texts[: encoder.batch_size])  # loads the model, warms the allocator
        warm = tmp / "warm.txt"
        warm.write_text("A short warm-up document. " * 50, encoding="utf-8")
        run_pipeline([warm], tmp / "data-warm", settings, encoder, tokenizer)  # imports chromadb, bm25s

        raw_s: list[float] = []
        runs: list[dict[str, Any]] = []

        def raw() -> None:
            t0 = time.perf_counter()
            encoder.encode(texts)
            raw_s.append(time.perf_counter() - t0)
            log(f"raw encoder: {len(texts) / raw_s[-1]:.1f} chunks/s")

        def pipeline() -> None:
            runs.append(run_pipeline(files, tmp / f"data-{len(runs)}", settings, encoder, tokenizer))
            log(f"pipeline:    {runs[-1]['chunks'] / runs[-1]['seconds']:.1f} chunks/s")

        for i in range(args.repeats):
            for step in ((raw, pipeline) if i % 2 == 0 else (pipeline, raw)):
                step()

        chunks = runs[0]["chunks"]
        raw_rate = statistics.median(len(texts) / s for s in raw_s)
        pipe_rate = statistics.median(r["chunks"] / r["seconds"] for r in runs)
        ratio = pipe_rate / raw_rate
        stage_names = sorted({k for r in runs for k in r["stages"]})
        import torch

        result: dict[str, Any] = {
            "benchmark": "indexing_throughput",
            "command": " ".join(["python", *sys.argv]),
            "source": source,
            "chunking": {"chunk_tokens": settings.chunking.chunk_tokens, "overlap_tokens": settings.chunking.overlap_tokens,
                         "contextual": settings.chunking.contextual},
            "encode_batch_size": encoder.batch_size,
            "torch_threads": torch.get_num_threads(),
            "chunks": len(texts),
            "pipeline_chunks_match": all(r["chunks"] == len(texts) for r in runs) and chunks == len(texts),
            "repeats": args.repeats,
            "raw_chunks_per_s": round(raw_rate, 2),
            "pipeline_chunks_per_s": round(pipe_rate, 2),
            "ratio_pipeline_to_raw": round(ratio, 3),
            "target_ratio": TARGET_RATIO,
            "meets_target": ratio >= TARGET_RATIO,
            "raw_runs_chunks_per_s": [round(len(texts) / s, 2) for s in raw_s],
            "pipeline_runs_chunks_per_s": [round(r["chunks"] / r["seconds"], 2) for r in runs],
            "pipeline_median_stage_s": {k: round(statistics.median(r["stages"].get(k, 0.0) for r in runs), 3)
                                        for k in stage_names},
            "pipeline_median_open_s": round(statistics.median(r["open_s"] for r in runs), 3),
        }
        if args.profile == "always" or (args.profile == "auto" and ratio < TARGET_RATIO):
            log("profiling one more pipeline run")
            profiler = cProfile.Profile()
            prof = run_pipeline(files, tmp / "data-profiled", settings, encoder, tokenizer, profiler=profiler)
            result["profile"] = {"seconds_under_profiler": round(prof["seconds"], 2),
                                 "top_cumulative": top_functions(profiler, "cumulative", 25),
                                 "top_self": top_functions(profiler, "tottime", 15)}
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
