#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds natgw (normal and sanitizer builds), runs
# every unit test suite in both, smoke-runs the benchmarks and runs the fuzzer for a bounded
# number of iterations. Usage: scripts/test.sh [--quick]   (--quick: normal build only)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc)

scripts/install-deps.sh

step() { printf '\n==> %s\n' "$*"; }

step "build (debugoptimized)"
[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized -Dwerror=true
meson compile -C build -j "$jobs"

step "unit tests"
meson test -C build --print-errorlogs --num-processes "$jobs" --suite unit

step "integration tests (network namespaces, real natgw processes; root)"
meson test -C build --print-errorlogs --num-processes 1 --suite integration

step "benchmark smoke run"
meson test -C build --print-errorlogs --num-processes 1 --suite bench-smoke

if [ "$quick" -eq 1 ]; then
  exit 0
fi

step "sanitizer build (address,undefined)"
[ -f build-asan/build.ninja ] || meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined \
  -Db_lundef=false -Dbenchmarks=false -Dwerror=true
meson compile -C build-asan -j "$jobs"

step "unit tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C build-asan --print-errorlogs --num-processes "$jobs" --suite unit

step "fuzzer (clang libFuzzer, bounded)"
[ -f build-fuzz/build.ninja ] || CXX=clang++ CC=clang meson setup build-fuzz --buildtype=debugoptimized \
  -Dtests=false -Dbenchmarks=false -Dfuzzers=true -Db_lundef=false -Db_sanitize=address,undefined
meson compile -C build-fuzz -j "$jobs"
meson test -C build-fuzz --print-errorlogs --num-processes 1 --suite fuzz

echo
echo "test.sh: all suites passed"
