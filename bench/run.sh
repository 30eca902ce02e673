#!/usr/bin/env bash
#
# bench/run.sh: side-by-side throughput benchmark of runnel-server and
# redis-server with redis-benchmark.
#
# Both servers run on free ports bound to 127.0.0.1, each with its own temp
# dir, persistence off on both (appendonly no, no save points; bench/persist.sh
# measures it) and Runnel's nng and WebSocket gateways off, pinned to CPU 0;
# redis-benchmark is pinned to CPU 1. Rounds are interleaved (runnel,
# redis, runnel, redis, ...) down to single tests; the idle server
# stays up but does no work while the other is measured. Each
# round runs, for -P 1 then -P 16, each of the tests PING_INLINE, PING_MBULK,
# SET, GET, INCR, MSET (the -t ping,set,get,incr,mset set) and the stream
# tests XADD, XADD_MAXLEN, XRANGE_100, XREAD_100 and the collection tests
# LPUSH, LPOP, SADD, HSET, ZADD, LRANGE_100 (redis-benchmark's own; LPOP
# first fills its list with as many LPUSH) with 50 clients against
# runnel and redis back to back (runnel first in odd rounds, redis first in
# even rounds), so each pair is measured close in time. Before the rounds,
# once per server, it measures the memory of 1,000,000 stream entries (the
# used_memory difference in INFO memory). bench/compare.py takes the median
# requests/sec per (test, P) and prints the table with the ratio
# runnel/redis, the memory figures and the stream goals of issue 3. The
# script reports; it exits 0 whatever the ratios are (non-zero only when it
# cannot run at all).
#
# Usage: bench/run.sh [--runnel PATH] [--redis PATH] [--quick] [--rounds N]
#                     [--n1 N] [--n16 N] [--nxadd16 N] [--nrange N]
#                     [--tests LIST] [--no-mem] [--out DIR]
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
NXADD16=""      # XADD and XADD_MAXLEN requests at -P 16 (default N16 / 4)
NRANGE=""       # XRANGE_100 and XREAD_100 requests at -P 1 and 16 (default N1 / 5)
# One redis-benchmark run per test, so runnel and redis alternate test by test.
# The first six are redis-benchmark's own (-t); the stream tests are commands
# given on its command line (see stream_cmd).
BUILTIN_TESTS="ping_inline ping_mbulk set get incr mset"
STREAM_TESTS="xadd xadd_maxlen xrange_100 xread_100"
COLLECTION_TESTS="lpush lpop sadd hset zadd lrange_100"
TESTS="$BUILTIN_TESTS $STREAM_TESTS $COLLECTION_TESTS"
MEM=1           # measure memory per stream entry
MEM_ENTRIES=1000000
MAXLEN=100000   # the MAXLEN ~ threshold of XADD_MAXLEN; that stream is pre-filled to it
RANGE_FILL=10000 # entries in the stream read by XRANGE_100 and XREAD_100
OUT=""
SERVER_CPU=0
CLIENT_CPU=1

usage() {
    echo "Usage: bench/run.sh [--runnel PATH] [--redis PATH] [--quick] [--rounds N]"
    echo "                    [--n1 N] [--n16 N] [--nxadd16 N] [--nrange N]"
    echo "                    [--tests LIST] [--no-mem] [--out DIR]"
    echo "  --runnel P   runnel-server to test (default: build Release into build/bench)"
    echo "  --redis P    redis-server to compare with (default: redis-server on PATH)"
    echo "  --quick      3 rounds, -n 30000 / 300000 (about a minute and a half)"
    echo "  --rounds N   rounds per server (default $ROUNDS)"
    echo "  --n1 N       requests per test at -P 1 (default $N1)"
    echo "  --n16 N      requests per test at -P 16 (default $N16)"
    echo "  --nxadd16 N  XADD and XADD_MAXLEN requests at -P 16 (default n16 / 4)"
    echo "  --nrange N   XRANGE_100 and XREAD_100 requests at -P 1 and 16 (default n1 / 5)"
    echo "  --tests L    comma-separated subset of: ${TESTS// /,}"
    echo "  --no-mem     skip the memory measurement (1,000,000 XADD per server)"
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
    --nxadd16) NXADD16=$2; shift 2 ;;
    --nrange) NRANGE=$2; shift 2 ;;
    --tests) TESTS=${2//,/ }; shift 2 ;;
    --no-mem) MEM=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

