"""Helpers for tests that start real servers (Streamlit, uvicorn, nginx) on loopback."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def wait_for_streamlit(base: str, process: subprocess.Popen[bytes], log_path: Path, timeout_s: float) -> None:
    """Until the Streamlit server at `base` says ok on its health endpoint; fails the test with its log
    when the process exits or the time is up."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}:\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"streamlit did not answer on {base} within {timeout_s}s:\n{tail(log_path)}")
        time.sleep(0.25)
