"""The measurements of bench/peers.sh: dmarcsift and the Debian-packaged peers
on the same generated corpus, in the same run, and one table of records/s,
peak RSS and the ratios to dmarcsift.

  usage: peers.py --binary B --corpus C --work DIR [--records N] [--slow-records N] [--runs R]
                  [--mariadb-port P --mariadb-socket S --mariadb-pid PID]

A peer may run on a subset: the first files of the corpus in the order the
generator wrote them (chronological, every reporter each day), up to N
records, counted exactly from manifest.json. dmarcsift is measured on each
input a peer gets, and each ratio compares the same files."""
import argparse
import collections
import os
import re
import shutil
import subprocess
import sys

from measure import read_manifest, run_measured, warm_page_cache
from measure_ingest import measure_ingest

# Mail::DMARC ships no importer for report files: dmarc_receive takes
# e-mails (--file, one message per call) or IMAP, and its --mbox reader is
# commented out in 1.20211209. This driver does per file what
# Mail::DMARC::Report::Receive::from_email_simple does per attachment once the
# MIME part is decoded: submitter from the file name, gunzip, handle_body,
# which parses with XML::LibXML and saves into the configured SQLite store.
# A report the store refuses (it requires an SPF domain; null-sender rows
# have an empty one) is counted and the run goes on, as dmarc_receive would
# die on it.
MAIL_DMARC_DRIVER = r"""
use strict;
use warnings;
use File::Basename qw(basename);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Mail::DMARC::Report::Receive;

my $receiver = Mail::DMARC::Report::Receive->new or die "cannot create Mail::DMARC::Report::Receive\n";
open my $list, '<', $ARGV[0] or die "$ARGV[0]: $!\n";
my ($files, $refused) = (0, 0);
while (my $path = <$list>) {
    chomp $path;
    $files++;
    $receiver->report->init();
    $receiver->{_envelope_to} = undef;
    $receiver->{_header_from} = undef;
    $receiver->get_submitter_from_filename(basename($path));
    my $xml;
    gunzip($path => \$xml) or die "$path: $GunzipError\n";
    eval { $receiver->handle_body($xml); 1 } or do { $refused++; print STDERR "$path: $@" };
}
print "files $files refused $refused\n";
"""


class Row:
    def __init__(self, tool, scope, records, seconds, rss_mb, note=""):
        self.tool, self.scope, self.records = tool, scope, records
        self.seconds, self.rss_mb, self.note = seconds, rss_mb, note

    @property
    def rate(self):
        return self.records / self.seconds


def subset(manifest, corpus, max_records):
    """The first files in write order holding up to max_records records
    (at least one file); 0 means the whole corpus."""
    files, records = [], 0
    for entry in manifest["per_file"]:
        if entry["outcome"] != "stored":
            continue
        if max_records and files and records + entry["records"] > max_records:
            break
        files.append(os.path.join(corpus, entry["path"]))
        records += entry["records"]
    return files, records


def skipped(tool, why):
    print(f"peer {tool}: skipped, {why}", flush=True)


def run_dmarc_cat(files, records, scope, work):
    """dmarc-cat reads one report per call, so xargs runs it once per file;
    -N keeps it from resolving every source IP over DNS (it would send
    queries off the machine, and time them)."""
    if not shutil.which("dmarc-cat"):
        return skipped("dmarc-cat", "not installed (bash bench/install-peers.sh)")
    listing = os.path.join(work, "dmarc-cat.files")
    with open(listing, "w", encoding="utf-8") as f:
        f.write("".join(path + "\n" for path in files))
    print(f"peer dmarc-cat: {len(files):,} files, {records:,} records ...", flush=True)
    run = run_measured(["xargs", "-d", "\n", "-n", "1", "-a", listing, "dmarc-cat", "-N"])
    if run.returncode != 0:
        return skipped("dmarc-cat", f"failed ({run.returncode}): {run.stderr.decode()[-500:]}")
    # "Reports(N):" heads the N rows it read from one report.
    parsed = sum(int(n) for n in re.findall(rb"Reports\((\d+)\):", run.stdout))
    note = "parse and print only; one process per file"
    if parsed != records:
        note += f"; printed {parsed:,} rows"
    return Row("dmarc-cat", scope, records, run.seconds, run.peak_rss_mb, note)


