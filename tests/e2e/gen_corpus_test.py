"""Corpora from shared/tools/gen_corpus.py ingest to exactly the totals of
their manifest.json (issue 3, done-when 3 and 4).

usage: gen_corpus_test.py SCENARIO   (see SCENARIOS)"""
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import check, check_equal  # noqa: E402

SCENARIOS = {
    "plain": ["--records", "3000", "--seed", "3", "--format", "gz"],
    "quirks": ["--records", "3000", "--seed", "4", "--format", "gz", "--quirks"],
    "bad": ["--records", "1500", "--seed", "5", "--format", "xml", "--bad", "12"],
    "duplicates": ["--records", "3000", "--seed", "6", "--format", "zip", "--duplicates", "0.2"],
    "mixed": ["--records", "4000", "--seed", "7", "--format", "mixed", "--quirks", "--bad", "6",
              "--duplicates", "0.1"],
    "eml": ["--records", "2000", "--seed", "8", "--format", "mixed", "--quirks", "--bad", "6",
            "--duplicates", "0.1", "--email", "eml"],
    "mbox": ["--records", "2000", "--seed", "9", "--format", "mixed", "--quirks", "--bad", "6",
             "--duplicates", "0.1", "--email", "mbox"],
    "maildir": ["--records", "2000", "--seed", "10", "--format", "mixed", "--quirks", "--bad", "6",
                "--duplicates", "0.1", "--email", "maildir"],
}


def relative(path, root):
    return os.path.relpath(path, root) if path.startswith(root) else path


def expected_no_report(manifest):
    entries = manifest.get("per_message") or manifest["per_file"]
    return sum(1 for e in entries if e["outcome"] == "no_report")


