#include "ingest/ingester.hpp"

#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "storage/sqlite/sqlite_store.hpp"
#include "tests/support/containers.hpp"
#include "tests/support/temp_dir.hpp"

using namespace dmarcsift;
using dmarcsift::testing::gzip;
using dmarcsift::testing::TempDir;
using dmarcsift::testing::write_archive;

namespace {

std::string report_xml(const std::string& report_id, int count = 5) {
  return "<?xml version=\"1.0\"?>\n<feedback><version>1.0</version><report_metadata>"
         "<org_name>google.com</org_name><email>noreply-dmarc-support@google.com</email>"
         "<report_id>" + report_id + "</report_id><date_range><begin>1790812800</begin>"
         "<end>1790899199</end></date_range></report_metadata><policy_published>"
         "<domain>example.com</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp>"
         "<pct>100</pct><fo>0</fo></policy_published><record><row><source_ip>192.0.2.1</source_ip>"
         "<count>" + std::to_string(count) + "</count><policy_evaluated><disposition>none</disposition>"
         "<dkim>pass</dkim><spf>pass</spf></policy_evaluated></row><identifiers>"
         "<header_from>example.com</header_from><envelope_from>example.com</envelope_from>"
         "</identifiers><auth_results><dkim><domain>example.com</domain><selector>s</selector>"
         "<result>pass</result></dkim><spf><domain>example.com</domain><scope>mfrom</scope>"
         "<result>pass</result></spf></auth_results></record></feedback>\n";
}

struct Fixture {
  std::unique_ptr<storage::Store> store = std::move(*storage::open_sqlite_store(":memory:"));
  ingest::Ingester ingester{*store, {}};
};

}  // namespace

TEST_CASE("the same report as .xml.gz and inside a .zip is stored once") {
  Fixture f;
  const std::string xml = report_xml("same-1");
  REQUIRE(f.ingester.ingest_bytes("a.xml.gz", gzip(xml)));
  REQUIRE(f.ingester.ingest_bytes("a.zip", write_archive({{"a.xml", xml}}, "zip")));
  REQUIRE(f.ingester.finish());
  const ingest::IngestSummary& s = f.ingester.summary();
  CHECK(s.inputs == 2);
  CHECK(s.reports_stored == 1);
  CHECK(s.duplicate_reports == 1);
  CHECK(s.inputs_stored == 1);
  CHECK(s.inputs_duplicate == 1);
  CHECK(s.records_stored == 1);
  CHECK(s.messages_stored == 5);
  auto totals = f.store->totals();
  REQUIRE(totals);
  CHECK(totals->reports == 1);
  CHECK(totals->messages == 5);
}

TEST_CASE("a report only pugixml refuses is unpacked again, repaired and stored once") {
  // The unpacked text of a .gz or a zip member is parsed in place; the
  // repairs need it as it was.
  std::string xml = report_xml("lt-1", 4);
  const std::string from = "<header_from>example.com</header_from>";
  xml.replace(xml.find(from), from.size(), "<header_from>bad<example.com</header_from>");
  const std::string other = report_xml("other-1", 2);
  const std::pair<std::string, std::string> packed[] = {
      {"lt.xml.gz", gzip(xml)},
      {"lt.zip", write_archive({{"other.xml", other}, {"lt.xml", xml}}, "zip")},
  };
  for (const auto& [name, bytes] : packed) {
    CAPTURE(name);
    Fixture f;
    REQUIRE(f.ingester.ingest_bytes(name, bytes));
    REQUIRE(f.ingester.ingest_bytes("lt.xml", xml));
    REQUIRE(f.ingester.finish());
    const ingest::IngestSummary& s = f.ingester.summary();
    const bool zip = name == "lt.zip";
    CHECK(s.inputs == 2);
    CHECK(s.reports_stored == (zip ? 2 : 1));
    CHECK(s.duplicate_reports == 1);
    CHECK(s.records_stored == (zip ? 2 : 1));
    CHECK(s.messages_stored == (zip ? 6 : 4));
    CHECK(s.rejected.empty());
    REQUIRE(s.warnings.count("unescaped_lt_in_value") == 1);
    CHECK(s.warnings.at("unescaped_lt_in_value") == 1);
  }
}

