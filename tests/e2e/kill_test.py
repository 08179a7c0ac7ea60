"""An ingest killed with SIGKILL partway and rerun ends with the totals of a
clean ingest and a database that passes PRAGMA integrity_check (issue 3,
done-when 5; issue 6: 20+ kill points at random moments).

A kill moment is a point in the import, not in time: the run is killed once
it has read a random fraction of the corpus's files (inotify counts the
files it closes), which puts the kill at the same place on a fast machine
and under AddressSanitizer. The fractions come from a seeded generator, so
a failure names a moment that a rerun of the test tries again. Each round
starts from an empty database, and its kills come at increasing fractions,
one in each seventh of the files; each rerun skips what the killed run before
it committed, as duplicates, and stores on until its own kill. So the kills
of a round spread over the whole import, the last ones near its end, where
reading is done and the last reports, the last commit and the exit remain.
A round ends with a run to completion, which must give exactly the corpus."""
import ctypes
import os
import random
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import check, check_equal  # noqa: E402

SEED = 6
ROUNDS = 3
KILLS_PER_ROUND = 7
# A run that completes before the kill's moment (its predecessors left it
# too little to do) is tried again on an empty database, twice at most.
MIN_KILLS = 20

IN_CLOSE_NOWRITE = 0x10
IN_ISDIR = 0x40000000
LIBC = ctypes.CDLL(None, use_errno=True)


class FilesRead:
    """Counts the files closed after reading in the folders under `root`."""

    def __init__(self, root):
        self.fd = LIBC.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        for folder, _, _ in os.walk(root):
            if LIBC.inotify_add_watch(self.fd, folder.encode(), IN_CLOSE_NOWRITE) < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder}")
        self.count = 0

    def wait(self, seconds):
        """Counts what arrives within `seconds`."""
        if not select.select([self.fd], [], [], seconds)[0]:
            return
        try:
            events = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return
        at = 0
        while at < len(events):
            _, mask, _, length = struct.unpack_from("iIII", events, at)
            if length and not mask & IN_ISDIR:
                self.count += 1
            at += 16 + length

    def close(self):
        os.close(self.fd)


def ingest_until(db, target, files):
    """Runs an ingest and kills it once it has read `files` files (or more);
    returns whether it was killed."""
    env = dict(os.environ)
    env.pop("TERM", None)
    watch = FilesRead(target)
    proc = subprocess.Popen([common.DMARCSIFT, "--db", db, "--quiet", "ingest", target],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    while proc.poll() is None:
        watch.wait(0.01)
        if watch.count >= files:
            proc.send_signal(signal.SIGKILL)
            break
    watch.close()
    status = proc.wait()
    if status != -signal.SIGKILL:
        check_equal(status, 0, "exit status of a run that completed before its kill")
    return status == -signal.SIGKILL


def query(db, sql):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def reports_stored(db):
    """0 too when a kill came before the schema was created."""
    if not query(db, "SELECT count(*) FROM sqlite_master WHERE name = 'reports'"):
        return 0
    return query(db, "SELECT count(*) FROM reports")


def check_complete(db, clean, manifest, what):
    final = common.stats(db)
    check_equal(final, clean, f"{what}: totals equal a clean ingest")
    for key in ("reports", "records", "messages", "messages_by_disposition"):
        check_equal(final.get(key), manifest[key], f"{what}: {key} equals the manifest")
    check_equal(query(db, "PRAGMA integrity_check"), "ok", f"{what}: integrity_check")
    check_equal(reports_stored(db), manifest["reports"], f"{what}: no report stored twice")
    check_equal(query(db, "SELECT (SELECT count(*) FROM records) - "
                          "(SELECT coalesce(sum(record_count), 0) FROM reports)"), 0,
                f"{what}: every record belongs to a report")


def main():
    common.require_environment()
    rng = random.Random(SEED)
    with common.temp_dir() as tmp:
        corpus = os.path.join(tmp, "corpus")
        manifest = common.generate(corpus, "--records", "10000", "--seed", "12", "--format", "mixed",
                                   "--duplicates", "0.05", "--no-verify")
        target = os.path.join(corpus, manifest["input"])

        clean_db = os.path.join(tmp, "clean.db")
        started = time.monotonic()
        common.run(clean_db, "--quiet", "ingest", target, check_exit=0)
        clean_seconds = time.monotonic() - started
        clean = common.stats(clean_db)

        kills = 0
        databases = 0
        for round_number in range(1, ROUNDS + 1):
            databases += 1
            db = os.path.join(tmp, f"killed-{databases}.db")
            # One fraction in each of KILLS_PER_ROUND equal parts of the files.
            # Reading runs ahead of storing, so even at 1.0, when the last
            # file is read, reports, the last commit and the exit remain.
            width = 1.0 / KILLS_PER_ROUND
            fractions = [rng.uniform(i * width, (i + 1) * width) for i in range(KILLS_PER_ROUND)]
            progress = []
            for fraction in fractions:
                # A run that completes instead (its predecessors left it too
                # little to do) must have stored the corpus exactly; the kill
                # is then tried again on an empty database.
                for _ in range(3):
                    killed = ingest_until(db, target, max(1, round(fraction * manifest["files"])))
                    if killed:
                        break
                    check_complete(db, clean, manifest, f"database {databases}, completed by a run")
                    databases += 1
                    db = os.path.join(tmp, f"killed-{databases}.db")
                kills += killed
                check_equal(query(db, "PRAGMA integrity_check"), "ok",
                            f"round {round_number}: integrity_check after a kill at {fraction:.3f}")
                progress.append(reports_stored(db))
            print(f"kill_test: round {round_number}: kills at "
                  f"{', '.join(f'{f:.2f}' for f in fractions)} of the files read; reports "
                  f"committed then: {', '.join(map(str, progress))} of {manifest['reports']}")
            common.run(db, "--quiet", "ingest", target, check_exit=0)
            check_complete(db, clean, manifest, f"round {round_number}, after the kills and a rerun")
        check(kills >= MIN_KILLS, f"only {kills} of {ROUNDS * KILLS_PER_ROUND} kills struck a "
                                  "running ingest")
        print(f"kill_test: {kills} kills (seed {SEED}) on {databases} databases; a clean run takes "
              f"{clean_seconds:.2f} s")
    common.finish("kill_test")


if __name__ == "__main__":
    main()
