"""Where the test Chroma server is: the proxy address and token that `.ci/run` exports.

    QA_TEST_CHROMA_HOST, QA_TEST_CHROMA_PORT, QA_TEST_CHROMA_TOKEN   the nginx proxy and its token
    QA_REQUIRE_CHROMA_SERVER=1   (set by CI) a missing server fails the tests instead of skipping them

Start one by hand with `eval "$(.ci/chroma_server.sh start /tmp/qa-chroma)"`. These names are not
settings of the application (`load_settings` ignores them), so they never switch the other tests
to the server. Imports nothing heavy.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

VARIABLES = ("QA_TEST_CHROMA_HOST", "QA_TEST_CHROMA_PORT", "QA_TEST_CHROMA_TOKEN")


@dataclass(frozen=True)
class ChromaServer:
    host: str
    port: int
    token: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client(self) -> Any:
        """A raw chromadb client through the proxy (for clean-up)."""
        import chromadb
        from chromadb.config import Settings

        return chromadb.HttpClient(host=self.host, port=self.port, headers={"Authorization": f"Bearer {self.token}"},
                                   settings=Settings(anonymized_telemetry=False))

    def drop(self, collection: str) -> None:
        """Delete a test collection and its registry (missing ones are fine)."""
        client = self.client()
        for name in (collection, collection + "__docs"):
            try:
                client.delete_collection(name)
            except Exception:  # noqa: BLE001, S110 - never created, or already gone
                pass


def required() -> bool:
    return os.environ.get("QA_REQUIRE_CHROMA_SERVER", "") == "1"


def configured() -> ChromaServer | None:
    """The server named by the environment, or None when the variables are not all set."""
    values = [os.environ.get(v, "") for v in VARIABLES]
    if not all(values):
        return None
    return ChromaServer(host=values[0], port=int(values[1]), token=values[2])


def server_or_skip() -> ChromaServer:
    """The configured server; fails when CI requires one and it is missing, else skips."""
    server = configured()
    if server is None:
        missing = ", ".join(v for v in VARIABLES if not os.environ.get(v))
        if required():
            pytest.fail(f"QA_REQUIRE_CHROMA_SERVER=1 but {missing} not set: .ci/run did not start the server")
        pytest.skip(f"no Chroma server ({missing} not set); `eval \"$(.ci/chroma_server.sh start DIR)\"` starts one")
    return server


def store_params() -> list[str]:
    """Extra parameters for the store contract tests: "server" when one is configured or required."""
    return ["server"] if configured() is not None or required() else []


def unique_collection() -> str:
    return f"test-{uuid.uuid4().hex[:16]}"
