#!/usr/bin/env bash
#
# bench/persist.sh: the cost of the append-only log, runnel-server vs
# redis-server side by side (issue 7).
#
# 1. Write throughput with the log on: for appendfsync everysec and always,
#    each round starts both servers on fresh dirs with `--appendonly yes
#    --appendfsync <mode> --save '' --auto-aof-rewrite-percentage 0` (no
#    automatic rewrite, so the log path alone is measured), pinned to CPU 0,
#    and runs redis-benchmark (CPU 1, -c 50 -P 16) for SET (-t set) and
#    `XADD bench:xadd * f v` against one server at a time, runnel first in
#    odd rounds and redis first in even rounds. Prints the median
#    requests/s per (mode, test, server) and the ratio runnel/redis.
# 2. Startup with 10,000,000 stream entries: fills `XADD bench:load *
#    sensor 42 temp 21.5` (redis-benchmark -c 50 -P 64, everysec), stops
#    the server with SIGTERM and times a restart from process start to the
#    first PING answered +PONG (not -LOADING): once replaying the incr log,
#    once more after BGREWRITEAOF (loading the base snapshot). XLEN is
#    checked after each restart; the log size on disk is printed too.
#
# Reports only: exit 0 whatever the ratios are (2 on a setup failure).
#
# Usage: bench/persist.sh [--runnel PATH] [--redis PATH] [--rounds N]
#                         [--n N] [--n-always N] [--entries N] [--no-load]
# Without --runnel it builds a Release runnel-server into build/bench-persist.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
RUNNEL=""
REDIS=redis-server
ROUNDS=3
N_EVERYSEC=500000 # requests per test with appendfsync everysec
N_ALWAYS=200000   # requests per test with appendfsync always
ENTRIES=10000000  # stream entries for the startup measurement
LOAD=1            # measure the startup time
CLIENTS=50
SERVER_CPU=0
CLIENT_CPU=1

usage() {
    echo "Usage: bench/persist.sh [--runnel PATH] [--redis PATH] [--rounds N]"
    echo "                        [--n N] [--n-always N] [--entries N] [--no-load]"
    echo "  --runnel P     runnel-server (default: a Release build into build/bench-persist)"
    echo "  --redis P      redis-server to compare with (default: on PATH)"
    echo "  --rounds N     interleaved rounds per fsync mode (default $ROUNDS)"
    echo "  --n N          requests per test with appendfsync everysec (default $N_EVERYSEC)"
    echo "  --n-always N   requests per test with appendfsync always (default $N_ALWAYS)"
    echo "  --entries N    stream entries for the startup time, a multiple of 64"
    echo "                 (default $ENTRIES)"
    echo "  --no-load      skip the startup measurement"
}

while [ $# -gt 0 ]; do
    case "$1" in
    --runnel) RUNNEL=$2; shift 2 ;;
    --redis) REDIS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --n) N_EVERYSEC=$2; shift 2 ;;
    --n-always) N_ALWAYS=$2; shift 2 ;;
    --entries) ENTRIES=$2; shift 2 ;;
    --no-load) LOAD=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "persist.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

for tool in redis-benchmark redis-cli taskset "$REDIS"; do
    command -v "$tool" >/dev/null || { echo "persist.sh: $tool not found" >&2; exit 2; }
done

if [ -z "$RUNNEL" ]; then
    echo "== building Release runnel-server into build/bench-persist" >&2
    mkdir -p "$ROOT/build/bench-persist"
    cmake -S "$ROOT" -B "$ROOT/build/bench-persist" -DCMAKE_BUILD_TYPE=Release \
        -DRUNNEL_BUILD_TESTS=OFF >"$ROOT/build/bench-persist/build.log" 2>&1 &&
    cmake --build "$ROOT/build/bench-persist" -j2 --target runnel-server \
        >>"$ROOT/build/bench-persist/build.log" 2>&1 || {
        tail -30 "$ROOT/build/bench-persist/build.log" >&2
        echo "persist.sh: build failed (log: build/bench-persist/build.log)" >&2
        exit 2
    }
    RUNNEL=$ROOT/build/bench-persist/broker/runnel-server
fi
[ -x "$RUNNEL" ] || { echo "persist.sh: $RUNNEL is not executable" >&2; exit 2; }

TMP=$(mktemp -d /tmp/runnel-persist.XXXXXX)
PID=""
cleanup() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

binary_of() { if [ "$1" = runnel ]; then echo "$RUNNEL"; else echo "$REDIS"; fi; }

