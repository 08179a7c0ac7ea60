#include "ingest/archive.hpp"

#include "tests/support/containers.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace dmarcsift::ingest {
namespace {

using testing::gzip;
using testing::Member;
using testing::write_archive;
using testing::zlib_wrap;

std::string report_text(int seed) {
  std::string text = "<feedback>\n";
  for (int i = 0; i < 200; ++i) {
    text += "  <record><count>" + std::to_string(i * seed) + "</count></record>\n";
  }
  return text + "</feedback>\n";
}


void put16(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
}
void put32(std::string& out, std::uint32_t v) {
  put16(out, v & 0xffff);
  put16(out, v >> 16);
}

// A zip of stored (uncompressed) members, laid out by hand so that a test
// can give a member an empty name, which no archiver writes on purpose.
std::string stored_zip(const std::vector<Member>& members) {
  std::string local;
  std::string directory;
  for (const Member& m : members) {
    const auto crc = static_cast<std::uint32_t>(crc32(
        0, reinterpret_cast<const Bytef*>(m.content.data()), static_cast<uInt>(m.content.size())));
    const auto offset = static_cast<std::uint32_t>(local.size());
    const auto size = static_cast<std::uint32_t>(m.content.size());
    const auto name_size = static_cast<std::uint32_t>(m.name.size());
    put32(local, 0x04034b50);
    put16(local, 20);  // version needed
    put16(local, 0);   // flags
    put16(local, 0);   // method: stored
    put32(local, 0);   // time, date
    put32(local, crc);
    put32(local, size);
    put32(local, size);
    put16(local, name_size);
    put16(local, 0);  // extra
    local += m.name + m.content;
    put32(directory, 0x02014b50);
    put16(directory, 20);  // version made by
    put16(directory, 20);
    put16(directory, 0);
    put16(directory, 0);
    put32(directory, 0);
    put32(directory, crc);
    put32(directory, size);
    put32(directory, size);
    put16(directory, name_size);
    put16(directory, 0);  // extra
    put16(directory, 0);  // comment
    put16(directory, 0);  // disk
    put16(directory, 0);  // internal attributes
    put32(directory, 0);  // external attributes
    put32(directory, offset);
    directory += m.name;
  }
  std::string zip = local + directory;
  put32(zip, 0x06054b50);
  put16(zip, 0);
  put16(zip, 0);
  put16(zip, static_cast<std::uint32_t>(members.size()));
  put16(zip, static_cast<std::uint32_t>(members.size()));
  put32(zip, static_cast<std::uint32_t>(directory.size()));
  put32(zip, static_cast<std::uint32_t>(local.size()));
  put16(zip, 0);
  return zip;
}

// Offset of the data of the member named `name` (its local header comes
// before its central directory record, so the first match is the header).
std::size_t member_data_offset(const std::string& zip, const std::string& name) {
  const std::size_t at = zip.find(name);
  REQUIRE(at != std::string::npos);
  REQUIRE(at >= 30);
  const auto extra = static_cast<std::size_t>(static_cast<unsigned char>(zip[at - 2])) |
                     static_cast<std::size_t>(static_cast<unsigned char>(zip[at - 1])) << 8;
  return at + name.size() + extra;
}

struct Seen {
  std::string name;
  std::string bytes;  // content, or "error: where: what"
};

std::pair<Result<void>, std::vector<Seen>> read_all(std::string_view bytes,
                                                    const Limits& limits = {}) {
  std::vector<Seen> seen;
  Result<void> outcome = for_each_entry(bytes, "in.zip", limits, [&](ArchiveEntry&& entry) {
    seen.push_back(
        {entry.name, entry.bytes ? *entry.bytes : "error: " + to_string(entry.bytes.error())});
  });
  return {std::move(outcome), std::move(seen)};
}

}  // namespace

