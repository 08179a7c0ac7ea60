"""The command line as a user meets it: help, usage errors, exit statuses,
bad inputs with one-line errors, idempotence across containers, stdin,
reports / show / stats in every format (issue 3)."""
import csv
import gzip
import io
import json
import os
import sqlite3
import sys
import zipfile

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import check, check_equal  # noqa: E402

REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <version>1.0</version>
  <report_metadata>
    <org_name>{org}</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <report_id>{report_id}</report_id>
    <date_range><begin>{begin}</begin><end>{end}</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>reject</p><sp>reject</sp><pct>100</pct>
  </policy_published>
  <record>
    <row><source_ip>192.0.2.10</source_ip><count>7</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated>
    </row>
    <identifiers><header_from>{domain}</header_from></identifiers>
    <auth_results>
      <dkim><domain>{domain}</domain><selector>s1</selector><result>pass</result></dkim>
      <spf><domain>{domain}</domain><scope>mfrom</scope><result>pass</result></spf>
    </auth_results>
  </record>
  <record>
    <row><source_ip>2001:DB8:0:0:0:0:0:5</source_ip><count>3</count>
      <policy_evaluated><disposition>reject</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated>
    </row>
    <identifiers><header_from>{domain}</header_from></identifiers>
    <auth_results>
      <spf><domain>{domain}</domain><scope>mfrom</scope><result>fail</result></spf>
    </auth_results>
  </record>
