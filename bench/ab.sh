#!/usr/bin/env bash
# Two builds on the same work, run after one another in turn: this machine's
# speed drifts by 10-25 % within an hour, so figures taken an hour apart, or
# one build's runs all before the other's, compare the hour as much as the
# code. Prints every run, then for each build the median wall time, CPU time
# (user + system) and peak RSS, and the median of the differences B - A
# between the runs of each pair.
#   usage: bench/ab.sh [--runs N] ingest CORPUS_DIR BIN_A BIN_B
#          bench/ab.sh [--runs N] fold DATABASE BIN_A BIN_B
#     ingest  each run ingests CORPUS_DIR into a fresh database
#     fold    each run rebuilds the summaries of a copy of DATABASE (its
#             summaries cleared first) with `dmarcsift domains`
#   --runs N  pairs of runs (default 5), after one untimed run of each build
# Example, this tree against its parent:
#   git worktree add /tmp/parent HEAD~1 && (cd /tmp/parent && bash scripts/build.sh)
#   bash bench/ab.sh ingest /tmp/dmarcsift-bench/corpus-2000000-gz \
#       /tmp/parent/build/cli/dmarcsift build/cli/dmarcsift
set -euo pipefail

runs=5
if [[ ${1:-} == --runs ]]; then
  if [[ $# -lt 2 || ! ${2} =~ ^[1-9][0-9]*$ ]]; then
    echo "ab: --runs takes a whole number of pairs, 1 or more" >&2
    exit 2
  fi
  runs=$2
  shift 2
fi
if [[ $# -ne 4 || ( $1 != ingest && $1 != fold ) ]]; then
  awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2
  exit 2
fi
mode=$1 work=$2 bin_a=$3 bin_b=$4
for bin in "$bin_a" "$bin_b"; do
  [[ -x $bin ]] || { echo "ab: $bin is not an executable" >&2; exit 2; }
done
[[ -e $work ]] || { echo "ab: $work does not exist" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "ab: needs /usr/bin/time (Debian package time)" >&2; exit 2; }

scratch=$(mktemp -d --suffix=-dmarcsift-ab)
trap 'rm -rf "$scratch"' EXIT

if [[ $mode == fold ]]; then
  # Copied through SQLite, which takes what is still in the write-ahead log
  # too, and cleared once: every run starts from the same bytes.
  python3 - "$work" "$scratch/cleared.db" <<'PY'
import sqlite3, sys
source = sqlite3.connect(sys.argv[1])
copy = sqlite3.connect(sys.argv[2])
source.backup(copy)
source.close()
copy.executescript("DELETE FROM source_summaries; DELETE FROM domain_summaries;"
                   " DELETE FROM summary_mark; PRAGMA wal_checkpoint(TRUNCATE);")
copy.close()
PY
fi

# One run of `bin`; prints "wall cpu peak_kb records source_rows".
run_once() {
  local bin=$1
  rm -f "$scratch"/run.db*
  local command=("$bin" --db "$scratch/run.db" --quiet ingest "$work")
  if [[ $mode == fold ]]; then
    cp "$scratch/cleared.db" "$scratch/run.db"
    command=("$bin" --db "$scratch/run.db" domains)
  fi
  # Exit status 3 is an ingest that rejected some files (a corpus keeps its
  # manifest beside the reports); anything else stops the comparison.
  local status=0
  /usr/bin/time -o "$scratch/time" -f "%e %U %S %M" "${command[@]}" >/dev/null 2>"$scratch/err" ||
    status=$?
  if [[ $status -ne 0 && $status -ne 3 ]]; then
    echo "ab: $bin failed (exit $status):" >&2
    tail -5 "$scratch/err" >&2
    exit 1
  fi
  # What was stored, so that two builds are only compared on the same result.
  local stored
  stored=$(python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(*db.execute("SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM source_summaries)").fetchone())' \
    "$scratch/run.db")
  # The last line: before it, time(1) says when the exit status was not 0.
  awk -v stored="$stored" 'END { printf "%s %.2f %s %s\n", $1, $2 + $3, $4, stored }' "$scratch/time"
}

run_once "$bin_a" >/dev/null
run_once "$bin_b" >/dev/null
: >"$scratch/runs"
for ((i = 1; i <= runs; i++)); do
  for side in A B; do
    bin=$bin_a
    [[ $side == B ]] && bin=$bin_b
    result=$(run_once "$bin")
    echo "$side $result" >>"$scratch/runs"
    read -r wall cpu peak records sources <<<"$result"
    printf 'pair %d %s: %s s wall, %s s CPU, %d MB peak; %d records, %d source rows\n' \
      "$i" "$side" "$wall" "$cpu" $((peak / 1024)) "$records" "$sources"
  done
done

python3 - "$scratch/runs" "$bin_a" "$bin_b" <<'PY'
import statistics, sys
runs = {"A": [], "B": []}
for line in open(sys.argv[1]):
    side, wall, cpu, peak, records, sources = line.split()
    runs[side].append((float(wall), float(cpu), int(peak), (records, sources)))
stored = {row[3] for rows in runs.values() for row in rows}
if len(stored) > 1:
    sys.exit(f"ab: the runs stored different numbers of records and source rows: {sorted(stored)}")
for side, name in (("A", sys.argv[2]), ("B", sys.argv[3])):
    rows = runs[side]
    print(f"{side} {name}: median {statistics.median(r[0] for r in rows):.3f} s wall, "
          f"{statistics.median(r[1] for r in rows):.2f} s CPU, "
          f"{statistics.median(r[2] for r in rows) / 1024:.1f} MB peak")
diffs = [b[0] - a[0] for a, b in zip(runs["A"], runs["B"])]
faster = sum(1 for d in diffs if d < 0)
print(f"B - A, pair by pair: median {statistics.median(diffs):+.3f} s "
      f"({statistics.median(diffs) / statistics.median(r[0] for r in runs['A']):+.1%}); "
      f"B faster in {faster} of {len(diffs)} pairs")
PY
