"""An ingest that runs out of space stops with one clear error line and exit
status 1, leaves a consistent database holding only whole reports, and a
rerun with space completes the import exactly (issue 6).

Running out of space is simulated with a file size limit (RLIMIT_FSIZE) on
the ingest process, which needs no root and no tmpfs: with SIGXFSZ ignored,
a write past the limit fails with EFBIG, as a write to a full disk fails
with ENOSPC."""
import os
import resource
import signal
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import check, check_equal  # noqa: E402


def ingest_with_file_size_limit(db, target, limit):
    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = dict(os.environ)
    env.pop("TERM", None)
    return subprocess.run([common.DMARCSIFT, "--db", db, "--quiet", "ingest", target],
                          capture_output=True, env=env, preexec_fn=limit_file_size, timeout=600)


def stored_reports(db):
    """(reporter, report_id) -> (records, messages), from the reports table."""
    with sqlite3.connect(db) as conn:
        return {(reporter, report_id): (records, messages)
                for reporter, report_id, records, messages in conn.execute(
                    "SELECT names.text, report_id, record_count, message_count "
                    "FROM reports JOIN names ON names.id = reports.reporter")}


def check_consistent(db, what):
    """Every report has exactly its records, and every record its report."""
    with sqlite3.connect(db) as conn:
        check_equal(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok",
                    f"{what}: integrity_check")
        check_equal(conn.execute("PRAGMA foreign_key_check").fetchall(), [],
                    f"{what}: foreign_key_check")
        incomplete = conn.execute(
            "SELECT count(*) FROM reports WHERE record_count != "
            "(SELECT count(*) FROM records WHERE records.id >= reports.first_record "
            " AND records.id < reports.first_record + reports.record_count) "
            "OR message_count != (SELECT coalesce(sum(count), 0) FROM records "
            " WHERE records.id >= reports.first_record "
            " AND records.id < reports.first_record + reports.record_count)").fetchone()[0]
        check_equal(incomplete, 0, f"{what}: reports missing records or messages")
        orphans = conn.execute(
            "SELECT (SELECT count(*) FROM records) - "
            "(SELECT coalesce(sum(record_count), 0) FROM reports)").fetchone()[0]
        check_equal(orphans, 0, f"{what}: records without a report")


def main():
    common.require_environment()
    with common.temp_dir() as tmp:
        corpus = os.path.join(tmp, "corpus")
        manifest = common.generate(corpus, "--records", "12000", "--seed", "16", "--format", "mixed",
                                   "--no-verify")
        target = os.path.join(corpus, manifest["input"])

        clean_db = os.path.join(tmp, "clean.db")
        common.run(clean_db, "--quiet", "ingest", target, check_exit=0)
        clean_reports = stored_reports(clean_db)
        # Half the space the whole import needs: a batch of 2,000
        # reports commits, then a write fails.
        limit = os.path.getsize(clean_db) // 2

        db = os.path.join(tmp, "full.db")
        proc = ingest_with_file_size_limit(db, target, limit)
        check_equal(proc.returncode, 1, "exit status when the database cannot grow")
        check_equal(proc.stderr.decode(), f"dmarcsift: error: {db}: commit failed: disk I/O error\n",
                    "the one error line names the database and the cause")
        check_equal(proc.stdout.decode(), "", "no summary after a runtime failure")

        check_consistent(db, "after running out of space")
        partial = stored_reports(db)
        check(0 < len(partial) < manifest["reports"],
              f"some but not all reports were committed: {len(partial)} of {manifest['reports']}")
        check_equal({key: clean_reports.get(key) for key in partial}, partial,
                    "each committed report has the records and messages of a clean ingest")
        totals = common.stats(db)
        check_equal((totals.get("reports"), totals.get("records"), totals.get("messages")),
                    (len(partial), sum(r for r, _ in partial.values()),
                     sum(m for _, m in partial.values())),
                    "totals are those of the committed reports")

        common.run(db, "--quiet", "ingest", target, check_exit=0)
        check_consistent(db, "after the rerun")
        final = common.stats(db)
        for key in ("reports", "records", "messages", "messages_by_disposition"):
            check_equal(final.get(key), manifest[key], f"after the rerun: {key} equals the manifest")
        check_equal(stored_reports(db), clean_reports, "after the rerun: the same reports as a clean ingest")
        print(f"full_disk_test: {len(partial)} of {manifest['reports']} reports committed within "
              f"{limit:,} bytes; the rerun stored the rest")
    common.finish("full_disk_test")


if __name__ == "__main__":
    main()
