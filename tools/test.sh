#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test, as CI does:
#   1. a normal build (warnings are errors) and every unit and integration test;
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build (clang) and the same tests;
#   3. a libFuzzer build and each fuzz target for a short while over its seed corpus.
# Options: --quick (only step 1), --no-fuzz, --fuzz-seconds N (default 45).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

quick=0
fuzz=1
fuzz_seconds=45
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --no-fuzz) fuzz=0 ;;
    --fuzz-seconds) fuzz_seconds=$2; shift ;;
    *) echo "usage: $0 [--quick] [--no-fuzz] [--fuzz-seconds N]" >&2; exit 2 ;;
  esac
  shift
done

# shellcheck source=tools/deps.sh
source tools/deps.sh
sb_install_packages "${SB_BUILD_PACKAGES[@]}" "${SB_TEST_PACKAGES[@]}"
sb_install_node

jobs=$(nproc)
start=$(date +%s)
section() { printf '\n=== %s (%ds) ===\n' "$1" "$(( $(date +%s) - start ))"; }

if [ -f tests/browser/package-lock.json ]; then
  section "browser test dependencies"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

run_suite() { # build-dir: unit tests in parallel, integration tests one at a time
  local dir=$1
  (cd "$dir" && ctest -L unit -j "$jobs" --output-on-failure &&
                ctest -L integration --output-on-failure)
}

section "build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSB_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
section "tests"
run_suite build

if [ "$quick" = 0 ]; then
  section "sanitizer build (ASan + UBSan)"
  CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSB_SANITIZE=ON >/dev/null
  cmake --build build-asan -j "$jobs"
  section "tests under ASan + UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_suite build-asan

  if [ "$fuzz" = 1 ]; then
    section "fuzz build"
    CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSB_FUZZ=ON >/dev/null
    cmake --build build-fuzz -j "$jobs"
    for bin in build-fuzz/tests/fuzz/fuzz_*; do
      name=$(basename "$bin"); name=${name#fuzz_}
      section "fuzz $name for ${fuzz_seconds}s"
      scratch=$(mktemp -d)
      # New inputs go to the scratch folder; the committed seeds are only read.
      "$bin" -max_total_time="$fuzz_seconds" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 "$scratch" "tests/fuzz/corpus/$name" 2>&1 | tail -n 12
      rm -rf "$scratch"
    done
  fi
fi

section "all tests passed"
