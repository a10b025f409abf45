"""Retrieval recall of the contextual encoding variants (plain, header, neighbours, late) on the
open-book corpus, measured in one run. Prints one JSON object (progress on stderr).

    python bench/retrieval_variants.py [--variants plain,header,neighbours,late] [--corpus all]
                                       [--split validation|test] [--sparse-weights 1.0,1.5]
                                       [--limit N] [--seed 0]

For each variant, the SQuAD v2.0 articles of `--corpus` (all 35 by default: the test articles plus
every other as distractors) are indexed exactly as `qa-app eval squad-v2 --mode open` indexes them
(one long document per article, default chunking, the real encoder, embedded Chroma + BM25 in a
fresh temporary data dir). Then every answerable question of `--split` (or a seeded sample of
`--limit`) is retrieved with the dense, hybrid and (once: it does not depend on the variant) sparse
retriever; with several `--sparse-weights`, hybrid once per BM25 fusion weight (dense weight 1).
A question is found at rank r when the r-th hit, grown to its initial window (+-1 chunk, the
default `window_chunks`), holds a gold answer at its gold offset: the open-book evaluation's
`hit_recall@k` / `hit_mrr`. Also reported: the same with the bare chunk (`chunk_recall@k`, no
window), indexing seconds per variant and dense query milliseconds (median).

The best variant by hybrid recall@5 at its best fusion weight (ties: hybrid MRR, then dense
recall@5) is named in `best`. Choose defaults (`ChunkingConfig.contextual`,
`RetrievalConfig.sparse_weight`) from a `--split validation` run (articles 25-27, carved from
train); the test split only reports what the chosen defaults reach.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

VARIANTS = ("plain", "header", "neighbours", "late")
KS = (1, 5, 10)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def positions(retriever: Any, examples: list[Any], articles: dict[int, Any], spans: Any, width: int,
              candidates: int) -> tuple[list[int | None], list[int | None], list[float]]:
    """Per question: rank of the first hit whose initial window (+-`width` chunks) holds a gold span,
    the same for the bare hit chunk, and the query milliseconds."""
    from qa_app.data.squad import map_answer_to_article
    from qa_app.evaluation.retrieval_hits import first_gold_position, ranked_hits

    windowed: list[int | None] = []
    bare: list[int | None] = []
    times: list[float] = []
    for example in examples:
        indexed = articles[example.article_index]
        gold = map_answer_to_article(example, indexed.article)
        t0 = time.perf_counter()
        hits = ranked_hits(retriever, example.question, candidates)
        times.append((time.perf_counter() - t0) * 1000)
        for found, grow in ((windowed, width), (bare, 0)):
            found.append(first_gold_position(spans.hit_ranges(hits, grow), indexed.doc_id, gold))
    return windowed, bare, times


def scores(found: list[int | None], chunk_found: list[int | None], times: list[float]) -> dict[str, float]:
    from qa_app.evaluation.retrieval_hits import mean_reciprocal_rank, recall_at

    out = {f"recall@{k}": round(recall_at(found, k), 4) for k in KS}
    out["mrr"] = round(mean_reciprocal_rank(found), 4)
    out.update({f"chunk_recall@{k}": round(recall_at(chunk_found, k), 4) for k in KS})
    out["query_ms_p50"] = round(statistics.median(times), 2)
    return out


def measure_variant(variant: str, base: Any, dataset: Any, indices: list[int], examples: list[Any],
                    tmp: Path, with_sparse: bool, sparse_weights: list[float]) -> dict[str, Any]:
    from qa_app.data.squad import article_documents
    from qa_app.evaluation.open_book import index_articles
    from qa_app.evaluation.retrieval_hits import ChunkSpans
    from qa_app.wiring import App

    settings = base.replace(contextual=variant, data_dir=str(tmp / variant))
    app = App(settings)
    t0 = time.perf_counter()
    articles, _ = index_articles(app.indexer, article_documents(dataset, indices))
    index_s = time.perf_counter() - t0
    chunks = list(app.store.all_chunks())
    spans = ChunkSpans(chunks)
    r = settings.retrieval
    result: dict[str, Any] = {"index_s": round(index_s, 1), "chunks": len(chunks)}
    modes: list[tuple[str, dict[str, Any]]] = [("dense", {"retriever": "dense"})]
    for w in sparse_weights:
        name = "hybrid" if len(sparse_weights) == 1 else f"hybrid_sparse_weight_{w:g}"
        modes.append((name, {"retriever": "hybrid", "sparse_weight": w}))
    if with_sparse:
        modes.append(("sparse", {"retriever": "sparse"}))
    for mode, overrides in modes:
        mode_app = App(settings.replace(**overrides), encoder=app.encoder, tokenizer=app.tokenizer, store=app.store)
        retriever = mode_app.retriever()
        found, chunk_found, times = positions(retriever, examples, articles, spans, r.window_chunks, r.candidates)
        result[mode] = scores(found, chunk_found, times)
        log(f"{variant:>10} {mode:>6}: " + " ".join(f"{k}={v}" for k, v in result[mode].items()))
    return result


def best_variant(results: dict[str, dict[str, Any]]) -> str:
    def key(variant: str) -> tuple[float, float, float]:
        hybrid = max((r for name, r in results[variant].items() if name.startswith("hybrid")),
                     key=lambda r: (r["recall@5"], r["mrr"]))
        return hybrid["recall@5"], hybrid["mrr"], results[variant]["dense"]["recall@5"]

    return max(results, key=key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--corpus", default="all", choices=("test", "all"))
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--sparse-weights", default="1.0", help="BM25 weights in the fusion, comma-separated")
    parser.add_argument("--limit", type=int, default=None, help="seeded sample of the answerable questions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tmp-dir", default=None)
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if unknown := set(variants) - set(VARIANTS):
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")

    from qa_app.config import Settings
    from qa_app.data.squad import load_squad, locate_squad_v2_dev, sample_examples, split_examples
    from qa_app.evaluation.open_book import corpus_articles

    dataset = load_squad(locate_squad_v2_dev())
    sparse_weights = [float(w) for w in args.sparse_weights.split(",") if w.strip()]
    examples = [e for e in split_examples(dataset, args.split) if not e.is_impossible]
    examples = list(sample_examples(examples, args.limit, seed=args.seed))
    indices = corpus_articles(dataset, args.corpus, args.split)
    base = Settings()
    log(f"{len(examples)} answerable {args.split} questions, {len(indices)} articles, variants {variants}")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(dir=args.tmp_dir) as tmp:
        for i, variant in enumerate(variants):
            results[variant] = measure_variant(variant, base, dataset, indices, examples, Path(tmp), with_sparse=i == 0,
                                               sparse_weights=sparse_weights)
    sparse = next((r.pop("sparse") for r in results.values() if "sparse" in r), None)
    print(json.dumps({
        "benchmark": "retrieval_variants",
        "command": "python bench/retrieval_variants.py " + " ".join(sys.argv[1:]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset_sha256": dataset.sha256, "corpus": args.corpus, "articles": len(indices),
        "split": args.split, "questions": len(examples), "seed": args.seed,
        "window_chunks": base.retrieval.window_chunks, "candidates": base.retrieval.candidates,
        "chunking": {"chunk_tokens": base.chunking.chunk_tokens, "overlap_tokens": base.chunking.overlap_tokens},
        "default_variant": base.chunking.contextual,
        "variants": results, "sparse": sparse,
        "best": best_variant(results) if results else None,
    }, indent=2))


if __name__ == "__main__":
    main()
