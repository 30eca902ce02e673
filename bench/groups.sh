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

BENCH_NAME=groups
CLIENT_NAME=group_cycle
# shellcheck source=bench/hiredis_pair.sh
. "$ROOT/bench/hiredis_pair.sh"
GC=$CLIENT

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
