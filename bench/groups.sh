#!/usr/bin/env bash
#
# bench/groups.sh: consumer-group cycle benchmark, runnel-server vs
# redis-server side by side (issue 4).
#
# Builds bench/group_cycle (gcc -O2, hiredis; installs Debian's
# libhiredis-dev first if missing, as .ci/setup does), starts runnel-server
# and redis-server on free ports bound to 127.0.0.1, each with its own temp
# dir, pinned to CPU 0; group_cycle runs pinned to CPU 1. Each round runs the
# cycle (fill a fresh stream, C consumers doing XREADGROUP COUNT 100 + XACK
# until it is consumed) on both servers, runnel first in odd rounds and redis
# first in even rounds. Prints the median entries/s per server and the ratio
# runnel/redis (goal >= 1.3), then the memory per pending entry of each
# server (1,000,000 delivered-unacked entries by default) and the ratio
# (goal <= 1.0). Reports only: exit 0 whatever the ratios are.
#
# Usage: bench/groups.sh [--runnel PATH] [--redis PATH] [--rounds N]
#                        [--entries N] [--consumers C] [--mem-entries N]
# Without --runnel it uses build/bench/broker/runnel-server when present,
# else builds a Release runnel-server into build/bench-groups.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
RUNNEL=""
REDIS=redis-server
ROUNDS=3
ENTRIES=1000000     # stream length per cycle round
CONSUMERS=4
MEM_ENTRIES=1000000 # delivered-unacked entries for the memory figure
SERVER_CPU=0
CLIENT_CPU=1

usage() {
    echo "Usage: bench/groups.sh [--runnel PATH] [--redis PATH] [--rounds N]"
    echo "                       [--entries N] [--consumers C] [--mem-entries N]"
    echo "  --runnel P       runnel-server (default: build/bench/broker/runnel-server,"
    echo "                   else a Release build into build/bench-groups)"
    echo "  --redis P        redis-server to compare with (default: on PATH)"
    echo "  --rounds N       interleaved rounds (default $ROUNDS)"
    echo "  --entries N      stream entries per cycle round (default $ENTRIES)"
    echo "  --consumers C    consumer connections (default $CONSUMERS)"
    echo "  --mem-entries N  pending entries for the memory figure (default $MEM_ENTRIES, 0 skips)"
}

while [ $# -gt 0 ]; do
    case "$1" in
    --runnel) RUNNEL=$2; shift 2 ;;
    --redis) REDIS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --entries) ENTRIES=$2; shift 2 ;;
    --consumers) CONSUMERS=$2; shift 2 ;;
    --mem-entries) MEM_ENTRIES=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "groups.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

# libhiredis-dev, installed like .ci/setup does: as root or through sudo,
# apt-get update only when it is missing.
if ! dpkg-query -W -f='${Status}' libhiredis-dev 2>/dev/null | grep -q "install ok installed"; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "groups.sh: libhiredis-dev is missing; install it as root:" >&2
        echo "  apt-get update && apt-get install -y libhiredis-dev" >&2
        exit 2
    fi
    echo "== installing libhiredis-dev" >&2
    "${SUDO[@]}" apt-get update -q >&2
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends libhiredis-dev >&2
fi

for tool in gcc redis-cli taskset "$REDIS"; do
    command -v "$tool" >/dev/null || { echo "groups.sh: $tool not found" >&2; exit 2; }
done

if [ -z "$RUNNEL" ]; then
    if [ -x "$ROOT/build/bench/broker/runnel-server" ]; then
        RUNNEL=$ROOT/build/bench/broker/runnel-server
    else
        echo "== building Release runnel-server into build/bench-groups" >&2
        mkdir -p "$ROOT/build/bench-groups"
        cmake -S "$ROOT" -B "$ROOT/build/bench-groups" -DCMAKE_BUILD_TYPE=Release \
            -DRUNNEL_BUILD_TESTS=OFF >"$ROOT/build/bench-groups/build.log" 2>&1 &&
        cmake --build "$ROOT/build/bench-groups" -j2 --target runnel-server \
            >>"$ROOT/build/bench-groups/build.log" 2>&1 || {
            tail -30 "$ROOT/build/bench-groups/build.log" >&2
            echo "groups.sh: build failed (log: build/bench-groups/build.log)" >&2
            exit 2
        }
        RUNNEL=$ROOT/build/bench-groups/broker/runnel-server
    fi
fi
[ -x "$RUNNEL" ] || { echo "groups.sh: $RUNNEL is not executable" >&2; exit 2; }

TMP=$(mktemp -d /tmp/runnel-groups.XXXXXX)
mkdir -p "$TMP/runnel" "$TMP/redis"
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

