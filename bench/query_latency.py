"""Query latency against corpus size: the Chroma store (dense) and, separately, the BM25 index, at
growing numbers of chunks, measured in one run. Prints one JSON object (progress on stderr).

    python bench/query_latency.py [--sizes 10000,100000,1000000] [--bm25-sizes 10000,100000|same|none]
                                  [--queries 200] [--k 30] [--doc-chunks 1000] [--words-per-chunk 150]
                                  [--ef-search 100]

Dense: one embedded `ChromaStore` (fresh, in a temporary folder) is grown to each size in turn
through `ChromaStore.add_document`, one synthetic document of `--doc-chunks` chunks per call (the
indexer's own write path: chunk upsert in batches of 5,000, then the registry row). Vectors are
seeded Gaussian, L2-normalised, 384-d float32; chunk texts are generated prose of about
`--words-per-chunk` words (Chroma stores and full-text-indexes them, which is part of the insert
cost). At each size: insert seconds and rows/s for the step, then `--warmup` untimed queries, then
`--queries` timed `store.query(vector, k)` calls (the product's dense path: HNSW query plus the
registry check), reported as p50/p95/mean/max in ms. Queries are noisy copies of stored vectors
(cosine about 0.7 to their source), so `self_recall_at_k` (source chunk among the k hits) is a sanity
check of the index. `--ef-search` is the HNSW candidate list of the store, fixed when its collection
is created (the `ef_search` setting; Chroma's default 100): run once per value to see the
recall/latency trade-off. Target: p50 at the largest size <= 2x p50 at the smallest (10k vs 1M).

BM25: an in-memory `indexing.sparse.BM25Index` grown the same way with synthetic texts over a
Zipf-distributed vocabulary of pseudo-words (a realistic spread of rare and common terms); at each
size the matrix build time (`rebuild()`), then p50/p95 of `search(query, k)` for queries of six
words taken from random stored chunks. BM25 defaults to 10k and 100k chunks: it holds its whole
matrix in memory (about 10 MiB of peak RSS per 1,000 chunks measured here), so `--bm25-sizes same`
at 1M needs about 10 GiB.

Nothing in the project is changed; the store lives in a temporary folder (`--tmp-dir` to choose).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
from index_memory import prose_page

DIM = 384
TARGET_RATIO = 2.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def doc_id(d: int) -> str:
    return hashlib.sha256(f"bench-doc-{d}".encode()).hexdigest()[:16]


def doc_vectors(seed: int, d: int, n: int) -> np.ndarray:
    """The `n` unit vectors of synthetic document `d` (regenerated on demand, never kept)."""
    v = np.random.default_rng([seed, d]).standard_normal((n, DIM), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def latency_ms(call: Callable[[Any], Any], queries: list[Any], warmup: list[Any]) -> tuple[dict[str, float], list[Any]]:
    for q in warmup:
        call(q)
    times, results = [], []
    for q in queries:
        t = time.perf_counter()
        results.append(call(q))
        times.append((time.perf_counter() - t) * 1000)
    a = np.asarray(times)
    stats = {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
             "mean_ms": float(a.mean()), "max_ms": float(a.max())}
    return {k: round(v, 3) for k, v in stats.items()}, results


def peak_rss_mb() -> float:
    """This process's peak RSS so far (MiB); ru_maxrss is in KiB on Linux."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def du_mb(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return round(total / 2**20, 1)


# -- dense -----------------------------------------------------------------------------------

