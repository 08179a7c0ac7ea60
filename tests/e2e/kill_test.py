"""An ingest killed with SIGKILL partway and rerun ends with the totals of a
clean ingest and a database that passes PRAGMA integrity_check (issue 3,
done-when 5). The kill points spread over the whole run."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import check, check_equal  # noqa: E402

KILL_FRACTIONS = [0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95]


def start_ingest(db, target):
    env = dict(os.environ)
    env.pop("TERM", None)
    return subprocess.Popen([common.DMARCSIFT, "--db", db, "--quiet", "ingest", target],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def main():
    common.require_environment()
    with common.temp_dir() as tmp:
        corpus = os.path.join(tmp, "corpus")
        manifest = common.generate(corpus, "--records", "30000", "--seed", "12", "--format", "mixed",
                                   "--duplicates", "0.05", "--no-verify")
        target = os.path.join(corpus, manifest["input"])

        # A clean run tells how long a whole ingest takes here.
        clean_db = os.path.join(tmp, "clean.db")
        started = time.monotonic()
        common.run(clean_db, "--quiet", "ingest", target, check_exit=0)
        duration = time.monotonic() - started
        clean = common.stats(clean_db)

        db = os.path.join(tmp, "killed.db")
        kills = 0
        for fraction in KILL_FRACTIONS:
            proc = start_ingest(db, target)
            time.sleep(duration * fraction)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
            with sqlite3.connect(db) as conn:
                check_equal(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok",
                            f"integrity_check after a kill at {fraction:.0%}")
        check(kills >= 3, f"only {kills} of {len(KILL_FRACTIONS)} runs were killed mid-way "
                          f"(clean run took {duration:.2f} s)")
        common.run(db, "--quiet", "ingest", target, check_exit=0)
        final = common.stats(db)
        check_equal(final, clean, "totals after kills and a rerun equal a clean ingest")
        for key in ("reports", "records", "messages", "messages_by_disposition"):
            check_equal(final.get(key), manifest[key], f"final {key} equals the manifest")
        with sqlite3.connect(db) as conn:
            check_equal(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok",
                        "final integrity_check")
            stored = conn.execute("SELECT count(*) FROM reports").fetchone()[0]
            check_equal(stored, manifest["reports"], "no report stored twice")
        print(f"kill_test: {kills} kills over a {duration:.2f} s ingest")
    common.finish("kill_test")


if __name__ == "__main__":
    main()
