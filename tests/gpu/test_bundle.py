"""gpu/make_bundle.py: what a GPU machine without network receives, and that it trains from it."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import torch
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertModel

from qa_app.readers.span_model import build_from_base

ROOT = Path(__file__).resolve().parents[2]


def load_make_bundle() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_bundle", ROOT / "gpu" / "make_bundle.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_bundle"] = module
    spec.loader.exec_module(module)
    return module


def tiny_base(folder: Path) -> Path:
    """A tiny BERT encoder folder saved in float32, as a base model is shipped."""
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    torch.manual_seed(0)
    BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    (folder / "vocab.txt").write_text("\n".join(f"w{i}" for i in range(50)), encoding="utf-8")
    return folder


def test_the_bundle_holds_the_data_and_a_float16_base_with_a_manifest(tmp_path: Path) -> None:
    make_bundle = load_make_bundle()
    v2 = tmp_path / "squad.json"
    v2.write_text('{"data": []}', encoding="utf-8")
    v1 = tmp_path / "squad-train-v1.1.json"
    v1.write_text('{"data": [], "version": "1.1"}', encoding="utf-8")
    base = tiny_base(tmp_path / "base")
    out = tmp_path / "bundle"
    manifest = make_bundle.make_bundle(out, squad_v2=v2, squad_v1=v1, base=base)

    assert gzip.decompress((out / "squad-v2-dev.json.gz").read_bytes()) == v2.read_bytes()
    assert gzip.decompress((out / "squad-train-v1.1.json.gz").read_bytes()) == v1.read_bytes()
    original, half = load_file(str(base / "model.safetensors")), load_file(str(out / "minilm" / "model.safetensors"))
    assert half.keys() == original.keys()
    for name, tensor in original.items():
        assert half[name].dtype == (torch.float16 if tensor.is_floating_point() else tensor.dtype)
        torch.testing.assert_close(half[name].float(), tensor.float(), atol=1e-3, rtol=1e-3)
    assert (out / "minilm" / "vocab.txt").read_text(encoding="utf-8") == (base / "vocab.txt").read_text(encoding="utf-8")
    on_disk = json.loads((out / "MANIFEST.json").read_text(encoding="utf-8"))
    assert on_disk == manifest
    assert set(manifest) == {"squad-v2-dev.json.gz", "squad-train-v1.1.json.gz", "minilm/model.safetensors",
                             "minilm/config.json", "minilm/vocab.txt"}
    for name, entry in manifest.items():
        assert entry["sha256"] == hashlib.sha256((out / name).read_bytes()).hexdigest()


def test_a_base_stored_in_float16_trains_in_float32(tmp_path: Path) -> None:
    base = tiny_base(tmp_path / "base")
    config = json.loads((base / "config.json").read_text(encoding="utf-8"))
    config.pop("dtype", None)  # like all-MiniLM-L6-v2's config: transformers would then keep float16
    (base / "config.json").write_text(json.dumps(config), encoding="utf-8")
    weights = load_file(str(base / "model.safetensors"))
    save_file({k: v.half() if v.is_floating_point() else v for k, v in weights.items()},
              str(base / "model.safetensors"), metadata={"format": "pt"})
    model = build_from_base(base)
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_a_damaged_or_missing_file_is_named_and_an_intact_bundle_passes(tmp_path: Path) -> None:
    make_bundle = load_make_bundle()
    v2, v1 = tmp_path / "squad.json", tmp_path / "squad-train-v1.1.json"
    v2.write_text('{"data": []}', encoding="utf-8")
    v1.write_text('{"data": []}', encoding="utf-8")
    out = tmp_path / "bundle"
    make_bundle.make_bundle(out, squad_v2=v2, squad_v1=v1, base=tiny_base(tmp_path / "base"))
    assert make_bundle.damaged_files(out) == [] and make_bundle.main(["--verify", str(out)]) == 0
    with (out / "squad-v2-dev.json.gz").open("ab") as f:
        f.write(b"x")
    (out / "minilm" / "vocab.txt").unlink()
    problems = make_bundle.damaged_files(out)
    assert len(problems) == 2 and all("copy the bundle again" in p for p in problems)
    assert "sha256 missing" in " ".join(problems)
    assert make_bundle.main(["--verify", str(out)]) == 1
