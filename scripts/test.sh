#!/usr/bin/env bash
# Installs, builds and runs every test with ctest (unit and end-to-end).
# The end-to-end tests need the shared folder beside the checkout (../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"

# The same suite again, built with AddressSanitizer (leaks included) and
# UndefinedBehaviorSanitizer; any report fails the test that caused it.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DDMARCSIFT_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j"$(nproc)"
UBSAN_OPTIONS=print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