def check_sources(db, corpus, manifest, scenario):
    """Issue 4, done-when 1: per-group categories equal groups.tsv and the
    per-category message totals equal messages_by_group_class."""
    rows = common.run_json(db, "sources")
    groups = {}
    with open(os.path.join(corpus, "groups.tsv"), encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            fields = dict(zip(header, line.rstrip("\n").split("\t")))
            groups[(fields["source_ip"], fields["header_from"])] = (
                fields["group_class"], int(fields["messages"]), int(fields["rows"]))
    ours = {(r["source_ip"], r["header_from"]): (r["category"], r["messages"], r["records"])
            for r in rows}
    check_equal(len(ours), len(groups), f"{scenario}: number of groups")
    wrong = [(key, ours.get(key), want) for key, want in groups.items() if ours.get(key) != want]
    check(not wrong, f"{scenario}: {len(wrong)} groups differ from groups.tsv, e.g. {wrong[:5]}")
    by_class = {c: 0 for c in manifest["messages_by_group_class"]}
    for r in rows:
        by_class[r["category"]] = by_class.get(r["category"], 0) + r["messages"]
    check_equal(by_class, manifest["messages_by_group_class"], f"{scenario}: messages by category")
    check_equal(sum(r["dmarc_pass_messages"] for r in rows), manifest["dmarc_pass_messages"],
                f"{scenario}: DMARC-passing messages")
    required = {"source_ip", "header_from", "messages", "dmarc_pass_messages", "category", "service"}
    check(all(required <= set(r) for r in rows), f"{scenario}: sources rows carry {sorted(required)}")


def check_domains(db, manifest, scenario):
    """Issue 4: per-domain volume, DMARC pass, groups, categories and the
    published policy equal the manifest's domains section."""
    rows = {r["domain"]: r for r in common.run_json(db, "domains")}
    check_equal(sorted(rows), sorted(manifest["domains"]), f"{scenario}: domains")
    for domain, want in manifest["domains"].items():
        row = rows.get(domain)
        if row is None:
            continue
        got = (row["messages"], row["dmarc_pass_messages"], row["sources"], row["messages_by_category"])
        check_equal(got, (want["messages"], want["dmarc_pass_messages"], want["groups"],
                          want["messages_by_group_class"]), f"{scenario}: domain {domain}")
        check_equal(row["published"]["p"], want["published"]["p"], f"{scenario}: {domain} p")
        # RFC 9990 reports and some others omit pct: compare it when reported.
        if row["published"]["pct"] is not None:
            check_equal(row["published"]["pct"], want["published"]["pct"], f"{scenario}: {domain} pct")
        check(row["next_step"] and row["reason"], f"{scenario}: {domain} has a next step")


def main():
    common.require_environment()
    scenario = sys.argv[1]
    with common.temp_dir() as tmp:
        corpus = os.path.join(tmp, "corpus")
        manifest = common.generate(corpus, *SCENARIOS[scenario], "--no-verify")
        db = os.path.join(tmp, "db.sqlite")
        target = os.path.join(corpus, manifest["input"])
        expect_rejects = bool(manifest["bad_files"])
        summary = common.run_json(db, "ingest", target, check_exit=3 if expect_rejects else 0)

        st = common.stats(db)
        for key in ("reports", "records", "messages", "messages_by_disposition"):
            check_equal(st.get(key), manifest[key], f"{scenario}: stats {key}")
        check_equal(summary.get("reports_stored"), manifest["reports"], f"{scenario}: reports stored")
        check_equal(summary.get("records_stored"), manifest["records"], f"{scenario}: records stored")
        check_equal(summary.get("messages_stored"), manifest["messages"], f"{scenario}: messages stored")
        check_equal(summary.get("duplicate_reports"), manifest["duplicate_reports"],
                    f"{scenario}: duplicate reports")
        rejected = sorted({relative(r["file"], corpus) for r in summary.get("rejected", [])})
        check_equal(rejected, sorted(manifest["bad_files"]), f"{scenario}: rejected inputs")
        check_equal(summary.get("inputs_rejected"), len(manifest["bad_files"]),
                    f"{scenario}: inputs rejected")
        check_equal(summary.get("inputs_no_report"), expected_no_report(manifest),
                    f"{scenario}: e-mails without a report")
        check_equal(summary["inputs_stored"] + summary["inputs_duplicate"] +
                    summary["inputs_rejected"] + summary["inputs_no_report"], summary["inputs"],
                    f"{scenario}: summary adds up")
        if "email" in manifest:
            check_equal(summary["inputs"], manifest["email"]["messages"], f"{scenario}: inputs = messages")
            check_equal(summary["emails_stored"], sum(
                1 for m in manifest["per_message"] if m["outcome"] == "stored"),
                f"{scenario}: e-mails that carried a stored report")
        else:
            check_equal(summary["inputs"], manifest["files"], f"{scenario}: inputs = files")
        for kind in ("truncated_gzip", "corrupt_zip", "not_xml", "not_dmarc", "empty"):
            bad = [p for p, why in manifest["bad_files"].items() if why == kind]
            for path in bad:
                lines = [r for r in summary["rejected"] if relative(r["file"], corpus) == path]
                check(len(lines) >= 1 and all(r["reason"] for r in lines),
                      f"{scenario}: {path} ({kind}) has no reason: {lines}")

        if scenario in ("plain", "quirks", "mixed", "mbox"):
            check_sources(db, corpus, manifest, scenario)
            check_domains(db, manifest, scenario)

        # Ingesting the same inputs again stores nothing new and says so.
        again = common.run_json(db, "ingest", target, check_exit=3 if expect_rejects else 0)
        check_equal(again.get("reports_stored"), 0, f"{scenario}: second run stores nothing")
        check_equal(again.get("duplicate_reports"),
                    manifest["reports"] + manifest["duplicate_reports"],
                    f"{scenario}: second run sees every report as a duplicate")
        check_equal(common.stats(db), st, f"{scenario}: totals unchanged by the second run")
        with sqlite3.connect(db) as conn:
            check_equal(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok",
                        f"{scenario}: integrity_check")
    common.finish(f"gen_corpus_test {scenario}")


if __name__ == "__main__":
    main()
