#!/usr/bin/env bash
# The main job on sample-reports/: install, build, ingest into the default
# database ($XDG_DATA_HOME/dmarcsift/dmarcsift.db), then list what is stored.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
./build/cli/dmarcsift ingest sample-reports
./build/cli/dmarcsift reports
./build/cli/dmarcsift stats
./build/cli/dmarcsift sources --failing
./build/cli/dmarcsift domains
./build/cli/dmarcsift analyze --min-severity high
