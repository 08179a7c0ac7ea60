#!/usr/bin/env python3
"""Re-derive EXPECTED.tsv from the sample inputs and compare (standard library only).

    python3 sample-reports/check_expected.py           # compare; exit 1 on any difference
    python3 sample-reports/check_expected.py --rows    # also print every record with its class
    python3 sample-reports/check_expected.py --write   # rewrite the figures, keeping the notes

Independent of dmarcsift: sniffs every input from its bytes (gzip incl. tar.gz, zip, mbox, e-mail,
XML), walks every MIME leaf, parses each document with xml.etree by local element name (namespace
or not), trims and lower-cases values. Besides the figures it checks that every input is listed,
that report identities (org_name, report_id, policy domain, begin, end) are unique, and that each
report inside a container is byte-identical to its source in src/.

Inputs are all files under sample-reports/ except src/, the scripts, README.md and EXPECTED.tsv.
"""
import email
import email.policy
import gzip
import io
import ipaddress
import os
import re
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
import zlib

# This folder holds the sources (src/), the inputs that must be rejected
# (bad/) and the expected figures; the inputs themselves are in the
# top-level sample-reports/, which must hold nothing but inputs so that
# `dmarcsift ingest sample-reports` is the demo.
HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.normpath(os.path.join(HERE, "..", "..", "sample-reports"))
EXPECTED = os.path.join(HERE, "EXPECTED.tsv")


def locate(rel):
    """Path of an input named as in EXPECTED.tsv: bad/... here, the rest in sample-reports/."""
    return os.path.join(HERE if rel.startswith("bad/") else SAMPLES, rel)
COLUMNS = ["file", "outcome", "reports", "records", "messages", "messages_none",
           "messages_quarantine", "messages_reject", "messages_pass", "note"]
DISPOSITIONS = ("none", "quarantine", "reject", "pass")


class Rejected(Exception):
    pass


# -- documents ------------------------------------------------------------------------------

def local(tag):
    return tag.rsplit("}", 1)[-1]


def child(el, name):
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def children(el, name):
    return [c for c in el if local(c.tag) == name]


def text(el, name=None):
    if el is not None and name is not None:
        el = child(el, name)
    return "" if el is None or el.text is None else el.text.strip()


def parse_report(data):
    """A normalized report dict from XML bytes, or Rejected."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise Rejected("empty")
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        raise Rejected("not_xml")
    if local(root.tag) != "feedback" or child(root, "report_metadata") is None:
        raise Rejected("not_dmarc")
    meta, pol = child(root, "report_metadata"), child(root, "policy_published")
    dr = child(meta, "date_range")
    policy = {local(c.tag): (c.text or "").strip().lower() for c in pol}
    rep = {
        "org_name": text(meta, "org_name"), "report_id": text(meta, "report_id"),
        "domain": policy.get("domain", ""),
        "begin": int(float(text(dr, "begin"))), "end": int(float(text(dr, "end"))),
        "policy": policy, "records": [],
    }
    for r in children(root, "record"):
        row = child(r, "row")
        pe = child(row, "policy_evaluated")
        ident = child(r, "identifiers")
        if ident is None:
            ident = child(r, "identities")
        auth = child(r, "auth_results")
        count = int(text(row, "count"))
        disp = text(pe, "disposition").lower()
        if count < 0 or disp not in DISPOSITIONS:
            raise Rejected(f"bad record: count {count} disposition {disp!r}")
        rep["records"].append({
            "source_ip": str(ipaddress.ip_address(text(row, "source_ip"))),
            "count": count, "disposition": disp,
            "pe_dkim": text(pe, "dkim").lower(), "pe_spf": text(pe, "spf").lower(),
            "reasons": [(text(x, "type").lower(), text(x, "comment")) for x in children(pe, "reason")],
            "header_from": text(ident, "header_from").lower().rstrip("."),
            "dkim": [(text(d, "domain").lower().rstrip("."), text(d, "result").lower())
                     for d in (children(auth, "dkim") if auth is not None else [])],
            "spf": [(text(s, "domain").lower().rstrip("."), text(s, "result").lower(),
                     text(s, "scope").lower()) for s in (children(auth, "spf") if auth is not None else [])],
        })
    if not rep["records"]:
        raise Rejected("no records")
    return rep


# -- containers -----------------------------------------------------------------------------

def sniff_payload(data, where):
    """[(where, xml bytes)] from one payload: gzip (maybe tar), zip or XML; Rejected otherwise."""
    if not data:
        raise Rejected("empty")
    if data[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(data)
        except (EOFError, OSError, zlib.error):
            raise Rejected("truncated_gzip")
        if len(raw) > 262 and raw[257:262] == b"ustar":
            out = []
            with tarfile.open(fileobj=io.BytesIO(raw)) as t:
                for m in t.getmembers():
                    if m.isfile():
                        out.append((f"{where}:{m.name}", t.extractfile(m).read()))
            return out
        return [(where, raw)]
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return [(f"{where}:{n}", z.read(n)) for n in z.namelist() if not n.endswith("/")]
        except (zipfile.BadZipFile, zlib.error, EOFError):
            raise Rejected("corrupt_zip")
    return [(where, data)]


def split_mbox(data):
    """Messages of an mboxrd file, From_ lines dropped and quoting undone."""
    msgs, cur = [], None
    for line in data.split(b"\n"):
        if line.startswith(b"From ") and (cur is None or not cur or cur[-1] == b""):
            if cur is not None:
                msgs.append(cur)
            cur = []
            continue
        cur.append(re.sub(rb"^>(>*From )", rb"\1", line))
    if cur is not None:
        msgs.append(cur)
    return [b"\n".join(m[:-1] if m and m[-1] == b"" else m) + b"\n" for m in msgs]


def message_payloads(raw, where):
    """[(where, payload bytes)] for the report-like MIME leaves of one message."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = []
    for k, part in enumerate(msg.walk()):
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        name = part.get_filename()
        if ctype in ("text/plain", "text/html") and not name:
            continue
        out.append((f"{where}#part{k}", part.get_payload(decode=True) or b""))
    return out