TEST_CASE("a bad entry of an archive is rejected while the others are stored") {
  Fixture f;
  const std::string tar = write_archive(
      {{"one.xml", report_xml("t-1", 2)}, {"junk.xml", "%PDF-1.7 junk"}, {"two.xml.gz", gzip(report_xml("t-2", 3))}},
      "ustar");
  REQUIRE(f.ingester.ingest_bytes("bundle.tar.gz", gzip(tar)));
  REQUIRE(f.ingester.finish());
  const ingest::IngestSummary& s = f.ingester.summary();
  CHECK(s.reports_stored == 2);
  CHECK(s.messages_stored == 5);
  CHECK(s.inputs_stored == 1);
  CHECK(s.inputs_rejected == 0);
  REQUIRE(s.rejected.size() == 1);
  CHECK(s.rejected[0].path == "bundle.tar.gz");
  CHECK(s.rejected[0].entry == "junk.xml");
  CHECK(s.rejected[0].reason == "not XML, gzip, zip, tar or e-mail: starts with '%PDF-1.7 jun...'");
}

TEST_CASE("each kind of unusable input gets its reason and stores nothing") {
  Fixture f;
  const std::string half = gzip(report_xml("half")).substr(0, 60);
  struct Row { const char* name; std::string bytes; const char* reason; };
  const Row rows[] = {
      {"empty.xml", "", "empty file"},
      {"text.gz", gzip("unused"), "gzip content is not a report: starts with 'unused'"},
      {"rss.xml", "<rss version=\"2.0\"><channel/></rss>",
       "not a DMARC aggregate report: root element is <rss>"},
      {"half.xml.gz", half, "truncated gzip stream"},
  };
  for (const Row& r : rows) REQUIRE(f.ingester.ingest_bytes(r.name, r.bytes));
  REQUIRE(f.ingester.finish());
  const ingest::IngestSummary& s = f.ingester.summary();
  CHECK(s.inputs == 4);
  CHECK(s.inputs_rejected == 4);
  CHECK(s.reports_stored == 0);
  REQUIRE(s.rejected.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    CAPTURE(rows[i].name);
    CHECK(s.rejected[i].path == rows[i].name);
    CHECK(s.rejected[i].entry == "");
    CHECK(s.rejected[i].reason == rows[i].reason);
  }
}

TEST_CASE("containers nested deeper than max_depth are refused") {
  auto store = std::move(*storage::open_sqlite_store(":memory:"));
  ingest::IngestOptions options;
  options.limits.max_depth = 2;
  ingest::Ingester ingester(*store, options);
  REQUIRE(ingester.ingest_bytes("deep.gz", gzip(gzip(gzip(report_xml("deep"))))));
  REQUIRE(ingester.ingest_bytes("ok.gz", gzip(gzip(report_xml("ok")))));
  REQUIRE(ingester.finish());
  const ingest::IngestSummary& s = ingester.summary();
  CHECK(s.reports_stored == 1);
  REQUIRE(s.rejected.size() == 1);
  CHECK(s.rejected[0].path == "deep.gz");
  CHECK(s.rejected[0].reason == "containers nested more than 2 deep (limit max_depth)");
}

TEST_CASE("a directory is read recursively and a Maildir's tmp/ is skipped") {
  TempDir dir;
  dir.write("reports/a.xml", report_xml("dir-1"));
  dir.write("reports/sub/b.xml.gz", gzip(report_xml("dir-2")));
  const std::string mail =
      "From: dmarc@example.net\r\nSubject: Report Domain: example.com\r\nMessage-ID: <m1@example.net>\r\n"
      "Content-Type: text/xml\r\n\r\n" + report_xml("dir-3");
  dir.write("Maildir/cur/1.eml", mail);
  dir.write("Maildir/new/.keep-out", "");
  std::filesystem::create_directories(dir.path() / "Maildir/tmp");
  dir.write("Maildir/tmp/partial", "From: half");
  std::filesystem::remove(dir.path() / "Maildir/new/.keep-out");
  Fixture f;
  REQUIRE(f.ingester.ingest_path(dir.path()));
  REQUIRE(f.ingester.finish());
  const ingest::IngestSummary& s = f.ingester.summary();
  CHECK(s.inputs == 3);
  CHECK(s.reports_stored == 3);
  CHECK(s.emails_stored == 1);
  CHECK(s.rejected.empty());
}

TEST_CASE("workers held back by records_ahead or documents_ahead_bytes still store every input, in walk order") {
  TempDir dir;
  for (int i = 0; i < 300; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "r%03d.xml", i);
    dir.write(name, report_xml("ahead-" + std::to_string(i), i + 1));
  }
  auto store = std::move(*storage::open_sqlite_store(":memory:"));
  ingest::IngestOptions options;
  options.threads = 2;
  SUBCASE("records_ahead") { options.records_ahead = 1; }
  // Every input is larger than this: each waits until the ones before it
  // are stored.
  SUBCASE("documents_ahead_bytes") { options.documents_ahead_bytes = 1; }
  ingest::Ingester ingester(*store, options);
  REQUIRE(ingester.ingest_path(dir.path()));
  REQUIRE(ingester.finish());
  CHECK(ingester.summary().reports_stored == 300);
  CHECK(ingester.summary().messages_stored == 300 * 301 / 2);
  auto reports = store->list_reports({});
  REQUIRE(reports);
  REQUIRE(reports->size() == 300);
  for (std::size_t i = 0; i < reports->size(); ++i) {
    CHECK((*reports)[i].report_id == "ahead-" + std::to_string(i));
  }
}

