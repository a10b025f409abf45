"""Weight files of reader checkpoints: precisions, int8 error bounds, shards and their index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from qa_app.errors import ModelNotFoundError
from qa_app.readers.weights import (
    INDEX_FILE,
    SCALE_SUFFIX,
    WEIGHTS_FILE,
    decode_state,
    encode_state,
    has_weights,
    load_weights,
    save_weights,
    weight_files,
)


def state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {
        "encoder.big": torch.randn(300, 128) * torch.linspace(0.01, 3.0, 300)[:, None],  # rows of very different sizes
        "encoder.bias": torch.randn(128),
        "head.weight": torch.randn(2, 128),  # too small a side to quantise
        "positions": torch.arange(10),  # not floating: stored as it is
    }


def test_int8_quantises_big_matrices_per_row_within_half_a_step() -> None:
    original = state()
    stored = encode_state(original, "int8")
    assert stored["encoder.big"].dtype == torch.int8
    assert stored["encoder.big" + SCALE_SUFFIX].shape == (300,)
    assert stored["head.weight"].dtype == stored["encoder.bias"].dtype == torch.float16
    assert torch.equal(stored["positions"], original["positions"])
    restored = decode_state(stored)
    assert set(restored) == set(original)
    assert all(t.dtype == torch.float32 for n, t in restored.items() if n != "positions")
    step = original["encoder.big"].abs().amax(dim=1) / 127
    error = (restored["encoder.big"] - original["encoder.big"]).abs().amax(dim=1)
    assert (error <= step * 0.5 * 1.01 + 1e-6).all()  # the 1% is the float16 rounding of the scales
    assert (error > 0).any()  # it really was quantised


@pytest.mark.parametrize("precision, atol", [("float32", 0.0), ("float16", 2e-3)])
def test_float_precisions_round_trip(precision: str, atol: float) -> None:
    original = state()
    restored = decode_state(encode_state(original, precision))
    for name, tensor in original.items():
        assert torch.allclose(restored[name].to(tensor.dtype), tensor, atol=atol, rtol=1e-3)


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="int8"):
        encode_state(state(), "int4")


def test_one_file_below_the_shard_size(tmp_path: Path) -> None:
    files = save_weights(state(), tmp_path, precision="int8")
    assert files == [tmp_path / WEIGHTS_FILE] == weight_files(tmp_path)
    assert has_weights(tmp_path)
    assert torch.allclose(load_weights(tmp_path)["encoder.bias"], state()["encoder.bias"], atol=2e-3)


def test_shards_with_an_index_and_stale_files_removed(tmp_path: Path) -> None:
    save_weights(state(), tmp_path, precision="float32")  # one file first
    files = save_weights(state(), tmp_path, precision="float32", max_shard_bytes=60_000)
    assert files[0] == tmp_path / INDEX_FILE and len(files) >= 3
    assert not (tmp_path / WEIGHTS_FILE).exists()  # the old single file went
    index = json.loads((tmp_path / INDEX_FILE).read_text(encoding="utf-8"))
    assert set(index["weight_map"]) == set(state())
    assert weight_files(tmp_path) == files
    restored = load_weights(tmp_path)
    assert all(torch.equal(restored[n], t) for n, t in state().items())
    save_weights(state(), tmp_path, precision="int8")  # back to one file: the shards and index go
    assert sorted(p.name for p in tmp_path.iterdir()) == [WEIGHTS_FILE]


def test_a_missing_shard_is_named(tmp_path: Path) -> None:
    files = save_weights(state(), tmp_path, precision="float32", max_shard_bytes=60_000)
    files[-1].unlink()
    with pytest.raises(ModelNotFoundError, match=files[-1].name):
        load_weights(tmp_path)


def test_no_weights(tmp_path: Path) -> None:
    assert not has_weights(tmp_path) and weight_files(tmp_path) == []
    with pytest.raises(ModelNotFoundError, match=WEIGHTS_FILE):
        load_weights(tmp_path)
