#!/usr/bin/env bash
# dmarcsift beside the Debian-packaged DMARC report tools, on the same
# generated corpus and in the same run: records/s and peak RSS of each, and
# the ratios to dmarcsift. A benchmark, not a test: CI does not run it.
# Install the peers first with bench/install-peers.sh. See bench/README.md.
#   usage: bench/peers.sh [--quick] [--records N] [--slow-records N]
#     --records N       dmarc-cat and dmarcts-report-parser read the first
#                       files holding up to N records (default 0: all 20,000;
#                       about 3.5 and 1 minutes here)
#     --slow-records N  the same for Mail::DMARC (default 1000: it stores
#                       15-75 records/s here; 0 = all, 5 to 25 minutes)
#     --quick           every peer on 1000 records, 3 dmarcsift runs
# Environment: RUNS (dmarcsift runs, default 5), BENCH_DIR, DMARCSIFT_BIN,
# DMARCSIFT_SHARED as for bench/run.sh.
# dmarcts-report-parser gets a throwaway MariaDB server: its own datadir and
# socket in a temporary directory, listening on 127.0.0.1 only, stopped and
# deleted when this script exits. No peer sends anything off the machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

records=0
slow_records=1000
runs=${RUNS:-5}
while [ $# -gt 0 ]; do
  case "$1" in
    --records) records=${2:?--records needs a number}; shift 2 ;;
    --slow-records) slow_records=${2:?--slow-records needs a number}; shift 2 ;;
    --quick) records=1000; slow_records=1000; runs=${RUNS:-3}; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "peers: unknown argument $1 (usage: bench/peers.sh [--quick] [--records N] [--slow-records N])" >&2
       exit 2 ;;
  esac
done
[ -x /usr/bin/time ] || { echo "peers: /usr/bin/time is missing (bash bench/install-peers.sh)" >&2; exit 1; }
corpus_records=20000
shared=${DMARCSIFT_SHARED:-$root/../shared}
bench_dir=${BENCH_DIR:-/tmp/dmarcsift-bench}
binary=${DMARCSIFT_BIN:-$root/build/cli/dmarcsift}

if [ -z "${DMARCSIFT_BIN:-}" ]; then
  if [ -f "$root/build/CMakeCache.txt" ]; then
    cmake --build "$root/build" --target dmarcsift >&2
  else
    echo "peers: building $binary (scripts/build.sh) ..." >&2
    bash "$root/scripts/build.sh" >&2
  fi
fi
[ -x "$binary" ] || { echo "peers: $binary is not an executable" >&2; exit 1; }

corpus="$bench_dir/corpus-$corpus_records-gz"
if [ ! -f "$corpus/manifest.json" ]; then
  rm -rf "$corpus"
  mkdir -p "$bench_dir"
  echo "peers: generating $corpus_records records (gz) in $corpus ..." >&2
  python3 "$shared/tools/gen_corpus.py" --out "$corpus" --records "$corpus_records" --format gz \
    --no-verify >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dmarcsift-peers.XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    # mariadbd flushes and exits on SIGTERM; give it a while before deleting
    # the datadir under it.
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A throwaway MariaDB for dmarcts-report-parser. --no-defaults keeps the
# system's /etc/mysql configuration out of it; --skip-grant-tables spares
# setting up accounts (any user may connect, but only from this machine, to
# a server that lives as long as this script).
port=0
socket="$work/mariadb.sock"
if command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null \
   && command -v dmarcts-report-parser >/dev/null; then
  as_user=()
  if [ "$(id -u)" -eq 0 ]; then as_user=(--user=root); fi
  if mariadb-install-db --no-defaults --datadir="$work/mariadb" "${as_user[@]}" --skip-test-db \
       >"$work/mariadb-install.log" 2>&1; then
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mariadbd --no-defaults --datadir="$work/mariadb" --socket="$socket" --port="$port" \
      --bind-address=127.0.0.1 --skip-networking=0 --skip-grant-tables \
      --pid-file="$work/mariadb.pid" --log-error="$work/mariadb.err" --tmpdir="$work" \
      "${as_user[@]}" >>"$work/mariadb.err" 2>&1 &
    server_pid=$!
    for _ in $(seq 150); do
      mariadb-admin --no-defaults --socket="$socket" ping >/dev/null 2>&1 && break
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.2
    done
    if mariadb --no-defaults --socket="$socket" -e "CREATE DATABASE dmarc" 2>"$work/mariadb-client.err"; then
      echo "peers: MariaDB $(mariadbd --version | awk '{print $3}') on 127.0.0.1:$port, datadir $work/mariadb"
    else
      echo "peers: the throwaway MariaDB did not start; dmarcts-report-parser is skipped:" >&2
      tail -n 5 "$work/mariadb.err" "$work/mariadb-client.err" >&2 || true
      port=0
    fi
  else
    echo "peers: mariadb-install-db failed; dmarcts-report-parser is skipped:" >&2
    tail -n 5 "$work/mariadb-install.log" >&2
  fi
elif command -v dmarcts-report-parser >/dev/null; then
  echo "peers: mariadb-server is not installed (bash bench/install-peers.sh)" >&2
fi

python3 "$here/peers.py" --binary "$binary" --corpus "$corpus" --work "$work" \
  --records "$records" --slow-records "$slow_records" --runs "$runs" --mariadb-port "$port" --mariadb-socket "$socket" \
  --mariadb-pid "${server_pid:-0}"
