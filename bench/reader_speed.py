"""Reader speed: windows/s at 384 word pieces, fp32 vs bf16 autocast vs int8 dynamic quantisation,
measured in one run on the same inputs; with --quality also EM/F1 on a fixed validation sample
(speed-ups are kept only if they cost < 1 F1). With --versus, other readers (the LSTM) are timed in
the same run on the same windows, each at its shipped precision, repeats alternating between the
readers; `versus` gives their windows/s and the ratio to the first checkpoint's. Prints one JSON object.

    python bench/reader_speed.py [--checkpoint transformer] [--windows 64] [--repeats 3] [--quality 300]
    python bench/reader_speed.py --versus lstm,transformer-mpnet

A checkpoint is a reader name of the registry (qa_app/readers/registry.py; its folder under models/)
or a checkpoint folder. The output names the CPU and whether it has native bf16.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from qa_app.config import DEFAULT_MODELS_DIR, ReaderConfig
from qa_app.machine import cpu_model_name
from qa_app.readers.features import EncodedFeatures
from qa_app.readers.inference import autocast_bf16, cpu_has_native_bf16, quantized_int8, run_features, use_bf16
from qa_app.readers.registry import load_span_checkpoint, reader_names, reader_spec
from qa_app.readers.span_reader import SpanModelReader


def checkpoint_folder(reference: str) -> Path:
    """A reader name of the registry (its folder under models/) or a checkpoint folder."""
    return DEFAULT_MODELS_DIR / reference if reference in reader_names() else Path(reference)


def default_precision(reference: str) -> str:
    """The precision a reader runs at by default (its registry entry; `auto` for a bare folder)."""
    return reader_spec(reference).precision if reference in reader_names() else "auto"


def synthetic_features(n: int, length: int, vocab: int, seed: int = 0) -> EncodedFeatures:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, vocab, (n, length), generator=g).tolist()
    import numpy as np

    offsets = [np.stack([np.arange(length), np.arange(length) + 1], axis=1) for _ in range(n)]
    return EncodedFeatures(input_ids=ids, token_type_ids=[[0] * 20 + [1] * (length - 20)] * n,
                           offsets=offsets, sample_index=list(range(n)))


def windows_per_second(model: torch.nn.Module, feats: EncodedFeatures, *, bf16: bool, repeats: int, batch: int) -> float:
    return alternating_rates({"one": (model, bf16)}, feats, repeats=repeats, batch=batch)["one"]


def alternating_rates(models: dict[str, tuple[torch.nn.Module, bool]], feats: EncodedFeatures, *, repeats: int,
                      batch: int) -> dict[str, float]:
    """Median windows/s of each (model, bf16), the repeats alternating between the models."""
    warm = EncodedFeatures(feats.input_ids[:batch], feats.token_type_ids[:batch], feats.offsets[:batch],
                           feats.sample_index[:batch])
    for model, bf16 in models.values():
        run_features(model, warm, batch_size=batch, bf16=bf16)
    rates: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, (model, bf16) in models.items():
            t = time.perf_counter()
            run_features(model, feats, batch_size=batch, bf16=bf16)
            rates[name].append(len(feats) / (time.perf_counter() - t))
    return {name: statistics.median(r) for name, r in rates.items()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default="transformer", help="a reader name or a checkpoint folder")
    ap.add_argument("--windows", type=int, default=64)
    ap.add_argument("--length", type=int, default=384)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quality", type=int, default=0, help="validation questions for the F1 check (0 = skip)")
    ap.add_argument("--variants", default="fp32,bf16_autocast,int8_dynamic",
                    help="which of fp32, bf16_autocast, int8_dynamic to measure (fp32 always runs)")
    ap.add_argument("--versus", default="", help="comma-separated other readers or folders to time against --checkpoint")
    args = ap.parse_args()
    model, tokenizer, settings = load_span_checkpoint(checkpoint_folder(args.checkpoint))
    others = {ref: load_span_checkpoint(checkpoint_folder(ref)) for ref in args.versus.split(",") if ref}
    # word-piece ids every compared reader knows (MPNet's vocabulary is 5 entries longer than MiniLM's)
    vocab = min(tok.vocab_size for _, tok, _ in [(model, tokenizer, settings), *others.values()])
    feats = synthetic_features(args.windows, args.length, vocab)
    wanted = set(args.variants.split(","))
    variants = {"fp32": (model, False)}
    if "bf16_autocast" in wanted and use_bf16():
        variants["bf16_autocast"] = (model, True)
    if "int8_dynamic" in wanted:
        variants["int8_dynamic"] = (quantized_int8(copy.deepcopy(model)), False)
    result: dict[str, Any] = {"benchmark": "reader_speed", "checkpoint": args.checkpoint, "cpu": cpu_model_name(),
                                 "native_bf16": cpu_has_native_bf16(), "length": args.length,
                                 "windows": args.windows, "batch": args.batch, "threads": torch.get_num_threads(),
                                 "windows_per_s": {}, "f1": {}}
    for name, (m, bf16) in variants.items():
        result["windows_per_s"][name] = round(windows_per_second(m, feats, bf16=bf16, repeats=args.repeats, batch=args.batch), 2)
    if args.quality:
        from qa_app.data.squad import load_squad, locate_squad_v2_dev, sample_examples, split_examples
        from qa_app.evaluation.gold import gold_predictions, read_gold, score_gold

        val = list(sample_examples(split_examples(load_squad(locate_squad_v2_dev()), "validation"), args.quality))
        for name, (m, bf16) in variants.items():
            reader = SpanModelReader.from_model(m, tokenizer, settings, config=ReaderConfig(), bf16=bf16)
            result["f1"][name] = round(score_gold(val, gold_predictions(val, read_gold(reader, val)))["f1"], 2)
    base = result["windows_per_s"]["fp32"]
    result["speedup_vs_fp32"] = {k: round(v / base, 2) for k, v in result["windows_per_s"].items()}
    if others:
        models = {args.checkpoint: model} | {path: loaded[0] for path, loaded in others.items()}
        result["versus"] = compare_readers(models, feats, args)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


def compare_readers(models: dict[str, torch.nn.Module], feats: EncodedFeatures,
                    args: argparse.Namespace) -> dict[str, object]:
    """Windows/s of each reader's model at the precision it runs at by default (its registry entry:
    bf16 autocast only where the CPU has native bf16), alternating, and the ratio to the first."""
    bf16 = {ref: autocast_bf16(default_precision(ref)) for ref in models}
    rates = alternating_rates({ref: (m, bf16[ref]) for ref, m in models.items()}, feats, repeats=args.repeats,
                              batch=args.batch)
    first = rates[next(iter(models))]
    return {ref: {"windows_per_s": round(rate, 2), "bf16": bf16[ref], "vs_first": round(rate / first, 2)}
            for ref, rate in rates.items()}


if __name__ == "__main__":
    sys.exit(main())
