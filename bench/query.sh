#!/usr/bin/env bash
# Query latency (issues 4 and 5): builds a database of RECORDS records from a
# corpus of shared/tools/gen_corpus.py (both cached under $BENCH_DIR), then
# times `sources --failing`, `analyze` and `domains` as a person runs them
# (table output), RUNS times each after one untimed run, and prints medians.
#   usage: bench/query.sh [RECORDS=10000000] [RUNS=5]
# Prints one line per query: "query <name> median_ms <N> (min <A>, max <B>)".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
records=${1:-10000000}
runs=${2:-5}
shared=${DMARCSIFT_SHARED:-$root/../shared}
bench_dir=${BENCH_DIR:-/tmp/dmarcsift-bench}
binary=${DMARCSIFT_BIN:-$root/build/cli/dmarcsift}

[ -x "$binary" ] || { echo "bench: build first (scripts/build.sh); no $binary" >&2; exit 1; }
corpus="$bench_dir/corpus-$records-gz"
if [ ! -f "$corpus/manifest.json" ]; then
  rm -rf "$corpus"
  mkdir -p "$bench_dir"
  echo "bench: generating $records records in $corpus (a 10M corpus takes several minutes) ..." >&2
  python3 "$shared/tools/gen_corpus.py" --out "$corpus" --records "$records" --format gz \
    --no-verify >/dev/null
fi
# The database is kept beside the corpus and rebuilt when the binary is newer,
# so that figures are never those of a schema an older build wrote.
db="$bench_dir/query-$records.db"
if [ ! -f "$db" ] || [ "$binary" -nt "$db" ]; then
  rm -f "$db" "$db-wal" "$db-shm"
  echo "bench: ingesting $corpus into $db ..." >&2
  # The 10M build is also the check of the peak RSS target at that size.
  python3 - "$binary" "$db" "$corpus/reports" <<'PY'
import resource, subprocess, sys, time

binary, db, reports = sys.argv[1:4]
started = time.perf_counter()
status = subprocess.run([binary, "--db", db, "--quiet", "ingest", reports],
                        stdout=subprocess.DEVNULL).returncode
elapsed = time.perf_counter() - started
if status != 0:
    sys.exit(f"bench: ingest failed with status {status}")
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"bench: ingest with summaries took {elapsed:.1f} s, peak RSS {peak_mb:.1f} MB",
      file=sys.stderr)
PY
fi
exec python3 - "$binary" "$db" "$runs" <<'PY'
import statistics, subprocess, sys, time

binary, db, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
queries = [("sources --failing", ["sources", "--failing"]),
           ("analyze", ["analyze"]),
           ("domains", ["domains"])]
size = subprocess.run(["sqlite3", db, "SELECT sum(record_count) FROM reports"],
                      capture_output=True, text=True)
if size.returncode == 0:
    print(f"database: {db}, {int(size.stdout.strip() or 0):,} records")
for name, args in queries:
    command = [binary, "--db", db, *args]
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - started) * 1000)
    print(f"query {name} median_ms {statistics.median(times):.0f} "
          f"(min {min(times):.0f}, max {max(times):.0f})")
PY
