"""The Chroma server behind the authenticating proxy: token checks, end to end, several processes.

Needs the server and proxy that `.ci/run` starts (`.ci/chroma_server.sh`); the store contract
tests run against it too (tests/indexing/test_stores.py). Without the QA_TEST_CHROMA_* variables
these tests skip, unless QA_REQUIRE_CHROMA_SERVER=1 (set in CI), which makes them fail instead.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from indexing.sparse import BM25Index
from indexing.stores import ChromaStore
from qa_app.cli import main
from qa_app.errors import StoreError
from tests.fakes import RegistryWrappingClient
from tests.indexing.test_stores import SIG
from tests.reliability import server_env
from tests.reliability.helpers import (
    app_factory,
    fake_settings,
    made_up_text,
    snapshot,
    snapshot_problems,
    stored_vector_problems,
)
from tests.reliability.indexer_child import OVERRIDES, bm25_path
from tests.reliability.test_concurrency import STARTUP_S, child, result_of, write_docs


def status_of(url: str, token: str | None) -> int:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_the_proxy_refuses_requests_without_the_right_token(server: server_env.ChromaServer) -> None:
    heartbeat = f"{server.url}/api/v2/heartbeat"
    assert status_of(heartbeat, server.token) == 200
    assert status_of(heartbeat, None) in (401, 403)
    assert status_of(heartbeat, "wrong-" + server.token) in (401, 403)
    assert status_of(f"{server.url}/api/v2/tenants/default_tenant/databases/default_database/collections",
                     None) in (401, 403)


def test_a_client_without_the_token_gets_a_store_error(server: server_env.ChromaServer, collection: str) -> None:
    for token in ("", "wrong"):
        with pytest.raises(StoreError, match="cannot reach the Chroma server") as error:
            ChromaStore.open_server(server.host, server.port, collection=collection, signature=SIG, token=token)
        assert "401" in str(error.value) and "chroma_token" in str(error.value)


def test_index_and_ask_end_to_end_through_the_proxy(server: server_env.ChromaServer, collection: str,
                                                   tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "rhine.txt").write_text(
        "The Rhine rises in the Swiss Alps. The river reaches the North Sea near Rotterdam.", encoding="utf-8")
    (tmp_path / "docs" / "planets.md").write_text("# Planets\n\nSaturn has bright rings of ice.\n", encoding="utf-8")
    (tmp_path / "docs" / "empty.txt").write_bytes(b"")
    # `--chroma-token=VALUE`: a token may start with "-" (URL-safe alphabet), which argparse would read as an option
    token = f"--chroma-token={server.token}"
    remote = ["--chroma-host", server.host, "--chroma-port", str(server.port), token,
              "--collection", collection, "--data-dir", str(tmp_path / "local")]
    make_app = app_factory("Rotterdam")

    assert main(["index", str(tmp_path / "docs"), *remote], make_app=make_app) == 1  # empty.txt skipped
    out = capsys.readouterr().out
    assert "2 added, 0 replaced, 0 unchanged, 1 skipped" in out
    assert main(["ask", "Where does the Rhine reach the sea?", "--json", *remote], make_app=make_app) == 0
    best = json.loads(capsys.readouterr().out)["answers"][0]
    assert best["text"] == "Rotterdam" and best["source"] == "rhine.txt"
    assert main(["docs", "list", "--json", *remote], make_app=make_app) == 0
    assert sorted(d["source"] for d in json.loads(capsys.readouterr().out)["documents"]) == ["planets.md", "rhine.txt"]
    assert not (tmp_path / "local" / "chroma").exists()  # nothing went to an embedded store

    without_token = [a for a in remote if a != token]
    assert main(["docs", "list", *without_token], make_app=make_app) == 2
    assert "401" in capsys.readouterr().err


def test_two_writer_processes_and_a_reader_process_share_the_server(
        server: server_env.ChromaServer, collection: str, tmp_path: Path) -> None:
    write_docs(tmp_path / "a", "alpha", 4)
    write_docs(tmp_path / "b", "beta", 4)
    data = tmp_path / "data"
    overrides = json.dumps({"chroma_host": server.host, "chroma_port": server.port,
                            "chroma_token": server.token, "collection": collection})
    start = time.time() + STARTUP_S
    reader = child("watch", str(data), str(STARTUP_S + 4), **{OVERRIDES: overrides})
    writers = [child("index", str(data), str(tmp_path / name), **{OVERRIDES: overrides},
                     RELIABILITY_START_AT=str(start + delay), RELIABILITY_PAUSE="0.2")
               for name, delay in (("a", 0.0), ("b", 0.3))]  # b cleans up while a writes
    results = [result_of(w) for w in writers]
    watched = result_of(reader)

    added = {o["doc_id"] for r in results for o in r["outcomes"] if o["status"] == "added"}
    assert len(added) == 8
    app = app_factory()(fake_settings(data, chroma_host=server.host, chroma_port=server.port,
                                      chroma_token=server.token, collection=collection))
    snap = snapshot(app.store, app.encoder, app.settings.chunking.contextual)
    assert snapshot_problems(snap) == []
    assert {d["id"] for d in snap["documents"]} == added  # no document lost
    rows = sum(d["chunks"] for d in snap["documents"])
    assert app.store.count() == rows  # no stray row
    # No vector lost: every row holds the vector its text encodes to. Whether the server's HNSW graph
    # reaches every row is Chroma's part, and after two processes write at once it rarely does (about
    # one run in twenty: one row that no query finds, not even with its own vector and a `where`
    # filter on its document, while `get` returns it with the right vector, a fresh collection
    # built from the same rows finds it, and an upsert of the same row makes it findable again).
    # The embedded-store tests (test_concurrency, test_crash) check reachability with `unreachable_rows`.
    assert stored_vector_problems(server.client().get_collection(collection), app) == []
    # `qa-app docs check --repair` closes the rare unreachable row; afterwards search reaches every row
    app.check_store(repair=True)
    after = app.check_store()
    assert (after.unreachable, after.mismatched, after.missing) == ((), (), ()), after
    assert BM25Index(path=bm25_path(app)).doc_ids() == sorted(added)
    assert watched["problems"] == [] and watched["rounds"] >= 2  # the reader saw whole documents only
    assert len(watched["seen"]) >= 1


class _PausingRegistry:
    """A registry collection whose upsert waits: a writer caught between its chunk rows and the
    registry row that makes them visible."""

    def __init__(self, inner: Any, reached: threading.Event, go_on: threading.Event) -> None:
        self._inner, self._reached, self._go_on = inner, reached, go_on

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def upsert(self, **kwargs: Any) -> Any:
        self._reached.set()
        assert self._go_on.wait(30)
        return self._inner.upsert(**kwargs)


def test_a_second_writer_never_cleans_up_the_rows_another_writer_is_still_adding(
        server: server_env.ChromaServer, collection: str, tmp_path: Path) -> None:
    settings = fake_settings(tmp_path / "data", chroma_host=server.host, chroma_port=server.port,
                             chroma_token=server.token, collection=collection)
    reached, go_on = threading.Event(), threading.Event()
    client = RegistryWrappingClient(server.client(), lambda registry: _PausingRegistry(registry, reached, go_on))
    slow_store = ChromaStore(client=client, collection=collection,
                             signature=app_factory()(settings).store.signature)
    first = app_factory()(settings)
    first.__dict__["store"] = slow_store  # this writer stalls before registering its document
    second = app_factory()(settings)  # another process, in effect: its own client
    (tmp_path / "one.txt").write_text(made_up_text("first writer"), encoding="utf-8")  # several chunks
    (tmp_path / "two.txt").write_text("The second writer's note about lighthouses.", encoding="utf-8")

    outcomes: list[Any] = []
    writer = threading.Thread(target=lambda: outcomes.extend(first.indexer.index_paths([tmp_path / "one.txt"])))
    writer.start()
    try:
        assert reached.wait(30)  # the first writer's chunk rows are in, its registry row is not
        assert second.indexer.index_paths([tmp_path / "two.txt"])[0].status == "added"  # cleans up first
    finally:
        go_on.set()
        writer.join(timeout=60)
    assert outcomes and outcomes[0].status == "added"
    snap = snapshot(second.store, second.encoder, settings.chunking.contextual)
    assert snapshot_problems(snap) == []  # the first document is whole, not registered without its chunks
    assert len(snap["documents"]) == 2
