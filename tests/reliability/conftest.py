"""Fixtures of the tests against a real Chroma server (`server_env`): the server, and a collection of
its own for each test, dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability import server_env


@pytest.fixture
def server() -> server_env.ChromaServer:
    return server_env.server_or_skip()


@pytest.fixture
def collection(server: server_env.ChromaServer) -> Iterator[str]:
    name = server_env.unique_collection()
    yield name
    server.drop(name)