TEST_CASE("inflate_stream inflates a gzip stream") {
  const std::string text = report_text(3);
  std::vector<Warning> warnings;
  auto inflated = inflate_stream(gzip(text), "r.xml.gz", Limits{}, warnings);
  REQUIRE(inflated);
  CHECK(*inflated == text);
  CHECK(warnings.empty());
}

TEST_CASE("inflate_stream joins every member of a multi-member gzip") {
  std::vector<Warning> warnings;
  auto inflated = inflate_stream(gzip("<feedback>") + gzip("</feedback>\n") + gzip(""), "r.gz",
                                 Limits{}, warnings);
  REQUIRE(inflated);
  CHECK(*inflated == "<feedback></feedback>\n");
  CHECK(warnings.empty());
}

TEST_CASE("inflate_stream ignores bytes after the last member with a warning") {
  std::vector<Warning> warnings;
  auto inflated =
      inflate_stream(gzip("<feedback/>") + "\r\n", "m.eml > r.xml.gz", Limits{}, warnings);
  REQUIRE(inflated);
  CHECK(*inflated == "<feedback/>");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].kind == "trailing_bytes_after_gzip");
  CHECK(warnings[0].detail == "m.eml > r.xml.gz: 2 bytes after the gzip stream");
  CHECK(warnings[0].count == 1);
}

TEST_CASE("inflate_stream inflates a zlib stream") {
  const std::string text = report_text(5);
  std::vector<Warning> warnings;
  auto inflated = inflate_stream(zlib_wrap(text), "mimecast", Limits{}, warnings);
  REQUIRE(inflated);
  CHECK(*inflated == text);
  CHECK(warnings.empty());
}

TEST_CASE("inflate_stream rejects a truncated gzip stream") {
  const std::string whole = gzip(report_text(7));
  for (const std::size_t keep : {std::size_t{10}, whole.size() / 2, whole.size() - 1}) {
    CAPTURE(keep);
    std::vector<Warning> warnings;
    auto inflated =
        inflate_stream(std::string_view(whole).substr(0, keep), "r.xml.gz", Limits{}, warnings);
    REQUIRE_FALSE(inflated);
    CHECK(inflated.error().code == Errc::bad_input);
    CHECK(inflated.error().where == "r.xml.gz");
    CHECK(inflated.error().what == "truncated gzip stream");
  }
}

TEST_CASE("inflate_stream rejects a truncated zlib stream") {
  const std::string whole = zlib_wrap(report_text(7));
  std::vector<Warning> warnings;
  auto inflated =
      inflate_stream(std::string_view(whole).substr(0, whole.size() / 2), "z", Limits{}, warnings);
  REQUIRE_FALSE(inflated);
  CHECK(inflated.error().what == "truncated zlib stream");
}

TEST_CASE("inflate_stream rejects corrupt deflate data and a bad checksum") {
  std::string bad_block = gzip(report_text(9));
  bad_block[10] = '\xff';  // first deflate byte: BTYPE 11 is reserved
  std::vector<Warning> warnings;
  auto inflated = inflate_stream(bad_block, "r.gz", Limits{}, warnings);
  REQUIRE_FALSE(inflated);
  CHECK(inflated.error().code == Errc::bad_input);
  CHECK(inflated.error().what == "corrupt gzip data: invalid block type");

  std::string bad_crc = gzip("<feedback/>");
  bad_crc[bad_crc.size() - 8] ^= 0x01;  // CRC32 in the trailer
  inflated = inflate_stream(bad_crc, "r.gz", Limits{}, warnings);
  REQUIRE_FALSE(inflated);
  CHECK(inflated.error().what == "corrupt gzip data: incorrect data check");
}