TEST_CASE("a path that does not exist is a rejected input, not a crash") {
  Fixture f;
  REQUIRE(f.ingester.ingest_path("/nonexistent/dmarcsift/report.xml"));
  REQUIRE(f.ingester.finish());
  REQUIRE(f.ingester.summary().rejected.size() == 1);
  CHECK(f.ingester.summary().rejected[0].reason == "no such file or directory");
}

TEST_CASE("a file larger than max_input_bytes is refused before it is read") {
  TempDir dir;
  const auto big = dir.write("big.xml", report_xml("big") + std::string(4096, ' '));
  dir.write("small.xml", report_xml("small"));
  auto store = std::move(*storage::open_sqlite_store(":memory:"));
  ingest::IngestOptions options;
  options.limits.max_input_bytes = 3000;
  ingest::Ingester ingester(*store, options);
  REQUIRE(ingester.ingest_path(dir.path()));
  REQUIRE(ingester.finish());
  const ingest::IngestSummary& s = ingester.summary();
  CHECK(s.reports_stored == 1);
  REQUIRE(s.rejected.size() == 1);
  CHECK(s.rejected[0].path == big.string());
  CHECK(s.rejected[0].reason == "file is " + std::to_string(std::filesystem::file_size(big)) +
                                    " bytes, more than 3000 (limit max_input_bytes)");
}

namespace {

void put_le32(std::string& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// A gzip of `mebibytes` MiB of zeros, about 1 KB per MiB (deflate's limit
// is 1032:1), built without compressing it all: after a Z_FULL_FLUSH
// deflate starts afresh, so every MiB after the first compresses to the same
// bytes, which are copied. The trailer's CRC-32 and size are exact.
std::string zero_gzip(std::uint32_t mebibytes) {
  const std::string mebibyte(1 << 20, '\0');
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  const auto deflate_mebibyte = [&] {
    std::string out(deflateBound(&z, static_cast<uLong>(mebibyte.size())), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(mebibyte.data()));
    z.avail_in = static_cast<uInt>(mebibyte.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FULL_FLUSH) == Z_OK);
    REQUIRE(z.avail_in == 0);
    out.resize(out.size() - z.avail_out);
    return out;
  };
  const std::string first = deflate_mebibyte();  // behind the gzip header
  const std::string next = deflate_mebibyte();
  deflateEnd(&z);
  std::string bomb;
  bomb.reserve(first.size() + next.size() * mebibytes + 16);
  bomb += first;
  for (std::uint32_t i = 1; i < mebibytes; ++i) bomb += next;
  // RFC 1951 §3.2.6: a last block with fixed codes holding only end-of-block.
  bomb += std::string("\x03\x00", 2);
  const uLong mebibyte_crc =
      crc32(0, reinterpret_cast<const Bytef*>(mebibyte.data()), static_cast<uInt>(mebibyte.size()));
  uLong crc = mebibyte_crc;
  for (std::uint32_t i = 1; i < mebibytes; ++i) crc = crc32_combine(crc, mebibyte_crc, 1 << 20);
  put_le32(bomb, static_cast<std::uint32_t>(crc));
  put_le32(bomb, static_cast<std::uint32_t>(std::uint64_t{mebibytes} << 20));  // ISIZE: mod 2^32
  return bomb;
}

std::string report_with_counts(const std::vector<std::string>& counts) {
  std::string records;
  int ip = 1;
  for (const std::string& count : counts) {
    records += "<record><row><source_ip>192.0.2." + std::to_string(ip++) +
               "</source_ip><count>" + count +
               "</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim>"
               "<spf>pass</spf></policy_evaluated></row><identifiers>"
               "<header_from>example.com</header_from></identifiers><auth_results><spf>"
               "<domain>example.com</domain><result>pass</result></spf></auth_results></record>";
  }
  return "<feedback><report_metadata><org_name>Acme</org_name><report_id>counts</report_id>"
         "<date_range><begin>1790812800</begin><end>1790899199</end></date_range>"
         "</report_metadata><policy_published><domain>example.com</domain><p>none</p>"
         "</policy_published>" + records + "</feedback>";
}

ingest::IngestSummary ingest_one(const std::string& name, const std::string& bytes,
                                 const ingest::Limits& limits) {
  auto store = std::move(*storage::open_sqlite_store(":memory:"));
  ingest::IngestOptions options;
  options.limits = limits;
  ingest::Ingester ingester(*store, options);
  REQUIRE(ingester.ingest_bytes(name, bytes));
  REQUIRE(ingester.finish());
  return ingester.summary();
}

void check_rejected(const ingest::IngestSummary& s, const std::string& path,
                    const std::string& entry, const std::string& reason) {
  CHECK(s.inputs == 1);
  CHECK(s.inputs_rejected == 1);
  CHECK(s.reports_stored == 0);
  REQUIRE(s.rejected.size() == 1);
  CHECK(s.rejected[0].path == path);
  CHECK(s.rejected[0].entry == entry);
  CHECK(s.rejected[0].reason == reason);
}

}  // namespace