def dense_section(sizes: list[int], args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from indexing.stores import ChromaStore, StoreSignature
    from qa_app.config import ENCODER_ID, ChunkingConfig
    from qa_app.types import Chunk, DocumentInfo

    store = ChromaStore.open_embedded(tmp / "chroma", collection="bench", ef_search=args.ef_search,
                                      signature=StoreSignature.for_encoder(ENCODER_ID, DIM, ChunkingConfig()))
    rng = random.Random(args.seed)
    pool = [prose_page(rng, args.words_per_chunk) for _ in range(500)]  # texts repeat; their length matters
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    docs: list[int] = []  # chunk count of each document
    total = 0
    steps: list[dict[str, Any]] = []
    qrng = np.random.default_rng([args.seed, 1])
    for size in sizes:
        t0 = time.perf_counter()
        last_log = t0
        while total < size:
            d, n = len(docs), min(args.doc_chunks, size - total)
            chunks, offset = [], 0
            for i in range(n):
                text = pool[(d * args.doc_chunks + i) % len(pool)]
                chunks.append(Chunk(doc_id=doc_id(d), index=i, text=text, start=offset, end=offset + len(text),
                                    page=1 + i // 3, header=f"Synthetic document {d}"))
                offset += len(text) + 1
            info = DocumentInfo(id=doc_id(d), source=f"synthetic-{d}.pdf", title=f"Synthetic document {d}",
                                pages=1 + (n - 1) // 3, chunks=n, chars=offset, indexed_at=now,
                                page_starts=(0,), origin=f"bench:{d}")
            store.add_document(info, chunks, doc_vectors(args.seed, d, n))
            docs.append(n)
            total += n
            if time.perf_counter() - last_log > 15:
                last_log = time.perf_counter()
                rate = (total - sum(s["size"] for s in steps[-1:])) / (last_log - t0)
                log(f"  dense: {total}/{size} chunks, {rate:.0f} rows/s")
        insert_s = time.perf_counter() - t0
        grown = size - (steps[-1]["size"] if steps else 0)
        if store.count() != size:
            raise SystemExit(f"the store holds {store.count()} chunks, expected {size}")

        def pick() -> tuple[np.ndarray, str]:
            d = int(qrng.integers(len(docs)))
            i = int(qrng.integers(docs[d]))
            v = doc_vectors(args.seed, d, docs[d])[i]
            q = v + qrng.standard_normal(DIM, dtype=np.float32) / np.sqrt(DIM)
            return q / np.linalg.norm(q), f"{doc_id(d)}:{i}"

        warm = [pick()[0] for _ in range(args.warmup)]
        picked = [pick() for _ in range(args.queries)]
        stats, results = latency_ms(lambda q: store.query(q, args.k), [q for q, _ in picked], warm)
        recall = sum(any(h.chunk.id == want for h in hits) for (_, want), hits in zip(picked, results)) / len(picked)
        step = {"size": size, "documents": len(docs), "insert_s": round(insert_s, 2),
                "insert_rows_per_s": round(grown / insert_s, 1) if insert_s else None,
                **stats, "self_recall_at_k": round(recall, 3), "disk_mb": du_mb(tmp / "chroma"),
                "process_peak_rss_mb": peak_rss_mb()}
        steps.append(step)
        log(f"dense {json.dumps(step)}")
    return {"insert": "ChromaStore.add_document", "doc_chunks": args.doc_chunks, "ef_search": store.ef_search,
            "words_per_chunk": args.words_per_chunk, "k": args.k, "queries": args.queries, "warmup": args.warmup,
            "sizes": steps, **_ratio(steps, target=True)}


def _ratio(steps: list[dict[str, Any]], *, target: bool) -> dict[str, Any]:
    """p50 at the largest size over p50 at the smallest (with the target check for the store)."""
    if len(steps) < 2:
        return {}
    first, last = steps[0], steps[-1]
    ratio = last["p50_ms"] / first["p50_ms"]
    out: dict[str, Any] = {f"p50_ratio_{last['size']}_to_{first['size']}": round(ratio, 3)}
    if target:
        out.update(target_ratio=TARGET_RATIO, meets_target=ratio <= TARGET_RATIO)
    return out


# -- BM25 ------------------------------------------------------------------------------------

def pseudo_words(count: int, seed: int) -> list[str]:
    """`count` distinct pronounceable pseudo-words (deterministic)."""
    rng = random.Random(seed)
    onsets = "b c d f g h k l m n p r s t v w z br cr dr fl gr pl st tr".split()
    vowels, codas = "a e i o u ai ou".split(), [""] + "n r s t l m k".split()
    words: dict[str, None] = {}
    while len(words) < count:
        word = "".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(rng.randint(2, 4)))
        words.setdefault(word, None)
    return list(words)


def bm25_section(sizes: list[int], args: argparse.Namespace) -> dict[str, Any]:
    from indexing.sparse import BM25Index
    from qa_app.types import Chunk

    vocab = np.asarray(pseudo_words(args.bm25_vocab, args.seed))
    p = 1.0 / np.arange(1, len(vocab) + 1) ** 1.0
    p /= p.sum()
    trng = np.random.default_rng([args.seed, 2])
    index = BM25Index(path=None)
    docs_words: list[np.ndarray] = []  # word ids of the first chunk of each document (query material)
    total = 0
    steps: list[dict[str, Any]] = []
    for size in sizes:
        t0 = time.perf_counter()
        last_log = t0
        while total < size:
            d, n = len(docs_words), min(args.doc_chunks, size - total)
            ids = trng.choice(len(vocab), size=(n, args.words_per_chunk), p=p)
            texts = [" ".join(row) for row in vocab[ids]]
            index.add(doc_id(d), [Chunk(doc_id=doc_id(d), index=i, text=t, start=0, end=len(t), page=1)
                                  for i, t in enumerate(texts)])
            docs_words.append(ids[int(trng.integers(n))])
            total += n
            if time.perf_counter() - last_log > 15:
                last_log = time.perf_counter()
                log(f"  bm25: {total}/{size} chunks")
        add_s = time.perf_counter() - t0
        build_s = index.rebuild()
        qrng = random.Random(args.seed + size)
        texts = []
        for _ in range(args.warmup + args.queries):
            words = docs_words[qrng.randrange(len(docs_words))]
            texts.append(" ".join(vocab[qrng.sample(list(words), 6)]))
        stats, results = latency_ms(lambda q: index.search(q, args.k), texts[args.warmup:], texts[:args.warmup])
        step = {"size": size, "add_s": round(add_s, 2), "build_s": round(build_s, 2), **stats,
                "mean_hits": round(statistics.fmean(len(r) for r in results), 1), "process_peak_rss_mb": peak_rss_mb()}
        steps.append(step)
        log(f"bm25 {json.dumps(step)}")
    return {"index": "indexing.sparse.BM25Index(path=None)", "vocabulary": int(len(vocab)), "zipf_exponent": 1.0,
            "words_per_chunk": args.words_per_chunk, "query_words": 6, "k": args.k, "sizes": steps, **_ratio(steps, target=False)}


def parse_sizes(text: str) -> list[int]:
    sizes = sorted({int(s) for s in text.split(",") if s.strip()})
    if not sizes or sizes[0] < 1:
        raise SystemExit(f"bad sizes {text!r}")
    return sizes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated chunk counts (dense store)")
    ap.add_argument("--bm25-sizes", default="10000,100000",
                    help="chunk counts for BM25: a list, 'same' as --sizes, or 'none'")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--k", type=int, default=30, help="hits per query (the retrieval 'candidates' default)")
    ap.add_argument("--doc-chunks", type=int, default=1000, help="chunks per synthetic document")
    ap.add_argument("--words-per-chunk", type=int, default=150)
    ap.add_argument("--ef-search", type=int, default=100, help="HNSW ef_search of the store (Chroma's default 100)")
    ap.add_argument("--bm25-vocab", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tmp-dir", default=None, help="where the temporary store goes (default: the system's)")
    args = ap.parse_args()
    sizes = parse_sizes(args.sizes)
    bm25_sizes = [] if args.bm25_sizes == "none" else sizes if args.bm25_sizes == "same" else parse_sizes(args.bm25_sizes)
    result: dict[str, Any] = {"benchmark": "query_latency", "command": " ".join(["python", *sys.argv]),
                              "seed": args.seed, "dim": DIM, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-query-", dir=args.tmp_dir, ignore_cleanup_errors=True) as tmp:
        result["dense"] = dense_section(sizes, args, Path(tmp))
    if bm25_sizes:
        result["bm25"] = bm25_section(bm25_sizes, args)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
