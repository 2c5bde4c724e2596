#!/usr/bin/env bash
# Quick start, part 2: install what is missing, build, run every test.
# Usage: scripts/test.sh [preset]   (default, asan, tsan, clang; default: default)
# GORT_STRESS_SECONDS bounds each stress test (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
scripts/install-deps.sh
export GORT_STRESS_SECONDS="${GORT_STRESS_SECONDS:-2}"
cmake --preset "$preset" >/dev/null
cmake --build "build/$preset" -j"$(nproc)"
ctest --preset "$preset"
