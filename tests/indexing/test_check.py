"""`docs check [--repair]`: rows whose vector is wrong or that search cannot reach are found, and
written again, on a real embedded Chroma store (fake encoder); a lost HNSW node is simulated by a
store that hides one row from queries until that row is rewritten."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexing.check import check_store
from qa_app.cli import main
from qa_app.config import load_settings
from tests.fake_app import ENCODER, MANUAL, fake_app

PLANETS = b"# Planets\n\nMars is the fourth planet.\n\n## Giants\n\nJupiter is the largest planet. Saturn has rings."


@pytest.fixture
def app(tmp_path: Path) -> Any:
    app = fake_app(load_settings(overrides={"data_dir": str(tmp_path / "data")}, environ={}))
    app.indexer.index_paths([MANUAL])
    app.indexer.index_bytes(PLANETS, "planets.md")
    yield app
    app.close()


def contextual(app: Any) -> str:
    return str(app.settings.chunking.contextual)


class HidingStore:
    """The real store, except that queries never return `hidden` until it is rewritten (a row lost from
    the HNSW graph while `get` still returns it, as seen on a Chroma server after concurrent writers)."""

    def __init__(self, inner: Any, hidden: str) -> None:
        self.inner, self.hidden = inner, hidden

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def query(self, vector: np.ndarray, k: int) -> list[Any]:
        return [h for h in self.inner.query(vector, k) if h.chunk.id != self.hidden]

    def rewrite_chunks(self, chunks: Any, vectors: np.ndarray) -> None:
        self.inner.rewrite_chunks(chunks, vectors)
        if any(c.id == self.hidden for c in chunks):
            self.hidden = ""


def test_a_healthy_store_has_no_problems(app: Any) -> None:
    report = check_store(app.store, ENCODER, contextual(app))
    assert report.ok and report.documents == 2 and report.rows == app.store.count() > 2
    assert (report.unreachable, report.mismatched, report.missing, report.repaired) == ((), (), (), ())


def test_a_wrong_vector_is_found_and_rewritten_from_its_text(app: Any) -> None:
    doc = next(d for d in app.store.documents() if d.source == "planets.md")
    victim = f"{doc.id}:1"
    before = app.store.get_chunks(doc.id, [1])
    rng = np.random.default_rng(0)
    app.store._chunks.upsert(ids=[victim], embeddings=[rng.normal(size=ENCODER.dimension).tolist()])  # damage it
    found = check_store(app.store, ENCODER, contextual(app))
    assert found.mismatched == (victim,) and not found.ok
    fixed = check_store(app.store, ENCODER, contextual(app), repair=True)
    assert fixed.repaired == (victim,) and fixed.ok
    again = check_store(app.store, ENCODER, contextual(app))
    assert again.ok and again.mismatched == ()
    assert app.store.get_chunks(doc.id, [1]) == before  # the row's text and metadata are written back unchanged


def test_a_row_search_cannot_reach_is_found_and_made_reachable(app: Any) -> None:
    doc = next(d for d in app.store.documents() if d.source == MANUAL.name)
    victim = f"{doc.id}:2"
    hiding = HidingStore(app.store, victim)
    found = check_store(hiding, ENCODER, contextual(app))
    assert found.unreachable == (victim,) and found.mismatched == () and not found.ok
    fixed = check_store(hiding, ENCODER, contextual(app), repair=True)
    assert fixed.repaired == (victim,) and fixed.ok
    assert check_store(hiding, ENCODER, contextual(app)).unreachable == ()


def test_late_chunking_collections_are_checked_for_reachability_only(app: Any) -> None:
    report = check_store(app.store, ENCODER, "late")
    assert not report.reencoded and report.ok and "late chunking" in report.notes[0]


def test_docs_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    first = fake_app(load_settings(overrides={"data_dir": str(data)}, environ={}))
    first.indexer.index_bytes(PLANETS, "planets.md")
    doc_id = first.store.documents()[0].id
    first.store._chunks.upsert(ids=[f"{doc_id}:0"], embeddings=[[1.0] + [0.0] * (ENCODER.dimension - 1)])
    first.close()

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["docs", "check", *argv, "--data-dir", str(data)], make_app=fake_app)
        return code, capsys.readouterr().out

    code, out = run()
    assert code == 1 and "1 vector differs from its text" in out and "--repair" in out
    code, out = run("--repair", "--json")
    assert code == 0 and json.loads(out)["repaired"] == [f"{doc_id}:0"]
    code, out = run()
    assert code == 0 and "no problems found" in out
