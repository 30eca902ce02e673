#!/usr/bin/env bash
#
# bench/ws.sh: fan-out of one stream to 1,000 WebSocket tails (issue 8),
# beside the same load over RESP SUBSCRIBE, on one runnel-server.
#
# Starts one runnel-server (Release, appendonly off, its own temp dir, RESP
# and ws ports picked free) pinned to CPU 0; the client
# (bench/ws_fanout.py, python3-websockets + asyncio) runs pinned to CPU 1.
# Rows:
#   ws   sessions=0     XADD alone: the core thread's CPU per XADD, baseline
#   resp sessions=N     N RESP connections SUBSCRIBEd, PUBLISH at R/s
#   wsraw sessions=N    N WebSocket tails from "$", XADD at R/s (a minimal
#                       client parsing frames like the RESP one)
#   ws   sessions=N     the same through python3-websockets
# Each prints delivered/s, p50/p99 latency (send to receipt) and the core
# thread's CPU per produced message. Reports only.
#
# Then the core thread's CPU per message over BURST pipelined XADD with 0
# and N tails, and PUBLISH with N subscribers (the issue's goal: XADD cost
# grows < 20% with 1,000 tails).
#
# Usage: bench/ws.sh [--runnel PATH] [--sessions N] [--rate R] [--seconds S]
#                    [--burst K]
# Without --runnel it builds a Release tree into build/bench-ws.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNNEL=""
SESSIONS=1000
RATE=100
SECONDS_=10
BURST=20000

while [ $# -gt 0 ]; do
    case "$1" in
    --runnel) RUNNEL=$2; shift 2 ;;
    --sessions) SESSIONS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --seconds) SECONDS_=$2; shift 2 ;;
    --burst) BURST=$2; shift 2 ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "ws.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

if [ -z "$RUNNEL" ]; then
    cmake -S "$ROOT" -B "$ROOT/build/bench-ws" -DCMAKE_BUILD_TYPE=Release \
        -DRUNNEL_WITH_WS=ON >/dev/null
    cmake --build "$ROOT/build/bench-ws" -j2 --target runnel-server >/dev/null
    RUNNEL="$ROOT/build/bench-ws/broker/runnel-server"
fi

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

PORT=$(free_port)
WSPORT=$(free_port)
TMP=$(mktemp -d)
ulimit -n 8192 2>/dev/null || true
taskset -c 0 "$RUNNEL" --port "$PORT" --ws-port "$WSPORT" --dir "$TMP" --appendonly no \
    --save '' --nng-rep-url '' --nng-pub-url '' --nng-pull-url '' --maxclients 20000 \
    >"$TMP/server.log" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do
    redis-cli -p "$PORT" PING >/dev/null 2>&1 && break
    sleep 0.05
done
sleep 0.2

echo "runnel-server $RUNNEL, $SESSIONS sessions, $RATE msg/s for ${SECONDS_}s"
run() {
    taskset -c 1 /usr/bin/python3 "$ROOT/bench/ws_fanout.py" --port "$PORT" --ws-port "$WSPORT" \
        --pid "$PID" --rate "$RATE" --seconds "$SECONDS_" "$@"
}
run --sessions 0 --modes ws
run --sessions "$SESSIONS" --modes resp,wsraw,ws
echo "core thread CPU per message, $BURST pipelined:"
run --sessions 0 --modes ws --burst "$BURST"
run --sessions "$SESSIONS" --modes ws --burst "$BURST"
run --sessions "$SESSIONS" --modes resp --burst "$BURST"
