#include "ingest/ingester.hpp"

#include <doctest/doctest.h>

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
