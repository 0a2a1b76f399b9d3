#!/usr/bin/env bash
# Call set-up time and CPU per connected call (see bench/calls.mjs). Builds first.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
SB_BUILD_DIR=$PWD/build exec node bench/calls.mjs "$@"
