"""The table of bench/run.sh: for each corpus, ingest (median of RUNS runs,
each into a fresh database) beside the decompress and parse floors measured
by dmarcsift_floor in the same run.
  usage: run.py BINARY FLOOR_BINARY RUNS CORPUS..."""
import re
import sys

from measure import median, read_manifest, run_measured, warm_page_cache
from measure_ingest import measure_ingest

# Issue 5's targets, printed under the table so that a reader need not look them up.
TARGETS = ("targets: ingest >= 250,000 records/s and <= 1.5x the parse floor; "
           "peak RSS < 150 MB; <= 80 DB bytes/record")


def measure_floor(floor_binary, target, mode, runs, expected_records):
    """Median wall time of `dmarcsift_floor MODE` after one untimed run.

    Wall time is taken from outside, as for ingest, so both include process
    start and the directory walk."""
    argv = [floor_binary, mode, "--threads", "2", target]
    seconds = []
    for index in range(runs + 1):
        run = run_measured(argv)
        if run.returncode != 0:
            sys.exit(f"dmarcsift_floor {mode} failed ({run.returncode}): {run.stderr.decode()[-2000:]}")
        fields = dict(re.findall(r"(\w+) (\S+)", run.stdout.decode()))
        if mode == "parse" and int(fields["records"]) != expected_records:
            sys.exit(f"dmarcsift_floor parse counted {fields['records']} records, "
                     f"manifest says {expected_records}")
        if int(fields["failures"]) != 0:
            print(f"warning: dmarcsift_floor {mode}: {fields['failures']} unreadable inputs in {target}",
                  file=sys.stderr)
        if index > 0:
            seconds.append(run.seconds)
    return median(seconds)


def describe(corpus):
    """A short name for the table: '200k .xml.gz'."""
    manifest = read_manifest(corpus)
    fmt = manifest["generator"]["args"]["format"]
    records = manifest["records"]
    if records % 1_000_000 == 0:
        size = f"{records // 1_000_000}M"
    elif records % 1000 == 0:
        size = f"{records // 1000}k"
    else:
        size = str(records)
    return f"{size} " + {"gz": ".xml.gz", "zip": ".zip", "xml": ".xml"}.get(fmt, fmt)


def main():
    binary, floor_binary, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    corpora = sys.argv[4:]
    header = ["corpus", "records", "files", "ingest s", "ingest rec/s", "peak RSS MB",
              "DB B/record", "decompress floor s", "parse floor s", "ingest/parse floor"]
    rows = []
    for corpus in corpora:
        manifest = read_manifest(corpus)
        target = f"{corpus}/{manifest['input']}"
        print(f"bench: {describe(corpus)}: ingest and floors, {runs} runs each after one untimed run ...",
              file=sys.stderr, flush=True)
        warm_page_cache([target])
        ingest = measure_ingest(binary, corpus, runs, warmup_runs=1)
        decompress = measure_floor(floor_binary, target, "decompress", runs, manifest["records"])
        parse = measure_floor(floor_binary, target, "parse", runs, manifest["records"])
        rows.append([
            describe(corpus),
            f"{manifest['records']:,}",
            f"{manifest['files']:,}",
            f"{ingest['seconds']:.3f}",
            f"{ingest['rate']:,.0f}",
            f"{ingest['peak_rss_mb']:.1f}",
            f"{ingest['db_bytes_per_record']:.1f}",
            f"{decompress:.3f}",
            f"{parse:.3f}",
            f"{ingest['seconds'] / parse:.2f}x",
        ])
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]
    print()
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
    for row in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    print()
    print(f"medians of {runs} runs after one untimed run; floors: dmarcsift_floor with 2 threads "
          "(ingest runs 2 workers); parse floor = read + inflate + pugixml parse, nothing stored")
    print(TARGETS)


if __name__ == "__main__":
    main()