def looks_like_mail(data):
    return re.match(rb"(?:[A-Za-z][A-Za-z0-9-]*:[^\n]*\n(?:[ \t][^\n]*\n)*)+", data) is not None \
        and re.search(rb"(?im)^(from|date|subject):", data.split(b"\n\n", 1)[0]) is not None


def derive(path):
    """(outcome, reason, [(where, xml bytes, report)], bare XML file?) for one input file."""
    with open(path, "rb") as f:
        data = f.read()
    units = []  # (where, payload bytes) per report-bearing unit (message leaf or the file)
    bare = False
    if data.startswith(b"From "):
        for i, m in enumerate(split_mbox(data), 1):
            units += message_payloads(m, f"#{i}")
    elif looks_like_mail(data):
        units += message_payloads(data, "")
    else:
        units.append(("", data))
        bare = data[:2] != b"\x1f\x8b" and data[:4] != b"PK\x03\x04"
    stored, problems = [], []
    for where, payload in units:
        try:
            for w, xml in sniff_payload(payload, where):
                stored.append((w, xml, parse_report(xml)))
        except Rejected as e:
            problems.append(f"{where or 'file'}: {e}")
    if not stored:
        return "rejected", "; ".join(problems) or "no report", [], bare
    return ("partial" if problems else "stored"), "; ".join(problems), stored, bare


# -- classification (tools/README.md "Classification rules"; --rows only) -------------------

SUFFIXES = {"com", "net", "org", "example", "de", "fr", "ru", "uk", "co.uk", "au", "com.au"}


def org(d):
    labels = [x for x in d.split(".") if x]
    if len(labels) < 2 or ".".join(labels) in SUFFIXES:
        return None
    n = 2 if ".".join(labels[-2:]) in SUFFIXES else 1
    return ".".join(labels[-(n + 1):]) if len(labels) > n else None


def aligned(a, b, mode):
    return a == b if mode == "s" else (org(a) is not None and org(a) == org(b))


def classify(rec, policy):
    adkim, aspf = policy.get("adkim") or "r", policy.get("aspf") or "r"
    hf = rec["header_from"]
    dkim_ok = any(r == "pass" and aligned(d, hf, adkim) for d, r in rec["dkim"])
    spf_ok = any(r == "pass" and s in ("mfrom", "") and aligned(d, hf, aspf) for d, r, s in rec["spf"])
    ok = dkim_ok or spf_ok
    org_spf_failed = org(hf) is not None and any(
        s in ("mfrom", "") and org(d) == org(hf) and r != "pass" for d, r, s in rec["spf"])
    override = any(t in ("forwarded", "trusted_forwarder", "mailing_list")
                   or (t == "local_policy" and "arc=pass" in c.lower()) for t, c in rec["reasons"])
    if ok and not org_spf_failed:
        return "aligned"
    if ok or override:
        return "forwarded"
    if any(r == "pass" for _, r in rec["dkim"]) or any(r == "pass" for _, r, _ in rec["spf"]):
        return "misaligned"
    return "unauthorized"


# -- main -----------------------------------------------------------------------------------