TEST_CASE("issue 6: the zero gzip of the bomb tests is a valid gzip stream") {
  // zlib checks the CRC-32 and the size in the trailer; both must match.
  check_rejected(ingest_one("zeros-16m.gz", zero_gzip(16), {}), "zeros-16m.gz", "",
                 "gzip content is not a report: starts with "
                 "'\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00...'");
}

TEST_CASE("issue 6: a 10 MB gzip of 10 GiB, and a gzip of it, stop at max_entry_bytes") {
  const std::string bomb = zero_gzip(10 << 10);
  CHECK(bomb.size() > 10'000'000);
  CHECK(bomb.size() < 11'000'000);
  const std::string bomb_of_bomb = gzip(bomb);
  CHECK(bomb_of_bomb.size() < 100'000);
  ingest::Limits limits;
  limits.max_entry_bytes = 64 << 20;  // so that the test needs 64 MiB, not 1 GiB
  const std::string reason = "decompressed size exceeds 67108864 bytes (limit max_entry_bytes)";
  check_rejected(ingest_one("zeros-10g.gz", bomb, limits), "zeros-10g.gz", "", reason);
  check_rejected(ingest_one("zeros-10g.gz.gz", bomb_of_bomb, limits), "zeros-10g.gz.gz", "",
                 reason);
}

TEST_CASE("issue 6: a zip nested 20 deep stops at max_depth") {
  std::string bytes = write_archive({{"report.xml", report_xml("nested")}}, "zip");
  for (int level = 1; level < 20; ++level) bytes = write_archive({{"r.zip", bytes}}, "zip");
  check_rejected(ingest_one("nested.zip", bytes, {}), "nested.zip",
                 "r.zip > r.zip > r.zip > r.zip > r.zip",
                 "containers nested more than 4 deep (limit max_depth)");
}

TEST_CASE("issue 6: the XML limits reach the parser through IngestOptions") {
  const std::string xml = report_xml("limits");
  struct Row {
    const char* name;
    ingest::Limits limits;
    std::string reason;
  };
  ingest::Limits bytes;
  bytes.max_xml_bytes = 100;
  ingest::Limits depth;
  depth.max_xml_depth = 3;
  ingest::Limits records;
  records.max_records = 0;
  const Row rows[] = {
      {"max_xml_bytes", bytes,
       "XML document is " + std::to_string(xml.size()) + " bytes, more than 100 (limit max_xml_bytes)"},
      {"max_xml_depth", depth, "XML elements nested more than 3 deep (limit max_xml_depth)"},
      {"max_records", records, "report has more than 0 records (limit max_records)"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    // Inside a gzip inside a zip, so that the limits pass through containers.
    check_rejected(ingest_one("r.zip", write_archive({{"r.xml.gz", gzip(xml)}}, "zip"), row.limits),
                   "r.zip", "r.xml.gz", row.reason);
  }
}

TEST_CASE("issue 6: counts of 10^12 and 2^64 are dropped; the report's other counts are stored exactly") {
  auto store = std::move(*storage::open_sqlite_store(":memory:"));
  ingest::Ingester ingester(*store, {});
  REQUIRE(ingester.ingest_bytes(
      "counts.xml", report_with_counts({"5", "1000000000000", "18446744073709551616", "4294967296"})));
  REQUIRE(ingester.finish());
  const ingest::IngestSummary& s = ingester.summary();
  CHECK(s.reports_stored == 1);
  CHECK(s.records_stored == 2);
  CHECK(s.messages_stored == 4294967301);
  CHECK(s.rejected.empty());
  CHECK(s.warnings.at("record_dropped") == 2);
  auto totals = store->totals();
  REQUIRE(totals);
  CHECK(totals->reports == 1);
  CHECK(totals->records == 2);
  CHECK(totals->messages == 4294967301);
}
