"""Runs `dmarcsift ingest` on a generated corpus several times into a fresh
database each time and prints median records/s, peak RSS and bytes/record.
  usage: measure_ingest.py BINARY CORPUS RUNS
bench/run.py and bench/peers.py import measure_ingest() from here."""
import json
import os
import subprocess
import sys
import tempfile

from measure import median, read_manifest, run_measured, warm_page_cache


def ingest_once(binary, target, manifest, expected_records=None):
    """One ingest into a fresh database: (Measured, database bytes)."""
    with tempfile.TemporaryDirectory(prefix="dmarcsift-bench-") as tmp:
        db = os.path.join(tmp, "bench.db")
        run = run_measured([binary, "--db", db, "--quiet", "--format", "json", "ingest", *target])
        if run.returncode != 0:
            sys.exit(f"ingest failed ({run.returncode}): {run.stderr.decode()[-2000:]}")
        summary = json.loads(run.stdout)
        expected = manifest["records"] if expected_records is None else expected_records
        if summary["records_stored"] != expected:
            sys.exit(f"stored {summary['records_stored']} records, expected {expected}")
        # The WAL is folded into the database first, so that the size is
        # what the data takes and not how far the last checkpoint got.
        subprocess.run(["sqlite3", db, "PRAGMA wal_checkpoint(TRUNCATE);"], check=True,
                       stdout=subprocess.DEVNULL)
        size = sum(os.path.getsize(os.path.join(tmp, n)) for n in os.listdir(tmp))
        return run, size


def measure_ingest(binary, corpus, runs, warmup_runs=0, inputs=None, records=None):
    """Ingests the corpus (or `inputs`, holding `records` records) `runs`
    times; `warmup_runs` untimed runs go first. Returns medians and ranges."""
    manifest = read_manifest(corpus)
    target = inputs if inputs is not None else [os.path.join(corpus, manifest["input"])]
    count = manifest["records"] if records is None else records
    warm_page_cache(target)
    for _ in range(warmup_runs):
        ingest_once(binary, target, manifest, count)
    seconds, rss, sizes = [], [], []
    for _ in range(runs):
        run, size = ingest_once(binary, target, manifest, count)
        seconds.append(run.seconds)
        rss.append(run.peak_rss_mb)
        sizes.append(size / count)
    rates = [count / s for s in seconds]
    return {
        "manifest": manifest,
        "records": count,
        "runs": runs,
        "seconds": median(seconds),
        "rate": median(rates),
        "rate_min": min(rates),
        "rate_max": max(rates),
        "peak_rss_mb": median(rss),
        "peak_rss_mb_max": max(rss),
        "db_bytes_per_record": median(sizes),
    }


def main():
    binary, corpus, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    result = measure_ingest(binary, corpus, runs)
    manifest = result["manifest"]
    print(f"corpus: {corpus} ({manifest['records']:,} records, {manifest['reports']:,} reports, "
          f"{manifest['files']:,} files)")
    print(f"runs: {runs}")
    print(f"ingest: median {result['rate']:,.0f} records/s "
          f"(min {result['rate_min']:,.0f}, max {result['rate_max']:,.0f})")
    print(f"peak RSS: median {result['peak_rss_mb']:.1f} MB (max {result['peak_rss_mb_max']:.1f} MB)")
    print(f"database: {result['db_bytes_per_record']:.1f} bytes per stored record")


if __name__ == "__main__":
    main()
