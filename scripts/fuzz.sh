#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan) into build-fuzz/,
# replays the saved reproducers in fuzz/regressions/<target>/, then fuzzes
# each target for SECONDS_PER_TARGET seconds from seeds made out of
# sample-reports/, tests/sample-reports/bad/ and the shared corpus.
# Exits non-zero on any crash, leak, timeout or sanitizer report.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]    # default 30
#
# DMARCSIFT_SHARED_DIR overrides the shared folder (default ../shared beside
# the checkout); DMARCSIFT_FUZZ_BUILD_DIR the build directory.
set -euo pipefail
seconds=${1:-30}
case $seconds in '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
root=$PWD
shared=${DMARCSIFT_SHARED_DIR:-$root/../shared}
build=${DMARCSIFT_FUZZ_BUILD_DIR:-$root/build-fuzz}
targets=(fuzz_xml_report fuzz_containers fuzz_ingest)
# Larger inputs only slow mutation down; every seed but one fits.
max_len=65536

bash scripts/install-deps.sh --fuzz
# The project is C++ only; CMAKE_C_COMPILER keeps any C probe on clang too.
cmake --no-warn-unused-cli -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DDMARCSIFT_FUZZ=ON \
  -DDMARCSIFT_SANITIZE=address,undefined,fuzzer-no-link >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seed_sources=("$root/sample-reports" "$root/tests/sample-reports/bad")
if [ -d "$shared/corpus" ]; then
  seed_sources+=("$shared/corpus")
else
  echo "fuzz: $shared/corpus not found, seeding from sample-reports only" >&2
fi

# Seeds: every input file as it is (containers and ingest), and every XML
# document found inside them, unpacked (xml_report).
python3 - "$work/seeds" "$max_len" "${seed_sources[@]}" <<'PY'
import email, email.policy, gzip, hashlib, io, os, sys, tarfile, zipfile, zlib

out, max_len, sources = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
counts = {}

def save(target, data):
    if not data or len(data) > max_len:
        return
    os.makedirs(os.path.join(out, target), exist_ok=True)
    path = os.path.join(out, target, hashlib.sha1(data).hexdigest())
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        counts[target] = counts.get(target, 0) + 1

def mail_parts(data):
    for part in email.message_from_bytes(data, policy=email.policy.compat32).walk():
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            if payload:
                yield payload

def documents(data, depth=0):
    """The XML documents inside `data`, unpacking what Python can."""
    if depth > 4:
        return
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    try:
        if head.startswith(b"<"):
            yield data
        elif data[:2] == b"\x1f\x8b":
            yield from documents(gzip.decompress(data), depth + 1)
        elif data[:1] == b"\x78":
            yield from documents(zlib.decompress(data), depth + 1)
        elif data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for name in z.namelist():
                    yield from documents(z.read(name), depth + 1)
        elif data[257:262] == b"ustar":
            with tarfile.open(fileobj=io.BytesIO(data)) as t:
                for member in t.getmembers():
                    if member.isfile():
                        yield from documents(t.extractfile(member).read(), depth + 1)
        elif data.startswith(b"From "):
            for message in data.split(b"\nFrom "):
                yield from documents(message.split(b"\n", 1)[-1], depth + 1)
        elif b"\n\n" in data.replace(b"\r\n", b"\n")[:65536]:
            for payload in mail_parts(data):
                yield from documents(payload, depth + 1)
    except Exception:  # corrupt on purpose (bad.zip, truncated gzip): no seed
        return

for source in sources:
    for folder, _, names in os.walk(source):
        for name in sorted(names):
            if name.endswith((".md", ".tsv", ".py")):
                continue
            with open(os.path.join(folder, name), "rb") as f:
                data = f.read()
            save("fuzz_containers", data)
            save("fuzz_ingest", data)
            for document in documents(data):
                save("fuzz_xml_report", document)
print("fuzz: seeds " + ", ".join(f"{t} {n}" for t, n in sorted(counts.items())))
PY

# GLib's slice allocator keeps GObjects in magazines of its own, where
# LeakSanitizer cannot tell a lost GMime object from a free one: a message
# left referenced went unreported. Plain malloc makes such leaks show.
export G_SLICE=always-malloc

status=0
mkdir -p "$build/artifacts" "$build/logs"
for target in "${targets[@]}"; do
  binary=$build/fuzz/$target
  log=$build/logs/$target.log
  regressions=("$root/fuzz/regressions/$target"/*)
  if [ -e "${regressions[0]}" ]; then
    if ! "$binary" -rss_limit_mb=2048 -timeout=10 "${regressions[@]}" >"$log" 2>&1; then
      echo "fuzz: $target: FAILED on a saved reproducer in fuzz/regressions/$target/:"
      grep -E "Running:|ERROR|SUMMARY|invariant|runtime error" "$log" | tail -n 8
      status=1
      continue
    fi
    echo "fuzz: $target: ${#regressions[@]} saved reproducer(s) pass"
  fi

  # The first folder collects new inputs and is kept between local runs.
  mkdir -p "$build/corpus/$target"
  if "$binary" "$build/corpus/$target" "$work/seeds/$target" \
      -dict="$root/fuzz/dmarc.dict" -max_total_time="$seconds" -max_len="$max_len" \
      -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$build/artifacts/$target-" \
      >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
  fi
  # "#123456 DONE cov: 2210 ft: 9034 corp: 812/301Kb lim: 4096 exec/s: 4115 rss: 512Mb"
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
  if [ -n "$done_line" ]; then
    read -r execs cov < <(sed -E 's/^#([0-9]+).* cov: ([0-9]+).*/\1 \2/' <<<"$done_line")
    echo "fuzz: $target: $result, $execs executions in ${seconds}s, coverage $cov edges"
  else
    echo "fuzz: $target: $result"
  fi
  if [ "$result" = FAILED ]; then
    grep -E "ERROR|SUMMARY|invariant|runtime error|Test unit written" "$log" | tail -n 12
    echo "fuzz: full log: $log; reproduce with: G_SLICE=always-malloc $binary <the file written above>"
  fi
done
exit "$status"