free_port() {
    "$PY" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
'
}

# runnel's optional gateways (nng, WebSocket) listen on fixed ports by
# default; switch off those the binary knows, so only RESP is measured and
# no other server on the machine holds the port.
RUNNEL_OFF=()
for opt in nng-rep-url nng-pub-url nng-pull-url; do
    grep -aq -- "$opt" "$RUNNEL" && RUNNEL_OFF+=(--"$opt" '')
done
grep -aq -- ws-port "$RUNNEL" && RUNNEL_OFF+=(--ws-port 0)

# server_args server fsync dir port: the command line of one server (the
# same settings for both; --daemonize no is Redis's default and runnel's).
server_args() {
    ARGS=("$(binary_of "$1")" --port "$4" --bind 127.0.0.1 --dir "$3" --save ''
        --appendonly yes --appendfsync "$2" --auto-aof-rewrite-percentage 0)
    if [ "$1" = runnel ]; then
        ARGS+=("${RUNNEL_OFF[@]}")
    fi
}

# start server fsync: a fresh dir, the server pinned to SERVER_CPU; sets
# PID, PORT, DIR. Waits for +PONG.
start() {
    DIR=$TMP/$1-data
    rm -rf "$DIR"
    mkdir -p "$DIR"
    PORT=$(free_port)
    server_args "$1" "$2" "$DIR" "$PORT"
    taskset -c "$SERVER_CPU" "${ARGS[@]}" >"$TMP/$1.log" 2>&1 &
    PID=$!
    for _ in $(seq 300); do
        if [ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" = PONG ]; then
            return 0
        fi
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "persist.sh: $1 did not start on port $PORT; its log:" >&2
    tail -30 "$TMP/$1.log" >&2
    exit 2
}

stop() { # SIGTERM by pid, wait
    kill "$PID"
    wait "$PID" || true
    PID=""
}

cli() { redis-cli -h 127.0.0.1 -p "$PORT" "$@"; }

bench() { # requests args... > csv
    local n=$1
    shift
    taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "$PORT" -c "$CLIENTS" \
        -n "$n" -P 16 --csv "$@" 2>>"$TMP/benchmark.err"
}

rps() { # csv on stdin: requests/s of the last row
    tail -1 | cut -d, -f2 | tr -d '"'
}

echo "== runnel $("$RUNNEL" --version 2>&1 | head -1) ($RUNNEL)" >&2
echo "== redis  $("$REDIS" --version | head -1)" >&2
echo "== $ROUNDS rounds, -c $CLIENTS -P 16, -n $N_EVERYSEC (everysec) / $N_ALWAYS (always);" \
    "servers on CPU $SERVER_CPU, redis-benchmark on CPU $CLIENT_CPU" >&2

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)
RESULTS=$TMP/results.txt
: >"$RESULTS"
for r in $(seq "$ROUNDS"); do
    for mode in everysec always; do
        n=$N_EVERYSEC
        [ "$mode" = always ] && n=$N_ALWAYS
        order="runnel redis"
        [ $((r % 2)) = 0 ] && order="redis runnel"
        for s in $order; do
            start "$s" "$mode"
            set_rps=$(bench "$n" -t set | rps)
            xadd_rps=$(bench "$n" XADD bench:xadd '*' f v | rps)
            xlen=$(cli XLEN bench:xadd)
            size=$(du -sb "$DIR/appendonlydir" | cut -f1)
            stop
            echo "$mode SET $s $r $set_rps" >>"$RESULTS"
            echo "$mode XADD $s $r $xadd_rps" >>"$RESULTS"
            echo "-- round $r/$ROUNDS $mode $s: SET $set_rps rps, XADD $xadd_rps rps" \
                "(XLEN $xlen, log $size bytes; load $(cut -d' ' -f1 /proc/loadavg))" >&2
        done
    done
done
echo "== throughput measured in $(($(date +%s) - START))s; load average before:" \
    "$LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# restart_time server: SIGTERM, then a new process on the same dir and port
# (PID updated); sets SECS to the seconds from just before its start to the
# first +PONG (a loading server answers -LOADING, or does not listen yet).
restart_time() {
    local t0
    stop
    server_args "$1" everysec "$DIR" "$PORT"
    t0=$(date +%s.%N)
    taskset -c "$SERVER_CPU" "${ARGS[@]}" >>"$TMP/$1.log" 2>&1 &
    PID=$!
    "$PY" - "$PORT" "$t0" "$PID" >"$TMP/secs" <<'EOF2' || { tail -30 "$TMP/$1.log" >&2; exit 2; }
import os, socket, sys, time

port, t0, pid = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
while True:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("persist.sh: the server exited while starting")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            while True:
                s.sendall(b"PING\r\n")
                reply = s.recv(100)
                if reply.startswith(b"+PONG"):
                    print("%.3f" % (time.time() - t0))
                    sys.exit(0)
                if not reply:
                    raise OSError("closed")
                time.sleep(0.002)
    except OSError:
        time.sleep(0.002)
EOF2
    SECS=$(cat "$TMP/secs")
}

