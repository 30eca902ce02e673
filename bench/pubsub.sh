#!/usr/bin/env bash
#
# bench/pubsub.sh: pub/sub fan-out benchmark, runnel-server vs redis-server
# side by side (issue 5).
#
# Builds bench/pubsub_fanout (gcc -O2, hiredis; installs Debian's
# libhiredis-dev first if missing, as .ci/setup does), starts runnel-server
# and redis-server on free ports bound to 127.0.0.1, each with its own temp
# dir, pinned to CPU 0; pubsub_fanout runs pinned to CPU 1. Each round runs,
# for S = 1, 10, 100 subscribers on one channel, the fan-out (a publisher
# pipelining PUBLISH of 64-byte timestamped payloads in batches of 100) on
# both servers, runnel first in odd rounds and redis first in even rounds.
# Prints per S the median delivered messages/s of each server and the ratio
# runnel/redis (goal >= 1.2 at 100 subscribers), and the median
# publish-to-receive p50/p99 of each (goal: runnel p99 <= redis p99).
# Reports only: exit 0 whatever the ratios are.
#
# Usage: bench/pubsub.sh [--runnel PATH] [--redis PATH] [--rounds N]
#                        [--deliveries D] [--subs LIST]
# Without --runnel it uses build/bench/broker/runnel-server when present,
# else builds a Release runnel-server into build/bench-pubsub.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
RUNNEL=""
REDIS=redis-server
ROUNDS=3
DELIVERIES=6000000 # deliveries per run: messages = min(1000000, D / S)
SUBS="1 10 100"
SERVER_CPU=0
CLIENT_CPU=1

usage() {
    echo "Usage: bench/pubsub.sh [--runnel PATH] [--redis PATH] [--rounds N]"
    echo "                       [--deliveries D] [--subs LIST]"
    echo "  --runnel P       runnel-server (default: build/bench/broker/runnel-server,"
    echo "                   else a Release build into build/bench-pubsub)"
    echo "  --redis P        redis-server to compare with (default: on PATH)"
    echo "  --rounds N       interleaved rounds (default $ROUNDS)"
    echo "  --deliveries D   deliveries per run, messages = min(1000000, D/S) (default $DELIVERIES)"
    echo "  --subs LIST      subscriber counts, comma-separated (default 1,10,100)"
}

while [ $# -gt 0 ]; do
    case "$1" in
    --runnel) RUNNEL=$2; shift 2 ;;
    --redis) REDIS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --deliveries) DELIVERIES=$2; shift 2 ;;
    --subs) SUBS=${2//,/ }; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "pubsub.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

BENCH_NAME=pubsub
CLIENT_NAME=pubsub_fanout
# shellcheck source=bench/hiredis_pair.sh
. "$ROOT/bench/hiredis_pair.sh"
PF=$CLIENT

port_of() { if [ "$1" = runnel ]; then echo "$RUNNEL_PORT"; else echo "$REDIS_PORT"; fi; }

pf() { # server subscribers: one pubsub_fanout run, its result line on stdout
    local m=$((DELIVERIES / $2))
    if [ "$m" -gt 1000000 ]; then m=1000000; fi
    taskset -c "$CLIENT_CPU" "$PF" -h 127.0.0.1 -p "$(port_of "$1")" -s "$2" -m "$m" || {
        echo "pubsub.sh: pubsub_fanout -s $2 failed on $1" >&2
        kill -0 "$RUNNEL_PID" 2>/dev/null || tail -20 "$TMP/runnel.log" >&2
        exit 2
    }
}

echo "== runnel $("$RUNNEL" --version 2>&1 | head -1) ($RUNNEL)" >&2
echo "== redis  $("$REDIS" --version | head -1)" >&2
echo "== $ROUNDS rounds, subscribers: $SUBS, $DELIVERIES deliveries per run;" \
    "servers on CPU $SERVER_CPU, pubsub_fanout on CPU $CLIENT_CPU" >&2

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)
RESULTS=$TMP/results.txt
: >"$RESULTS"
for r in $(seq "$ROUNDS"); do
    order="runnel redis"
    [ $((r % 2)) = 0 ] && order="redis runnel"
    for s in $SUBS; do
        for srv in $order; do
            line=$(pf "$srv" "$s")
            echo "-- round $r/$ROUNDS $srv: $line" >&2
            echo "$srv $r $line" >>"$RESULTS"
        done
    done
done
echo "== measured in $(($(date +%s) - START))s; load average before: $LOAD_BEFORE," \
    "after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$PY" - "$RESULTS" <<'EOF'
import collections, statistics, sys

runs = collections.defaultdict(dict)  # (server, S) -> {round: fields}
for line in open(sys.argv[1]):
    srv, rnd, _, *kv = line.split()
    f = dict(x.split("=") for x in kv)
    runs[(srv, int(f["subscribers"]))][int(rnd)] = f
med = lambda srv, s, k: statistics.median(float(f[k]) for f in runs[(srv, s)].values())
spread = lambda v: (max(v) - min(v)) / statistics.median(v) * 100
subs = sorted({s for _, s in runs})
print("| subscribers | messages | runnel delivered/s | redis delivered/s | runnel/redis "
      "| paired ratio | runnel spread | redis spread "
      "| runnel p50 us | redis p50 us | runnel p99 us | redis p99 us |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in subs:
    rn, rd = runs[("runnel", s)], runs[("redis", s)]
    a, b = med("runnel", s, "rate"), med("redis", s, "rate")
    paired = statistics.median(float(rn[k]["rate"]) / float(rd[k]["rate"]) for k in rn)
    sn = spread([float(f["rate"]) for f in rn.values()])
    sd = spread([float(f["rate"]) for f in rd.values()])
    msgs = next(iter(rn.values()))["messages"]
    print(f"| {s} | {msgs} | {a:.0f} | {b:.0f} | {a / b:.2f} | {paired:.2f} "
          f"| {sn:.0f}% | {sd:.0f}% "
          f"| {med('runnel', s, 'p50_us'):.0f} | {med('redis', s, 'p50_us'):.0f} "
          f"| {med('runnel', s, 'p99_us'):.0f} | {med('redis', s, 'p99_us'):.0f} |")
print()
if 100 in subs:
    a, b = med("runnel", 100, "rate"), med("redis", 100, "rate")
    print(f"goal delivered/s runnel/redis >= 1.2 at 100 subscribers: {a / b:.2f} "
          f"({'met' if a / b >= 1.2 else 'NOT met'})")
for s in subs:
    a, b = med("runnel", s, "p99_us"), med("redis", s, "p99_us")
    print(f"goal p99 runnel <= redis at {s} subscribers: {a:.0f} us vs {b:.0f} us "
          f"({'met' if a <= b else 'NOT met'})")
EOF
exit 0