TEST_CASE("inflate_stream stops at max_entry_bytes") {
  const std::string text(1000, 'x');
  std::vector<Warning> warnings;
  Limits limits;
  limits.max_entry_bytes = 999;
  auto inflated = inflate_stream(gzip(text), "bomb.gz", limits, warnings);
  REQUIRE_FALSE(inflated);
  CHECK(inflated.error().code == Errc::bad_input);
  CHECK(inflated.error().where == "bomb.gz");
  CHECK(inflated.error().what == "decompressed size exceeds 999 bytes (limit max_entry_bytes)");

  // The limit counts all members together.
  inflated = inflate_stream(gzip(std::string(600, 'x')) + gzip(std::string(600, 'y')), "two.gz",
                            limits, warnings);
  REQUIRE_FALSE(inflated);
  CHECK(inflated.error().what == "decompressed size exceeds 999 bytes (limit max_entry_bytes)");

  limits.max_entry_bytes = 1000;
  inflated = inflate_stream(gzip(text), "bomb.gz", limits, warnings);
  REQUIRE(inflated);
  CHECK(inflated->size() == 1000);
}

TEST_CASE("inflate_stream does not trust a lying ISIZE") {
  const std::string text = report_text(11);
  for (const std::uint32_t isize : {0u, 1u, 0xffffffffu}) {
    CAPTURE(isize);
    std::string stream = gzip(text);
    for (int i = 0; i < 4; ++i)
      stream[stream.size() - 4 + i] = static_cast<char>((isize >> (8 * i)) & 0xff);
    std::vector<Warning> warnings;
    auto inflated = inflate_stream(stream, "r.gz", Limits{}, warnings);
    // zlib checks ISIZE after inflating, so the mismatch is still reported.
    REQUIRE_FALSE(inflated);
    CHECK(inflated.error().what == "corrupt gzip data: incorrect length check");
  }
}

TEST_CASE("inflate_stream checks the CRC of a gzip header that carries one") {
  const std::string text = report_text(12);
  const std::string plain = gzip(text);
  // FLG.FHCRC: two bytes after the 10-byte header, the low half of its CRC32.
  std::string header = plain.substr(0, 10);
  header[3] = static_cast<char>(header[3] | 0x02);
  const auto header_crc = static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(header.data()), static_cast<uInt>(header.size())));
  for (const bool intact : {true, false}) {
    CAPTURE(intact);
    const std::uint32_t written = intact ? header_crc : header_crc ^ 1;
    std::string stream = header;
    stream += static_cast<char>(written & 0xff);
    stream += static_cast<char>((written >> 8) & 0xff);
    stream += plain.substr(10);
    std::vector<Warning> warnings;
    auto inflated = inflate_stream(stream, "r.gz", Limits{}, warnings);
    if (intact) {
      REQUIRE(inflated);
      CHECK(*inflated == text);
    } else {
      REQUIRE_FALSE(inflated);
      CHECK(inflated.error().what == "corrupt gzip data: header crc mismatch");
    }
  }
}

TEST_CASE("inflate_stream refuses bytes that are neither gzip nor zlib") {
  std::vector<Warning> warnings;
  for (const std::string_view bytes :
       {std::string_view(""), std::string_view("<feedback/>"), std::string_view("\x1f", 1)}) {
    auto inflated = inflate_stream(bytes, "r", Limits{}, warnings);
    REQUIRE_FALSE(inflated);
    CHECK(inflated.error().what == "not a gzip or zlib stream");
  }
  // A gzip header alone is a truncated stream, not a crash.
  auto inflated = inflate_stream(std::string_view("\x1f\x8b\x08\x00", 4), "r", Limits{}, warnings);
  REQUIRE_FALSE(inflated);
  CHECK(inflated.error().what == "truncated gzip stream");
}

TEST_CASE("for_each_entry reads every member of a zip in order, skipping directories") {
  const std::string zip = write_archive({{"reports/", "", true},
                                         {"reports/a.xml", report_text(1)},
                                         {"b.xml", report_text(2)},
                                         {"c.xml", "<feedback/>"}},
                                        "zip");
  auto [outcome, seen] = read_all(zip);
  REQUIRE(outcome);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].name == "reports/a.xml");
  CHECK(seen[0].bytes == report_text(1));
  CHECK(seen[1].name == "b.xml");
  CHECK(seen[1].bytes == report_text(2));
  CHECK(seen[2].name == "c.xml");
  CHECK(seen[2].bytes == "<feedback/>");
}

