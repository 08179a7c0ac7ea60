#!/usr/bin/env python3
"""Rebuild every container in sample-reports/ from the XML sources in src/.

Standard library only, deterministic: gzip members carry mtime 0, zip and tar entries fixed
timestamps and permissions, e-mails fixed headers and boundaries. Running it again gives the same
bytes (for a given zlib build), so `git status` stays clean after a rebuild.

    python3 sample-reports/make_containers.py          # rewrite the containers
    python3 sample-reports/make_containers.py --check  # exit 1 if a container differs from a rebuild

The plain .xml reports that sit directly in sample-reports/ (and bad/mailserver-news.xml) are
hand-written inputs, not built here.
"""
import base64
import gzip
import io
import os
import re
import sys
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "src")
SAMPLES = os.path.normpath(os.path.join(HERE, "..", "..", "sample-reports"))

GOOGLE = "google.com!example.com!1791936000!1792022399"
OUTLOOK = "protection.outlook.com!example.com!1792022400!1792108800"
FASTMAIL = "fastmail.com!example.org!1792627200!1792713599!118273645"
MIMECAST_ID = "9d41c07a2be85f316e0a4b7c92d18e5fa03b6c47d95e21f8b0c3a6e4d7f15b82"
MIMECAST = f"mimecast.org!example.org!1792713600!1792799999!{MIMECAST_ID}"
ENTERPRISE = "enterprise.protection.outlook.com!example.net!1792972800!1793059200"
ENTERPRISE_ID = "d92e5f1a7b3c40e8a6f4b1c2e9d07a35"
MAILRU = "mail.ru!example.com!1792454400!1792540800"
MAILRU_ID = "64051738829144562301792540800"
SES = "amazonses.com!example.net!1793059200!1793145599"
SES_ID = "5b8f2c1e-7a4d-4e9b-9c3f-2d6a8e1b0f47"
BUNDLE = ["kestrel-mail.example!shop.example.net!1793664000!1793750399",
          "riverbank-isp.example!shop.example.net!1793750400!1793836799"]
TRUNCATED = "protection.outlook.com!example.net!1793059200!1793145600"


def src(name):
    with open(os.path.join(SRC, name + ".xml"), "rb") as f:
        return f.read()


