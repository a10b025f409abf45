"""`qa-app web`: the Streamlit command it builds, the app answering when started from elsewhere, and
stopping with the command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

from qa_app.config import PROJECT_ROOT, Settings
from qa_app.web import APP_SCRIPT, streamlit_options, web_command, web_environment
from tests.servers import free_port, wait_for_streamlit


def test_the_command_carries_the_project_streamlit_options_and_the_upload_limit() -> None:
    settings = Settings().replace(max_file_mb=50)
    command = web_command("/py", settings, port=9000, address="127.0.0.1")
    assert command[:5] == ["/py", "-m", "streamlit", "run", str(APP_SCRIPT)] and APP_SCRIPT.is_file()
    flags = dict(zip(command[5::2], command[6::2]))
    assert flags["--server.port"] == "9000" and flags["--server.address"] == "127.0.0.1"
    assert flags["--server.maxUploadSize"] == "50" and flags["--browser.gatherUsageStats"] == "false"
    # every option of .streamlit/config.toml (what `streamlit run` in the project folder reads) is passed
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    options = streamlit_options(Settings(), port=1, address="x")
    for section, values in config.items():
        for key, value in values.items():
            assert options[f"{section}.{key}"] == value


def test_settings_given_to_the_command_reach_the_app_as_qa_variables() -> None:
    env = web_environment({"PATH": "/bin", "QA_TOP_K": "3"}, {"data_dir": "/d", "collection": "manuals", "reader": None})
    assert env == {"PATH": "/bin", "QA_TOP_K": "3", "QA_DATA_DIR": "/d", "QA_COLLECTION": "manuals"}


def test_qa_app_web_started_from_another_directory_serves_the_app(tmp_path: Path) -> None:
    port = free_port()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    qa_app = Path(sys.executable).parent / "qa-app"
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([str(qa_app), "web", "--port", str(port), "--address", "127.0.0.1",
                                    "--data-dir", str(tmp_path / "data"), "--reader", "baseline"],
                                   cwd=elsewhere, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_streamlit(f"http://127.0.0.1:{port}", process, log, 60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200
        assert f"http://127.0.0.1:{port}" in log.read_text(errors="replace")
    finally:
        process.terminate()
        process.wait(timeout=20)
    # stopping `qa-app web` stops the server: none is left behind holding the port
    assert not port_in_use(port), "a Streamlit server outlived `qa-app web`"


def port_in_use(port: int, wait_s: float = 10.0) -> bool:
    """Whether something still accepts connections on `port` after up to `wait_s` seconds."""
    deadline = time.monotonic() + wait_s
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.2)
