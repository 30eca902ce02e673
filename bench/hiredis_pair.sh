# bench/hiredis_pair.sh: sourced by the hiredis benchmarks (groups.sh,
# pubsub.sh). Installs libhiredis-dev when missing (as .ci/setup installs
# packages), finds or builds a Release runnel-server, builds the C client
# bench/$CLIENT_NAME.c into $CLIENT, starts runnel-server and redis-server on
# free ports pinned to $SERVER_CPU, waits until both answer, and stops them
# by pid on exit (RUNNEL_PID, REDIS_PID, RUNNEL_PORT, REDIS_PORT, TMP).
# Expects ROOT, PY, REDIS, RUNNEL (may be empty), SERVER_CPU, BENCH_NAME
# (for messages and dirs) and CLIENT_NAME.

# libhiredis-dev, installed like .ci/setup does: as root or through sudo,
# apt-get update only when it is missing.
if ! dpkg-query -W -f='${Status}' libhiredis-dev 2>/dev/null | grep -q "install ok installed"; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "$BENCH_NAME.sh: libhiredis-dev is missing; install it as root:" >&2
        echo "  apt-get update && apt-get install -y libhiredis-dev" >&2
        exit 2
    fi
    echo "== installing libhiredis-dev" >&2
    "${SUDO[@]}" apt-get update -q >&2
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends libhiredis-dev >&2
fi

for tool in gcc redis-cli taskset "$REDIS"; do
    command -v "$tool" >/dev/null || { echo "$BENCH_NAME.sh: $tool not found" >&2; exit 2; }
done

if [ -z "$RUNNEL" ]; then
    if [ -x "$ROOT/build/bench/broker/runnel-server" ]; then
        RUNNEL=$ROOT/build/bench/broker/runnel-server
    else
        echo "== building Release runnel-server into build/bench-$BENCH_NAME" >&2
        mkdir -p "$ROOT/build/bench-$BENCH_NAME"
        cmake -S "$ROOT" -B "$ROOT/build/bench-$BENCH_NAME" -DCMAKE_BUILD_TYPE=Release \
            -DRUNNEL_BUILD_TESTS=OFF >"$ROOT/build/bench-$BENCH_NAME/build.log" 2>&1 &&
        cmake --build "$ROOT/build/bench-$BENCH_NAME" -j2 --target runnel-server \
            >>"$ROOT/build/bench-$BENCH_NAME/build.log" 2>&1 || {
            tail -30 "$ROOT/build/bench-$BENCH_NAME/build.log" >&2
            echo "$BENCH_NAME.sh: build failed (log: build/bench-$BENCH_NAME/build.log)" >&2
            exit 2
        }
        RUNNEL=$ROOT/build/bench-$BENCH_NAME/broker/runnel-server
    fi
fi
[ -x "$RUNNEL" ] || { echo "$BENCH_NAME.sh: $RUNNEL is not executable" >&2; exit 2; }

TMP=$(mktemp -d /tmp/runnel-$BENCH_NAME.XXXXXX)
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

CLIENT=$TMP/$CLIENT_NAME
gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -o "$CLIENT" \
    "$ROOT/bench/$CLIENT_NAME.c" -lhiredis -lpthread

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
    echo "$BENCH_NAME.sh: $1 did not start on port $2; its log:" >&2
    cat "$TMP/$1.log" >&2
    exit 2
}
wait_ready runnel "$RUNNEL_PORT" "$RUNNEL_PID"
wait_ready redis "$REDIS_PORT" "$REDIS_PID"
