"""Every file of shared/corpus is stored or rejected as MANIFEST.tsv says,
with exactly the reports, records and messages it lists (issue 3, done-when 2).

Rows where our reading differs from the manifest are listed in
MANIFEST_DEVIATIONS with the reason; there are none today."""
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import check, check_equal  # noqa: E402

# file -> (expected outcome as we decide it, why). Empty: we agree with every row.
MANIFEST_DEVIATIONS = {}


def outcome_of(summary):
    if summary["inputs_stored"] and summary["rejected"]:
        return "partial"
    if summary["inputs_stored"]:
        return "stored"
    return "rejected"


def main():
    common.require_environment()
    corpus = os.path.join(common.SHARED, "corpus")
    with open(os.path.join(corpus, "MANIFEST.tsv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    check(len(rows) >= 75, f"MANIFEST.tsv has {len(rows)} rows")
    totals = {"reports": 0, "records": 0, "messages": 0}
    with common.temp_dir() as tmp:
        for row in rows:
            name = row["file"]
            db = os.path.join(tmp, name.replace("/", "_")[:80] + ".db")
            proc = common.run(db, "--format", "json", "ingest", os.path.join(corpus, name))
            check(proc.returncode in (0, 3), f"{name}: exit status {proc.returncode}, "
                                            f"stderr {proc.stderr[:300]!r}")
            if proc.returncode not in (0, 3):
                continue
            import json
            summary = json.loads(proc.stdout)
            expected = row["expected"]
            if name in MANIFEST_DEVIATIONS:
                expected = MANIFEST_DEVIATIONS[name][0]
            got = outcome_of(summary)
            if expected == "rejected":
                check_equal(summary["reports_stored"], 0, f"{name}: reports stored")
                check(summary["inputs_rejected"] + summary["inputs_no_report"] == 1,
                      f"{name}: expected a rejected input, got {summary}")
                reasons = summary["rejected"] + summary["skipped"]
                check(bool(reasons) and all(r["reason"] for r in reasons),
                      f"{name}: rejected without a reason: {summary}")
            elif expected == "partial":
                # Partial: something stored, and either an entry was rejected
                # or a record / junk member was dropped with a warning.
                check(summary["inputs_stored"] == 1, f"{name}: expected stored, got {got}")
                dropped = (summary["rejected"] or summary["warnings"].get("record_dropped", 0)
                           or summary["warnings"].get("empty_record", 0)
                           or summary["warnings"].get("macosx_appledouble_members", 0))
                check(bool(dropped), f"{name}: partial file shows nothing dropped: {summary}")
            else:
                check_equal(got, "stored", f"{name}: outcome")
                check_equal(summary["rejected"], [], f"{name}: rejected entries")
            check_equal(summary["reports_stored"], int(row["reports"]), f"{name}: reports")
            check_equal(summary["records_stored"], int(row["records"]), f"{name}: records")
            check_equal(summary["messages_stored"], int(row["messages"]), f"{name}: messages")
            inputs = summary["inputs"]
            check_equal(summary["inputs_stored"] + summary["inputs_duplicate"] +
                        summary["inputs_rejected"] + summary["inputs_no_report"], inputs,
                        f"{name}: summary adds up")
            st = common.stats(db)
            check_equal((st.get("reports"), st.get("records"), st.get("messages")),
                        (int(row["reports"]), int(row["records"]), int(row["messages"])),
                        f"{name}: stats after ingest")
            for key in totals:
                totals[key] += int(row[key])

        # The whole folder into one database: identities are distinct, so the
        # per-file counts add up; the two non-report files are rejected too.
        db = os.path.join(tmp, "all.db")
        summary = common.run_json(db, "ingest", corpus, check_exit=3)
        st = common.stats(db)
        check_equal((st.get("reports"), st.get("records"), st.get("messages")),
                    (totals["reports"], totals["records"], totals["messages"]),
                    "whole corpus totals")
        check_equal(summary.get("inputs"), len(rows) + 2, "inputs = manifest rows + README + MANIFEST")
        again = common.run_json(db, "ingest", corpus, check_exit=3)
        check_equal(again.get("reports_stored"), 0, "second ingest stores nothing")
        check_equal(again.get("duplicate_reports"), totals["reports"], "second ingest: all duplicates")
        check_equal(common.stats(db), st, "stats unchanged by the second ingest")
    common.finish("corpus_test")


if __name__ == "__main__":
    main()