def inputs():
    out = []
    for base, prefix in ((SAMPLES, ""), (os.path.join(HERE, "bad"), "bad")):
        for dirpath, dirnames, files in os.walk(base):
            rel_dir = os.path.relpath(dirpath, base)
            dirnames.sort()
            for f in sorted(files):
                out.append(os.path.normpath(os.path.join(prefix, rel_dir, f)))
    return sorted(out)


def figures(outcome, stored):
    recs = [r for _, _, rep in stored for r in rep["records"]]
    by = {d: sum(r["count"] for r in recs if r["disposition"] == d) for d in DISPOSITIONS}
    return [outcome, str(len(stored)), str(len(recs)), str(sum(r["count"] for r in recs))] + \
        [str(by[d]) for d in DISPOSITIONS]


def read_expected():
    rows = {}
    with open(EXPECTED, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not lines or lines[0].split("\t") != COLUMNS:
        raise SystemExit(f"EXPECTED.tsv: header must be {COLUMNS}")
    for n, line in enumerate(lines[1:], 2):
        cols = line.split("\t")
        if len(cols) != len(COLUMNS):
            raise SystemExit(f"EXPECTED.tsv line {n}: {len(cols)} columns, want {len(COLUMNS)}")
        rows[cols[0]] = cols
    return rows


def main(argv):
    show_rows, write = "--rows" in argv, "--write" in argv
    errors = []
    derived, identities, sources_used = {}, {}, set()
    src_files = {}
    for dirpath, _, files in os.walk(os.path.join(HERE, "src")):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                src_files[os.path.relpath(p, HERE)] = fh.read()
    totals = {"reports": 0, "records": 0, "messages": 0, **{d: 0 for d in DISPOSITIONS}}
    classes = {}
    for rel in inputs():
        outcome, reason, stored, plain = derive(locate(rel))
        derived[rel] = (figures(outcome, stored), reason)
        for where, xml, rep in stored:
            key = (rep["org_name"], rep["report_id"], rep["domain"], rep["begin"], rep["end"])
            if key in identities:
                errors.append(f"{rel}{where}: same identity as {identities[key]}: {key}")
            identities[key] = rel + where
            if not plain:
                match = [s for s, b in src_files.items() if b == xml]
                if not match:
                    errors.append(f"{rel}{where}: no byte-identical source in src/")
                sources_used.update(match)
            totals["reports"] += 1
            for r in rep["records"]:
                totals["records"] += 1
                totals["messages"] += r["count"]
                totals[r["disposition"]] += r["count"]
                c = classify(r, rep["policy"])
                classes[c] = classes.get(c, 0) + r["count"]
                if show_rows:
                    print(f"  {rel}{where}\t{r['source_ip']}\t{r['header_from']}\t{r['count']}\t"
                          f"{r['disposition']}\t{c}")
    # src/bad holds the source of the truncated gzip, which yields no report
    unused = sorted(s for s in src_files if s not in sources_used and not s.startswith("src/bad/"))
    for s in unused:
        errors.append(f"{s}: not found in any container")

    if write:
        old = read_expected() if os.path.exists(EXPECTED) else {}
        with open(EXPECTED, "w", encoding="utf-8", newline="\n") as f:
            f.write("\t".join(COLUMNS) + "\n")
            for rel, (fig, reason) in derived.items():
                note = old[rel][-1] if rel in old else reason
                f.write("\t".join([rel] + fig + [note]) + "\n")
        print(f"wrote {EXPECTED}")

    expected = read_expected()
    for rel in sorted(set(expected) - set(derived)):
        errors.append(f"{rel}: listed in EXPECTED.tsv but not present")
    for rel, (fig, reason) in derived.items():
        if rel not in expected:
            errors.append(f"{rel}: input not listed in EXPECTED.tsv")
            continue
        want = expected[rel][1:-1]
        if want != fig:
            diff = ", ".join(f"{c}: expected {w} got {g}"
                             for c, w, g in zip(COLUMNS[1:-1], want, fig) if w != g)
            errors.append(f"{rel}: {diff}" + (f" ({reason})" if reason else ""))
        print(f"{'ok  ' if want == fig else 'FAIL'} {fig[0]:8} reports={fig[1]:>2} records={fig[2]:>2} "
              f"messages={fig[3]:>4}  {rel}" + (f"  [{reason}]" if reason else ""))
    print(f"total: {len(derived)} inputs, {totals['reports']} reports, {totals['records']} records, "
          f"{totals['messages']} messages (none {totals['none']}, quarantine {totals['quarantine']}, "
          f"reject {totals['reject']}, pass {totals['pass']})")
    print("messages by row class: " + ", ".join(
        f"{c} {classes.get(c, 0)}" for c in ("aligned", "forwarded", "misaligned", "unauthorized")))
    for e in errors:
        print("ERROR " + e)
    print("OK" if not errors else f"{len(errors)} difference(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
