#!/usr/bin/env bash
# Start or stop a local two-node Ray cluster on 127.0.0.1: a head node and a second worker node,
# one CPU each, so that tasks really spread over two raylets (the distributed tests, tests/reliability/test_ray.py).
#
#   .ci/ray_cluster.sh start WORKDIR   start both; print `export QA_TEST_RAY_ADDRESS=...` to eval
#   .ci/ray_cluster.sh stop WORKDIR    stop both (safe to call twice, or after a failed start)
#
# Needs `ray` (the ray package in .venv: `pip install -e '.[test]'`).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RAY="${RAY:-$ROOT/.venv/bin/ray}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
# Loopback only, so no token: otherwise a token a local `ray.init()` left in ~/.ray/auth_token turns
# authentication on for the head node and the second node cannot join without it.
export RAY_AUTH_MODE=disabled

start() {
    local work="$1" port
    mkdir -p "$work/ray"
    [ -x "$RAY" ] || { echo "ray_cluster.sh: $RAY not found; run make setup first" >&2; exit 1; }
    port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    "$RAY" start --head --node-ip-address 127.0.0.1 --port "$port" --num-cpus 1 --include-dashboard=false \
        --disable-usage-stats >"$work/ray/head.log" 2>&1
    "$RAY" start --address "127.0.0.1:$port" --node-ip-address 127.0.0.1 --num-cpus 1 --disable-usage-stats \
        >"$work/ray/worker.log" 2>&1
    echo "export QA_TEST_RAY_ADDRESS=127.0.0.1:$port"
}

stop() {
    "$RAY" stop --force >/dev/null 2>&1 || true
}

case "${1:-}" in
    start) start "${2:?WORKDIR}" ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop WORKDIR" >&2; exit 2 ;;
esac