TEST_CASE("for_each_entry reports a member with invalid deflate data and goes on") {
  std::string zip = write_archive(
      {{"a.xml", report_text(1)}, {"b.xml", report_text(2)}, {"c.xml", report_text(3)}}, "zip");
  const std::size_t data = member_data_offset(zip, "b.xml");
  for (std::size_t i = 10; i < 50; ++i) zip[data + i] = static_cast<char>(zip[data + i] ^ 0x55);
  auto [outcome, seen] = read_all(zip);
  REQUIRE(outcome);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].bytes == report_text(1));
  CHECK(seen[1].name == "b.xml");
  CHECK(seen[1].bytes ==
        "error: in.zip > b.xml: corrupt zip member: ZIP decompression failed (-3)");
  CHECK(seen[2].bytes == report_text(3));
}

TEST_CASE("for_each_entry reports a member whose CRC does not match") {
  const std::string content = "<feedback>stored</feedback>";
  std::string zip = stored_zip({{"a.xml", content}, {"b.xml", "<feedback/>"}});
  const std::size_t data = member_data_offset(zip, "a.xml");
  zip[data + 1] = 'F';
  const std::string corrupted = zip.substr(data, content.size());
  char expected[128];
  std::snprintf(
      expected, sizeof expected, "ZIP bad CRC: 0x%lx should be 0x%lx",
      crc32(0, reinterpret_cast<const Bytef*>(corrupted.data()),
            static_cast<uInt>(corrupted.size())),
      crc32(0, reinterpret_cast<const Bytef*>(content.data()), static_cast<uInt>(content.size())));
  auto [outcome, seen] = read_all(zip);
  REQUIRE(outcome);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].bytes == "error: in.zip > a.xml: corrupt zip member: " + std::string(expected));
  CHECK(seen[1].bytes == "<feedback/>");
}

TEST_CASE("for_each_entry reads a member without a name and an empty member") {
  auto [outcome, seen] = read_all(stored_zip({{"", "<feedback/>"}, {"bad.xml", ""}}));
  REQUIRE(outcome);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].name == "");
  CHECK(seen[0].bytes == "<feedback/>");
  CHECK(seen[1].name == "bad.xml");
  CHECK(seen[1].bytes == "");
}

TEST_CASE("for_each_entry refuses a member over max_entry_bytes and reads the next") {
  Limits limits;
  limits.max_entry_bytes = 100;
  const std::string zip =
      write_archive({{"big.xml", std::string(101, 'x')}, {"small.xml", "<a/>"}}, "zip");
  auto [outcome, seen] = read_all(zip, limits);
  REQUIRE(outcome);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].bytes ==
        "error: in.zip > big.xml: decompressed size exceeds 100 bytes (limit max_entry_bytes)");
  CHECK(seen[1].bytes == "<a/>");
}

TEST_CASE("for_each_entry stops after max_entries members") {
  Limits limits;
  limits.max_entries = 2;
  const std::string zip = write_archive({{"1.xml", "1"}, {"2.xml", "2"}, {"3.xml", "3"}}, "zip");
  auto [outcome, seen] = read_all(zip, limits);
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == Errc::bad_input);
  CHECK(outcome.error().where == "in.zip");
  CHECK(outcome.error().what == "zip archive has more than 2 entries (limit max_entries)");
  CHECK(seen.size() == 2);
}

