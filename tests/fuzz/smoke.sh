#!/usr/bin/env bash
# tests/fuzz/smoke.sh: build the fuzz targets with clang in a separate tiny
# build and fuzz the RESP parser briefly. Fails if the fuzzer finds a crash,
# a leak or a timeout; exits 77 (CTest "skipped") when clang is missing.
#
# usage: smoke.sh <build-dir> [seconds]   (builds into <build-dir>/fuzz-smoke)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: smoke.sh <build-dir> [seconds]}/fuzz-smoke
secs=${2:-20}

if ! command -v clang >/dev/null 2>&1; then
    echo "smoke.sh: clang not found, skipping"
    exit 77
fi

cmake -S "$here" -B "$out" -DCMAKE_C_COMPILER=clang -DRUNNEL_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$out" --target fuzz_resp -j 2

corpus=$(mktemp -d "${TMPDIR:-/tmp}/runnel-fuzz-resp.XXXXXX")
trap 'rm -rf "$corpus"' EXIT

# Seeds: byte 0 = flags (1 unauth, 2 tiny max_bulk_len from byte 1), byte 1 =
# chunking seed, then the client's bytes.
seed() { printf "$2" >"$corpus/$1"; }
seed ping '\000\005*1\r\n$4\r\nPING\r\n'
seed set '\000\011*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n'
seed binary '\000\003*2\r\n$5\r\na\000b\r\n\r\n$0\r\n\r\n'
seed pipeline '\000\177*1\r\n$4\r\nPING\r\nECHO x\r\n*0\r\n\n*-1\r\nPING\n'
seed inline '\000\002SET "a\\x41\\n" '"'"'b\\'"'"'c'"'"' d\r\n'
seed badquote '\000\001ECHO "ab\n'
seed badcount '\000\001*x\r\n'
seed dollar '\000\001*1\r\n:1\r\n'
seed bulklen '\002\004*1\r\n$5\r\nhello\r\n'
seed unauth '\001\001*11\r\n*1\r\n$16385\r\n'
seed skip '\000\001*1\rX$1\r\nzQQ'

# libFuzzer reports a crash with exit code 77 by default, which CTest would
# read as "skipped": force 1 for crashes and timeouts.
"$out/fuzz_resp" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -error_exitcode=1 -timeout_exitcode=1 -artifact_prefix="$out/" -print_final_stats=1 \
    "$corpus"
