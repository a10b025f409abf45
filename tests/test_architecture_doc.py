"""docs/ARCHITECTURE.md names real places: every repository path in backticks exists.

A path is an inline code span whose first part is one of the repository's top-level folders or
files (`qa_app/readers/registry.py`, `indexing/`, `models/transformer`), or a dotted module name of
the project's packages (`qa_app.wiring`, `qa_app.types.Chunk`: the module part must exist).
Templates (`models/<name>`) and other code (`qa-app train`, `reader.json`) are not paths.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("docs/ARCHITECTURE.md", "docs/readers.md")
TOP_LEVEL = {"qa_app", "indexing", "ui", "corpora", "models", "tests", "bench", "docs", "gpu",
             "README.md", "Makefile", "pyproject.toml", "constraints.txt"}
PACKAGES = ("qa_app", "indexing", "ui")
CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
PATH = re.compile(r"^[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*/?$")
DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$")


def without_fenced_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)


def code_spans(text: str) -> list[str]:
    return [m.group(1).strip() for m in CODE_SPAN.finditer(without_fenced_blocks(text))]


def repository_path(span: str) -> str | None:
    """The path `span` names in the repository, or None when it is not a repository path."""
    if PATH.match(span) and span.split("/")[0] in TOP_LEVEL and ("/" in span or span in TOP_LEVEL):
        return span
    if DOTTED.match(span) and span.split(".")[0] in PACKAGES:
        return span
    return None


def exists(path: str) -> bool:
    if "/" in path or path in TOP_LEVEL:
        return (ROOT / path.rstrip("/")).exists()
    parts = path.split(".")  # a module, maybe followed by attribute names: the module part must exist
    for n in range(len(parts), 1, -1):
        base = ROOT.joinpath(*parts[:n])
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            return True
    return False


def test_the_scanner_finds_paths_and_leaves_other_code_alone() -> None:
    text = ("See `qa_app/wiring.py`, `indexing/` and `qa_app.types.Chunk`; run `qa-app train`, read "
            "`reader.json` in `models/<name>`, `.qa-runs/x`.\n```\n`ui/nowhere.py`\n```\n")
    found = [p for p in map(repository_path, code_spans(text)) if p is not None]
    assert found == ["qa_app/wiring.py", "indexing/", "qa_app.types.Chunk"]
    assert all(exists(p) for p in found)
    assert not exists("qa_app/nowhere.py") and not exists("qa_app.nowhere")


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_named_in_the_doc_exists(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    paths = sorted({p for p in map(repository_path, code_spans(text)) if p is not None})
    assert paths, f"{doc} names no repository path"
    missing = [p for p in paths if not exists(p)]
    assert missing == [], f"{doc} names paths that do not exist: {missing}"


def test_the_architecture_doc_names_a_module_for_every_top_level_folder() -> None:
    text = (ROOT / "docs/ARCHITECTURE.md").read_text(encoding="utf-8")
    for folder in ("qa_app/", "indexing/", "ui/", "corpora/", "models/", "tests/", "bench/"):
        assert f"`{folder}" in text, folder
