"""The conversational retrieval benchmark: does a follow-up question find its passage?

    python bench/conversational_retrieval.py [--split train-all|test] [--limit N] [--seed 0]
                                             [--data-dir DIR] [--grid]

Dialogues are built from SQuAD v2.0 by rule (`qa_app.evaluation.dialogue`): turns 2-3 of each are
made context-dependent (subject and earlier answers become pronouns, "What about ...?"), and a
fourth turn changes the topic. All 35 articles are indexed as long documents, exactly as the
open-book evaluation does (cached in `--data-dir`, default settings otherwise). For every later turn
the gold passage is the chunk holding a gold answer; reported are recall@1/@5 of that chunk (and of
the hit grown to its initial window) for:

- `original`: the question as SQuAD wrote it, self-contained;
- `alone`: the question as asked in the dialogue, without the conversation;
- `previous`: the query builder before this benchmark existed (last turn's words when it leans);
- `conversation`: `ConversationalRetriever` with the default `ConversationOptions`.

History is gold (each earlier turn carries its gold answer and the chunk it stands in). Results are
split by turn kind: `dependent`, `self-contained` (a later turn no rule changed) and `topic-shift`.

`--grid` tunes: it caches the rankings of the question and of the history queries once and
scores every combination of weights, reach and history depth with the same fusion function the
app uses; `best` is the combination with the highest mean of recall@1 and recall@5, each averaged
over the three kinds of later turn (so staying near the last answer, which helps same-paragraph
follow-ups, cannot win by polluting topic shifts). Run it on
`--split train-all` only (articles 0-27); the test split (28-34) reports the chosen defaults.
Prints one JSON object (progress on stderr).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from typing import Any, Sequence

KS = (1, 5)
TURNS = 3


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="train-all", choices=("train-all", "test"))
    parser.add_argument("--limit", type=int, default=None, help="seeded sample of dialogues")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=".qa-data")
    parser.add_argument("--grid", action="store_true", help="tune the options (train articles only)")
    args = parser.parse_args()

    from qa_app.config import Settings
    from qa_app.conversation import Turn, retrieval_query
    from qa_app.data.squad import (
        article_documents,
        load_squad,
        locate_squad_v2_dev,
        map_answer_to_article,
        sample_examples,
        split_examples,
    )
    from qa_app.evaluation.dialogue import KINDS, build_dialogues
    from qa_app.evaluation.open_book import index_articles, open_settings
    from qa_app.evaluation.retrieval_hits import ChunkSpans, first_gold_position
    from qa_app.retrieval.conversational import ConversationalRetriever, ConversationOptions, fuse, near_indices
    from qa_app.wiring import App

    dataset = load_squad(locate_squad_v2_dev())
    dialogues = list(sample_examples(build_dialogues(split_examples(dataset, args.split), turns=TURNS),
                                     args.limit, seed=args.seed))
    base = Settings().replace(data_dir=args.data_dir)
    app = App(base)
    settings = open_settings(base, dataset.sha256, "all", app.encoder.id)
    app = App(settings, encoder=app.encoder, tokenizer=app.tokenizer)
    t0 = time.perf_counter()
    articles, counts = index_articles(app.indexer, article_documents(dataset, range(len(dataset.articles))), log)
    log(f"index: {counts} in {time.perf_counter() - t0:.0f} s")
    chunks = list(app.store.all_chunks())
    spans = ChunkSpans(chunks)
    retriever = app.retriever()
    r = settings.retrieval
    fetch = max(r.top_k, r.candidates)
    defaults = ConversationOptions()
    conversational = ConversationalRetriever(retriever=retriever, chunks=app.store, options=defaults,
                                             candidates=r.candidates)

    def gold_of(example: Any) -> tuple[str, list[tuple[int, int]]]:
        indexed = articles[example.article_index]
        return indexed.doc_id, map_answer_to_article(example, indexed.article)

    def ranked(query: str) -> list[Any]:
        return retriever.retrieve(query, fetch)

    rows: list[dict[str, Any]] = []  # one per later turn
    cache: list[dict[str, Any]] = []  # rankings for the grid
    times: list[float] = []
    for n, dialogue in enumerate(dialogues, start=1):
        history: list[Turn] = []
        for turn in dialogue.turns:
            doc_id, gold = gold_of(turn.example)
            if turn.kind != "first":
                row: dict[str, Any] = {"kind": turn.kind, "id": turn.example.id}
                for mode, hits in (("original", ranked(turn.example.question)), ("alone", ranked(turn.asked)),
                                   ("previous", ranked(retrieval_query(turn.asked, history)))):
                    row[mode] = hits
                t = time.perf_counter()
                row["conversation"] = conversational.search(turn.asked, history, fetch).hits
                times.append((time.perf_counter() - t) * 1000)
                for mode in ("original", "alone", "previous", "conversation"):
                    hits = row[mode][:10]
                    row[mode] = (first_gold_position(spans.hit_ranges(hits, 0), doc_id, gold),
                                 first_gold_position(spans.hit_ranges(hits, r.window_chunks), doc_id, gold))
                rows.append(row)
                if args.grid:
                    from qa_app.conversation import history_query, leans_on_history
                    cache.append({
                        "kind": turn.kind, "doc_id": doc_id, "gold": gold,
                        "leans": leans_on_history(turn.asked),
                        "question": [h.chunk.id for h in ranked(turn.asked)],
                        "history": {t: [h.chunk.id for h in ranked(history_query(turn.asked, history, turns=t))]
                                    for t in (1, 2, 3)},
                        "last": (history[-1].doc_id, history[-1].chunk),
                    })
            history.append(Turn(question=turn.asked, answer=turn.example.answers[0].text, doc_id=doc_id,
                                chunk=spans.index_at(doc_id, gold[0][0])))
        if n % 50 == 0:
            log(f"{n}/{len(dialogues)} dialogues")

    def recall(positions: Sequence[int | None], k: int) -> float:
        return round(sum(1 for p in positions if p is not None and p <= k) / len(positions), 4) if positions else 0.0

    def summary(selected: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {"turns": len(selected)}
        for mode in ("original", "alone", "previous", "conversation"):
            out[mode] = {f"recall@{k}": recall([row[mode][0] for row in selected], k) for k in KS}
            out[mode].update({f"window_recall@{k}": recall([row[mode][1] for row in selected], k) for k in KS})
        return out

    by_kind = {kind: summary([row for row in rows if row["kind"] == kind]) for kind in KINDS}
    result: dict[str, Any] = {
        "benchmark": "conversational_retrieval",
        "command": "python bench/conversational_retrieval.py " + " ".join(sys.argv[1:]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset_sha256": dataset.sha256, "split": args.split, "dialogues": len(dialogues), "seed": args.seed,
        "turns_per_dialogue": TURNS, "options": asdict(defaults),
        "all_later_turns": summary(rows), "by_kind": by_kind,
        "conversation_search_ms_p50": round(statistics.median(times), 1) if times else None,
    }
    dep = by_kind["dependent"]
    if dep["turns"]:
        conv, original, alone = (dep[m]["recall@5"] for m in ("conversation", "original", "alone"))
        result["floor"] = {"conversation_over_original_recall@5": round(conv / max(original, 1e-9), 4),
                           "conversation_minus_alone_recall@5": round(conv - alone, 4)}
    if args.grid:
        result["grid"] = grid(cache, spans, defaults, fuse, near_indices)
    print(json.dumps(result, indent=2))


def grid(cache: list[dict[str, Any]], spans: Any, defaults: Any, fuse: Any, near_indices: Any) -> dict[str, Any]:
    from qa_app.evaluation.dialogue import KINDS
    from qa_app.evaluation.retrieval_hits import first_gold_position

    def found(ids: Sequence[str], item: dict[str, Any], k: int) -> bool:
        return first_gold_position(spans.id_ranges(ids[:k]), item["doc_id"], item["gold"]) is not None

    scored: list[dict[str, Any]] = []
    space = itertools.product((0.5, 1.0, 2.0), (0.5, 1.0, 2.0), (0.0, 0.25, 0.5, 1.0), (0, 1, 2), (1, 2, 3),
                              (True, False))
    for qw, hw, nw, reach, turns, gate in space:
        if nw == 0 and reach > 0:
            continue
        options = replace(defaults, question_weight=qw, history_weight=hw, near_weight=nw, near_chunks=reach,
                          history_turns=turns)
        hits: dict[int, dict[str, list[bool]]] = {k: {kind: [] for kind in KINDS} for k in KS}
        for item in cache:
            if gate and not item["leans"]:
                ids = item["question"]
            else:
                doc, chunk = item["last"]
                near = [f"{doc}:{i}" for i in near_indices(chunk, reach, spans.chunk_count(doc))] if nw > 0 else []
                ids = [cid for cid, _ in fuse(item["question"], item["history"][turns], near, options)]
            for k in KS:
                hits[k][item["kind"]].append(found(ids, item, k))
        entry = {"question_weight": qw, "history_weight": hw, "near_weight": nw, "near_chunks": reach,
                 "history_turns": turns, "only_when_leaning": gate}
        for k in KS:  # the mean over the kinds: each behaviour counts the same, however many turns it has
            per_kind = {kind: sum(v) / len(v) for kind, v in hits[k].items() if v}
            entry[f"recall@{k}"] = round(statistics.fmean(per_kind.values()), 4)
            entry.update({f"{kind}_recall@{k}": round(v, 4) for kind, v in per_kind.items()})
        entry["objective"] = round((entry["recall@1"] + entry["recall@5"]) / 2, 4)
        scored.append(entry)
    scored.sort(key=lambda e: (-e["objective"], -e["recall@5"]))
    return {"objective": "mean of recall@1 and recall@5, each averaged over the three kinds of later turn",
            "best": scored[0], "all": scored}


if __name__ == "__main__":
    main()
