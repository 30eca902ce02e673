#!/usr/bin/env bash
#
# bench/run.sh: side-by-side throughput benchmark of runnel-server and
# redis-server with redis-benchmark.
#
# Both servers run on free ports bound to 127.0.0.1, each with its own temp
# dir, pinned to CPU 0; redis-benchmark is pinned to CPU 1. Rounds are
# interleaved (runnel, redis, runnel, redis, ...) down to single tests; the
# idle server stays up but does no work while the other is measured. Each
# round runs, for -P 1 then -P 16, each of the tests PING_INLINE, PING_MBULK,
# SET, GET, INCR, MSET (the -t ping,set,get,incr,mset set) with 50 clients
# against runnel and redis back to back (runnel first in odd rounds, redis
# first in even rounds), so each pair is measured close in time.
# bench/compare.py takes the median requests/sec per (test, P) and prints
# the table with the ratio runnel/redis. The script reports; it exits
# 0 whatever the ratios are (non-zero only when it cannot run at all).
#
# Usage: bench/run.sh [--runnel PATH] [--redis PATH] [--quick] [--rounds N]
#                     [--n1 N] [--n16 N] [--out DIR]
# Without --runnel it configures and builds a Release runnel-server into
# build/bench. Raw CSV files are kept in --out (default: a temp dir, deleted).

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
RUNNEL=""
REDIS=redis-server
ROUNDS=5
N1=100000        # requests per test at -P 1
N16=2000000      # requests per test at -P 16
CLIENTS=50
# One redis-benchmark run per test, so runnel and redis alternate test by test.
TESTS="ping_inline ping_mbulk set get incr mset"
OUT=""
SERVER_CPU=0
CLIENT_CPU=1

usage() {
    echo "Usage: bench/run.sh [--runnel PATH] [--redis PATH] [--quick] [--rounds N]"
    echo "                    [--n1 N] [--n16 N] [--out DIR]"
    echo "  --runnel P   runnel-server to test (default: build Release into build/bench)"
    echo "  --redis P    redis-server to compare with (default: redis-server on PATH)"
    echo "  --quick      3 rounds, -n 30000 / 300000 (about a minute)"
    echo "  --rounds N   rounds per server (default $ROUNDS)"
    echo "  --n1 N       requests per test at -P 1 (default $N1)"
    echo "  --n16 N      requests per test at -P 16 (default $N16)"
    echo "  --out DIR    keep raw redis-benchmark CSV output in DIR (old *.csv there removed)"
}

while [ $# -gt 0 ]; do
    case "$1" in
    --runnel) RUNNEL=$2; shift 2 ;;
    --redis) REDIS=$2; shift 2 ;;
    --quick) ROUNDS=3; N1=30000; N16=300000; shift ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --n1) N1=$2; shift 2 ;;
    --n16) N16=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

for tool in redis-benchmark redis-cli taskset "$REDIS"; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 2; }
done

if [ -z "$RUNNEL" ]; then
    echo "== building Release runnel-server into build/bench" >&2
    mkdir -p "$ROOT/build/bench"
    cmake -S "$ROOT" -B "$ROOT/build/bench" -DCMAKE_BUILD_TYPE=Release \
        -DRUNNEL_BUILD_TESTS=OFF >"$ROOT/build/bench/build.log" 2>&1 &&
    cmake --build "$ROOT/build/bench" -j2 --target runnel-server \
        >>"$ROOT/build/bench/build.log" 2>&1 || {
        tail -30 "$ROOT/build/bench/build.log" >&2
        echo "run.sh: build failed (full log: build/bench/build.log)" >&2
        exit 2
    }
    RUNNEL=$ROOT/build/bench/broker/runnel-server
fi
[ -x "$RUNNEL" ] || { echo "run.sh: $RUNNEL is not executable" >&2; exit 2; }

TMP=$(mktemp -d /tmp/runnel-bench.XXXXXX)
KEEP_OUT=1
if [ -z "$OUT" ]; then
    OUT=$TMP/out
    KEEP_OUT=0
