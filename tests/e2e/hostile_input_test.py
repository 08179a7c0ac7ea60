"""Hostile input through the command line (issue 6): decompression bombs,
overlapping zip entries, deep nesting, entity expansion and absurd counts
are each refused with one line naming the input and the limit, or stored
exactly, and every --max-... option reaches its limit. The inputs are
generated here, in bounded memory, and each run is timed."""
import io
import os
import struct
import sys
import time
import zipfile
import zlib

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import check, check_equal  # noqa: E402

MIB = 1 << 20


def report(records, report_id="hostile-1", prolog="", inside_record=""):
    """A minimal report with one record per (ip, count)."""
    rows = "".join(
        f"<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>"
        f"<disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated>"
        f"</row><identifiers><header_from>example.com</header_from></identifiers>"
        f"<auth_results><spf><domain>example.com</domain><scope>mfrom</scope>"
        f"<result>pass</result></spf></auth_results>{inside_record}</record>"
        for ip, count in records)
    return (f'<?xml version="1.0"?>{prolog}<feedback><version>1.0</version><report_metadata>'
            f"<org_name>Acme</org_name><email>d@acme.example</email><report_id>{report_id}"
            f"</report_id><date_range><begin>1790812800</begin><end>1790899199</end>"
            f"</date_range></report_metadata><policy_published><domain>example.com</domain>"
            f"<adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct><fo>0</fo>"
            f"</policy_published>{rows}</feedback>").encode()


def zero_gzip(mebibytes):
    """A gzip of `mebibytes` MiB of zeros, about 1 KB per MiB: after a full
    flush deflate starts afresh, so every MiB after the first compresses to
    the same bytes, which are repeated instead of compressed again."""
    zeros = bytes(MIB)
    deflater = zlib.compressobj(9, zlib.DEFLATED, 31, 9)
    first = deflater.compress(zeros) + deflater.flush(zlib.Z_FULL_FLUSH)
    following = deflater.compress(zeros) + deflater.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    # RFC 1951 3.2.6: a last block with fixed codes holding only end-of-block.
    return (first + following * (mebibytes - 1) + b"\x03\x00" +
            struct.pack("<II", crc, (mebibytes * MIB) & 0xFFFFFFFF))


def overlapping_zip_bomb(entries, kernel_size):
    """David Fifield's "better zip bomb" (2019), fully overlapping: entry i's
    data is a stored deflate block quoting entry i+1's local header, then
    entry i+1's data, so all entries share one deflated kernel of zeros."""
    zeros = bytes(kernel_size)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    kernel = deflater.compress(zeros) + deflater.flush()
    names = [f"{i}.xml".encode() for i in range(entries)]
    crc, compressed, size, headers = [0] * entries, [0] * entries, [0] * entries, [b""] * entries
    for i in reversed(range(entries)):
        if i == entries - 1:
            crc[i], compressed[i], size[i] = zlib.crc32(zeros), len(kernel), kernel_size
        else:
            quoted = headers[i + 1]
            # zlib.crc32 continues a CRC over more data; the kernel is zeros.
            crc[i] = zlib.crc32(zeros, zlib.crc32(b"".join(headers[i + 1:])))
            compressed[i] = 5 + len(quoted) + compressed[i + 1]
            size[i] = len(quoted) + size[i + 1]
        headers[i] = struct.pack("<IHHHIIIIHH", 0x04034B50, 20, 0, 8, 0, crc[i], compressed[i],
                                 size[i], len(names[i]), 0) + names[i]
    data, offsets = b"", []
    for i in range(entries):
        offsets.append(len(data))
        data += headers[i]
        if i + 1 < entries:
            length = len(headers[i + 1])
            data += struct.pack("<BHH", 0, length, length ^ 0xFFFF)
    data += kernel
    directory = b"".join(
        struct.pack("<IHHHHIIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, crc[i], compressed[i],
                    size[i], len(names[i]), 0, 0, 0, 0, 0, offsets[i]) + names[i]
        for i in range(entries))
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, len(directory),
                      len(data), 0)
    return data + directory + end


def nested_zip(levels, innermost):
    data = innermost
    name = "report.xml"
    for _ in range(levels):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(name, data)
        data, name = buffer.getvalue(), "r.zip"
    return data


def billion_laughs():
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10))
    return report([("192.0.2.1", 1)], prolog=f"<!DOCTYPE feedback [{entities}]>").replace(
        b"<org_name>Acme</org_name>", b"<org_name>&lol9;</org_name>")


