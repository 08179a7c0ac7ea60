"""Runs `dmarcsift ingest` on a generated corpus several times into a fresh
database each time and prints median records/s, peak RSS and bytes/record."""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    binary, corpus, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(os.path.join(corpus, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    target = os.path.join(corpus, manifest["input"])
    # Warm the page cache so every run reads the corpus from memory.
    for dirpath, _, files in os.walk(target):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                f.read()
    rates, rss, sizes = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="dmarcsift-bench-") as tmp:
            db = os.path.join(tmp, "bench.db")
            started = time.monotonic()
            proc = subprocess.Popen(["/usr/bin/time", "-f", "%M", binary, "--db", db, "--quiet",
                                     "--format", "json", "ingest", target],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = proc.communicate()
            elapsed = time.monotonic() - started
            if proc.returncode != 0:
                sys.exit(f"ingest failed ({proc.returncode}): {err.decode()[-2000:]}")
            summary = json.loads(out)
            if summary["records_stored"] != manifest["records"]:
                sys.exit(f"stored {summary['records_stored']} records, manifest says {manifest['records']}")
            rates.append(manifest["records"] / elapsed)
            rss.append(int(err.decode().strip().splitlines()[-1]) / 1024)
            subprocess.run(["sqlite3", db, "PRAGMA wal_checkpoint(TRUNCATE);"], check=True,
                           stdout=subprocess.DEVNULL)
            size = sum(os.path.getsize(os.path.join(tmp, n)) for n in os.listdir(tmp))
            sizes.append(size / manifest["records"])
    print(f"corpus: {corpus} ({manifest['records']:,} records, {manifest['reports']:,} reports, "
          f"{manifest['files']:,} files)")
    print(f"runs: {runs}")
    print(f"ingest: median {statistics.median(rates):,.0f} records/s "
          f"(min {min(rates):,.0f}, max {max(rates):,.0f})")
    print(f"peak RSS: median {statistics.median(rss):.1f} MB (max {max(rss):.1f} MB)")
    print(f"database: {statistics.median(sizes):.1f} bytes per stored record")


if __name__ == "__main__":
    main()
