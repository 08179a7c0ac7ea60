"""Helpers shared by the benchmark scripts: running a program while taking its
wall time and peak RSS, warming the page cache, reading a corpus manifest."""
import json
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass


@dataclass
class Measured:
    returncode: int
    seconds: float
    peak_rss_mb: float
    stdout: bytes
    stderr: bytes


def run_measured(argv, cwd=None, env=None, discard_stdout=False):
    """Runs argv to completion; returns its wall time and peak RSS.

    /usr/bin/time takes the peak RSS rather than wait4() here: a child forked
    from Python starts with Python's pages counted in its peak (Linux keeps
    the pre-exec high-water mark), which would hide a small program's figure
    under ours. Linux also folds in the peak of every descendant the child
    reaped, so a driver such as xargs reports the largest program it ran."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        stdout = subprocess.DEVNULL if discard_stdout else out
        started = time.monotonic()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *argv],
                              stdin=subprocess.DEVNULL, stdout=stdout, stderr=err, cwd=cwd, env=env,
                              check=False)
        elapsed = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        # time writes "Command exited with non-zero status N" before the figure.
        peak_kib = int(rss.read().split()[-1])
        return Measured(proc.returncode, elapsed, peak_kib / 1024, out.read(), err.read())


def read_manifest(corpus):
    with open(os.path.join(corpus, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


def warm_page_cache(paths):
    """Reads every file once, so that timed runs read the corpus from memory."""
    for path in paths:
        if os.path.isfile(path):
            with open(path, "rb") as f:
                while f.read(1 << 20):
                    pass
            continue
        for dirpath, _, files in os.walk(path):
            for name in files:
                with open(os.path.join(dirpath, name), "rb") as f:
                    while f.read(1 << 20):
                        pass


def median(values):
    return statistics.median(values)