fi
mkdir -p "$OUT" "$TMP/runnel" "$TMP/redis"
rm -f "$OUT"/*.csv

RUNNEL_PID=""
REDIS_PID=""
cleanup() {
    for pid in $RUNNEL_PID $REDIS_PID; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $RUNNEL_PID $REDIS_PID; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two distinct free ports, chosen by the kernel.
read -r RUNNEL_PORT REDIS_PORT < <("$PY" -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))
')

taskset -c "$SERVER_CPU" "$RUNNEL" --port "$RUNNEL_PORT" --bind 127.0.0.1 \
    --dir "$TMP/runnel" >"$TMP/runnel.log" 2>&1 &
RUNNEL_PID=$!
taskset -c "$SERVER_CPU" "$REDIS" --port "$REDIS_PORT" --bind 127.0.0.1 \
    --dir "$TMP/redis" --save '' --appendonly no --daemonize no \
    >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!

wait_ready() { # name port pid
    for _ in $(seq 100); do
        if [ "$(redis-cli -h 127.0.0.1 -p "$2" ping 2>/dev/null)" = PONG ]; then
            return 0
        fi
        kill -0 "$3" 2>/dev/null || break
        sleep 0.1
    done
    echo "run.sh: $1 did not start on port $2; its log:" >&2
    cat "$TMP/$1.log" >&2
    exit 2
}
wait_ready runnel "$RUNNEL_PORT" "$RUNNEL_PID"
wait_ready redis "$REDIS_PORT" "$REDIS_PID"

port_of() { if [ "$1" = runnel ]; then echo "$RUNNEL_PORT"; else echo "$REDIS_PORT"; fi; }

bench() { # server pipeline requests tests > csv
    taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "$(port_of "$1")" \
        -c "$CLIENTS" -n "$3" -P "$2" -t "$4" --csv 2>>"$TMP/benchmark.err"
}

echo "== runnel $("$RUNNEL" --version 2>&1 | head -1)" >&2
echo "== redis  $("$REDIS" --version | head -1)" >&2
echo "== $ROUNDS rounds, -c $CLIENTS, -n $N1 at -P 1, -n $N16 at -P 16," \
    "servers on CPU $SERVER_CPU, redis-benchmark on CPU $CLIENT_CPU" >&2

# A short warm-up for each server (page faults, allocator pools).
for s in runnel redis; do
    bench "$s" 16 20000 "${TESTS// /,}" >/dev/null
done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)
for r in $(seq "$ROUNDS"); do
    for p in 1 16; do
        n=$N1
        [ "$p" = 16 ] && n=$N16
        echo "-- round $r/$ROUNDS -P $p -n $n ($(($(date +%s) - START))s," \
            "load $(cut -d' ' -f1 /proc/loadavg))" >&2
        # ABBA order: runnel first in odd rounds, redis first in even ones,
        # so a bias towards the first (or second) of a pair cancels out.
        order="runnel redis"
        [ $((r % 2)) = 0 ] && order="redis runnel"
        for t in $TESTS; do
            for s in $order; do
                bench "$s" "$p" "$n" "$t" >"$OUT/$s-r$r-P$p-$t.csv"
            done
            kill -0 "$RUNNEL_PID" 2>/dev/null || {
                echo "run.sh: runnel-server died; its log:" >&2
                tail -20 "$TMP/runnel.log" >&2
                exit 2
            }
        done
    done
done
echo "== measured in $(($(date +%s) - START))s; load average before: $LOAD_BEFORE," \
    "after: $(cut -d' ' -f1-3 /proc/loadavg) (the run itself adds about 1.5;" \
    "more than that means other processes competed for the 2 CPUs)" >&2

"$PY" "$ROOT/bench/compare.py" "$OUT"
[ "$KEEP_OUT" = 1 ] && echo "raw CSV kept in $OUT" >&2
exit 0
