"""The dependency rules of docs/ARCHITECTURE.md, checked on the source (ast) and in fresh interpreters.

- `indexing` imports from `qa_app` only types, config, errors and protocols (types-only contracts).
- Nothing outside `ui/` imports streamlit.
- `import qa_app` (and the light core modules) and `qa-app --help` import no torch.
- Only `qa_app/distributed.py` imports ray (of the application's code), and a local index or eval
  run never does (ray is an optional extra).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("qa_app", "indexing", "ui", "bench", "corpora", "models")
# the bare package is allowed so that `from qa_app import errors` passes (its __init__ is one line)
INDEXING_MAY_IMPORT = {"qa_app", "qa_app.types", "qa_app.config", "qa_app.errors", "qa_app.protocols"}
HEAVY = ("torch", "transformers", "chromadb", "streamlit", "sentence_transformers", "ray")


def python_files(*folders: str) -> list[Path]:
    files: list[Path] = []
    for folder in folders:
        base = ROOT / folder
        if base.is_dir():
            files.extend(p for p in sorted(base.rglob("*.py")) if "__pycache__" not in p.parts)
    return files


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a file; `from a import b` gives `a.b` too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def test_the_scanner_sees_every_kind_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import a.b\nfrom c import d\nfrom .rel import x\n\ndef f():\n    import streamlit as st\n")
    assert [m for _, m in imported_modules(sample)] == ["a.b", "c", "c.d", "streamlit"]


def qa_app_module(name: str) -> str | None:
    """The qa_app module an import name refers to (`qa_app.types.Chunk` -> `qa_app.types`)."""
    parts = name.split(".")
    if parts[0] != "qa_app":
        return None
    if len(parts) == 1:
        return "qa_app"
    candidate = ROOT.joinpath(*parts)
    # `from qa_app.types import Chunk` also yields `qa_app.types.Chunk`: keep the module part
    while len(parts) > 1 and not (candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file()):
        parts = parts[:-1]
        candidate = ROOT.joinpath(*parts)
    return ".".join(parts)


def test_qa_app_module_resolves_imported_names_to_modules() -> None:
    assert qa_app_module("qa_app.types.Chunk") == "qa_app.types"
    assert qa_app_module("qa_app.retrieval.windows.WindowBuilder") == "qa_app.retrieval.windows"
    assert qa_app_module("qa_app.retrieval") == "qa_app.retrieval"
    assert qa_app_module("numpy.linalg") is None


def test_indexing_imports_only_the_contracts_of_qa_app() -> None:
    files = python_files("indexing")
    assert files, "the indexing package is where it should be"
    offenders = []
    for path in files:
        for line, name in imported_modules(path):
            module = qa_app_module(name)
            if module is not None and module not in INDEXING_MAY_IMPORT:
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert offenders == []


def test_nothing_outside_ui_imports_streamlit() -> None:
    files = python_files(*(p for p in PACKAGES if p != "ui"))
    assert any(p.parts[-2] == "qa_app" for p in files)
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in files
        for line, name in imported_modules(path)
        if name.split(".")[0] == "streamlit"
    ]
    assert offenders == []


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)


LIGHT_MODULES = (
    "qa_app", "qa_app.cli", "qa_app.config", "qa_app.types", "qa_app.errors", "qa_app.protocols",
    "qa_app.commands", "qa_app.wiring", "qa_app.pipeline", "qa_app.conversation", "qa_app.serialize",
    "qa_app.retrieval.windows", "qa_app.retrieval.growth", "qa_app.retrieval.dense",
    "qa_app.readers.decoding", "qa_app.readers.features", "qa_app.readers.registry",
)


def test_importing_the_core_loads_no_heavy_library() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {LIGHT_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps([h for h in {HEAVY!r} if h in sys.modules]))\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_import_qa_app_cli_config_types_leaves_torch_out() -> None:
    done = run_python("import sys, qa_app, qa_app.cli, qa_app.config, qa_app.types; print('torch' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("argv", [["--help"], ["ask", "--help"], ["train", "--help"], ["--version"]])
def test_cli_help_exits_0_and_imports_no_torch(argv: list[str]) -> None:
    # -X importtime lists every module the interpreter imports (on stderr)
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "qa_app.cli", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "qa-app" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert "qa_app" in imported, "importtime output was parsed"
    assert "torch" not in imported and "transformers" not in imported


def test_only_the_distributed_module_imports_ray() -> None:
    offenders = [f"{path.relative_to(ROOT)}:{line} imports {name}"
                 for path in python_files("qa_app", "indexing", "ui")  # bench/ray_indexing.py starts its own
                 if path != ROOT / "qa_app" / "distributed.py"
                 for line, name in imported_modules(path) if name.split(".")[0] == "ray"]
    assert offenders == []


def test_a_local_index_and_eval_run_import_no_ray(tmp_path: Path) -> None:
    doc = tmp_path / "note.md"
    doc.write_text("# Tides\n\nThe logger samples the water level every ten minutes.\n", encoding="utf-8")
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "1", "question": "How often does the logger sample?",
                                     "answers": ["every ten minutes"]}) + "\n", encoding="utf-8")
    data = str(tmp_path / "data")
    code = ("import sys\nfrom qa_app.cli import main\n"
            f"assert main(['index', {str(doc)!r}, '--data-dir', {data!r}]) == 0\n"
            f"assert main(['eval', {str(questions)!r}, '--data-dir', {data!r}, '--reader', 'baseline']) == 0\n"
            "print('ray' in sys.modules)\n")
    done = run_python(code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"


CYCLE_PACKAGES = ("qa_app", "indexing", "ui")


def project_module(name: str, root: Path = ROOT) -> str | None:
    """The project module (of CYCLE_PACKAGES) an import name refers to, or None."""
    parts = name.split(".")
    if parts[0] not in CYCLE_PACKAGES:
        return None
    while parts:
        candidate = root.joinpath(*parts)
        if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
            return ".".join(parts)
        parts = parts[:-1]
    return None


def runtime_imports(path: Path) -> list[str]:
    """Every module a file imports at run time, function-local imports included (they hide cycles
    from the interpreter but not from a reader), `if TYPE_CHECKING:` blocks excluded."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    names: list[str] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for package in CYCLE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            targets = {project_module(n, root) for n in runtime_imports(path)}
            graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_cycle_check_finds_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    package = tmp_path / "qa_app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from qa_app.b import thing\n")
    (package / "b.py").write_text("def thing():\n    from qa_app import a\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from qa_app.a import x\n")
    assert import_cycles(import_graph(tmp_path)) == [["qa_app.a", "qa_app.b"]]


def test_no_import_cycles_among_the_packages() -> None:
    graph = import_graph()
    assert "qa_app.cli" in graph and "indexing.build" in graph
    assert import_cycles(graph) == []
