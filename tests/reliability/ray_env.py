"""Where the test Ray cluster is: the address `.ci/run` exports (`.ci/ray_cluster.sh`).

    QA_TEST_RAY_ADDRESS   host:port of the head node of a local Ray cluster
    QA_REQUIRE_RAY=1      (set by CI) a missing cluster fails the distributed tests instead of skipping them

Start one by hand with `eval "$(.ci/ray_cluster.sh start /tmp/qa-ray)"` (`.ci/ray_cluster.sh stop x`
stops it). Not a setting of the application: `load_settings` ignores it. Imports nothing heavy.
"""

from __future__ import annotations

import os

import pytest


def address_or_skip() -> str:
    address = os.environ.get("QA_TEST_RAY_ADDRESS", "")
    if not address:
        if os.environ.get("QA_REQUIRE_RAY", "") == "1":
            pytest.fail("QA_REQUIRE_RAY=1 but QA_TEST_RAY_ADDRESS is not set: .ci/run did not start the Ray cluster")
        pytest.skip("no Ray cluster (QA_TEST_RAY_ADDRESS not set); `eval \"$(.ci/ray_cluster.sh start DIR)\"` starts one")
    return address
