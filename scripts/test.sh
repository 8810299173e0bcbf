#!/usr/bin/env bash
# Builds everything and runs the whole test suite (unit tests, guest tests on every backend).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh"
cd "$top/build"
ctest --output-on-failure -j2 --timeout 600 "$@"
