"""sample-reports/ ingests to exactly what tests/sample-reports/EXPECTED.tsv
says, file by file and in total, and EXPECTED.tsv itself is re-derived from
the files by tests/sample-reports/check_expected.py (standard-library Python)."""
import csv
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import check, check_equal  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SAMPLES = os.path.normpath(os.path.join(ROOT, "sample-reports"))
TOOLS = os.path.normpath(os.path.join(ROOT, "tests", "sample-reports"))


def locate(rel):
    return os.path.join(TOOLS if rel.startswith("bad/") else SAMPLES, rel)
DISPOSITIONS = ("none", "quarantine", "reject", "pass")


def main():
    common.require_environment()
    proc = subprocess.run([sys.executable, os.path.join(TOOLS, "check_expected.py")],
                          capture_output=True, timeout=120)
    check_equal(proc.returncode, 0, "check_expected.py agrees with EXPECTED.tsv: "
                + proc.stdout.decode(errors="replace")[-1000:] + proc.stderr.decode(errors="replace")[-1000:])
    with open(os.path.join(TOOLS, "EXPECTED.tsv"), encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t")]
    check(len(rows) >= 12, f"EXPECTED.tsv lists {len(rows)} inputs")
    totals = {k: 0 for k in ("reports", "records", "messages")}
    by_disposition = {d: 0 for d in DISPOSITIONS}
    with common.temp_dir() as tmp:
        for row in rows:
            name = row["file"]
            db = os.path.join(tmp, name.replace("/", "_") + ".db")
            expected_exit = 3 if row["outcome"] == "rejected" else 0
            summary = common.run_json(db, "ingest", locate(name),
                                      check_exit=expected_exit)
            if not summary:
                continue
            check_equal((summary["reports_stored"], summary["records_stored"], summary["messages_stored"]),
                        (int(row["reports"]), int(row["records"]), int(row["messages"])), name)
            st = common.stats(db)
            check_equal(st["messages_by_disposition"],
                        {d: int(row["messages_" + d]) for d in DISPOSITIONS}, f"{name}: dispositions")
            for k in totals:
                totals[k] += int(row[k])
            for d in DISPOSITIONS:
                by_disposition[d] += int(row["messages_" + d])

        # The README demo: the whole folder in one run, nothing rejected.
        db = os.path.join(tmp, "all.db")
        summary = common.run_json(db, "ingest", SAMPLES, check_exit=0)
        check_equal(summary.get("rejected"), [], "the demo folder holds only good inputs")
        st = common.stats(db)
        check_equal((st["reports"], st["records"], st["messages"]),
                    (totals["reports"], totals["records"], totals["messages"]), "sample-reports totals")
        check_equal(summary.get("inputs_no_report"), 1, "the notice in the mbox is skipped")
        check_equal(st["messages_by_disposition"], by_disposition, "sample-reports dispositions")
    common.finish("sample_reports_test")


if __name__ == "__main__":
    main()
