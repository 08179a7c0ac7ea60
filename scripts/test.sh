#!/usr/bin/env bash
# Installs, builds and runs every test with ctest (unit and end-to-end).
# The end-to-end tests need the shared folder beside the checkout (../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
