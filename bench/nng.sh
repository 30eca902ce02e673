#!/usr/bin/env bash
#
# bench/nng.sh: XADD throughput through the nng gateway (issue 9), beside
# RESP pipelined XADD on the same runnel-server.
#
# Starts one runnel-server (Release, appendonly off, its own temp dir) with
# the nng endpoints on free ports, pinned to CPU 0; the clients run pinned
# to CPU 1. Three rows, each N XADD <key> * f <n> to a fresh key:
#   resp   redis-benchmark -c 16 -P 16 (pipelined RESP), and -c 16 -P 1
#          (N/4 commands: one round trip each, the shape of req/rep)
#   push   P push0 producers (tests/nng/nng_req_client push), B commands
#          per message (default 16, as -P 16), timed from the first send
#          until XLEN shows every entry (ingestion, not sending)
#   req    one req0 socket with 16 contexts (nng_req_client xadd), every
#          reply checked
# Prints the commands/s of each and push/resp (goal >= 0.8). Reports only.
#
# Usage: bench/nng.sh [--runnel PATH] [--client PATH] [-n N] [--producers P]
#                     [--batch B]
# Without --runnel/--client it builds a Release tree into build/bench-nng.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNNEL=""
CLIENT=""
N=500000
PRODUCERS=1
BATCH=16

while [ $# -gt 0 ]; do
    case "$1" in
    --runnel) RUNNEL=$2; shift 2 ;;
    --client) CLIENT=$2; shift 2 ;;
    -n) N=$2; shift 2 ;;
    --producers) PRODUCERS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "nng.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

if [ -z "$RUNNEL" ] || [ -z "$CLIENT" ]; then
    cmake -S "$ROOT" -B "$ROOT/build/bench-nng" -DCMAKE_BUILD_TYPE=Release \
        -DRUNNEL_WITH_NNG=ON >/dev/null
    cmake --build "$ROOT/build/bench-nng" -j2 --target runnel-server nng_req_client >/dev/null
    RUNNEL=${RUNNEL:-$ROOT/build/bench-nng/broker/runnel-server}
    CLIENT=${CLIENT:-$ROOT/build/bench-nng/tests/nng_req_client}
fi

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

PORT=$(free_port)
REP=tcp://127.0.0.1:$(free_port)
PUB=tcp://127.0.0.1:$(free_port)
PULL=tcp://127.0.0.1:$(free_port)
DIR=$(mktemp -d /tmp/runnel-bench-nng.XXXXXX)
taskset -c 0 "$RUNNEL" --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --appendonly no --save "" \
    --nng-rep-url "$REP" --nng-pub-url "$PUB" --nng-pull-url "$PULL" >"$DIR/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do
    redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
    sleep 0.05
done

now() { date +%s.%N; }
rate() { /usr/bin/python3 -c "print(round($1 / ($3 - $2)))"; }

# RESP, pipelined.
resp=$(taskset -c 1 redis-benchmark -p "$PORT" -c 16 -P 16 -n "$N" -q --csv \
    XADD resp '*' f 1 | tail -1 | cut -d, -f2 | tr -d '"')
resp=${resp%.*}
resp1=$(taskset -c 1 redis-benchmark -p "$PORT" -c 16 -P 1 -n $((N / 4)) -q --csv \
    XADD resp1 '*' f 1 | tail -1 | cut -d, -f2 | tr -d '"')
resp1=${resp1%.*}

# push0 ingestion: time until every entry is in.
t0=$(now)
PIDS=()
for p in $(seq "$PRODUCERS"); do
    taskset -c 1 "$CLIENT" "$PULL" "$BATCH" $((N / PRODUCERS)) push "push$p" >/dev/null &
    PIDS+=($!)
done
total=$((N / PRODUCERS * PRODUCERS))
while :; do
    got=0
    for p in $(seq "$PRODUCERS"); do
        got=$((got + $(redis-cli -p "$PORT" XLEN "push$p")))
    done
    [ "$got" -ge "$total" ] && break
    sleep 0.01
done
t1=$(now)
wait "${PIDS[@]}"
push=$(rate "$total" "$t0" "$t1")

# req/rep, 16 contexts.
req=$(taskset -c 1 "$CLIENT" "$REP" 16 "$N" xadd req | cut -d' ' -f4)

echo "resp_xadd_P16_per_s=$resp"
echo "resp_xadd_P1_c16_per_s=$resp1 (no pipelining: one round trip per command, as req/rep)"
echo "nng_push_xadd_per_s=$push (producers=$PRODUCERS, batch=$BATCH)"
echo "nng_req_xadd_16ctx_per_s=$req"
/usr/bin/python3 -c "print('push/resp=%.2f req/resp=%.2f' % ($push / $resp, $req / $resp))"