TEST_CASE("for_each_entry fails as a whole on bytes that are not an archive") {
  auto [outcome, seen] = read_all("PK\x03\x04 this is not really a zip");
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == Errc::bad_input);
  CHECK(outcome.error().where == "in.zip");
  CHECK(outcome.error().what == "corrupt zip archive: Truncated ZIP file header");
  CHECK(seen.empty());

  auto [garbage, none] = read_all(
      "\xf3\xa5\x1a"
      "E garbage that no reader claims");
  REQUIRE_FALSE(garbage);
  CHECK(garbage.error().what == "corrupt zip archive: Unrecognized archive format");
  CHECK(none.empty());
}

TEST_CASE("for_each_entry reads an empty zip") {
  auto [outcome, seen] = read_all(stored_zip({}));
  CHECK(outcome);
  CHECK(seen.empty());
}

TEST_CASE("for_each_entry reads a tar, skipping directories") {
  const std::string tar = write_archive(
      {{"dmarc/", "", true}, {"dmarc/a.xml", report_text(4)}, {"dmarc/b.xml.gz", gzip("<b/>")}},
      "ustar");
  auto [outcome, seen] = read_all(tar);
  REQUIRE(outcome);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].name == "dmarc/a.xml");
  CHECK(seen[0].bytes == report_text(4));
  CHECK(seen[1].name == "dmarc/b.xml.gz");
  CHECK(seen[1].bytes == gzip("<b/>"));
}

TEST_CASE("for_each_entry reports a truncated tar") {
  const std::string tar = write_archive({{"a.xml", std::string(5000, 'a')}}, "ustar");
  std::vector<Seen> seen;
  auto outcome = for_each_entry(
      std::string_view(tar).substr(0, 2048), "r.tar", Limits{}, [&](ArchiveEntry&& entry) {
        seen.push_back({entry.name, entry.bytes ? *entry.bytes : entry.bytes.error().what});
      });
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].name == "a.xml");
  CHECK(seen[0].bytes == "corrupt tar member: Truncated tar archive");
  // Nothing can be read past a truncated member.
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().what ==
        "corrupt tar archive: cannot read past the member a.xml: Truncated input file (needed 3584 "
        "bytes, only 0 available)");
}

}  // namespace dmarcsift::ingest

