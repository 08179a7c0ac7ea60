#!/usr/bin/env bash
# Installs, builds and runs every test with ctest (unit and end-to-end), then
# fuzzes every parser briefly. The end-to-end tests need the shared folder
# beside the checkout (../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
# --fuzz: clang-14 and its runtime too, for scripts/fuzz.sh below.
bash scripts/install-deps.sh --fuzz
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"

# The same suite again, built with AddressSanitizer (leaks included) and
# UndefinedBehaviorSanitizer; any report fails the test that caused it.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DDMARCSIFT_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j"$(nproc)"
# G_SLICE: GObjects from plain malloc, so that a GMime object left
# referenced shows as a leak (GLib's slices hide it).
G_SLICE=always-malloc UBSAN_OPTIONS=print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)"

# Each libFuzzer target for 20 s after replaying its saved reproducers; a
# crash, leak, timeout or sanitizer report fails the run (fuzz/README.md).
bash scripts/fuzz.sh 20
