"""Should a reader read a follow-up as asked, or as its history query? Measured per reader.

    python bench/conversational_reading.py --readers transformer,lstm,baseline [--split validation]

The dialogues of the conversational benchmark (`qa_app.evaluation.dialogue`, gold history) are
built from the split's articles; every later turn that leans on the conversation (the turns where
the pipeline would use the history query) is read against its own gold paragraph twice: as asked,
and as the history query (`qa_app.conversation.history_query`, last turn). Reported per reader and
per kind of turn (context-dependent, self-contained, topic shift): the turns, F1 as asked, F1 as
the history query, and `gain`, the F1 difference over all these turns together. A reader's
`reads_history_query` in `qa_app/readers/registry.py` is True only where `gain` is positive on
validation (articles 25-27). Prints one JSON object (progress on stderr).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import datetime, timezone
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", default="transformer")
    parser.add_argument("--split", default="validation", choices=("validation", "train-all"))
    args = parser.parse_args()

    from qa_app.config import Settings
    from qa_app.conversation import Turn, history_query, leans_on_history
    from qa_app.data.squad import load_squad, locate_squad_v2_dev, split_examples
    from qa_app.evaluation.dialogue import KINDS, build_dialogues
    from qa_app.evaluation.gold import paragraph_window
    from qa_app.evaluation.metrics import exact_f1
    from qa_app.wiring import build_reader

    dataset = load_squad(locate_squad_v2_dev())
    turns: list[tuple[str, Any, str, str]] = []  # (kind, example, as asked, history query)
    for dialogue in build_dialogues(split_examples(dataset, args.split)):
        history: list[Turn] = []
        for turn in dialogue.turns:
            if turn.kind != "first" and leans_on_history(turn.asked):
                turns.append((turn.kind, turn.example, turn.asked, history_query(turn.asked, history)))
            history.append(Turn(turn.asked, turn.example.answers[0].text))
    results: dict[str, Any] = {}
    for name in [r.strip() for r in args.readers.split(",") if r.strip()]:
        reader = build_reader(Settings().replace(calibration="squad"), name)  # SQuAD questions: SQuAD threshold
        f1: dict[str, dict[str, list[float]]] = {kind: {"asked": [], "history_query": []} for kind in KINDS}
        for n, (kind, example, asked, query) in enumerate(turns, start=1):
            window = [paragraph_window(example)]
            for mode, text in (("asked", asked), ("history_query", query)):
                result = reader.read(text, window)
                prediction = result.spans[0].text if result.answerable and result.spans else ""
                f1[kind][mode].append(exact_f1(example.answer_texts, prediction)[1])
            if n % 50 == 0:
                print(f"{name}: {n}/{len(turns)} turns", file=sys.stderr, flush=True)
        per_kind = {kind: {"turns": len(v["asked"]),
                           "f1_asked": round(100 * statistics.fmean(v["asked"]), 2),
                           "f1_history_query": round(100 * statistics.fmean(v["history_query"]), 2)}
                    for kind, v in f1.items() if v["asked"]}
        every = {mode: [x for v in f1.values() for x in v[mode]] for mode in ("asked", "history_query")}
        gain = 100 * (statistics.fmean(every["history_query"]) - statistics.fmean(every["asked"]))
        results[name] = {"by_kind": per_kind, "turns": len(every["asked"]), "gain": round(gain, 2)}
    print(json.dumps({
        "benchmark": "conversational_reading",
        "command": "python bench/conversational_reading.py " + " ".join(sys.argv[1:]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset_sha256": dataset.sha256, "split": args.split, "readers": results,
    }, indent=2))


if __name__ == "__main__":
    main()