GC=$TMP/group_cycle
gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -o "$GC" \
    "$ROOT/bench/group_cycle.c" -lhiredis -lpthread

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
    echo "groups.sh: $1 did not start on port $2; its log:" >&2
    cat "$TMP/$1.log" >&2
    exit 2
}
wait_ready runnel "$RUNNEL_PORT" "$RUNNEL_PID"
wait_ready redis "$REDIS_PORT" "$REDIS_PID"

port_of() { if [ "$1" = runnel ]; then echo "$RUNNEL_PORT"; else echo "$REDIS_PORT"; fi; }

gc() { # server mode entries: one group_cycle run, its result line on stdout
    taskset -c "$CLIENT_CPU" "$GC" -h 127.0.0.1 -p "$(port_of "$1")" -n "$3" \
        -c "$CONSUMERS" "$2" || {
        echo "groups.sh: group_cycle $2 failed on $1" >&2
        kill -0 "$RUNNEL_PID" 2>/dev/null || tail -20 "$TMP/runnel.log" >&2
        exit 2
    }
}

field() { # line key: value of key=value in line
    tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"
}

echo "== runnel $("$RUNNEL" --version 2>&1 | head -1) ($RUNNEL)" >&2
echo "== redis  $("$REDIS" --version | head -1)" >&2
echo "== $ROUNDS rounds, $ENTRIES entries, $CONSUMERS consumers, COUNT 100;" \
    "servers on CPU $SERVER_CPU, group_cycle on CPU $CLIENT_CPU" >&2

# Memory first, while both databases are fresh.
MEM_RUNNEL=""
MEM_REDIS=""
if [ "$MEM_ENTRIES" -gt 0 ]; then
    for s in runnel redis; do
        line=$(gc "$s" mem "$MEM_ENTRIES")
        echo "-- $s: $line" >&2
        if [ "$s" = runnel ]; then MEM_RUNNEL=$line; else MEM_REDIS=$line; fi
    done
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)
RATES_RUNNEL=""
RATES_REDIS=""
for r in $(seq "$ROUNDS"); do
    order="runnel redis"
    [ $((r % 2)) = 0 ] && order="redis runnel"
    for s in $order; do
        line=$(gc "$s" cycle "$ENTRIES")
        echo "-- round $r/$ROUNDS $s: $line" >&2
        rate=$(field "$line" rate)
        if [ "$s" = runnel ]; then
            RATES_RUNNEL="$RATES_RUNNEL $rate"
        else
            RATES_REDIS="$RATES_REDIS $rate"
        fi
    done
done
echo "== measured in $(($(date +%s) - START))s; load average before: $LOAD_BEFORE," \
    "after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$PY" - "$RATES_RUNNEL" "$RATES_REDIS" "$(field "$MEM_RUNNEL" bytes_per_pending)" \
    "$(field "$MEM_REDIS" bytes_per_pending)" "$ENTRIES" "$CONSUMERS" "$MEM_ENTRIES" \
    "$(field "$MEM_RUNNEL" rss_per_pending)" "$(field "$MEM_REDIS" rss_per_pending)" <<'EOF'
import statistics, sys

rn = [float(x) for x in sys.argv[1].split()]
rd = [float(x) for x in sys.argv[2].split()]
mrn, mrd, entries, consumers, ment, rssn, rssd = sys.argv[3:10]
a, b = statistics.median(rn), statistics.median(rd)
paired = statistics.median(x / y for x, y in zip(rn, rd))
spread = lambda v: (max(v) - min(v)) / statistics.median(v) * 100
print(f"| test | runnel | redis | runnel/redis | paired ratio | runnel spread | redis spread |")
print(f"|---|---:|---:|---:|---:|---:|---:|")
print(f"| group cycle ({entries} entries, {consumers} consumers), entries/s "
      f"| {a:.0f} | {b:.0f} | {a / b:.2f} | {paired:.2f} | {spread(rn):.0f}% | {spread(rd):.0f}% |")
if mrn and mrd:
    mrn, mrd = float(mrn), float(mrd)
    print(f"| bytes per pending entry ({ment} delivered, unacked) "
          f"| {mrn:.1f} | {mrd:.1f} | {mrn / mrd:.2f} | | | |")
    rssn, rssd = float(rssn), float(rssd)
    print(f"| used_memory_rss growth per pending entry (cross-check) "
          f"| {rssn:.1f} | {rssd:.1f} | {rssn / rssd:.2f} | | | |")
print()
print(f"goal group cycle runnel/redis >= 1.3: {a / b:.2f} "
      f"({'met' if a / b >= 1.3 else 'NOT met'})")
if mrn and mrd:
    print(f"goal pending-entry memory runnel/redis <= 1.0: {mrn / mrd:.2f} "
          f"({'met' if mrn / mrd <= 1.0 else 'NOT met'})")
EOF
exit 0
