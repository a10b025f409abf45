"""The weight files of a reader checkpoint: the one place that knows their layout.

Stored precisions (everything is loaded back as float32):
- `float32`, `float16`: every floating tensor in that type.
- `int8`: weight-only, per-row symmetric quantisation of the matrices (both sides >= 64; an
  int8 tensor plus one float16 scale per row under `NAME.int8_scale`); every other floating tensor
  in float16. Halves a float16 checkpoint, so a 110M-parameter reader fits the repository.

A checkpoint over `MAX_SHARD_BYTES` is split into shards with an index in the layout transformers
uses (`model.safetensors.index.json` + `model-0000K-of-0000N.safetensors`); smaller ones are one
`model.safetensors`. New files are written before the old layout's files are removed, so a save
that fails leaves the previous weights in place. `has_weights` and `weight_files` import no torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from qa_app.errors import ModelNotFoundError

if TYPE_CHECKING:
    import torch

WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
PRECISIONS = ("float32", "float16", "int8")
MAX_SHARD_BYTES = 95 * 1024 * 1024  # below the 100 MB a file may have in most git hosts
SCALE_SUFFIX = ".int8_scale"
MIN_QUANTISED_SIDE = 64  # smaller matrices (heads, position buckets) stay float16


def has_weights(root: Path) -> bool:
    return (root / WEIGHTS_FILE).is_file() or (root / INDEX_FILE).is_file()


def weight_files(root: Path) -> list[Path]:
    """Every file holding a checkpoint's weights (the index first when sharded); [] if none."""
    if (root / INDEX_FILE).is_file():
        weight_map = json.loads((root / INDEX_FILE).read_text(encoding="utf-8"))["weight_map"]
        return [root / INDEX_FILE, *(root / name for name in sorted(set(weight_map.values())))]
    return [root / WEIGHTS_FILE] if (root / WEIGHTS_FILE).is_file() else []


def quantise_rows(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(int8 values, float16 per-row scales) with matrix ~= values * scales[:, None]."""
    import torch

    full = matrix.detach().float()
    scales = (full.abs().amax(dim=1) / 127.0).clamp_min(1e-12).half()
    values = torch.round(full / scales.float()[:, None]).clamp_(-127, 127).to(torch.int8)
    return values, scales


def encode_state(state_dict: dict[str, torch.Tensor], precision: str) -> dict[str, torch.Tensor]:
    """The tensors to store for a precision (see the module docstring)."""
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    stored: dict[str, torch.Tensor] = {}
    for name, tensor in state_dict.items():
        tensor = tensor.detach().cpu()
        if not tensor.is_floating_point():
            stored[name] = tensor.contiguous()
        elif precision == "float32":
            stored[name] = tensor.float().contiguous()
        elif precision == "int8" and tensor.dim() == 2 and min(tensor.shape) >= MIN_QUANTISED_SIDE:
            stored[name], stored[name + SCALE_SUFFIX] = quantise_rows(tensor)
        else:
            stored[name] = tensor.to(torch.float16).contiguous()
    return stored


def decode_state(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """float32 tensors back from what encode_state stored (any precision)."""
    state: dict[str, torch.Tensor] = {}
    for name, tensor in stored.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        scale = stored.get(name + SCALE_SUFFIX)
        if scale is not None:
            state[name] = tensor.float() * scale.float()[:, None]
        else:
            state[name] = tensor.float() if tensor.is_floating_point() else tensor
    return state


def save_weights(state_dict: dict[str, torch.Tensor], out_dir: Path, *, precision: str,
                 max_shard_bytes: int = MAX_SHARD_BYTES) -> list[Path]:
    """Write the weights in one file or in shards; returns the files written."""
    from safetensors.torch import save_file

    stored = encode_state(state_dict, precision)
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in stored.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensor
        size += nbytes
    metadata = {"format": "pt", "precision": precision}
    out_dir.mkdir(parents=True, exist_ok=True)
    if len(shards) == 1:
        names = [WEIGHTS_FILE]
    else:
        names = [f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors" for k in range(len(shards))]
    written = []
    for name, shard in zip(names, shards):
        tmp = out_dir / f".{name}.tmp"
        save_file(shard, str(tmp), metadata=metadata)
        os.replace(tmp, out_dir / name)
        written.append(out_dir / name)
    if len(shards) > 1:
        index = {"metadata": {"total_size": sum(f.stat().st_size for f in written), "precision": precision},
                 "weight_map": {key: name for name, shard in zip(names, shards) for key in shard}}
        (out_dir / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
        written.insert(0, out_dir / INDEX_FILE)
    _remove_stale(out_dir, keep=set(written))
    return written


def _remove_stale(out_dir: Path, keep: set[Path]) -> None:
    """Weight files of an earlier save in another layout (or with more shards)."""
    for path in [out_dir / WEIGHTS_FILE, out_dir / INDEX_FILE, *out_dir.glob("model-*-of-*.safetensors")]:
        if path not in keep and path.is_file():
            path.unlink()


def load_weights(root: Path) -> dict[str, torch.Tensor]:
    """float32 weights of a checkpoint in either layout; ModelNotFoundError names what is missing."""
    from safetensors.torch import load_file

    files = weight_files(root)
    if not files:
        raise ModelNotFoundError(f"no weights in {root}: expected {WEIGHTS_FILE} or {INDEX_FILE}")
    stored: dict[str, torch.Tensor] = {}
    for path in files:
        if path.name == INDEX_FILE:
            continue
        if not path.is_file():
            raise ModelNotFoundError(f"{root} is missing the weight shard {path.name} named in {INDEX_FILE}; "
                                     "copy the whole checkpoint folder again")
        stored.update(load_file(str(path)))
    return decode_state(stored)
