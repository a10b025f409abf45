"""What the readers of data files (`qa_app.data.squad`, `qa_app.data.questions`) share, so that their
DatasetErrors word the same problem the same way: reading a file's bytes, and naming the JSON type
of a parsed value ("a string", "an object", "null"). No parsing or validation of its own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from qa_app.errors import DatasetError


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes; DatasetError naming the file when it is missing or cannot be read."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the file ({exc.strerror or exc})") from None


def json_type_name(value: Any) -> str:
    """What `value` (as `json.loads` returns it) is, with its article: "a number", "a list", "null"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
