"""Issue 4, "Authorized services": with --authorized FILE (docs/authorized.md),
sources and analyze say of each source of a domain with declarations whether
it is declared, a declared source that fails is diagnosed
declared_service_failing and an undeclared one undeclared_source. Run on
sample-reports/ (docs/sample-reports.md) with a file the test writes."""
import csv
import io
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import check, check_equal  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLES = os.path.join(ROOT, "sample-reports")

DECLARATIONS = (
    "# what example.com and example.net send through\n"
    "example.com   Google Workspace, 192.0.2.0/24, 2001:db8:10::/48   # the office\n"
    "\n"
    "example.net   sendgrid\n"
    "example.net   192.0.2.60\n"
)

# (source, From) -> (declared, declared_as, diagnosis keys). Domains without
# declarations (example.org, ...) read null.
EXPECTED = {
    ("192.0.2.10", "example.com"): (True, "192.0.2.0/24", []),
    ("2001:db8:10::25", "example.com"): (True, "2001:db8:10::/48", []),
    ("192.0.2.11", "example.com"): (True, "192.0.2.0/24", ["receiver_disagrees"]),
    ("203.0.113.17", "example.com"): (True, "Google Workspace", ["declared_service_failing", "esp_default_dkim"]),
    ("203.0.113.45", "example.com"): (False, None, ["undeclared_source", "esp_default_dkim"]),
    ("203.0.113.99", "example.com"): (False, None, ["undeclared_source", "spoofed"]),
    ("2001:db8:bad:1::66", "secure-login.example.com"): (False, None, ["undeclared_source", "spoofed"]),
    ("198.51.100.23", "example.com"): (False, None, ["forwarded"]),  # forwarders are not flagged
    ("198.51.100.20", "example.net"): (True, "SendGrid", ["declared_service_failing", "esp_default_dkim"]),
    ("192.0.2.60", "example.net"): (True, "192.0.2.60",
                                    ["declared_service_failing", "spf_permerror", "dns_temperror"]),
    ("198.51.100.90", "example.net"): (False, None, ["undeclared_source", "esp_default_dkim"]),
    ("198.51.100.75", "example.org"): (None, None, ["third_party_unaligned"]),
    ("198.51.100.70", "example.org"): (None, None, ["dkim_missing"]),
}


