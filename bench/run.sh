#!/usr/bin/env bash
# The benchmark of issue 5, in one command: ingest speed, peak RSS and
# database size on generated corpora of 20 thousand, 200 thousand (.xml.gz,
# .zip and plain XML) and 2 million records, beside the floors (only
# decompressing, only parsing) measured in the same run; then query latency
# on a database of 10 million records (bench/query.sh). See bench/README.md.
#   usage: bench/run.sh [--quick]
#     --quick  only the 20k corpus, 3 runs, queries on 20k records: a trial
# Environment:
#   RUNS=5                  timed runs per measurement (medians; --quick: 3)
#   BENCH_DIR=/tmp/dmarcsift-bench   where corpora are generated and kept
#   DMARCSIFT_BIN=build/cli/dmarcsift   the binary measured (built if missing)
#   DMARCSIFT_FLOOR=<build>/bench/dmarcsift_floor   (built if missing)
#   DMARCSIFT_SHARED=../shared   the folder holding tools/gen_corpus.py
#   QUERY_RECORDS=10000000  size of the database bench/query.sh measures
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

quick=false
for arg in "$@"; do
  case "$arg" in
    --quick) quick=true ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "bench: unknown argument $arg (usage: bench/run.sh [--quick])" >&2; exit 2 ;;
  esac
done

if $quick; then
  runs=${RUNS:-3}
  query_records=${QUERY_RECORDS:-20000}
  corpora=("20000 gz")
else
  runs=${RUNS:-5}
  query_records=${QUERY_RECORDS:-10000000}
  corpora=("20000 gz" "200000 gz" "200000 zip" "200000 xml" "2000000 gz")
fi
shared=${DMARCSIFT_SHARED:-$root/../shared}
bench_dir=${BENCH_DIR:-/tmp/dmarcsift-bench}
binary=${DMARCSIFT_BIN:-$root/build/cli/dmarcsift}
# The build directory is the one holding cli/dmarcsift.
build_dir=$(dirname "$(dirname "$binary")")
floor=${DMARCSIFT_FLOOR:-$build_dir/bench/dmarcsift_floor}

# From a clean clone scripts/build.sh installs the packages and builds build/
# as RelWithDebInfo; an existing build/ is brought up to date, so that the
# figures are never those of a stale binary. A binary given in DMARCSIFT_BIN
# is measured as it is.
if [ -z "${DMARCSIFT_BIN:-}" ]; then
  if [ -f "$build_dir/CMakeCache.txt" ]; then
    build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build_dir/CMakeCache.txt")
    case "$build_type" in
      Release|RelWithDebInfo) ;;
      *) echo "bench: warning: $build_dir is a '$build_type' build; figures need RelWithDebInfo" >&2 ;;
    esac
    cmake --build "$build_dir" --target dmarcsift >&2
  else
    echo "bench: building $binary (scripts/build.sh) ..." >&2
    bash "$root/scripts/build.sh" >&2
  fi
elif [ ! -x "$binary" ]; then
  echo "bench: DMARCSIFT_BIN=$binary is not an executable" >&2
  exit 1
fi
# The floor is part of the project's build once the top-level CMakeLists.txt
# includes bench/; until then it is built on its own beside the corpora.
if [ -z "${DMARCSIFT_FLOOR:-}" ] && [ -f "$build_dir/CMakeCache.txt" ]; then
  cmake --build "$build_dir" --target dmarcsift_floor >/dev/null 2>&1 || true
fi
if [ ! -x "$floor" ]; then
  if [ -n "${DMARCSIFT_FLOOR:-}" ]; then
    echo "bench: DMARCSIFT_FLOOR=$floor is not an executable" >&2
    exit 1
  fi
  floor_build="$bench_dir/build-floor"
  echo "bench: building dmarcsift_floor in $floor_build ..." >&2
  cmake -S "$here" -B "$floor_build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$floor_build" >&2
  floor="$floor_build/dmarcsift_floor"
fi

# Corpora are generated once and kept, under the names bench/ingest.sh uses.
mkdir -p "$bench_dir"
corpus_dirs=()
for spec in "${corpora[@]}"; do
  read -r records format <<<"$spec"
  corpus="$bench_dir/corpus-$records-$format"
  if [ ! -f "$corpus/manifest.json" ]; then
    rm -rf "$corpus"
    echo "bench: generating $records records ($format) in $corpus ..." >&2
    python3 "$shared/tools/gen_corpus.py" --out "$corpus" --records "$records" --format "$format" \
      --no-verify >/dev/null
  fi
  corpus_dirs+=("$corpus")
done

echo "$("$binary" --version 2>/dev/null | head -n1 || echo dmarcsift), $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'); $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
python3 "$here/run.py" "$binary" "$floor" "$runs" "${corpus_dirs[@]}"

echo
if [ -f "$here/query.sh" ]; then
  echo "queries on a database of $query_records records (bench/query.sh $query_records $runs):"
  DMARCSIFT_BIN="$binary" BENCH_DIR="$bench_dir" bash "$here/query.sh" "$query_records" "$runs"
  echo "target: each query < 200 ms on 10,000,000 records"
else
  echo "queries: skipped, bench/query.sh does not exist yet"
fi
