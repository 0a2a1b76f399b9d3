#!/usr/bin/env bash
# Conference capacity, switchboard beside Janus AudioBridge (see bench/conference.mjs and
# bench/README.md). Builds switchboard, devhs and mxload first (RelWithDebInfo) in SB_BUILD_DIR
# (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${SB_BUILD_DIR:-$PWD/build}
if ! command -v taskset >/dev/null; then
  echo "conference: taskset (util-linux) is required" >&2
  exit 1
fi
if [ "$(nproc)" -lt 2 ]; then
  echo "conference: needs two CPUs (server on one, load generator on the other)" >&2
  exit 1
fi
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$dir" -j "$(nproc)" --target switchboard devhs mxload >/dev/null
SB_BUILD_DIR=$dir exec node bench/conference.mjs "$@"
