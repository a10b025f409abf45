#!/usr/bin/env bash
# Start or stop a Chroma server behind an nginx proxy that checks a bearer token, both on loopback.
#
#   .ci/chroma_server.sh start WORKDIR   start both; print `export QA_TEST_CHROMA_*=...` lines to eval
#   .ci/chroma_server.sh stop WORKDIR    stop both (safe to call twice, or after a failed start)
#
# Chroma 1.x has no authentication of its own: the server listens on 127.0.0.1 only and nginx, in
# front of it, refuses every request without `Authorization: Bearer <token>` (401). This is the
# deployment the README's "Scaling out" section describes, shrunk to one machine for the tests.
# Needs `chroma` (the chromadb package; .venv/bin first) and `nginx` (Debian: apt-get install nginx).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CHROMA="${CHROMA:-$ROOT/.venv/bin/chroma}"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() {  # wait_http URL [HEADER]: until the URL answers 200, at most 60 s
    local url="$1" header="${2:-}"
    for _ in $(seq 1 120); do
        if "$PYTHON" - "$url" "$header" <<'PY' 2>/dev/null; then return 0; fi
import sys, urllib.request
request = urllib.request.Request(sys.argv[1])
if sys.argv[2]:
    request.add_header("Authorization", sys.argv[2])
urllib.request.urlopen(request, timeout=2).read()
PY
        sleep 0.5
    done
    echo "chroma_server.sh: $url did not answer within 60 s" >&2
    return 1
}

start() {
    local work="$1"
    mkdir -p "$work/chroma-data" "$work/nginx/tmp"
    [ -x "$CHROMA" ] || { echo "chroma_server.sh: $CHROMA not found; run make setup first" >&2; exit 1; }
    [ -x "$NGINX" ] || { echo "chroma_server.sh: nginx not found; apt-get install nginx" >&2; exit 1; }
    local chroma_port proxy_port token
    chroma_port="$(free_port)"
    proxy_port="$(free_port)"
    token="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))')"

    "$CHROMA" run --path "$work/chroma-data" --host 127.0.0.1 --port "$chroma_port" \
        >"$work/chroma.log" 2>&1 &
    echo $! >"$work/chroma.pid"

    # nginx workers run as an unprivileged user when started as root: let them reach and use the
    # temp dirs (request bodies over the buffer size go there; a mktemp -d folder is 0700).
    chmod 755 "$work" "$work/nginx"
    chmod 1777 "$work/nginx/tmp"
    cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 256; }
http {
    access_log $work/nginx/access.log;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    map \$http_authorization \$qa_token_ok {
        default 0;
        "Bearer $token" 1;
    }
    default_type text/plain;
    server {
        listen 127.0.0.1:$proxy_port;
        client_max_body_size 256m;  # one upsert of 5,000 chunks with their vectors
        location / {
            if (\$qa_token_ok = 0) {
                add_header WWW-Authenticate "Bearer" always;
                return 401 "missing or wrong bearer token (HTTP 401 from the proxy)";
            }
            proxy_pass http://127.0.0.1:$chroma_port;
            proxy_http_version 1.1;
            proxy_set_header Host \$host;
            proxy_set_header Authorization "";  # the server needs no token
            proxy_read_timeout 300s;
        }
    }
}
EOF
    "$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" -t -q
    "$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" >&2

    wait_http "http://127.0.0.1:$chroma_port/api/v2/heartbeat" || { cat "$work/chroma.log" >&2; exit 1; }
    wait_http "http://127.0.0.1:$proxy_port/api/v2/heartbeat" "Bearer $token" \
        || { cat "$work/nginx/error.log" >&2; exit 1; }
    echo "export QA_TEST_CHROMA_HOST=127.0.0.1"
    echo "export QA_TEST_CHROMA_PORT=$proxy_port"
    echo "export QA_TEST_CHROMA_TOKEN=$token"
    echo "export QA_TEST_CHROMA_DIRECT_PORT=$chroma_port"
}

stop() {
    local work="$1"
    if [ -f "$work/nginx/nginx.pid" ]; then
        "$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" -s quit 2>/dev/null \
            || kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true
    fi
    if [ -f "$work/chroma.pid" ]; then
        local pid
        pid="$(cat "$work/chroma.pid")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$work/chroma.pid"
    fi
}

case "${1:-}" in
    start) start "${2:?usage: $0 start WORKDIR}" ;;
    stop) stop "${2:?usage: $0 stop WORKDIR}" ;;
    *) echo "usage: $0 start|stop WORKDIR" >&2; exit 2 ;;
esac
