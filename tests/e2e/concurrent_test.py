"""Two ingest processes and a query process on one database, with
overlapping inputs, all finish without "database is locked", and nothing is
stored twice (issue 6)."""
import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import check, check_equal  # noqa: E402


def main():
    common.require_environment()
    with common.temp_dir() as tmp:
        corpus = os.path.join(tmp, "corpus")
        manifest = common.generate(corpus, "--records", "12000", "--seed", "21", "--format", "mixed",
                                   "--duplicates", "0.1", "--no-verify")
        target = os.path.join(corpus, manifest["input"])
        db = os.path.join(tmp, "shared.db")
        env = dict(os.environ)
        env.pop("TERM", None)
        ingest = [common.DMARCSIFT, "--db", db, "--quiet", "--format", "json", "ingest", target]
        writers = [subprocess.Popen(ingest, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
                   for _ in range(2)]
        queries = 0
        while any(w.poll() is None for w in writers):
            proc = common.run(db, "--format", "json", "stats")
            check_equal(proc.returncode, 0, f"a query during the ingests: {proc.stderr[:300]!r}")
            queries += 1
        summaries = []
        for w in writers:
            out, err = w.communicate()
            check_equal(w.returncode, 0, f"ingest exit status; stderr {err[:300]!r}")
            check(b"locked" not in err, f"no 'database is locked': {err[:300]!r}")
            summaries.append(json.loads(out))
        check_equal(sum(s["reports_stored"] for s in summaries), manifest["reports"],
                    "each report stored by exactly one of the two processes")
        st = common.stats(db)
        for key in ("reports", "records", "messages", "messages_by_disposition"):
            check_equal(st.get(key), manifest[key], f"{key} after two concurrent ingests")
        with sqlite3.connect(db) as conn:
            check_equal(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok", "integrity_check")
        print(f"concurrent_test: {queries} queries ran during the two ingests")
    common.finish("concurrent_test")


if __name__ == "__main__":
    main()
