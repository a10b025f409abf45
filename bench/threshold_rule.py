"""How well each no-answer threshold rule generalises to questions it was not chosen on.

    python bench/threshold_rule.py models/transformer-mpnet [CHECKPOINT ...] [--tolerances 0,0.5,1,2,3]

A transformer reader's SQuAD threshold (and answerability weight) is chosen on the validation articles
(25-27) by `qa_app.evaluation.thresholds.choose_threshold`: the most answering point within a tolerance
of the best F1. Here each validation article is left out in turn, the weight and threshold are chosen
on the other two with each tolerance and the left-out article is scored; the pooled held-out F1 says
which tolerance to train with (`THRESHOLD_TOLERANCE_F1`), the per-article figures give its spread. One
forward pass per checkpoint; the test articles are never read. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from typing import Any

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="transformer reader folders (models/NAME)")
    parser.add_argument("--tolerances", default="0,0.5,1,2,3")
    args = parser.parse_args()

    from qa_app.data.squad import load_squad, locate_squad_v2_dev, split_examples
    from qa_app.evaluation.thresholds import choose_threshold, f1_curve, held_out_f1
    from qa_app.machine import cpu_model_name
    from qa_app.readers.inference import autocast_bf16
    from qa_app.training.loop import THRESHOLD_TOLERANCE_F1, validation_margins
    from qa_app.training.transformer import TRANSFORMER

    tolerances = [float(t) for t in args.tolerances.split(",")]
    bf16 = autocast_bf16("auto")  # as the readers run by default
    examples = list(split_examples(load_squad(locate_squad_v2_dev()), "validation"))
    has_answer = np.array([not e.is_impossible for e in examples])
    articles = np.array([e.article_index for e in examples])
    results: dict[str, Any] = {}
    for folder in args.checkpoints:
        print(f"reading {len(examples)} validation questions with {folder} ...", file=sys.stderr, flush=True)
        model, tokenizer, settings = TRANSFORMER.load_checkpoint(folder)
        margins = validation_margins(model, tokenizer, settings, examples, 32, bf16, kind=TRANSFORMER)
        curves = {w: f1_curve(m.diffs, m.forced_f1, has_answer) for w, m in margins.items()}  # all validation
        by_tolerance = {}
        for tolerance in tolerances:
            held = held_out_f1(margins, has_answer, articles, tolerance)
            sizes = [int((articles == a).sum()) for a in held]
            weight, point = choose_threshold(curves, tolerance)
            by_tolerance[f"{tolerance:g}"] = {
                "held_out_f1_by_article": {str(a): round(f, 2) for a, f in held.items()},
                "held_out_f1_pooled": round(float(np.average(list(held.values()), weights=sizes)), 2),
                "on_all_validation": {"answerability_weight": weight, "threshold": point.threshold,
                                      "f1": round(point.f1, 2), "answered_share": round(point.answered, 3)}}
        results[folder] = {"stored": {"answerability_weight": settings.answerability_weight,
                                      "threshold": settings.null_threshold}, "tolerances": by_tolerance}
    print(json.dumps({
        "benchmark": "threshold_rule", "command": "python bench/threshold_rule.py " + " ".join(sys.argv[1:]),
        "tolerance_in_force": THRESHOLD_TOLERANCE_F1, "validation_questions": len(examples), "bf16_autocast": bf16,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpu": cpu_model_name(),
        "cores": os.cpu_count(), "checkpoints": results,
    }, indent=1))


if __name__ == "__main__":
    main()