info_field() { # field of INFO persistence
    cli INFO persistence | tr -d '\r' | sed -n "s/^$1://p"
}

LOADS=""
if [ "$LOAD" = 1 ]; then
    LOAD_BEFORE2=$(cut -d' ' -f1-3 /proc/loadavg)
    for s in runnel redis; do
        start "$s" everysec
        t0=$(date +%s.%N)
        taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "$PORT" -c "$CLIENTS" \
            -n "$ENTRIES" -P 64 XADD bench:load '*' sensor 42 temp 21.5 >/dev/null \
            2>>"$TMP/benchmark.err"
        fill=$("$PY" -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" \
            "$t0" "$(date +%s.%N)")
        log_size=$(du -sb "$DIR/appendonlydir" | cut -f1)
        restart_time "$s"
        replay=$SECS
        xlen1=$(cli XLEN bench:load)
        done_before=$(info_field aof_rewrites)
        cli BGREWRITEAOF >/dev/null
        for _ in $(seq 6000); do
            [ "$(info_field aof_rewrites)" -gt "$done_before" ] &&
                [ "$(info_field aof_rewrite_in_progress)" = 0 ] &&
                [ "$(info_field aof_rewrite_scheduled)" = 0 ] && break
            sleep 0.1
        done
        base_size=$(du -sb "$DIR/appendonlydir" | cut -f1)
        restart_time "$s"
        base=$SECS
        xlen2=$(cli XLEN bench:load)
        stop
        echo "-- $s: filled $ENTRIES in ${fill}s, log $log_size bytes; restart replaying" \
            "the log ${replay}s (XLEN $xlen1); after BGREWRITEAOF $base_size bytes," \
            "restart ${base}s (XLEN $xlen2)" >&2
        LOADS="$LOADS $s:$replay:$base:$log_size:$base_size:$xlen1:$xlen2"
        rm -rf "$DIR"
    done
    echo "== startup measured; load average before: $LOAD_BEFORE2," \
        "after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
fi

"$PY" - "$RESULTS" "$ENTRIES" "$LOADS" <<'EOF'
import collections, statistics, sys

rows = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    mode, test, server, rnd, rps = line.split()
    rows[(mode, test, server)][int(rnd)] = float(rps) if rps else float("nan")
spread = lambda v: (max(v) - min(v)) / statistics.median(v) * 100
print("| appendfsync | test | runnel rps | redis rps | runnel/redis | paired ratio "
      "| runnel spread | redis spread |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for mode in ("everysec", "always"):
    for test in ("SET", "XADD"):
        a, b = rows[(mode, test, "runnel")], rows[(mode, test, "redis")]
        if not a or not b:
            continue
        ma, mb = statistics.median(a.values()), statistics.median(b.values())
        paired = statistics.median(a[r] / b[r] for r in a if r in b)
        print(f"| {mode} | {test} -P 16 | {ma:.0f} | {mb:.0f} | {ma / mb:.2f} | {paired:.2f} "
              f"| {spread(list(a.values())):.0f}% | {spread(list(b.values())):.0f}% |")
loads = {}
for item in sys.argv[3].split():
    s, *vals = item.split(":")
    loads[s] = vals
if "runnel" in loads and "redis" in loads:
    print()
    print(f"| startup with {int(sys.argv[2]):,} stream entries, to first +PONG | runnel | redis "
          f"| runnel/redis |")
    print("|---|---:|---:|---:|")
    names = ["replaying the incr log (s)", "from the base after BGREWRITEAOF (s)",
             "log size before the rewrite (bytes)", "log size after the rewrite (bytes)",
             "XLEN after the first restart", "XLEN after the second restart"]
    for i, name in enumerate(names):
        a, b = float(loads["runnel"][i]), float(loads["redis"][i])
        fmt = "{:.2f}" if i < 2 else "{:.0f}"
        print(f"| {name} | {fmt.format(a)} | {fmt.format(b)} | {a / b if b else 0:.2f} |")
EOF
exit 0
