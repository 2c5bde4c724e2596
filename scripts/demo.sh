#!/usr/bin/env bash
# Quick start, part 1: install what is missing, build, run every demo scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build build/default -j"$(nproc)" --target gort-demo
exec build/default/examples/demo/gort-demo "${@:-all}"