def main():
    common.require_environment()
    with common.temp_dir() as tmp:
        def write(name, data):
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(data)
            return path

        # The generator is checked on a small size: Python inflates it back.
        small = zero_gzip(4)
        check_equal(zlib.decompress(small, 31), bytes(4 * MIB), "the zero gzip inflates exactly")
        bomb = zero_gzip(1024)
        check(len(bomb) < 1_100_000, f"1 GiB of zeros in {len(bomb)} bytes of gzip")
        zip_bomb = overlapping_zip_bomb(200, MIB)
        with zipfile.ZipFile(write("check.zip", overlapping_zip_bomb(3, 4096))) as z:
            check_equal(z.testzip(), None, "the overlapping zip bomb has valid CRCs")
        os.remove(os.path.join(tmp, "check.zip"))

        normal = report([("192.0.2.1", 5)])
        eleven = report([(f"192.0.2.{i}", 1) for i in range(1, 12)])
        cases = [
            # name, file, bytes, options, what follows the path (None: stored)
            ("gzip bomb", "zeros.gz", bomb, ["--max-entry-bytes", str(16 * MIB)],
             ": decompressed size exceeds 16777216 bytes (limit max_entry_bytes)"),
            ("gzip of a gzip bomb", "zeros.gz.gz", zlib.compress(bomb, 9, 31),
             ["--max-entry-bytes", str(16 * MIB)],
             ": decompressed size exceeds 16777216 bytes (limit max_entry_bytes)"),
            ("zip nested 20 deep", "nested.zip", nested_zip(20, normal), [],
             " > r.zip > r.zip > r.zip > r.zip > r.zip: "
             "containers nested more than 4 deep (limit max_depth)"),
            ("billion laughs", "laughs.xml", billion_laughs(), [],
             ": XML with a DOCTYPE declaration is refused (entity expansion, billion laughs)"),
            ("200,000 levels", "deep.xml",
             report([("192.0.2.1", 1)], inside_record="<x>" * 200000 + "</x>" * 200000), [],
             ": XML elements nested more than 256 deep (limit max_xml_depth)"),
            ("--max-xml-depth", "depth.xml", normal, ["--max-xml-depth", "4"],
             ": XML elements nested more than 4 deep (limit max_xml_depth)"),
            ("--max-xml-bytes", "bytes.xml", normal, ["--max-xml-bytes", str(len(normal) - 1)],
             f": XML document is {len(normal)} bytes, more than {len(normal) - 1} "
             "(limit max_xml_bytes)"),
            ("--max-xml-bytes at the limit", "bytes.xml", normal,
             ["--max-xml-bytes", str(len(normal))], None),
            ("--max-records", "records.xml", eleven, ["--max-records", "10"],
             ": report has more than 10 records (limit max_records)"),
            ("--max-records at the limit", "records.xml", eleven, ["--max-records", "11"], None),
        ]
        for name, file_name, data, options, rejection in cases:
            path = write(file_name, data)
            db = os.path.join(tmp, file_name + ".db")
            started = time.monotonic()
            proc = common.run(db, "--quiet", "ingest", *options, path)
            seconds = time.monotonic() - started
            print(f"hostile_input_test: {name}: {len(data):,} bytes, {seconds:.2f} s")
            if rejection is None:
                check_equal(proc.returncode, 0, f"{name}: exit status")
                check_equal(proc.stderr.decode(), "", f"{name}: stderr")
            else:
                check_equal(proc.returncode, 3, f"{name}: exit status")
                check_equal(proc.stderr.decode(), f"dmarcsift: rejected: {path}{rejection}\n",
                            f"{name}: stderr")
            os.remove(path)

        # Every entry of the overlapping bomb inflates to just over 1 MiB, so
        # 63 fit in 64 MiB and the 64th stops the archive. Each of the 63 is
        # rejected on its own (it starts with the next local header, so it is
        # read as a zip, in libarchive's words).
        path = write("overlap.zip", zip_bomb)
        db = os.path.join(tmp, "overlap.db")
        started = time.monotonic()
        proc = common.run(db, "--quiet", "ingest", "--max-input-bytes", str(64 * MIB), path)
        seconds = time.monotonic() - started
        print(f"hostile_input_test: overlapping zip bomb: {len(zip_bomb):,} bytes "
              f"(200 entries of 1 MiB), {seconds:.2f} s")
        check_equal(proc.returncode, 3, "overlapping zip bomb: exit status")
        lines = proc.stderr.decode().splitlines()
        check_equal(lines[-1], f"dmarcsift: rejected: {path}: decompressed data exceeds 67108864 "
                               "bytes for one input (limit max_input_bytes)",
                    "overlapping zip bomb: the input's limit")
        prefix = f"dmarcsift: rejected: {path} > "
        entries = {line[len(prefix):].split(" ")[0].rstrip(":") for line in lines[:-1]
                   if line.startswith(prefix)}
        check_equal(entries, {f"{i}.xml" for i in range(63)},
                    "overlapping zip bomb: the entries rejected before the limit")

        # Counts: 10^12 is more mail than the world sends in a day, 2^64 fits
        # no 64-bit integer; both records are dropped, the others stored exactly.
        counts = report([("192.0.2.1", 5), ("192.0.2.2", 10**12), ("192.0.2.3", 2**64),
                         ("192.0.2.4", 2**32)], report_id="counts")
        db = os.path.join(tmp, "counts.db")
        summary = common.run_json(db, "ingest", write("counts.xml", counts))
        check_equal(summary.get("records_stored"), 2, "counts: records stored")
        check_equal(summary.get("messages_stored"), 2**32 + 5, "counts: messages stored")
        check_equal(summary.get("warnings", {}).get("record_dropped"), 2, "counts: records dropped")
        stats = common.stats(db)
        check_equal((stats.get("records"), stats.get("messages")), (2, 2**32 + 5),
                    "counts: stats after ingest")
    common.finish("hostile_input_test")


if __name__ == "__main__":
    main()
