#!/usr/bin/env bash
# Ingest benchmark (issue 3, done-when 7): generates a corpus of RECORDS
# records as .xml.gz with shared/tools/gen_corpus.py (cached under
# $BENCH_DIR), ingests it RUNS times into a fresh database, and prints the
# median records/s, peak RSS and database bytes per stored record.
#   usage: bench/ingest.sh [RECORDS=200000] [RUNS=5] [FORMAT=gz]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
records=${1:-200000}
runs=${2:-5}
format=${3:-gz}
shared=${DMARCSIFT_SHARED:-$root/../shared}
bench_dir=${BENCH_DIR:-/tmp/dmarcsift-bench}
binary=${DMARCSIFT_BIN:-$root/build/cli/dmarcsift}

[ -x "$binary" ] || { echo "bench: build first (scripts/build.sh); no $binary" >&2; exit 1; }
corpus="$bench_dir/corpus-$records-$format"
if [ ! -f "$corpus/manifest.json" ]; then
  rm -rf "$corpus"
  echo "bench: generating $records records ($format) in $corpus ..." >&2
  python3 "$shared/tools/gen_corpus.py" --out "$corpus" --records "$records" --format "$format" --no-verify >/dev/null
fi
exec python3 "$here/measure_ingest.py" "$binary" "$corpus" "$runs"