namespace dmarcsift::ingest {
namespace {

// Deflate without a wrapper, as zip members hold it.
std::string raw_deflate(std::string_view data) { return testing::compress(data, -15); }

struct ZipEntry {
  std::string name;
  std::uint32_t crc = 0;
  std::uint32_t compressed = 0;
  std::uint32_t size = 0;
  std::uint32_t offset = 0;  // of the local header
};

std::string local_header(const ZipEntry& e) {
  std::string out;
  put32(out, 0x04034b50);
  put16(out, 20);  // version needed
  put16(out, 0);   // flags
  put16(out, 8);   // method: deflate
  put32(out, 0);   // time, date
  put32(out, e.crc);
  put32(out, e.compressed);
  put32(out, e.size);
  put16(out, static_cast<std::uint32_t>(e.name.size()));
  put16(out, 0);  // extra
  return out + e.name;
}

// The central directory of `entries` and its end record, for a zip whose
// local headers and data take the first `data_size` bytes.
std::string central_directory(const std::vector<ZipEntry>& entries, std::uint32_t data_size) {
  std::string directory;
  for (const ZipEntry& e : entries) {
    put32(directory, 0x02014b50);
    put16(directory, 20);  // version made by
    put16(directory, 20);  // version needed
    put16(directory, 0);   // flags
    put16(directory, 8);   // method: deflate
    put32(directory, 0);   // time, date
    put32(directory, e.crc);
    put32(directory, e.compressed);
    put32(directory, e.size);
    put16(directory, static_cast<std::uint32_t>(e.name.size()));
    put16(directory, 0);  // extra
    put16(directory, 0);  // comment
    put16(directory, 0);  // disk
    put16(directory, 0);  // internal attributes
    put32(directory, 0);  // external attributes
    put32(directory, e.offset);
    directory += e.name;
  }
  std::string end;
  put32(end, 0x06054b50);
  put16(end, 0);
  put16(end, 0);
  put16(end, static_cast<std::uint32_t>(entries.size()));
  put16(end, static_cast<std::uint32_t>(entries.size()));
  put32(end, static_cast<std::uint32_t>(directory.size()));
  put32(end, data_size);
  put16(end, 0);
  return directory + end;
}

std::uint32_t crc_of(std::string_view data) {
  return static_cast<std::uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

// David Fifield's "better zip bomb" (2019), fully overlapping: the data of
// entry i is a stored deflate block quoting the local header of entry i+1,
// then the data of entry i+1, so every entry ends in the one deflated
// `kernel_size` zeros and `entries` entries inflate to about `entries`
// times that. Every size and CRC-32 in it is consistent.
std::string overlapping_zip_bomb(int entries, std::uint32_t kernel_size) {
  const std::string zeros(kernel_size, '\0');
  const std::string kernel = raw_deflate(zeros);
  std::vector<ZipEntry> list(static_cast<std::size_t>(entries));
  std::vector<std::string> headers(list.size());
  for (std::size_t i = list.size(); i-- > 0;) {
    ZipEntry& e = list[i];
    e.name = std::to_string(i) + ".xml";
    if (i + 1 == list.size()) {
      e.crc = crc_of(zeros);
      e.compressed = static_cast<std::uint32_t>(kernel.size());
      e.size = kernel_size;
    } else {
      const std::string& quoted = headers[i + 1];
      const ZipEntry& next = list[i + 1];
      e.crc = static_cast<std::uint32_t>(crc32_combine(crc_of(quoted), next.crc, next.size));
      e.compressed = 5 + static_cast<std::uint32_t>(quoted.size()) + next.compressed;
      e.size = static_cast<std::uint32_t>(quoted.size()) + next.size;
    }
    headers[i] = local_header(e);
  }
  std::string zip;
  for (std::size_t i = 0; i < list.size(); ++i) {
    list[i].offset = static_cast<std::uint32_t>(zip.size());
    zip += headers[i];
    if (i + 1 == list.size()) break;
    // RFC 1951 §3.2.4: a stored block that is not the last: 3 header bits,
    // padding to the byte, LEN and its one's complement NLEN.
    const auto quoted = static_cast<std::uint32_t>(headers[i + 1].size());
    zip.push_back('\0');
    put16(zip, quoted);
    put16(zip, ~quoted & 0xffff);
  }
  zip += kernel;
  return zip + central_directory(list, static_cast<std::uint32_t>(zip.size()));
}

// `entries` central directory entries, all pointing at one local header
// and its deflated `kernel_size` zeros.
std::string shared_data_zip(int entries, std::uint32_t kernel_size) {
  const std::string zeros(kernel_size, '\0');
  const std::string kernel = raw_deflate(zeros);
  const std::uint32_t crc = crc_of(zeros);
  std::vector<ZipEntry> list;
  for (int i = 0; i < entries; ++i) {
    list.push_back({std::to_string(i) + ".xml", crc, static_cast<std::uint32_t>(kernel.size()),
                    kernel_size, 0});
  }
  const std::string data = local_header(list[0]) + kernel;
  return data + central_directory(list, static_cast<std::uint32_t>(data.size()));
}

struct Sized {
  std::string name;
  std::uint64_t size = 0;
  std::string error;
};

// Like read_all, but keeps only sizes: the members of a bomb are large.
std::pair<Result<void>, std::vector<Sized>> read_sizes(std::string_view bytes,
                                                       const Limits& limits) {
  std::vector<Sized> seen;
  Result<void> outcome = for_each_entry(bytes, "bomb.zip", limits, [&](ArchiveEntry&& entry) {
    seen.push_back({entry.name, entry.bytes ? entry.bytes->size() : 0,
                    entry.bytes ? "" : to_string(entry.bytes.error())});
  });
  return {std::move(outcome), std::move(seen)};
}

}  // namespace

TEST_CASE("issue 6: the overlapping zip bomb of the tests is a valid zip") {
  const std::string zip = overlapping_zip_bomb(3, 1 << 20);
  auto [outcome, seen] = read_sizes(zip, Limits{});
  REQUIRE(outcome);
  REQUIRE(seen.size() == 3);
  // Each local header is 30 bytes plus a 5-byte name; the CRC-32s match.
  const std::uint64_t header = 35;
  CHECK(seen[0].name == "0.xml");
  CHECK(seen[0].size == (1 << 20) + 2 * header);
  CHECK(seen[0].error == "");
  CHECK(seen[1].size == (1 << 20) + header);
  CHECK(seen[1].error == "");
  CHECK(seen[2].name == "2.xml");
  CHECK(seen[2].size == 1 << 20);
  CHECK(seen[2].error == "");
}

TEST_CASE("issue 6: an overlapping zip bomb of 16 GiB stops at max_input_bytes") {
  const std::string zip = overlapping_zip_bomb(1000, 16 << 20);
  CHECK(zip.size() < 120'000);
  Limits limits;
  limits.max_entry_bytes = 64 << 20;
  limits.max_input_bytes = 128 << 20;
  auto [outcome, seen] = read_sizes(zip, limits);
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().where == "bomb.zip");
  CHECK(outcome.error().what ==
        "decompressed data exceeds 134217728 bytes for one input (limit max_input_bytes)");
  // Seven entries of just over 16 MiB fit in 128 MiB; the eighth does not.
  REQUIRE(seen.size() == 7);
  CHECK(seen[6].name == "6.xml");
  std::uint64_t quoted_headers = 0;  // those of entries 7 to 999, inside entry 6
  for (int i = 7; i < 1000; ++i) quoted_headers += 30 + (std::to_string(i) + ".xml").size();
  CHECK(seen[6].size == (16 << 20) + quoted_headers);
}

TEST_CASE("issue 6: central directory entries that share one member's data read it once") {
  // libarchive's seekable zip reader keys members by the offset of their
  // local header, so 1000 entries at one offset are one member.
  const std::string zip = shared_data_zip(1000, 16 << 20);
  CHECK(zip.size() < 100'000);
  auto [outcome, seen] = read_sizes(zip, Limits{});
  REQUIRE(outcome);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].name == "0.xml");
  CHECK(seen[0].size == 16 << 20);
  CHECK(seen[0].error == "");
}


TEST_CASE("an input declares what it unpacks to in its gzip trailer or zip directory") {
  const std::string text = report_text(3);
  REQUIRE(text.size() == 7585);
  CHECK(declared_unpacked_bytes(text) == 7585);
  const std::string gz = gzip(text);
  REQUIRE(gz.size() < 7585);
  CHECK(declared_unpacked_bytes(gz) == 7585);
  const std::string zip = write_archive({{"a.xml", text}, {"b.xml", text + text}}, "zip");
  REQUIRE(zip.size() < 3 * 7585);
  CHECK(declared_unpacked_bytes(zip) == 3 * 7585);
  // A zip whose end record is followed by a comment.
  std::string commented = zip;
  commented[commented.size() - 2] = 5;
  commented += "hello";
  CHECK(declared_unpacked_bytes(commented) == 3 * 7585);

  // What cannot be read counts at its own size, as does a trailer that
  // declares less than that.
  const std::string cut = zip.substr(0, zip.size() / 2);
  CHECK(declared_unpacked_bytes(cut) == cut.size());
  std::string small_trailer = gz;
  small_trailer.replace(small_trailer.size() - 4, 4, std::string("\x01\0\0\0", 4));
  CHECK(declared_unpacked_bytes(small_trailer) == gz.size());
  CHECK(declared_unpacked_bytes("") == 0);
}

}  // namespace dmarcsift::ingest