</feedback>
"""


def report(report_id, domain="example.com", org="google.com", begin=1790812800):
    return REPORT.format(report_id=report_id, domain=domain, org=org, begin=begin,
                         end=begin + 86399).encode()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def zip_bytes(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def test_help_and_usage(db):
    proc = common.run(db, "--help", check_exit=0)
    out = proc.stdout.decode()
    for command in ("ingest", "reports", "show", "stats", "help"):
        check(f"\n  {command} " in out, f"--help lists {command}")
    check("Exit status" in out, "--help documents the exit status")
    proc = common.run(db, "help", "ingest", check_exit=0)
    check("--max-entry-bytes" in proc.stdout.decode(), "help ingest lists its options")
    proc = common.run(db, "ingets", "x", check_exit=2)
    check_equal(proc.stderr.decode().splitlines()[0],
                "dmarcsift: error: unknown command 'ingets'; did you mean 'ingest'?", "did you mean")
    proc = common.run(db, "stast", check_exit=2)
    check("did you mean 'stats'?" in proc.stderr.decode(), "did you mean stats")
    common.run(db, "ingest", check_exit=2)
    proc = common.run(db, "reports", "--since", "yesterday", check_exit=2)
    check("--since 'yesterday' is not a date" in proc.stderr.decode(), "bad --since explained")
    common.run(db, "--format", "xml", "stats", check_exit=2)
    common.run(db, "show", "abc", check_exit=2)
    proc = common.run(db, "show", "999", check_exit=1)
    check_equal(proc.stderr.decode().strip(), f"dmarcsift: error: no report with ID 999 in {db}",
                "show of a missing id")


def test_bad_inputs(tmp, db):
    """Done-when 6: each bad input gets a one-line error naming the file and
    stores nothing, while the other inputs of the same run are stored."""
    good = report("good-1")
    folder = os.path.join(tmp, "mixed")
    write(os.path.join(folder, "a-good.xml"), good)
    write(os.path.join(folder, "truncated.xml.gz"), gzip.compress(report("t-1"))[:200])
    corrupt = bytearray(zip_bytes([("r.xml", report("c-1") * 3)]))
    for i in range(60, 100):
        corrupt[i] ^= 0xFF
    write(os.path.join(folder, "corrupt.zip"), bytes(corrupt))
    write(os.path.join(folder, "not-xml.xml"), b"%PDF-1.7\n\x00\x01\x02binary junk")
    write(os.path.join(folder, "rss.xml"), b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>')
    write(os.path.join(folder, "empty.xml.gz"), b"")
    write(os.path.join(folder, "z-good.xml.gz"), gzip.compress(report("good-2")))
    proc = common.run(db, "--format", "json", "ingest", folder, check_exit=3)
    summary = json.loads(proc.stdout)
    check_equal(summary["reports_stored"], 2, "good inputs stored beside bad ones")
    check_equal(summary["inputs_rejected"], 5, "five inputs rejected")
    errors = [l for l in proc.stderr.decode().splitlines() if l.startswith("dmarcsift: rejected: ")]
    check_equal(len(errors), 5, "one line per rejected input")
    expected_names = ["truncated.xml.gz", "corrupt.zip", "not-xml.xml", "rss.xml", "empty.xml.gz"]
    for name in expected_names:
        lines = [l for l in errors if os.path.join(folder, name) in l]
        check_equal(len(lines), 1, f"{name}: one error line naming the file")
    by_file = {os.path.basename(r["file"]): r["reason"] for r in summary["rejected"]}
    check_equal(by_file.get("empty.xml.gz"), "empty file", "empty file reason")
    check_equal(by_file.get("rss.xml"), "not a DMARC aggregate report: root element is <rss>",
                "not-DMARC reason")
    check(by_file.get("not-xml.xml", "").startswith("not XML, gzip, zip, tar or e-mail: starts with '%PDF-1.7"),
          f"non-XML reason: {by_file.get('not-xml.xml')}")
    check("truncated" in by_file.get("truncated.xml.gz", ""), f"truncated gzip reason: {by_file}")
    check("corrupt" in by_file.get("corrupt.zip", "") or "corrupt.zip" not in by_file,
          f"corrupt zip reason: {by_file}")
    st = common.stats(db)
    check_equal((st["reports"], st["records"], st["messages"]), (2, 4, 20), "stored totals")


def test_same_report_in_two_containers(tmp, db):
    """Done-when 4: the same report as .xml.gz and inside a .zip is stored once."""
    data = report("same-1", domain="example.org")
    gz = write(os.path.join(tmp, "same", "google.com!example.org!1790812800!1790899199.xml.gz"),
               gzip.compress(data))
    zp = write(os.path.join(tmp, "same", "google.com!example.org!1790812800!1790899199.zip"),
               zip_bytes([("google.com!example.org!1790812800!1790899199.xml", data)]))
    first = common.run_json(db, "ingest", gz)
    check_equal(first["reports_stored"], 1, "first container stored")
    second = common.run_json(db, "ingest", zp)
    check_equal((second["reports_stored"], second["duplicate_reports"], second["inputs_duplicate"]),
                (0, 1, 1), "second container is a duplicate")
    text = common.run(db, "ingest", gz, check_exit=0).stdout.decode()
    check("duplicate reports skipped" + " " * 14 + "1" in text.splitlines(),
          f"text summary says duplicate: {text}")
    # Same identity, different bytes (a re-send with other whitespace): duplicate too.
    resent = write(os.path.join(tmp, "same", "resent.xml"), data.replace(b"<count>7", b"<count> 7"))
    check_equal(common.run_json(db, "ingest", resent)["duplicate_reports"], 1, "re-send by identity")


def test_stdin_and_queries(tmp, db):
    data = gzip.compress(report("stdin-1", domain="stdin.example", org="Outlook.com",
                                begin=1791072000))
    proc = common.run(db, "--format", "json", "ingest", "-", stdin=data, check_exit=0)
    summary = json.loads(proc.stdout)
    check_equal(summary["reports_stored"], 1, "report from stdin stored")
    listed = common.run_json(db, "reports", "--domain", "stdin.example")
    check_equal(len(listed), 1, "reports --domain")
    row = listed[0]
    check_equal((row["reporter"], row["report_id"], row["policy_domain"], row["begin"], row["end"],
                 row["records"], row["messages"]),
                ("Outlook.com", "stdin-1", "stdin.example", 1791072000, 1791072000 + 86399, 2, 10),
                "reports row")
    check_equal(common.run_json(db, "reports", "--reporter", "outlook.com")[0]["id"], row["id"],
                "reports --reporter is case-insensitive")
    check_equal(common.run_json(db, "reports", "--since", "2030-01-01"), [], "reports --since")
    check_equal(len(common.run_json(db, "reports", "--until", "2026-10-04")), 0,
                "reports --until excludes later periods")
    csv_out = common.run(db, "--format", "csv", "reports", "--domain", "stdin.example",
                         check_exit=0).stdout.decode()
    rows = list(csv.reader(io.StringIO(csv_out)))
    check_equal(rows[0], ["id", "reporter", "domain", "begin", "end", "records", "messages"], "csv header")
    check_equal(rows[1][1:], ["Outlook.com", "stdin.example", "1791072000", str(1791072000 + 86399),
                              "2", "10"], "csv row")
    nd = common.run(db, "--format", "ndjson", "reports", check_exit=0).stdout.decode().splitlines()
    check(all(json.loads(line)["id"] > 0 for line in nd), "ndjson lines are objects")

    shown = common.run_json(db, "show", str(row["id"]))
    check_equal(shown["metadata"]["org_name"], "Outlook.com", "show: org_name")
    check_equal(shown["policy_published"]["p"], "reject", "show: p")
    check_equal([r["source_ip"] for r in shown["records"]], ["192.0.2.10", "2001:db8::5"],
                "show: canonical IPs")
    check_equal(shown["records"][1]["disposition"], "reject", "show: disposition")
    check_equal(shown["source"]["file"], "(stdin)", "show: source")
    text = common.run(db, "show", str(row["id"]), check_exit=0).stdout.decode()
    check("2001:db8::5" in text and "p=reject" in text, "show text")


def test_stats(db):
    st = common.stats(db)
    check_equal(sorted(st.keys()), ["messages", "messages_by_disposition", "records", "reports"],
                "stats keys")
    check_equal(sorted(st["messages_by_disposition"].keys()), ["none", "pass", "quarantine", "reject"],
                "disposition keys")
    check_equal(sum(st["messages_by_disposition"].values()), st["messages"], "dispositions add up")
    text = common.run(db, "stats", check_exit=0).stdout.decode()
    lines = [line.split() for line in text.splitlines()]
    check(["messages", f"{st['messages']:,}"] in lines, f"stats text shows messages: {text}")


def test_hostile_strings(tmp, db):
    """Report-supplied strings cannot drive the terminal or a spreadsheet:
    XML cannot carry ESC, but archive entry names and mail headers can."""
    evil = report("evil-1", domain="evil.example", org='=HYPERLINK("x")&lt;script&gt;')
    entry = "\x1b]0;owned\x07\x1b[31mred.xml"
    path = write(os.path.join(tmp, "evil.zip"), zip_bytes([(entry, evil), ("\x1b[2Jjunk.xml", b"junk")]))
    proc = common.run(db, "ingest", path, check_exit=3)
    check(b"\x1b" not in proc.stdout and b"\x1b" not in proc.stderr, "no raw ESC in ingest output")
    check("\\x1b[2Jjunk.xml" in proc.stderr.decode(), f"ESC shown as text: {proc.stderr!r}")
    table = common.run(db, "reports", "--domain", "evil.example", check_exit=0).stdout
    check(b"\x1b" not in table, "no raw ESC in table output")
    shown = common.run_json(db, "show", "1")
    check_equal(shown["metadata"]["org_name"], '=HYPERLINK("x")<script>', "org_name stored as sent")
    check_equal(shown["source"]["entry"], entry, "JSON keeps the entry name exactly (escaped)")
    text = common.run(db, "show", "1", check_exit=0).stdout
    check(b"\x1b" not in text and b"\\x1b]0;owned\\x07" in text, f"show text neutralised: {text!r}")
    csv_out = common.run(db, "--format", "csv", "reports", "--domain", "evil.example",
                         check_exit=0).stdout.decode()
    rows = list(csv.reader(io.StringIO(csv_out)))
    if check(len(rows) == 2, f"csv has one report: {csv_out!r}"):
        check_equal(rows[1][1], '\'=HYPERLINK("x")<script>', "formula guarded in CSV")


def test_default_database_location(tmp):
    env_home = os.path.join(tmp, "xdg")
    env = dict(os.environ, XDG_DATA_HOME=env_home)
    env.pop("TERM", None)
    import subprocess
    proc = subprocess.run([common.DMARCSIFT, "--format", "json", "stats"], env=env,
                          capture_output=True, timeout=60)
    check_equal(proc.returncode, 0, "stats on a fresh default database")
    check(os.path.exists(os.path.join(env_home, "dmarcsift", "dmarcsift.db")),
          "database created under $XDG_DATA_HOME/dmarcsift/")


def test_progress_only_on_a_terminal(tmp):
    """Progress is drawn on a terminal (faked with script(1)), never in pipes
    or with --quiet, and never on stdout."""
    import shutil
    import subprocess
    if not check(shutil.which("script") is not None, "script(1) is installed (bsdutils)"):
        return
    samples = os.path.join(os.path.dirname(__file__), "..", "..", "sample-reports")
    env = dict(os.environ, TERM="xterm")
    for quiet, db in ((False, "tty.db"), (True, "tty-quiet.db")):
        command = f"{common.DMARCSIFT} --db {os.path.join(tmp, db)} {'--quiet ' if quiet else ''}" \
                  f"ingest {samples} >/dev/null"
        proc = subprocess.run(["script", "-qec", command, "/dev/null"], env=env,
                              capture_output=True, timeout=120)
        check_equal(proc.returncode, 0, f"ingest under script (quiet={quiet})")
        drawn = b"\x1b[K" in proc.stdout and b" inputs, " in proc.stdout
        check_equal(drawn, not quiet, f"progress drawn on the terminal (quiet={quiet})")
    piped = common.run(os.path.join(tmp, "pipe.db"), "ingest", samples, check_exit=0)
    check(b"\x1b" not in piped.stderr and b"\x1b" not in piped.stdout, "no progress in a pipe")


def main():
    common.require_environment()
    with common.temp_dir() as tmp:
        test_help_and_usage(os.path.join(tmp, "help.db"))
        test_bad_inputs(tmp, os.path.join(tmp, "bad.db"))
        test_same_report_in_two_containers(tmp, os.path.join(tmp, "same.db"))
        db = os.path.join(tmp, "main.db")
        test_stdin_and_queries(tmp, db)
        test_stats(db)
        test_hostile_strings(tmp, os.path.join(tmp, "evil.db"))
        test_default_database_location(tmp)
        test_progress_only_on_a_terminal(tmp)
        with sqlite3.connect(db) as conn:
            check_equal(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok", "integrity")
    common.finish("cli_test")


if __name__ == "__main__":
    main()
