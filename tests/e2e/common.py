"""Helpers shared by the end-to-end tests: run the built binary, read its JSON."""
import json
import os
import subprocess
import sys
import tempfile

DMARCSIFT = os.environ.get("DMARCSIFT_BIN", "")
SHARED = os.environ.get("DMARCSIFT_SHARED", "")
GEN_CORPUS = os.path.join(SHARED, "tools", "gen_corpus.py") if SHARED else ""

failures = []


def check(condition, message):
    """Records a failed expectation; the test exits non-zero at the end."""
    if not condition:
        failures.append(message)
        print("FAIL: " + message, file=sys.stderr)
    return condition


def check_equal(actual, expected, what):
    return check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def finish(name):
    if failures:
        print(f"{name}: {len(failures)} failure(s)", file=sys.stderr)
        sys.exit(1)
    print(f"{name}: all checks passed")
    sys.exit(0)


def require_environment():
    if not DMARCSIFT or not os.access(DMARCSIFT, os.X_OK):
        sys.exit(f"DMARCSIFT_BIN does not name the built binary: {DMARCSIFT!r}")
    if not SHARED or not os.path.isdir(SHARED):
        sys.exit(f"DMARCSIFT_SHARED does not name the shared folder: {SHARED!r}")


def run(db, *args, stdin=None, check_exit=None):
    """Runs dmarcsift with --db and returns the CompletedProcess."""
    env = dict(os.environ)
    env.pop("TERM", None)
    proc = subprocess.run([DMARCSIFT, "--db", db, *args], input=stdin, capture_output=True,
                          env=env, timeout=600)
    if check_exit is not None and proc.returncode not in (
            check_exit if isinstance(check_exit, tuple) else (check_exit,)):
        check(False, f"dmarcsift {' '.join(args)} exited {proc.returncode}, expected {check_exit}; "
                     f"stderr: {proc.stderr.decode(errors='replace')[:2000]}")
    return proc


def run_json(db, *args, check_exit=0):
    proc = run(db, "--format", "json", *args, check_exit=check_exit)
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        check(False, f"dmarcsift {' '.join(args)} printed no JSON: {proc.stdout[:500]!r} "
                     f"stderr: {proc.stderr[:500]!r}")
        return {}


def stats(db):
    return run_json(db, "stats")


def generate(out_dir, *args):
    """Runs gen_corpus.py and returns its manifest."""
    proc = subprocess.run([sys.executable, GEN_CORPUS, "--out", out_dir, *args],
                          capture_output=True, timeout=900)
    if proc.returncode != 0:
        sys.exit(f"gen_corpus.py {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    with open(os.path.join(out_dir, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


def temp_dir():
    return tempfile.TemporaryDirectory(prefix="dmarcsift-e2e-")
