"""The web app behind an authenticating nginx, as the README describes: `qa-app web` on loopback,
nginx in front asking for a password (HTTP basic auth, which browsers prompt for) and passing the
WebSocket Streamlit talks over. Needs nginx (CI installs it; QA_REQUIRE_NGINX=1 turns its absence
into a failure there)."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
USER, PASSWORD = "reader", "s3cret-pass"

if NGINX is None and os.environ.get("QA_REQUIRE_NGINX") == "1":
    raise RuntimeError("QA_REQUIRE_NGINX=1 but nginx is not installed (apt-get install nginx)")
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (CI installs it)")

# the README's location block, with the ports and files of this test
LOCATION = """
        auth_basic "qa-app";
        auth_basic_user_file {users};
        proxy_pass http://127.0.0.1:{app_port};
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_set_header Host $host;
        proxy_read_timeout 86400;
"""


def _wait(url: str, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # the server answers (even 401): it is up
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"{url} did not answer")
            time.sleep(0.3)


@pytest.fixture
def proxied_app(tmp_path: Path) -> Iterator[str]:
    app_port, proxy_port = free_port(), free_port()
    work = tmp_path / "nginx"
    (work / "tmp").mkdir(parents=True)
    users = work / "users"
    users.write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    location = LOCATION.format(users=users, app_port=app_port)
    # started as root, nginx's workers would run as nobody and could not read pytest's private tmp folder
    user = "user root;" if os.geteuid() == 0 else ""
    (work / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    server {{
        listen 127.0.0.1:{proxy_port};
        client_max_body_size 256m;
        location / {{{location}        }}
    }}
}}
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    web = subprocess.Popen([str(Path(sys.executable).parent / "qa-app"), "web", "--port", str(app_port), "--address",
                            "127.0.0.1", "--data-dir", str(tmp_path / "data"), "--reader", "baseline"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nginx = subprocess.run([NGINX, "-c", str(work / "nginx.conf"), "-p", str(work)], capture_output=True, text=True)  # type: ignore[list-item]
    try:
        assert nginx.returncode == 0, nginx.stderr
        _wait(f"http://127.0.0.1:{app_port}/_stcore/health")
        _wait(f"http://127.0.0.1:{proxy_port}/")
        yield f"127.0.0.1:{proxy_port}"
    finally:
        subprocess.run([NGINX, "-c", str(work / "nginx.conf"), "-p", str(work), "-s", "stop"],  # type: ignore[list-item]
                       capture_output=True)
        web.terminate()
        web.wait(timeout=20)


def _get(url: str, auth: tuple[str, str] | None) -> int:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _websocket_status(host_port: str, auth: tuple[str, str]) -> str:
    """The status line nginx returns to a WebSocket handshake on Streamlit's stream endpoint."""
    host, port = host_port.split(":")
    key = base64.b64encode(os.urandom(16)).decode()
    credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Basic {credentials}\r\n\r\n")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request.encode())
        return s.recv(1024).decode("latin-1").split("\r\n", 1)[0]


def test_the_web_app_behind_nginx_needs_the_password_and_keeps_its_websocket(proxied_app: str) -> None:
    base = f"http://{proxied_app}"
    assert _get(f"{base}/", None) == 401
    assert _get(f"{base}/", (USER, "wrong")) == 401
    assert _get(f"{base}/", (USER, PASSWORD)) == 200
    assert _get(f"{base}/_stcore/health", (USER, PASSWORD)) == 200
    assert " 101 " in _websocket_status(proxied_app, (USER, PASSWORD)) + " "