def run_dmarcts(files, records, scope, work, port, socket, server_pid):
    tool = "dmarcts-report-parser"
    if not shutil.which("dmarcts-report-parser"):
        return skipped(tool, "not installed (bash bench/install-peers.sh)")
    if not port:
        return skipped(tool, "no MariaDB server could be started (see above)")
    # It reads dmarcts-report-parser.conf from its working directory (its -c
    # option is declared as a flag and cannot name a file).
    cwd = os.path.join(work, "dmarcts")
    os.makedirs(cwd, exist_ok=True)
    with open(os.path.join(cwd, "dmarcts-report-parser.conf"), "w", encoding="utf-8") as f:
        f.write(f"""$debug = 0;
$delete_reports = 0;
$delete_failed = 0;
$dbtype = 'mysql';
$dbname = 'dmarc';
$dbuser = 'bench';
$dbpass = 'bench';
$dbhost = '127.0.0.1';
$dbport = '{port}';
$imapreadfolder = 'unused';
$maxsize_xml = 50000;
$compress_xml = 0;
1;
""")
    print(f"peer {tool}: {len(files):,} files, {records:,} records into MariaDB on 127.0.0.1:{port} ...",
          flush=True)
    run = run_measured([tool, "-z", *files], cwd=cwd, discard_stdout=True)
    if run.returncode != 0:
        return skipped(tool, f"failed ({run.returncode}): {run.stderr.decode()[-500:]}")
    stored = subprocess.run(["mariadb", "--no-defaults", f"--socket={socket}", "-N", "-B", "dmarc",
                             "-e", "SELECT COUNT(*) FROM rptrecord"],
                            capture_output=True, text=True, check=True).stdout.strip()
    note = f"stored {int(stored):,} records"
    server_mb = peak_rss_of(server_pid)
    if server_mb:
        note += f"; + mariadbd {server_mb:.0f} MB peak"
    return Row(tool, scope, records, run.seconds, run.peak_rss_mb, note)


def peak_rss_of(pid):
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


