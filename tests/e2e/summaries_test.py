"""The summaries that sources, analyze and domains read (storage/summaries.hpp)
answer exactly what the records answer: folded in one go or in several
ingests, rebuilt when the sender catalog changes, and equal to the answers
computed from the records themselves (a date window makes the commands read
the records)."""
import os
import shutil
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import check, check_equal  # noqa: E402

# Every record of the corpus is inside this window, so the windowed answer
# covers the same reports as the unwindowed one.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WINDOW = ("--since", "2000-01-01")
QUERIES = [
    ("sources",),
    ("sources", "--failing", "--by", "service"),
    ("sources", "--by", "domain"),
    ("sources", "--by", "ip", "--sort", "pass"),
    ("domains",),
    ("analyze",),
    ("analyze", "--min-severity", "high"),
]


def first_difference(got, want):
    """The first row that differs, briefly: whole answers are too long to print."""
    if len(got) != len(want):
        return f"{len(got)} rows, expected {len(want)}"
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            return f"row {i}: " + "; ".join(f"{k}: {a.get(k)!r} != {b.get(k)!r}" for k in keys)
    return None


def check_same(got, want, what):
    difference = first_difference(got, want)
    check(difference is None, f"{what}: {difference}")


def answers(db, *extra):
    return {q: common.run_json(db, *q, *extra) for q in QUERIES}


def summary_rows(db):
    with sqlite3.connect(db) as conn:
        return (conn.execute("SELECT count(*) FROM source_summaries").fetchone()[0],
                conn.execute("SELECT folded_through, rebuilding FROM summary_mark").fetchone(),
                conn.execute("SELECT max(id) FROM reports").fetchone()[0])


def main():
    common.require_environment()
    with common.temp_dir() as tmp:
        corpus = os.path.join(tmp, "corpus")
        manifest = common.generate(corpus, "--records", "6000", "--seed", "21", "--quirks",
                                   "--domains", "6", "--days", "10", "--no-verify")
        reports = os.path.join(corpus, manifest["input"])

        whole = os.path.join(tmp, "whole.db")
        common.run(whole, "--quiet", "ingest", reports, check_exit=0)
        groups, mark, last = summary_rows(whole)
        check_equal(groups, manifest["groups"], "one summary row per (IP, From) group")
        check_equal(mark, (last, 0), "the ingest folded every report into the summaries")
        from_summaries = answers(whole)
        check_equal(len(from_summaries[("sources",)]), manifest["groups"], "sources lists every group")

        # A date window makes every command read the records instead.
        from_records = answers(whole, *WINDOW)
        for query in QUERIES:
            check_same(from_summaries[query], from_records[query],
                       f"{' '.join(query)}: summaries equal the records")

        # The same reports in three ingests, with queries in between, fold
        # incrementally to the same answers.
        names = sorted(os.listdir(reports))
        parts = [names[i::3] for i in range(3)]
        stepwise = os.path.join(tmp, "stepwise.db")
        for n, part in enumerate(parts):
            folder = os.path.join(tmp, f"part{n}")
            os.mkdir(folder)
            for name in part:
                shutil.copy(os.path.join(reports, name), folder)
            common.run(stepwise, "--quiet", "ingest", folder, check_exit=0)
            common.run_json(stepwise, "analyze")
        stepwise_answers = answers(stepwise)
        for query in QUERIES:
            check_same(stepwise_answers[query], from_summaries[query],
                       f"{' '.join(query)}: three ingests fold to the same answers")

        # A user's catalog that renames a shipped service changes the
        # fingerprint: the summaries are rebuilt for it, and again without it.
        service = next(r["service"] for r in from_summaries[("sources",)] if r["service"])
        with open(os.path.join(ROOT, "analysis", "data", "senders.tsv"), encoding="utf-8") as f:
            shipped = next(line.rstrip("\n").split("\t") for line in f
                           if line.split("\t")[0] == service)
        catalog = os.path.join(tmp, "senders.tsv")
        with open(catalog, "w", encoding="utf-8") as f:
            f.write("\t".join(["Renamed Relay"] + shipped[1:]) + "\n")
        renamed = common.run_json(whole, "sources", "--senders", catalog)
        check(any(r["service"] == "Renamed Relay" for r in renamed) and
              not any(r["service"] == service for r in renamed),
              f"a user's catalog renames {service} in the stored summaries")
        check_same(common.run_json(whole, "sources", "--senders", catalog, *WINDOW), renamed,
                   "the rebuilt summaries equal the records under the user's catalog")
        check_same(common.run_json(whole, "sources"), from_summaries[("sources",)],
                   "without the catalog the summaries are rebuilt as they were")

        with sqlite3.connect(whole) as conn:
            check_equal(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok", "integrity_check")
    common.finish("summaries_test")


if __name__ == "__main__":
    main()