def gz(data, member_name=None):
    """gzip with mtime 0; member_name goes into the FNAME header, as receivers write it."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename=member_name or "", mode="wb", fileobj=buf, mtime=0,
                       compresslevel=9) as f:
        f.write(data)
    return buf.getvalue()


def zip_one(member_name, data, when):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo(member_name, date_time=when)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3
        info.external_attr = 0o644 << 16
        z.writestr(info, data)
    return buf.getvalue()


def tar_gz(members, mtime):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            t.addfile(info, io.BytesIO(data))
    return gz(buf.getvalue())


def b64(data, eol):
    return base64.encodebytes(data).decode("ascii").replace("\n", eol)


# -- e-mails --------------------------------------------------------------------------------

def outlook_eml():
    """Enterprise Outlook (Microsoft) style: multipart/mixed > related > alternative > text/html,
    then the .xml.gz as a base64 application/gzip attachment. CRLF line ends, as saved by most
    mail clients."""
    att = ENTERPRISE + ".xml.gz"
    data = gz(src(ENTERPRISE), ENTERPRISE + ".xml")
    mixed = "_mpm_" + ENTERPRISE_ID + "piotk5m200exchangecorpm_"
    rel = "_rv_" + ENTERPRISE_ID + "piotk5m200exchangecorpm_"
    alt = "_av_" + ENTERPRISE_ID + "piotk5m200exchangecorpm_"
    html = ("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=us-ascii\"></head>"
            "<body><div>This is a DMARC aggregate report from Microsoft Corporation. For Emails received "
            "between 2026-10-26 00:00:00 UTC to 2026-10-27 00:00:00 UTC.</div><br><div>You're receiving "
            "this email because you have included your email address in the 'rua' tag of your DMARC "
            "record in DNS for example.net. Please remove your email address from the 'rua' tag if you "
            "don't want to receive this email.</div><br><div>Please do not respond to this e-mail. This "
            "mailbox is not monitored and you will not receive a response. For any feedback/suggestions, "
            "kindly mail to dmarcreport@microsoft.com.</div></body></html>\r\n").encode("ascii")
    e = "\r\n"
    lines = [
        "Return-Path: <dmarcreport@microsoft.com>",
        "Received: from EUR05-VI1-obe.outbound.protection.outlook.com (mail-vi1eur05on2101.outbound.protection.outlook.com [192.0.2.251])",
        "\tby mx1.example.net (Postfix) with ESMTPS id 4F1C2A0317",
        "\tfor <dmarc-rua@example.net>; Tue, 27 Oct 2026 03:41:19 +0000 (UTC)",
        "Message-ID: <" + ENTERPRISE_ID + "@microsoft.com>",
        "MIME-Version: 1.0",
        'From: "DMARC Aggregate Report" <dmarcreport@microsoft.com>',
        "To: <dmarc-rua@example.net>",
        "Subject: Report Domain: example.net Submitter: enterprise.protection.outlook.com Report-ID: "
        + ENTERPRISE_ID,
        "Content-Type: multipart/mixed;",
        f'\tboundary="{mixed}"',
        "Date: Tue, 27 Oct 2026 03:41:17 +0000",
        "X-MS-PublicTrafficType: Email",
        "X-OriginatorOrg: dmarcrep.onmicrosoft.com",
        "",
        "This is a multi-part message in MIME format.",
        "",
        f"--{mixed}",
        "Content-Type: multipart/related;",
        f'\tboundary="{rel}"',
        "",
        f"--{rel}",
        "Content-Type: multipart/alternative;",
        f'\tboundary="{alt}"',
        "",
        f"--{alt}",
        "Content-Type: text/html; charset=us-ascii",
        "Content-Transfer-Encoding: base64",
        "",
        b64(html, e).rstrip(e),
        f"--{alt}--",
        "",
        f"--{rel}--",
        "",
        f"--{mixed}",
        "Content-Type: application/gzip",
        "Content-Transfer-Encoding: base64",
        "Content-ID: <" + ENTERPRISE_ID + ">",
        "Content-Description: " + att,
        f'Content-Disposition: attachment; filename="{att}";',
        "",
        b64(data, e).rstrip(e),
        f"--{mixed}--",
        "",
    ]
    return e.join(lines).encode("ascii")


def mimecast_eml():
    """Mimecast style: the whole message body is the base64 .xml.gz (single part), Report-ID left
    empty in the subject. LF line ends."""
    att = MIMECAST + ".xml.gz"
    data = gz(src(MIMECAST), MIMECAST + ".xml")
    lines = [
        "Return-Path: <no-reply@us-1.mimecastreport.com>",
        "Received: from us-smtp-delivery-160.mimecast.com (us-smtp-delivery-160.mimecast.com [192.0.2.252])",
        "\tby mx1.example.org (Postfix) with ESMTPS id 9B27C40E12",
        "\tfor <dmarc-rua@example.org>; Sat, 24 Oct 2026 04:17:02 +0000 (UTC)",
        "From: no-reply@us-1.mimecastreport.com",
        "Subject: Report Domain: example.org Submitter: mimecast.org Report-ID: ",
        "To: <dmarc-rua@example.org>",
        "Message-Id: <5f0c2a9e-63d1-4b7a-9e84-2c71d0b3a6f5@us-1.mimecastreport.com>",
        "Date: Sat, 24 Oct 2026 04:17:00 +0000",
        "X-MC-Unique: 5f0c2a9e-63d1-4b7a-9e84-2c71d0b3a6f5-1",
        "MIME-Version: 1.0",
        "Content-Type: application/gzip",
        "Content-Transfer-Encoding: base64",
        "Content-Disposition: attachment;",
        f' filename="{att}"',
        "",
        b64(data, "\n").rstrip("\n"),
        "",
    ]
    return "\n".join(lines).encode("ascii")


def mboxrd_quote(message):
    return re.sub(rb"(?m)^(>*From )", rb">\1", message)


def mbox():
    """A shared rua mailbox: a Mail.Ru report, a 'report too large' notice (no report; its body has
    a line starting 'From ', quoted mboxrd-style), and an Amazon SES report."""
    mailru_b = "===============6405173882914456230=="
    mailru = "\n".join([
        "Return-Path: <dmarc_support@corp.mail.ru>",
        "Content-Type: multipart/mixed; boundary=\"" + mailru_b + "\"",
        "MIME-Version: 1.0",
        "Subject: Report Domain: example.com; Submitter: Mail.Ru;",
        " Report-ID: " + MAILRU_ID,
        "From: dmarc_support@corp.mail.ru",
        "To: dmarc-rua@example.com",
        "Message-ID: <164051738829144562.1792540800@corp.mail.ru>",
        "Date: Wed, 21 Oct 2026 05:12:09 +0300",
        "Auto-Submitted: auto-generated",
        "",
        "--" + mailru_b,
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: base64",
        "",
        b64(b"This is an aggregate report from Mail.Ru.", "\n").rstrip("\n"),
        "",
        "--" + mailru_b,
        "Content-Type: application/gzip",
        "MIME-Version: 1.0",
        "Content-Transfer-Encoding: base64",
        "Content-Disposition: attachment;",
        f' filename="{MAILRU}.xml.gz"',
        "",
        b64(gz(src(MAILRU), MAILRU + ".xml"), "\n").rstrip("\n"),
        "",
        "--" + mailru_b + "--",
        "",
    ]).encode("ascii")
    notice = "\n".join([
        "Return-Path: <postmaster@mail.riverbank-isp.example>",
        "Date: Sun, 25 Oct 2026 06:30:12 +0000",
        "From: postmaster@mail.riverbank-isp.example",
        "To: dmarc-rua@example.com",
        "Subject: Report Domain: example.com - report too large",
        "Message-ID: <notice.7f3a1c0e92b4@mail.riverbank-isp.example>",
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: 7bit",
        "",
        "The aggregate report for example.com covering 2026-10-24 exceeded the size",
        "limit of your rua= address and was not sent.",
        "",
        "From the reporting system, with regards.",
        "",
    ]).encode("ascii")
    ses_b = "----=_Part_1822_1793163763.5b8f2c1e"
    ses = "\n".join([
        "Return-Path: <dmarc-reports@amazonses.com>",
        "Date: Wed, 28 Oct 2026 05:02:43 +0000",
        "From: dmarc-reports@amazonses.com",
        "To: dmarc-rua@example.com",
        "Message-ID: <0100019a2b7c4e1f-" + SES_ID + "-000000@email.amazonses.com>",
        "Subject: Dmarc Aggregate Report Domain: {example.net} Submitter: {Amazon SES} "
        "Date: {2026-10-27} Report-ID: {" + SES_ID + "}",
        "MIME-Version: 1.0",
        "Content-Type: multipart/mixed; ",
        '\tboundary="' + ses_b + '"',
        "",
        "--" + ses_b,
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: 7bit",
        "",
        "This is an aggregate report from Amazon SES.",
        "--" + ses_b,
        f'Content-Type: application/octet-stream; name="{SES}.xml.gz"',
        "Content-Transfer-Encoding: base64",
        f'Content-Disposition: attachment; filename="{SES}.xml.gz"',
        "",
        b64(gz(src(SES), SES + ".xml"), "\n").rstrip("\n"),
        "--" + ses_b + "--",
        "",
    ]).encode("ascii")
    out = b""
    for sender, when, msg in (("dmarc_support@corp.mail.ru", "Wed Oct 21 02:12:11 2026", mailru),
                              ("postmaster@mail.riverbank-isp.example", "Sun Oct 25 06:30:13 2026", notice),
                              ("dmarc-reports@amazonses.com", "Wed Oct 28 05:02:45 2026", ses)):
        out += f"From {sender} {when}\n".encode("ascii") + mboxrd_quote(msg) + b"\n"
    return out


def build():
    """{relative path: bytes} for every container."""
    return {
        GOOGLE + ".zip": zip_one(GOOGLE + ".xml", src(GOOGLE), (2026, 10, 15, 3, 20, 6)),
        OUTLOOK + ".xml.gz": gz(src(OUTLOOK), OUTLOOK + ".xml"),
        FASTMAIL + ".xml.gz": gz(src(FASTMAIL), FASTMAIL + ".xml"),
        "shop.example.net-reports-2026-11.tar.gz":
            tar_gz([(n + ".xml", src(n)) for n in BUNDLE], 1793923200),
        "mail-enterprise-outlook-example.net-2026-10-27.eml": outlook_eml(),
        "mail-mimecast-example.org-2026-10-24.eml": mimecast_eml(),
        "dmarc-rua-2026-10.mbox": mbox(),
        # rejected on purpose: the first half of a valid gzip
        "bad/" + TRUNCATED + ".xml.gz": (lambda d: d[:len(d) // 2])(gz(src("bad/" + TRUNCATED),
                                                                          TRUNCATED + ".xml")),
    }


def main():
    check = "--check" in sys.argv[1:]
    differ = 0
    for rel, data in build().items():
        # Rejected inputs stay here under bad/; the rest are the demo inputs.
        path = os.path.join(HERE if rel.startswith("bad/") else SAMPLES, rel)
        if check:
            try:
                with open(path, "rb") as f:
                    same = f.read() == data
            except FileNotFoundError:
                same = False
            if not same:
                print(f"differs from a rebuild: {rel}")
                differ += 1
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        print(f"wrote {rel} ({len(data)} bytes)")
    if check:
        print("containers up to date" if not differ else f"{differ} container(s) differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