def catalog_fix(name):
    with open(os.path.join(ROOT, "analysis", "data", "senders.tsv"), encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if not line.startswith("#") and fields[0] == name:
                return fields[5]
    return None


def check_sources(db, path, window=()):
    what = "sources " + " ".join(window)
    rows = common.run_json(db, "sources", "--authorized", path, *window)
    found = {(r["source_ip"], r["header_from"]): r for r in rows}
    for key, (declared, declared_as, keys) in EXPECTED.items():
        row = found.get(key)
        if not check(row is not None, f"{what}: {key} listed"):
            continue
        check_equal((row["declared"], row["declared_as"], [d["key"] for d in row["diagnosis"]]),
                    (declared, declared_as, keys), f"{what}: {key}")
    for row in rows:
        if row["policy_domain"] not in ("example.com", "example.net"):
            check_equal(row["declared"], None, f"{what}: {row['source_ip']} {row['header_from']} not applicable")
    by = found
    workspace = by[("203.0.113.17", "example.com")]["diagnosis"][0]
    check_equal(workspace["cause"],
                "Google Workspace is declared as authorized for example.com (" + path + ":2), "
                "but 26 of 26 messages from 203.0.113.17 fail DMARC", f"{what}: declared cause")
    check_equal(workspace["fix"], catalog_fix("Google Workspace"), f"{what}: the service's fix from the catalog")
    own = by[("192.0.2.60", "example.net")]["diagnosis"][0]
    check_equal(own["fix"], "Add ip4:192.0.2.60 to the SPF record of example.net and DKIM-sign the mail "
                "sent from 192.0.2.60 with d=example.net.", f"{what}: a declared address's fix")
    microsoft = by[("203.0.113.45", "example.com")]["diagnosis"][0]
    check_equal(microsoft["cause"], "203.0.113.45 (Microsoft 365) is not among the services and ranges "
                "declared for example.com (18 messages fail DMARC)", f"{what}: undeclared cause")
    check_equal(microsoft["fix"], "If Microsoft 365 sends for you, declare it in " + path + " and set up its "
                "SPF and DKIM for example.com; otherwise this mail is not yours: p=quarantine or p=reject "
                "stops it.", f"{what}: undeclared fix")


def check_analyze(db, path, window=()):
    what = "analyze " + " ".join(window)
    findings = common.run_json(db, "analyze", "--authorized", path, *window)
    order = ["critical", "high", "medium", "low"]
    ranks = [order.index(f["severity"]) for f in findings]
    check_equal(ranks, sorted(ranks), f"{what}: most severe first")
    by = {(f["source_ip"], f["header_from"]): f for f in findings}
    # The declarations decide what is legitimate: undeclared services read as
    # someone else's mail, already refused (low) or delivered today (medium).
    want = {
        ("203.0.113.17", "example.com"): ("critical", True, "Google Workspace"),
        ("198.51.100.20", "example.net"): ("high", True, "SendGrid"),
        ("192.0.2.60", "example.net"): ("critical", True, "192.0.2.60"),
        ("203.0.113.45", "example.com"): ("low", False, None),
        ("198.51.100.90", "example.net"): ("medium", False, None),
        ("198.51.100.75", "example.org"): ("critical", None, None),
    }
    for key, expected in want.items():
        f = by.get(key)
        if check(f is not None, f"{what}: {key} is a finding"):
            check_equal((f["severity"], f["declared"], f["declared_as"]), expected, f"{what}: {key}")
            check_equal([d["key"] for d in f["diagnosis"]], EXPECTED[key][2], f"{what}: {key} diagnosis")


def main():
    common.require_environment()
    with common.temp_dir() as tmp:
        db = os.path.join(tmp, "samples.db")
        common.run(db, "--quiet", "ingest", SAMPLES, check_exit=0)
        path = os.path.join(tmp, "authorized.conf")
        with open(path, "w", encoding="utf-8") as f:
            f.write(DECLARATIONS)

        # From the summaries, and from the records (a window makes the
        # commands read them): the same answers.
        for window in ((), ("--since", "2000-01-01")):
            check_sources(db, path, window)
            check_analyze(db, path, window)

        plain = common.run_json(db, "sources")
        check_equal(sorted({r["declared"] for r in plain}, key=str), [None], "without --authorized: null")
        check(all("undeclared_source" not in [d["key"] for d in r["diagnosis"]] for r in plain),
              "without --authorized: no declaration entries")

        table = common.run(db, "analyze", "--authorized", path, "--limit", "0", check_exit=0).stdout.decode()
        blocks = {b.split("\n", 1)[0]: b for b in table.split("\n\n") if b.startswith("[")}
        check_equal([line for line in blocks.get("[CRITICAL] example.com  203.0.113.17  (Google Workspace)  "
                                                 "misaligned", "").split("\n") if "declared:" in line],
                    ["  declared: yes (Google Workspace)"], "analyze table: a declared source")
        check_equal([line for line in blocks.get("[LOW] example.com  203.0.113.45  (Microsoft 365)  "
                                                 "misaligned", "").split("\n") if "declared:" in line],
                    ["  declared: no"], "analyze table: an undeclared source")
        check("[CRITICAL] example.org  198.51.100.75  misaligned" in blocks, "analyze table: example.org finding")
        check_equal([line for line in blocks.get("[CRITICAL] example.org  198.51.100.75  misaligned", "")
                     .split("\n") if "declared:" in line], [], "analyze table: nothing declared for the domain")

        out = common.run(db, "--format", "csv", "sources", "--authorized", path, check_exit=0).stdout.decode()
        rows = list(csv.DictReader(io.StringIO(out)))
        declared = {(r["source"], r["from"]): r["declared"] for r in rows}
        check_equal((declared.get(("192.0.2.10", "example.com")), declared.get(("203.0.113.99", "example.com")),
                     declared.get(("198.51.100.75", "example.org"))), ("yes", "no", ""), "csv declared column")

        table = common.run(db, "sources", "--authorized", path, "--limit", "3", check_exit=0).stdout.decode()
        check_equal(table.split("\n")[0].split(),
                    ["source", "from", "messages", "dmarc%", "spf%", "dkim%", "category", "declared", "service"],
                    "sources table: a declared column with --authorized")

        everywhere = os.path.join(tmp, "everywhere.conf")
        with open(everywhere, "w", encoding="utf-8") as f:
            f.write("*\t203.0.113.224/27\n")
        rows = common.run_json(db, "sources", "--authorized", everywhere)
        found = {(r["source_ip"], r["header_from"]): r for r in rows}
        check_equal((found[("203.0.113.230", "lakeview-bakery.example")]["declared_as"],
                     found[("203.0.113.201", "example.com")]["declared"]),
                    ("203.0.113.224/27", False), "* declares for every domain")

        bad = os.path.join(tmp, "bad.conf")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("# typo\nexample.com Google Workspace, Sendgird\n")
        proc = common.run(db, "sources", "--authorized", bad, check_exit=1)
        check_equal(proc.stderr.decode().strip(),
                    f"dmarcsift: error: {bad}:2: unknown service \"Sendgird\" (did you mean \"SendGrid\"?)",
                    "a mistake names the file and line")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("example.com 192.0.2.1/24\n")
        proc = common.run(db, "analyze", "--authorized", bad, check_exit=1)
        check_equal(proc.stderr.decode().strip(),
                    f"dmarcsift: error: {bad}:1: \"192.0.2.1/24\" has host bits set; the range is 192.0.2.0/24",
                    "host bits set")
    common.finish("authorized_test")


if __name__ == "__main__":
    main()
