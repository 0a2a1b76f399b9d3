#!/usr/bin/env bash
# Installs what building and testing switchboard needs on Debian bookworm, skipping what is
# already there. Sourced by tools/test.sh and tools/demo.sh; `tools/deps.sh build|test` runs it.
set -euo pipefail

SB_BUILD_PACKAGES=(
  build-essential cmake pkg-config
  libnice-dev libsrtp2-dev libopus-dev libssl-dev libglib2.0-dev libcurl4-openssl-dev
  libjansson-dev libyaml-dev libmicrohttpd-dev libcmocka-dev
  libsofia-sip-ua-dev libsofia-sip-ua-glib-dev libspandsp-dev libspeexdsp-dev
)
SB_TEST_PACKAGES=(
  clang libclang-rt-14-dev chromium sox
  kamailio baresip-core sip-tester openssl
)

sb_missing_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  echo "${missing[@]:-}"
}

sb_install_packages() {
  local missing
  missing=$(sb_missing_packages "$@")
  [ -z "$missing" ] && return 0
  echo "installing: $missing"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing \
    >/dev/null
}

# Node.js may come from Debian or from another apt source that bundles npm; install Debian's
# only when there is none, so the two never fight over /usr/bin/node.
sb_install_node() {
  command -v node >/dev/null && command -v npm >/dev/null && return 0
  sb_install_packages nodejs npm
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-test}" in
    build) sb_install_packages "${SB_BUILD_PACKAGES[@]}" ;;
    test) sb_install_packages "${SB_BUILD_PACKAGES[@]}" "${SB_TEST_PACKAGES[@]}"; sb_install_node ;;
    *) echo "usage: $0 build|test" >&2; exit 2 ;;
  esac
fi
