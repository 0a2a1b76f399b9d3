#!/usr/bin/env bash
# Installs what is missing, builds, and runs the demo: a development homeserver, switchboard as
# the bot, and three callers in one room, each sending a tone; shows live status and what each
# heard. DEMO_SECONDS sets how long the call lasts (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=tools/deps.sh
source tools/deps.sh
sb_install_packages "${SB_BUILD_PACKAGES[@]}"
sb_install_node

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
SB_BUILD_DIR=$PWD/build exec node tools/demo.mjs
