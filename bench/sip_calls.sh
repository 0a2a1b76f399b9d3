#!/usr/bin/env bash
# Two-party SIP <-> Matrix bridges: switchboard's CPU per call, transcoded (PCMU on the SIP side)
# and in passthrough (Opus on both sides); see bench/sip_calls.mjs. Builds first, RelWithDebInfo,
# in $SB_BUILD_DIR (default: build/).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SB_BUILD_DIR:-$PWD/build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target switchboard devhs mxcall sipload >/dev/null
SB_BUILD_DIR=$BUILD exec node bench/sip_calls.mjs "$@"
