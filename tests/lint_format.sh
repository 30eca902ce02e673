#!/usr/bin/env bash
# Fails when a tracked C file is not clang-formatted (the root .clang-format).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
    echo "clang-format not installed" >&2
    exit 77
fi
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find broker protocols tests -name '*.[ch]')
clang-format --dry-run -Werror $files
