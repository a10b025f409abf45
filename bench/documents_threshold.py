"""Choose each reader's no-answer threshold for the user's documents, on the real-document validation set.

    qa-app index /usr/share/R/doc/manual/R-exts.pdf /usr/share/R/doc/manual/R-admin.pdf \
        --collection valmanuals --data-dir DIR          # once (apt-get install r-doc-pdf)
    python bench/documents_threshold.py --collection valmanuals --data-dir DIR \
        [--readers transformer-mpnet,transformer,lstm] [--write]

A reader's `null_threshold` is chosen on SQuAD v2 validation paragraphs, half of whose questions have
no answer; questions people ask about their own manuals mostly have one, and read over several
retrieved windows the span-vs-null margin behaves differently. So the threshold the app answers with
(`calibration = "documents"`) is chosen here, on `corpora/qa/real-docs-validation.jsonl` (questions
written over R-exts.pdf and R-admin.pdf, other manuals than the test set's).

Every question is asked through the pipeline with the reader forced to answer, which gives each
question's best answer, its F1 and its span-vs-null margin; `qa_app.evaluation.thresholds.f1_curve`
then gives the F1 over the file at every threshold (an abstention on an unanswerable question scores
1), and the threshold with the best F1 is chosen. The file is then asked again at that threshold, as
the app would, and those are the figures reported. `--write`
records the choice as `documents_null_threshold` in `models/NAME/reader.json`. Settings come from
the config file and `QA_*` variables as for `qa-app` (`QA_MODELS_DIR` picks the checkpoints measured
and written, `QA_TOKEN_BUDGET` the budget). The test set (`real-docs.jsonl`) is refused. Prints one
JSON object (progress on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
VALIDATION = REPO / "corpora" / "qa" / "real-docs-validation.jsonl"
TEST_SET = REPO / "corpora" / "qa" / "real-docs.jsonl"


def figures(report: dict[str, Any]) -> dict[str, Any]:
    """The figures a threshold is judged by, from a collection report."""
    abstention = report["abstention"]
    return {"f1": report["f1"], "exact": report["exact"], "HasAns_f1": report.get("HasAns_f1"),
            "page@1": report.get("page@1"), "source@1": report.get("source@1"),
            "unanswerable_abstained": abstention["abstained_on_unanswerable"],
            "answerable_abstained": abstention["abstained_on_answerable"],
            "follow_ups_f1": report.get("follow_ups", {}).get("f1"),
            "latency_ms_p50": report["latency_ms"]["end_to_end"]["p50"],
            "latency_ms_p95": report["latency_ms"]["end_to_end"]["p95"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=VALIDATION)
    parser.add_argument("--collection", default="valmanuals")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--readers", default="transformer-mpnet,transformer,lstm")
    parser.add_argument("--write", action="store_true", help="record the choice in models/NAME/reader.json")
    args = parser.parse_args()

    from qa_app.config import load_settings
    from qa_app.data.questions import load_questions
    from qa_app.evaluation.collection import evaluate_collection
    from qa_app.evaluation.run import squad_settings
    from qa_app.evaluation.thresholds import NEVER_ABSTAIN, f1_curve
    from qa_app.machine import cpu_model_name
    from qa_app.readers.checkpoint import READER_FILE
    from qa_app.readers.registry import reader_spec
    from qa_app.wiring import App, checkpoint_dir, models_stamp, tuned_threshold

    if args.questions.resolve() == TEST_SET.resolve():
        sys.exit(f"{TEST_SET.name} is the test set: thresholds are never chosen on it")
    cascades = [name for name in args.readers.split(",") if reader_spec(name).parts]
    if args.write and cascades:
        sys.exit(f"{', '.join(cascades)} answers with its accurate reader's threshold and has none of its own to "
                 "write; measure it without --write")
    questions = load_questions(args.questions)
    base = load_settings().replace(data_dir=args.data_dir, collection=args.collection)  # QA_* as for qa-app

    def ask(name: str, threshold: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        app = App(base.replace(reader=name, null_threshold=threshold))
        done = [0]

        def progress(n: int) -> None:
            done[0] += n
            if done[0] % 25 < n:
                print(f"{name} @ {threshold:g}: {done[0]}/{len(questions)}", file=sys.stderr, flush=True)

        report, rows = evaluate_collection(app=app, dataset=questions, questions=questions.questions,
                                           reader_name=name, model=models_stamp(base, name),
                                           progress=progress)
        return dict(report), [dict(r) for r in rows]

    results: dict[str, Any] = {}
    for name in [r.strip() for r in args.readers.split(",") if r.strip()]:
        forced, rows = ask(name, NEVER_ABSTAIN)
        margins = np.array([-(r["na_score"] if r["na_score"] is not None else 0.0) for r in rows])
        curve = f1_curve(margins, np.array([r["f1"] for r in rows]), np.array([bool(r["golds"]) for r in rows]))
        best = max(curve, key=lambda p: (p.f1, p.answered))
        squad_threshold = tuned_threshold(squad_settings(base), name)
        assert squad_threshold is not None, f"{name} has no checkpoint"
        chosen, _ = ask(name, best.threshold)
        at_squad, _ = ask(name, squad_threshold)
        results[name] = {
            "forced": figures(forced),
            "chosen_threshold": best.threshold, "curve_f1": round(best.f1, 2),
            "answered_share": round(best.answered, 4), "at_chosen": figures(chosen),
            "squad_threshold": squad_threshold, "at_squad_threshold": figures(at_squad),
        }
        if args.write:
            path = checkpoint_dir(base, name) / READER_FILE
            recorded = json.loads(path.read_text(encoding="utf-8"))
            recorded["documents_null_threshold"] = best.threshold  # unrounded: the value asked with above
            path.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
            print(f"{name}: documents_null_threshold {best.threshold:.4f} written to {path}", file=sys.stderr)
    print(json.dumps({
        "benchmark": "documents_threshold",
        "command": "python bench/documents_threshold.py " + " ".join(sys.argv[1:]),
        "questions": str(args.questions), "sha256": questions.sha256,
        "count": len(questions), "collection": args.collection,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpu": cpu_model_name(), "cores": os.cpu_count(),
        "readers": results,
    }, indent=1))


if __name__ == "__main__":
    main()
