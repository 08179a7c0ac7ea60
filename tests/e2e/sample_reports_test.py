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


# Issue 4: the diagnosis of the sample sources that need one, by key. The
# scenario of each is in docs/sample-reports.md.
EXPECTED_DIAGNOSES = {
    ("198.51.100.90", "example.net"): ["esp_default_dkim"],           # Mailchimp, no custom DKIM
    ("203.0.113.17", "example.com"): ["esp_default_dkim"],            # Google Workspace, not set up
    ("203.0.113.45", "example.com"): ["esp_default_dkim"],            # Microsoft 365, not set up
    ("198.51.100.20", "example.net"): ["esp_default_dkim"],           # SendGrid
    ("198.51.100.120", "example.net"): ["esp_default_dkim"],          # Amazon SES
    ("192.0.2.60", "example.net"): ["spf_permerror", "dns_temperror"],
    ("198.51.100.21", "news.bluepeak.example"): ["strict_alignment_subdomain"],
    ("192.0.2.11", "example.com"): ["receiver_disagrees"],            # Mail.Ru
    ("198.51.100.150", "example.com"): ["spf_not_covering_source"],
    ("198.51.100.36", "example.org"): ["forwarded"],                  # list, mailing_list override
    ("203.0.113.152", "example.org"): ["dkim_fail_selector", "spoofed"],
    ("203.0.113.99", "example.com"): ["spoofed"],
    ("2001:db8:bad:1::66", "secure-login.example.com"): ["spoofed"],
    ("198.51.100.70", "example.org"): ["dkim_missing"],               # in SPF, never signs
    ("198.51.100.75", "example.org"): ["third_party_unaligned"],      # an uncatalogued vendor
}


def check_diagnoses(db):
    rows = common.run_json(db, "sources")
    found = {(r["source_ip"], r["header_from"]): r for r in rows}
    for key, want in EXPECTED_DIAGNOSES.items():
        row = found.get(key)
        if not check(row is not None, f"sources has {key}"):
            continue
        check_equal([d["key"] for d in row["diagnosis"]], want, f"diagnosis of {key}")
        check(all(d["cause"] and d["fix"] for d in row["diagnosis"]), f"{key}: cause and fix given")
    aligned = [r for r in rows if r["category"] == "aligned" and r["diagnosis"]
               and [d["key"] for d in r["diagnosis"]] != ["receiver_disagrees"]]
    check_equal(aligned, [], "aligned sources need no fix")
    mailchimp = found[("198.51.100.90", "example.net")]
    check_equal(mailchimp["service"], "Mailchimp", "Mailchimp identified")
    with open(os.path.join(ROOT, "analysis", "data", "senders.tsv"), encoding="utf-8") as f:
        catalog = {line.split("\t")[0]: line.rstrip("\n").split("\t")[5]
                   for line in f if line.strip() and not line.startswith("#")}
    check_equal(mailchimp["diagnosis"][0]["fix"], catalog["Mailchimp"], "Mailchimp fix from the catalog")


def check_analyze(db):
    """Issue 4: findings come most severe first, with each receiver family's
    reply today and at p=reject."""
    findings = common.run_json(db, "analyze")
    order = ["critical", "high", "medium", "low"]
    ranks = [order.index(f["severity"]) for f in findings]
    check_equal(ranks, sorted(ranks), "findings sorted by severity")
    by_source = {(f["source_ip"], f["header_from"]): f for f in findings}
    workspace = by_source.get(("203.0.113.17", "example.com"))
    if check(workspace is not None, "Google Workspace source is a finding"):
        check_equal(workspace["severity"], "critical", "legitimate mail refused under p=reject")
        check_equal(workspace["forecast"]["gmail"]["today"],
                    {"action": "rejected", "reply": "550 5.7.26 Unauthenticated email from example.com "
                     "is not accepted due to domain's DMARC policy"}, "Gmail today")
        check_equal(workspace["forecast"]["microsoft"]["today"]["reply"],
                    "550 5.7.509 Access denied, sending domain example.com does not pass DMARC "
                    "verification and has a DMARC policy of reject", "Microsoft today")
        check_equal(workspace["forecast"]["yahoo"]["today"]["reply"],
                    "554 5.7.9 Message not accepted for policy reasons", "Yahoo today")
    mailchimp = by_source.get(("198.51.100.90", "example.net"))
    if check(mailchimp is not None, "Mailchimp source is a finding"):
        check_equal(mailchimp["severity"], "high", "legitimate mail that p=reject would refuse")
        check_equal(mailchimp["forecast"]["other"]["today"], {"action": "delivered", "reply": ""},
                    "p=none delivers it today")
        check_equal(mailchimp["forecast"]["other"]["at_reject"]["reply"],
                    "550 5.7.1 Rejected by DMARC policy for example.net", "at p=reject")
    spoof = by_source.get(("2001:db8:bad:3::9", "example.net"))
    if check(spoof is not None, "spoofing under p=none is a finding"):
        check_equal(spoof["severity"], "medium", "spoofing delivered today")
    check(("198.51.100.36", "example.org") not in by_source, "a vouched-for list needs no finding")


def check_user_senders(db, tmp):
    """A user's own sender file names the uncatalogued vendor, and its fix
    becomes the diagnosis (docs/senders.md)."""
    path = os.path.join(tmp, "my-senders.tsv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("# our vendors\n")
        f.write("Vendor Post\tesp\tvendor-post.example\tvendor-post.example\t-\t"
                "Ask Vendor Post support to sign with d=example.org (CNAME vp1._domainkey).\n")
    rows = common.run_json(db, "sources", "--senders", path)
    vendor = [r for r in rows if (r["source_ip"], r["header_from"]) == ("198.51.100.75", "example.org")]
    if check(len(vendor) == 1, "the vendor's source is listed"):
        check_equal(vendor[0]["service"], "Vendor Post", "identified from the user's file")
        check_equal([(d["key"], d["fix"]) for d in vendor[0]["diagnosis"]],
                    [("esp_default_dkim",
                      "Ask Vendor Post support to sign with d=example.org (CNAME vp1._domainkey).")],
                    "the user's fix is the diagnosis")
    missing = common.run(db, "sources", "--senders", os.path.join(tmp, "nope.tsv"), check_exit=1)
    check_equal(missing.stderr.decode().strip(),
                f"dmarcsift: error: {os.path.join(tmp, 'nope.tsv')}: cannot open: No such file or directory",
                "a missing sender file is a clear error")


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
        check_diagnoses(db)
        check_analyze(db)
        check_user_senders(db, tmp)
        check_equal(st["messages_by_disposition"], by_disposition, "sample-reports dispositions")
    common.finish("sample_reports_test")


if __name__ == "__main__":
    main()
