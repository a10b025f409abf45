"""The reliability checks themselves: `unreachable_rows` must name a lost vector, and must not
mistake HNSW's short answers after deletes for one; `stored_vector_problems` must name a row whose
vector is missing or wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.reliability.helpers import fake_app, stored_vector_problems, unreachable_rows
from tests.reliability.test_concurrency import write_docs


class _QueryFilter:
    """A store whose dense queries drop some hits, as a damaged or a deleted-from HNSW index would."""

    def __init__(self, inner: Any, drop: Any) -> None:
        self._inner, self._drop = inner, drop

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def query(self, vector: np.ndarray, k: int) -> list[Any]:
        return self._drop(self._inner.query(vector, k))


def test_unreachable_rows_names_a_row_whose_vector_no_query_finds(tmp_path: Path) -> None:
    write_docs(tmp_path / "docs", "delta", 2)
    app = fake_app(tmp_path / "data")
    app.indexer.index_paths(sorted((tmp_path / "docs").iterdir()))
    contextual = app.settings.chunking.contextual
    assert app.store.count() > 3
    assert unreachable_rows(app.store, app.encoder, contextual) == []

    lost = next(iter(app.store.all_chunks())).id
    losing = _QueryFilter(app.store, lambda hits: [h for h in hits if h.chunk.id != lost])
    assert unreachable_rows(losing, app.encoder, contextual) == [lost]

    # Every query answers 3 rows short (HNSW after deletes): each row is still found with its own vector.
    short = _QueryFilter(app.store, lambda hits: hits[:-3])
    assert len(short.query(np.ones(app.store.signature.dimension, dtype=np.float32), app.store.count())) \
        == app.store.count() - 3
    assert unreachable_rows(short, app.encoder, contextual) == []


def test_stored_vector_problems_names_a_row_whose_stored_vector_is_not_its_texts(tmp_path: Path) -> None:
    import chromadb
    from chromadb.config import Settings

    write_docs(tmp_path / "docs", "epsilon", 1)
    app = fake_app(tmp_path / "data")
    app.indexer.index_paths(sorted((tmp_path / "docs").iterdir()))
    client = chromadb.PersistentClient(path=str(app.data_dir / "chroma"), settings=Settings(anonymized_telemetry=False))
    collection = client.get_collection(app.store.collection)  # the store's own client: one per path
    assert stored_vector_problems(collection, app) == []

    doc = app.store.documents()[0]
    changed, removed = f"{doc.id}:1", f"{doc.id}:2"
    collection.update(ids=[changed], embeddings=[np.ones(app.store.signature.dimension, dtype=np.float32)])
    collection.delete(ids=[removed])
    assert stored_vector_problems(collection, app) == [
        f"{removed}: no row", f"{changed}: stored vector differs from the encoded text"]