def run_mail_dmarc(files, records, scope, work):
    tool = "Mail::DMARC"
    probe = subprocess.run(["perl", "-MMail::DMARC::Report::Receive", "-e", "1"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return skipped(tool, "libmail-dmarc-perl not installed (bash bench/install-peers.sh)")
    cwd = os.path.join(work, "mail-dmarc")
    os.makedirs(cwd, exist_ok=True)
    db = os.path.join(cwd, "reports.sqlite")
    shipped = subprocess.run(["perl", "-MFile::ShareDir=dist_file", "-e",
                              "print dist_file('Mail-DMARC', 'mail-dmarc.ini')"],
                             capture_output=True, text=True, check=True).stdout
    with open(shipped, encoding="utf-8") as f:
        ini = f.read()
    # Its own defaults, but the store in the work directory.
    ini = re.sub(r"(?m)^dsn\s*=.*$", f"dsn     = dbi:SQLite:dbname={db}", ini, count=1)
    config = os.path.join(cwd, "mail-dmarc.ini")
    with open(config, "w", encoding="utf-8") as f:
        f.write(ini)
    driver = os.path.join(cwd, "import.pl")
    with open(driver, "w", encoding="utf-8") as f:
        f.write(MAIL_DMARC_DRIVER)
    listing = os.path.join(cwd, "files")
    with open(listing, "w", encoding="utf-8") as f:
        f.write("".join(path + "\n" for path in files))
    print(f"peer {tool}: {len(files):,} files, {records:,} records into SQLite ...", flush=True)
    env = dict(os.environ, MAIL_DMARC_CONFIG_FILE=config)
    run = run_measured(["perl", driver, listing], cwd=cwd, env=env)
    if run.returncode != 0:
        return skipped(tool, f"failed ({run.returncode}): {run.stderr.decode()[-500:]}")
    refused = re.search(rb"refused (\d+)", run.stdout)
    stored = subprocess.run(["sqlite3", db, "SELECT COUNT(*) FROM report_record"],
                            capture_output=True, text=True, check=True).stdout.strip()
    note = f"stored {int(stored):,} records"
    if refused and int(refused.group(1)):
        # "PATH: missing domain calling ...::get_domain_id at FILE line N."
        reasons = collections.Counter(
            re.sub(r" at /\S+ line \d+\.$", "", line.split(": ", 1)[1])
            for line in run.stderr.decode(errors="replace").splitlines() if ".xml.gz: " in line)
        note += f"; refused {int(refused.group(1)):,} reports"
        if reasons:
            note += f", e.g. '{reasons.most_common(1)[0][0]}'"
    return Row(tool, scope, records, run.seconds, run.peak_rss_mb, note)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--records", type=int, default=0,
                        help="records for dmarc-cat and dmarcts-report-parser; 0: the whole corpus")
    parser.add_argument("--slow-records", type=int, default=1000,
                        help="records for Mail::DMARC; 0: the whole corpus")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mariadb-port", type=int, default=0)
    parser.add_argument("--mariadb-socket", default="")
    parser.add_argument("--mariadb-pid", type=int, default=0)
    args = parser.parse_args()

    manifest = read_manifest(args.corpus)
    print(f"corpus: {args.corpus} ({manifest['records']:,} records in {manifest['files']:,} files)",
          flush=True)
    warm_page_cache([os.path.join(args.corpus, manifest["input"])])

    # dmarcsift is measured on every input a peer gets, so that each ratio
    # compares the same files: its fixed start-up cost weighs more on a
    # small subset, which only makes the ratio smaller.
    inputs = {}
    for max_records in (args.records, args.slow_records):
        files, records = subset(manifest, args.corpus, max_records)
        whole = len(files) == manifest["files"]
        scope = "all" if whole else f"first {len(files):,} files"
        inputs[max_records] = (files, records, scope, whole)
    dmarcsift = {}
    for files, records, scope, whole in inputs.values():
        if scope in dmarcsift:
            continue
        print(f"dmarcsift: {scope}, {records:,} records, {args.runs} runs after one untimed run ...",
              flush=True)
        result = measure_ingest(args.binary, args.corpus, args.runs, warmup_runs=1,
                                inputs=None if whole else files, records=records)
        dmarcsift[scope] = Row("dmarcsift", scope, records, result["seconds"], result["peak_rss_mb"],
                               f"median of {args.runs} runs")

    print("peer parsedmarc: skipped, not packaged in Debian 12", flush=True)
    fast_files, fast_records, fast_scope, _ = inputs[args.records]
    slow_files, slow_records, slow_scope, _ = inputs[args.slow_records]
    peers = [run_dmarc_cat(fast_files, fast_records, fast_scope, args.work),
             run_dmarcts(fast_files, fast_records, fast_scope, args.work, args.mariadb_port,
                         args.mariadb_socket, args.mariadb_pid),
             run_mail_dmarc(slow_files, slow_records, slow_scope, args.work)]

    header = ["tool", "input", "records", "seconds", "records/s", "peak RSS MB",
              "dmarcsift faster", "RSS / dmarcsift's", "notes"]
    table = []
    for row in [*dmarcsift.values(), *(peer for peer in peers if peer)]:
        basis = dmarcsift[row.scope] if row.tool != "dmarcsift" else None
        table.append([
            row.tool,
            row.scope,
            f"{row.records:,}",
            f"{row.seconds:.2f}",
            f"{row.rate:,.0f}",
            f"{row.rss_mb:.1f}",
            f"{basis.rate / row.rate:,.1f}x" if basis else "",
            f"{row.rss_mb / basis.rss_mb:.1f}x" if basis else "",
            row.note,
        ])
    widths = [max(len(header[i]), *(len(r[i]) for r in table)) for i in range(len(header))]
    left = {0, 1, 8}
    print()
    for r in [header, *table]:
        print("  ".join(c.ljust(w) if i in left else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    print()
    print("input: the corpus's files in the order the generator wrote them (chronological, every "
          "reporter each day);\n"
          "each ratio is against dmarcsift on the same input, measured in this run. "
          "Peers: one timed run each.\n"
          "target: dmarcsift >= 30x the fastest peer")


if __name__ == "__main__":
    main()