[ -n "$NXADD16" ] || NXADD16=$((N16 / 4))
[ -n "$NRANGE" ] || NRANGE=$((N1 / 5))
for t in $TESTS; do
    case " $BUILTIN_TESTS $STREAM_TESTS $COLLECTION_TESTS " in
    *" $t "*) ;;
    *) echo "run.sh: unknown test $t" >&2; usage >&2; exit 2 ;;
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
rm -f "$OUT"/*.csv "$OUT"/mem-*.txt

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
    --dir "$TMP/runnel" --save '' --appendonly no --ws-port 0 \
    --nng-rep-url '' --nng-pub-url '' --nng-pull-url '' >"$TMP/runnel.log" 2>&1 &
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

cli() { # server args...
    local s=$1
    shift
    redis-cli -h 127.0.0.1 -p "$(port_of "$s")" "$@"
}

bench() { # server pipeline requests tests > csv
    taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "$(port_of "$1")" \
        -c "$CLIENTS" -n "$3" -P "$2" -t "$4" --csv 2>>"$TMP/benchmark.err"
}

bench_cmd() { # server pipeline requests command... > csv
    local s=$1 p=$2 n=$3
    shift 3
    taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "$(port_of "$s")" \
        -c "$CLIENTS" -n "$n" -P "$p" --csv "$@" 2>>"$TMP/benchmark.err"
}

# stream_cmd TEST: sets CMD to the command line of a stream test. The CSV
# names such a row by the whole command; compare.py names it by the file.
stream_cmd() {
    case "$1" in
    xadd) CMD=(XADD bench:xadd '*' f v) ;;
    xadd_maxlen) CMD=(XADD bench:xadd_maxlen MAXLEN '~' "$MAXLEN" '*' f v) ;;
    xrange_100) CMD=(XRANGE bench:xrange - + COUNT 100) ;;
    xread_100) CMD=(XREAD COUNT 100 STREAMS bench:xrange 0) ;;
    *) CMD=() ;;
    esac
}

run_test() { # server pipeline test > csv
    local s=$1 p=$2 t=$3 n
    case "$t" in
    xadd | xadd_maxlen)
        n=$N1
        [ "$p" = 1 ] || n=$NXADD16
        # XADD starts each measurement from an empty stream, so every run
        # does the same work; XADD_MAXLEN stays trimmed near MAXLEN.
        if [ "$t" = xadd ]; then
            cli "$s" DEL bench:xadd >/dev/null
        fi
        ;;
    xrange_100 | xread_100) n=$NRANGE ;;
    lrange_100)
        # LRANGE_100 reads 100 of 600 elements; its own LPUSH fill is skipped
        # by compare.py.
        n=$NRANGE
        cli "$s" DEL mylist >/dev/null
        bench "$s" "$p" "$n" lrange_100
        return
        ;;
    lpop)
        # Every LPOP takes a real element: the list is filled first.
        n=$N1
        [ "$p" = 1 ] || n=$N16
        cli "$s" DEL mylist >/dev/null
        bench "$s" 16 "$n" lpush >/dev/null
        bench "$s" "$p" "$n" lpop
        return
        ;;
    *)
        n=$N1
        [ "$p" = 1 ] || n=$N16
        bench "$s" "$p" "$n" "$t"
        return
        ;;
    esac
    stream_cmd "$t"
    bench_cmd "$s" "$p" "$n" "${CMD[@]}"
}

info_field() { # server field: one field of INFO memory
    cli "$1" INFO memory | tr -d '\r' | sed -n "s/^$2://p"
}

# fill server key count fields...: appends count entries with
# redis-benchmark (-P 64) and checks XLEN. redis-benchmark sends whole
# pipelines, so a count that is not a multiple of 64 can be exceeded by a
# few entries (no harm for the pre-filled streams); the memory test uses
# 1,000,000 = 15625 * 64 exactly. Prints the CSV line.
fill() {
    local s=$1 key=$2 count=$3 len
    shift 3
    bench_cmd "$s" 64 "$count" XADD "$key" '*' "$@" | tail -1
    len=$(cli "$s" XLEN "$key")
    if [ "${len:-0}" -lt "$count" ]; then
        echo "run.sh: $s: XLEN $key is $len after $count XADD" >&2
    fi
}

# measure_mem server: the used_memory growth for MEM_ENTRIES entries
# XADD mem * sensor 42 temp 21.5 on a fresh server, into $OUT/mem-SERVER.txt.
measure_mem() {
    local s=$1 before rss_before line after rss_after len freed
    cli "$s" DEL mem >/dev/null
    before=$(info_field "$s" used_memory)
    rss_before=$(info_field "$s" used_memory_rss)
    line=$(fill "$s" mem "$MEM_ENTRIES" sensor 42 temp 21.5)
    len=$(cli "$s" XLEN mem)
    after=$(info_field "$s" used_memory)
    rss_after=$(info_field "$s" used_memory_rss)
    cli "$s" DEL mem >/dev/null
    freed=$(info_field "$s" used_memory)
    {
        echo "entries=$len"
        echo "used_before=$before"
        echo "used_after=$after"
        echo "used_after_del=$freed"
        echo "rss_before=$rss_before"
        echo "rss_after=$rss_after"
        echo "fill_rps=$(echo "$line" | cut -d, -f2 | tr -d '"')"
    } >"$OUT/mem-$s.txt"
    echo "== memory $s: XLEN $len, used_memory $before -> $after" \
        "($(((after - before) / (len > 0 ? len : 1))) B/entry), $freed after DEL" >&2
}

echo "== runnel $("$RUNNEL" --version 2>&1 | head -1)" >&2
echo "== redis  $("$REDIS" --version | head -1)" >&2
echo "== $ROUNDS rounds, -c $CLIENTS, -n $N1 at -P 1, -n $N16 at -P 16" \
    "(XADD* $N1 / $NXADD16, XRANGE/XREAD $NRANGE), servers on CPU $SERVER_CPU," \
    "redis-benchmark on CPU $CLIENT_CPU" >&2

# Memory first, while both databases are fresh.
if [ "$MEM" = 1 ]; then
    for s in runnel redis; do
        measure_mem "$s"
    done
fi

# A short warm-up for each server (page faults, allocator pools), and the
# streams the stream tests start from.
for s in runnel redis; do
    bench "$s" 16 20000 "${BUILTIN_TESTS// /,}" >/dev/null
    case " $TESTS " in
    *" xadd_maxlen "*) fill "$s" bench:xadd_maxlen "$MAXLEN" f v >/dev/null ;;
    esac
    case " $TESTS " in
    *" xrange_100 "* | *" xread_100 "*)
        fill "$s" bench:xrange "$RANGE_FILL" sensor 42 temp 21.5 >/dev/null
        ;;
    esac
done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)
for r in $(seq "$ROUNDS"); do
    for p in 1 16; do
        echo "-- round $r/$ROUNDS -P $p ($(($(date +%s) - START))s," \
            "load $(cut -d' ' -f1 /proc/loadavg))" >&2
        # ABBA order: runnel first in odd rounds, redis first in even ones,
        # so a bias towards the first (or second) of a pair cancels out.
        order="runnel redis"
        [ $((r % 2)) = 0 ] && order="redis runnel"
        for t in $TESTS; do
            for s in $order; do
                run_test "$s" "$p" "$t" >"$OUT/$s-r$r-P$p-$t.csv"
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
