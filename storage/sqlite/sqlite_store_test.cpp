#include "storage/sqlite/sqlite_store.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>

#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "core/content_hash.hpp"
#include "storage/sqlite/statement.hpp"
#include "tests/support/temp_dir.hpp"

namespace dmarcsift::storage {
namespace {

using testing::TempDir;

IpAddress ip(std::string_view text) {
  auto parsed = IpAddress::parse(text);
  REQUIRE_MESSAGE(parsed.has_value(), "bad test address " << text);
  return *parsed;
}

std::unique_ptr<Store> open_store(const std::filesystem::path& path) {
  auto store = open_sqlite_store(path);
  REQUIRE_MESSAGE(store.has_value(), to_string(store.error()));
  return std::move(*store);
}

// A single integer from `sql`, through a separate connection.
std::int64_t query_int(const std::filesystem::path& path, const char* sql) {
  sqlite3* raw = nullptr;
  sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  sqlite::DbHandle db(raw);
  auto statement = sqlite::Statement::prepare(raw, sql, path.string(), "test query");
  REQUIRE_MESSAGE(statement.has_value(), to_string(statement.error()));
  auto value = statement->query_int64();
  REQUIRE_MESSAGE(value.has_value(), to_string(value.error()));
  return value->value_or(-1);
}

void exec_sql(const std::filesystem::path& path, const char* sql) {
  sqlite3* raw = nullptr;
  sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  sqlite::DbHandle db(raw);
  auto ok = sqlite::exec(raw, sql, path.string(), "test exec");
  REQUIRE_MESSAGE(ok.has_value(), to_string(ok.error()));
}

AggregateReport full_report() {
  AggregateReport report;
  report.schema = SchemaFlavour::rfc9990;
  ReportMetadata& metadata = report.metadata;
  metadata.org_name = "Receiver Example Inc.";
  metadata.email = "dmarc-reports@receiver.example";
  metadata.extra_contact_info = "https://receiver.example/dmarc";
  metadata.report_id = "<1700000000.42@receiver.example>";
  metadata.date_range = {1700000000, 1700086399};
  metadata.errors = {"first error", "", "third\nspans lines"};
  metadata.generator = "receiver-dmarc 2.1";
  metadata.version = "1.0";
  PolicyPublished& policy = report.policy;
  policy.domain = "example.com";
  policy.adkim = Alignment::strict;
  policy.adkim_present = true;
  policy.aspf = Alignment::relaxed;
  policy.aspf_present = true;
  policy.p = PolicyAction::reject;
  policy.sp = PolicyAction::quarantine;
  policy.np = PolicyAction::none;
  policy.pct = 50;
  policy.fo = "1:d";
  policy.testing = true;
  policy.discovery_method = "treewalk";

  Record& forwarded = report.records.emplace_back();
  forwarded.source_ip = ip("2001:db8::25");
  forwarded.count = 7;
  forwarded.disposition = Disposition::quarantine;
  forwarded.dkim = Verdict::fail;
  forwarded.spf = Verdict::pass;
  forwarded.reasons = {{OverrideType::forwarded, "via list@lists.example"},
                       {OverrideType::local_policy, ""}};
  forwarded.header_from = "example.com";
  forwarded.envelope_from = "bounce.example.com";
  forwarded.envelope_to = "receiver.example";
  forwarded.dkim_results = {{"example.com", "s2023", DkimResult::pass, ""},
                            {"esp.example", "k1", DkimResult::fail, "body hash did not verify"},
                            {"other.example", "", DkimResult::temperror, ""}};
  forwarded.spf_results = {{"bounce.example.com", SpfScope::mfrom, SpfResult::softfail, ""},
                           {"mx.example.com", SpfScope::helo, SpfResult::pass, "helo ok"}};

  Record& plain = report.records.emplace_back();
  plain.source_ip = ip("192.0.2.1");
  plain.count = 3;
  plain.disposition = Disposition::pass;
  plain.dkim = Verdict::absent;
  plain.spf = Verdict::absent;
  plain.header_from = "example.com";

  report.warnings = {{"whitespace_padding", "report_metadata/report_id", 2},
                     {"missing_version", "", 1}};
  return report;
}

// A report as large receivers send them: every record alike but the address.
AggregateReport typical_report(int number, int records) {
  AggregateReport report;
  report.schema = SchemaFlavour::rfc7489;
  report.metadata.org_name = "google.com";
  report.metadata.email = "noreply-dmarc-support@google.com";
  report.metadata.report_id = std::to_string(10'000'000'000'000'000ULL + static_cast<unsigned>(number));
  report.metadata.date_range = {1700000000 + 86400 * std::int64_t{number},
                                1700086399 + 86400 * std::int64_t{number}};
  report.metadata.version = "1.0";
  report.policy.domain = "example.com";
  report.policy.p = PolicyAction::quarantine;
  report.policy.pct = 100;
  for (int i = 0; i < records; ++i) {
    Record& record = report.records.emplace_back();
    const unsigned host = static_cast<unsigned>(number * records + i);
    const char bytes[4] = {static_cast<char>(198), static_cast<char>(51 + (host >> 16) % 8),
                           static_cast<char>(host >> 8), static_cast<char>(host)};
    record.source_ip = *IpAddress::from_bytes(std::string_view(bytes, 4));
    record.count = 1 + i % 5;
    record.disposition = Disposition::none;
    record.dkim = Verdict::pass;
    record.spf = Verdict::pass;
    record.header_from = "example.com";
    record.envelope_from = "example.com";
    record.dkim_results = {{"example.com", "20230601", DkimResult::pass, ""}};
    record.spf_results = {{"example.com", SpfScope::mfrom, SpfResult::pass, ""}};
  }
  return report;
}

void check_same(const AggregateReport& got, const AggregateReport& want) {
  CHECK(got.schema == want.schema);
  CHECK(got.metadata.org_name == want.metadata.org_name);
  CHECK(got.metadata.email == want.metadata.email);
  CHECK(got.metadata.extra_contact_info == want.metadata.extra_contact_info);
  CHECK(got.metadata.report_id == want.metadata.report_id);
  CHECK(got.metadata.date_range.begin == want.metadata.date_range.begin);
  CHECK(got.metadata.date_range.end == want.metadata.date_range.end);
  CHECK(got.metadata.errors == want.metadata.errors);
  CHECK(got.metadata.generator == want.metadata.generator);
  CHECK(got.metadata.version == want.metadata.version);
  CHECK(got.policy.domain == want.policy.domain);
  CHECK(got.policy.adkim == want.policy.adkim);
  CHECK(got.policy.aspf == want.policy.aspf);
  CHECK(got.policy.adkim_present == want.policy.adkim_present);
  CHECK(got.policy.aspf_present == want.policy.aspf_present);
  CHECK(got.policy.p == want.policy.p);
  CHECK(got.policy.sp == want.policy.sp);
  CHECK(got.policy.np == want.policy.np);
  CHECK(got.policy.pct == want.policy.pct);
  CHECK(got.policy.fo == want.policy.fo);
  CHECK(got.policy.testing == want.policy.testing);
  CHECK(got.policy.discovery_method == want.policy.discovery_method);
  REQUIRE(got.records.size() == want.records.size());
  for (std::size_t i = 0; i < want.records.size(); ++i) {
    CAPTURE(i);
    const Record& g = got.records[i];
    const Record& w = want.records[i];
    CHECK(g.source_ip.to_string() == w.source_ip.to_string());
    CHECK(g.count == w.count);
    CHECK(g.disposition == w.disposition);
    CHECK(g.dkim == w.dkim);
    CHECK(g.spf == w.spf);
    CHECK(g.header_from == w.header_from);
    CHECK(g.envelope_from == w.envelope_from);
    CHECK(g.envelope_to == w.envelope_to);
    REQUIRE(g.reasons.size() == w.reasons.size());
    for (std::size_t j = 0; j < w.reasons.size(); ++j) {
      CAPTURE(j);
      CHECK(g.reasons[j].type == w.reasons[j].type);
      CHECK(g.reasons[j].comment == w.reasons[j].comment);
    }
    REQUIRE(g.dkim_results.size() == w.dkim_results.size());
    for (std::size_t j = 0; j < w.dkim_results.size(); ++j) {
      CAPTURE(j);
      CHECK(g.dkim_results[j].domain == w.dkim_results[j].domain);
      CHECK(g.dkim_results[j].selector == w.dkim_results[j].selector);
      CHECK(g.dkim_results[j].result == w.dkim_results[j].result);
      CHECK(g.dkim_results[j].human_result == w.dkim_results[j].human_result);
    }
    REQUIRE(g.spf_results.size() == w.spf_results.size());
    for (std::size_t j = 0; j < w.spf_results.size(); ++j) {
      CAPTURE(j);
      CHECK(g.spf_results[j].domain == w.spf_results[j].domain);
      CHECK(g.spf_results[j].scope == w.spf_results[j].scope);
      CHECK(g.spf_results[j].result == w.spf_results[j].result);
      CHECK(g.spf_results[j].human_result == w.spf_results[j].human_result);
    }
  }
  REQUIRE(got.warnings.size() == want.warnings.size());
  for (std::size_t i = 0; i < want.warnings.size(); ++i) {
    CAPTURE(i);
    CHECK(got.warnings[i].kind == want.warnings[i].kind);
    CHECK(got.warnings[i].detail == want.warnings[i].detail);
    CHECK(got.warnings[i].count == want.warnings[i].count);
  }
}

StoreOutcome add(Store& store, const AggregateReport& report, std::string_view document,
                 const ReportOrigin& origin = {}) {
  auto outcome = store.add_report(report, content_hash(document), origin);
  REQUIRE_MESSAGE(outcome.has_value(), to_string(outcome.error()));
  return *outcome;
}

void begin(Store& store) {
  auto ok = store.begin_batch();
  REQUIRE_MESSAGE(ok.has_value(), to_string(ok.error()));
}

void commit(Store& store) {
  auto ok = store.commit_batch();
  REQUIRE_MESSAGE(ok.has_value(), to_string(ok.error()));
}

std::vector<ReportSummary> list(Store& store, const ReportFilter& filter = {}) {
  auto summaries = store.list_reports(filter);
  REQUIRE_MESSAGE(summaries.has_value(), to_string(summaries.error()));
  return *summaries;
}

ReportFilter filter(std::optional<std::string> policy_domain, std::optional<std::string> reporter,
                    std::optional<std::int64_t> since, std::optional<std::int64_t> until) {
  ReportFilter filter;
  filter.policy_domain = std::move(policy_domain);
  filter.reporter = std::move(reporter);
  filter.since = since;
  filter.until = until;
  return filter;
}

Totals totals_of(Store& store) {
  auto totals = store.totals();
  REQUIRE_MESSAGE(totals.has_value(), to_string(totals.error()));
  return *totals;
}

TEST_CASE("to_string(InputOutcome) gives the ingest log's words") {
  CHECK(std::string(to_string(InputOutcome::stored)) == "stored");
  CHECK(std::string(to_string(InputOutcome::duplicate)) == "duplicate");
  CHECK(std::string(to_string(InputOutcome::rejected)) == "rejected");
  CHECK(std::string(to_string(InputOutcome::no_report)) == "no_report");
}

TEST_CASE("a report with every field set comes back from load_report as stored") {
  TempDir dir;
  const auto path = dir.path() / "db" / "dmarc.sqlite";  // parent created on open
  const AggregateReport report = full_report();
  const MailMessage message{"<msg-1@receiver.example>", "noreply@receiver.example",
                            "Report Domain: example.com Submitter: receiver.example",
                            "Tue, 14 Nov 2023 22:13:20 +0000"};
  const ReportOrigin origin{"/var/mail/dmarc.mbox", "dmarc.mbox#12 > report.zip > a.xml",
                            &message};
  const std::int64_t before = std::time(nullptr);
  std::int64_t id = 0;
  {
    auto store = open_store(path);
    begin(*store);
    CHECK(add(*store, report, "the document", origin) == StoreOutcome::stored);
    commit(*store);
    const auto summaries = list(*store);
    REQUIRE(summaries.size() == 1);
    id = summaries[0].id;
  }
  const std::int64_t after = std::time(nullptr);

  auto store = open_store(path);  // reopened: read from the file, not a cache
  auto loaded = store->load_report(id);
  REQUIRE_MESSAGE(loaded.has_value(), to_string(loaded.error()));
  REQUIRE(loaded->has_value());
  const StoredReport& stored = **loaded;
  CHECK(stored.id == id);
  check_same(stored.report, report);
  CHECK(stored.content_hash == content_hash("the document"));
  CHECK(stored.source_path == "/var/mail/dmarc.mbox");
  CHECK(stored.source_entry == "dmarc.mbox#12 > report.zip > a.xml");
  CHECK(stored.ingested_at >= before);
  CHECK(stored.ingested_at <= after);
  REQUIRE(stored.message.has_value());
  CHECK(stored.message->message_id == message.message_id);
  CHECK(stored.message->from == message.from);
  CHECK(stored.message->subject == message.subject);
  CHECK(stored.message->date == message.date);

  auto missing = store->load_report(id + 1);
  REQUIRE(missing.has_value());
  CHECK(!missing->has_value());
}

TEST_CASE("absent optional fields stay absent") {
  AggregateReport report = typical_report(0, 1);
  report.policy.sp.reset();
  report.policy.adkim_present = false;
  report.records[0].source_ip = IpAddress{};
  auto store = open_store(":memory:");
  begin(*store);
  CHECK(add(*store, report, "doc") == StoreOutcome::stored);
  commit(*store);
  auto loaded = store->load_report(list(*store).at(0).id);
  REQUIRE(loaded.has_value());
  REQUIRE(loaded->has_value());
  const StoredReport& stored = **loaded;
  check_same(stored.report, report);
  CHECK(!stored.report.policy.np.has_value());
  CHECK(!stored.report.policy.testing.has_value());
  CHECK(stored.report.metadata.errors.empty());
  CHECK(stored.report.records[0].source_ip.bytes().empty());
  CHECK(!stored.message.has_value());
  CHECK(stored.source_path.empty());
}

TEST_CASE("a report already stored is a duplicate by identity or by content hash") {
  TempDir dir;
  const auto path = dir.path() / "dmarc.sqlite";
  const AggregateReport report = typical_report(1, 3);
  {
    auto store = open_store(path);
    begin(*store);
    CHECK(add(*store, report, "document one") == StoreOutcome::stored);
    // Within the same batch: same identity, other bytes (a re-send).
    CHECK(add(*store, report, "document one, re-sent") == StoreOutcome::duplicate);
    // Same bytes, though the parsed identity differs (cannot happen with a
    // deterministic parser, but the hash alone must be enough).
    CHECK(add(*store, typical_report(2, 3), "document one") == StoreOutcome::duplicate);
    commit(*store);
  }
  auto store = open_store(path);
  begin(*store);
  CHECK(add(*store, report, "document two") == StoreOutcome::duplicate);
  CHECK(add(*store, typical_report(3, 3), "document one") == StoreOutcome::duplicate);
  // Any one part of the identity differing makes another report.
  AggregateReport other_reporter = report;
  other_reporter.metadata.org_name = "Yahoo";
  CHECK(add(*store, other_reporter, "document three") == StoreOutcome::stored);
  AggregateReport other_end = report;
  other_end.metadata.date_range.end += 1;
  CHECK(add(*store, other_end, "document four") == StoreOutcome::stored);
  commit(*store);
  const Totals totals = totals_of(*store);
  CHECK(totals.reports == 3);
  CHECK(totals.records == 9);
  CHECK(query_int(path, "SELECT count(*) FROM records") == 9);
}

TEST_CASE("reports with empty identity parts are still recognised as duplicates") {
  AggregateReport report = typical_report(1, 1);
  report.metadata.report_id.clear();
  report.policy.domain.clear();
  auto store = open_store(":memory:");
  begin(*store);
  CHECK(add(*store, report, "a") == StoreOutcome::stored);
  CHECK(add(*store, report, "b") == StoreOutcome::duplicate);
  commit(*store);
}

TEST_CASE("a batch not committed leaves nothing behind") {
  TempDir dir;
  const auto path = dir.path() / "dmarc.sqlite";
  {
    auto store = open_store(path);
    begin(*store);
    CHECK(add(*store, typical_report(1, 5), "one") == StoreOutcome::stored);
    CHECK(add(*store, typical_report(2, 5), "two") == StoreOutcome::stored);
  }
  auto store = open_store(path);
  const Totals totals = totals_of(*store);
  CHECK(totals.reports == 0);
  CHECK(totals.records == 0);
  CHECK(list(*store).empty());
  CHECK(query_int(path, "SELECT count(*) FROM records") == 0);
  CHECK(query_int(path, "SELECT count(*) FROM names") == 0);
  // The same reports are not duplicates of anything now.
  begin(*store);
  CHECK(add(*store, typical_report(1, 5), "one") == StoreOutcome::stored);
  commit(*store);
}

TEST_CASE("writes outside a batch are refused") {
  auto store = open_store(":memory:");
  auto outcome = store->add_report(typical_report(1, 1), "", {});
  REQUIRE(!outcome.has_value());
  CHECK(outcome.error().code == Errc::internal);
  CHECK(outcome.error().where == ":memory:");
  CHECK(outcome.error().what == "add_report called outside a batch");
  auto committed = store->commit_batch();
  REQUIRE(!committed.has_value());
  CHECK(committed.error().what == "commit_batch called outside a batch");
  begin(*store);
  auto nested = store->begin_batch();
  REQUIRE(!nested.has_value());
  CHECK(nested.error().what == "begin_batch called inside a batch");
}

TEST_CASE("totals count reports, records and messages by disposition") {
  auto store = open_store(":memory:");
  CHECK(totals_of(*store).reports == 0);
  CHECK(totals_of(*store).messages == 0);
  begin(*store);
  CHECK(add(*store, full_report(), "full") == StoreOutcome::stored);  // 7 quarantine, 3 pass
  AggregateReport rejected = typical_report(1, 4);  // counts 1, 2, 3, 4
  rejected.records[0].disposition = Disposition::reject;
  rejected.records[3].disposition = Disposition::reject;
  CHECK(add(*store, rejected, "typical") == StoreOutcome::stored);
  AggregateReport empty = typical_report(2, 0);
  CHECK(add(*store, empty, "empty") == StoreOutcome::stored);
  commit(*store);
  const Totals totals = totals_of(*store);
  CHECK(totals.reports == 3);
  CHECK(totals.records == 6);
  CHECK(totals.messages == 20);
  CHECK(totals.messages_by_disposition == DispositionCounts{5, 7, 5, 3});
  auto loaded = store->load_report(list(*store).at(2).id);  // the empty one
  REQUIRE(loaded.has_value());
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->report.records.empty());
}

TEST_CASE("list_reports orders by begin and applies each filter") {
  auto store = open_store(":memory:");
  begin(*store);
  AggregateReport yahoo = typical_report(5, 2);  // begins latest
  yahoo.metadata.org_name = "Yahoo";
  yahoo.policy.domain = "example.org";
  CHECK(add(*store, yahoo, "yahoo") == StoreOutcome::stored);
  CHECK(add(*store, typical_report(3, 1), "google 3") == StoreOutcome::stored);
  CHECK(add(*store, typical_report(1, 4), "google 1") == StoreOutcome::stored);
  commit(*store);

  const auto ids = [&](const ReportFilter& wanted) {
    std::vector<std::string> out;
    for (const ReportSummary& summary : list(*store, wanted)) {
      out.push_back(summary.reporter + " " + summary.report_id.substr(16));
    }
    return out;
  };
  using Ids = std::vector<std::string>;
  const std::int64_t begin_3 = 1700000000 + 86400 * 3;

  const auto all = list(*store);
  REQUIRE(all.size() == 3);
  CHECK(all[0].reporter == "google.com");
  CHECK(all[0].report_id == "10000000000000001");
  CHECK(all[0].policy_domain == "example.com");
  CHECK(all[0].date_range.begin == 1700086400);
  CHECK(all[0].date_range.end == 1700172799);
  CHECK(all[0].records == 4);
  CHECK(all[0].messages == 10);
  CHECK(ids({}) == Ids{"google.com 1", "google.com 3", "Yahoo 5"});
  CHECK(ids(filter("example.org", {}, {}, {})) == Ids{"Yahoo 5"});
  CHECK(ids(filter("unknown.example", {}, {}, {})).empty());
  CHECK(ids(filter({}, "GOOGLE.COM", {}, {})) == Ids{"google.com 1", "google.com 3"});
  CHECK(ids(filter({}, "yahoo", {}, {})) == Ids{"Yahoo 5"});
  CHECK(ids(filter({}, "google", {}, {})).empty());
  CHECK(ids(filter({}, {}, begin_3, {})) == Ids{"google.com 3", "Yahoo 5"});
  CHECK(ids(filter({}, {}, {}, begin_3)) == Ids{"google.com 1"});
  CHECK(ids(filter({}, {}, begin_3, begin_3 + 1)) == Ids{"google.com 3"});
  CHECK(ids(filter("example.com", "Google.com", begin_3, {})) ==
        Ids{"google.com 3"});
}

TEST_CASE("reports of one e-mail share one mail_messages row") {
  TempDir dir;
  const auto path = dir.path() / "dmarc.sqlite";
  auto store = open_store(path);
  const MailMessage first{"<a@x>", "reports@x", "Report 1", "Mon, 1 Jan 2024 00:00:00 +0000"};
  const MailMessage second{"<b@x>", "reports@x", "Report 2", "Tue, 2 Jan 2024 00:00:00 +0000"};
  begin(*store);
  CHECK(add(*store, typical_report(1, 1), "1", {"mbox", "#1 > a.xml", &first}) ==
        StoreOutcome::stored);
  CHECK(add(*store, typical_report(2, 1), "2", {"mbox", "#1 > b.xml", &first}) ==
        StoreOutcome::stored);
  // A duplicate stores no message.
  CHECK(add(*store, typical_report(2, 1), "2", {"mbox", "#2 > b.xml", &second}) ==
        StoreOutcome::duplicate);
  CHECK(add(*store, typical_report(3, 1), "3", {"mbox", "#3 > c.xml", &second}) ==
        StoreOutcome::stored);
  commit(*store);
  CHECK(query_int(path, "SELECT count(*) FROM mail_messages") == 2);
  const auto summaries = list(*store);
  REQUIRE(summaries.size() == 3);
  const std::string subjects[] = {"Report 1", "Report 1", "Report 2"};
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    auto loaded = store->load_report(summaries[i].id);
    REQUIRE(loaded.has_value());
    REQUIRE(loaded->has_value());
    REQUIRE((*loaded)->message.has_value());
    CHECK((*loaded)->message->subject == subjects[i]);
  }
}

// A store whose database refuses any record with a count of 666, standing in
// for a failure half-way through a report (disk full, I/O error).
std::unique_ptr<Store> open_store_refusing_666(const std::filesystem::path& path) {
  open_store(path);
  exec_sql(path,
           "CREATE TRIGGER refuse_666 BEFORE INSERT ON records WHEN NEW.count = 666"
           " BEGIN SELECT RAISE(ABORT, 'record refused by the test'); END");
  return open_store(path);
}

TEST_CASE("a failure inside one report undoes that report only") {
  TempDir dir;
  const auto path = dir.path() / "dmarc.sqlite";
  auto store = open_store_refusing_666(path);
  begin(*store);
  CHECK(add(*store, typical_report(1, 3), "1") == StoreOutcome::stored);
  AggregateReport failing = typical_report(2, 3);
  failing.metadata.org_name = "Failing Receiver";
  failing.records[1].envelope_to = "only-in-the-failed-report.example";
  failing.records[2].count = 666;
  auto outcome = store->add_report(failing, content_hash("2"), {});
  REQUIRE(!outcome.has_value());
  CHECK(outcome.error().code == Errc::database);
  CHECK(outcome.error().where == path.string());
  CHECK(outcome.error().what == "insert record failed: record refused by the test");
  failing.records[2].count = 2;  // its names were rolled back too; intern them again
  CHECK(add(*store, failing, "2") == StoreOutcome::stored);
  CHECK(add(*store, typical_report(3, 2), "3") == StoreOutcome::stored);
  commit(*store);

  const Totals totals = totals_of(*store);
  CHECK(totals.reports == 3);
  CHECK(totals.records == 8);
  CHECK(query_int(path, "SELECT count(*) FROM records") == 8);
  CHECK(query_int(path, "SELECT count(*) FROM dkim_results_all") == 8);
  CHECK(query_int(path, "SELECT count(*) FROM dkim_results") == 0);  // one each: inline
  CHECK(query_int(path, "SELECT max(id) FROM records") == 8);
  const auto summaries = list(*store);
  REQUIRE(summaries.size() == 3);
  auto loaded = store->load_report(summaries[1].id);
  REQUIRE(loaded.has_value());
  REQUIRE(loaded->has_value());
  check_same((*loaded)->report, failing);
}

TEST_CASE("a name first stored by a report that failed is stored again by the next one") {
  TempDir dir;
  const auto path = dir.path() / "dmarc.sqlite";
  auto store = open_store_refusing_666(path);
  begin(*store);
  AggregateReport failing = typical_report(1, 2);
  failing.records[0].envelope_to = "rolled-back.example";
  failing.records[1].envelope_to = "rolled-back.example";
  failing.records[1].count = 666;
  REQUIRE(!store->add_report(failing, content_hash("1"), {}).has_value());
  // Its first record's names went with the rollback; the next record to
  // name the same domain in the same column must not take the lost id.
  AggregateReport next = typical_report(2, 1);
  next.records[0].envelope_to = "rolled-back.example";
  CHECK(add(*store, next, "2") == StoreOutcome::stored);
  AggregateReport later = typical_report(3, 1);
  later.records[0].envelope_to = "stored-after.example";
  CHECK(add(*store, later, "3") == StoreOutcome::stored);
  commit(*store);

  CHECK(query_int(path, "SELECT count(*) FROM records r JOIN names n ON n.id = r.envelope_to"
                        " WHERE n.text = 'rolled-back.example'") == 1);
  const auto summaries = list(*store);
  REQUIRE(summaries.size() == 2);
  for (std::size_t i = 0; i < summaries.size(); ++i) {
    auto loaded = store->load_report(summaries[i].id);
    REQUIRE(loaded.has_value());
    REQUIRE(loaded->has_value());
    check_same((*loaded)->report, i == 0 ? next : later);
  }
}

TEST_CASE("log_input appends to the ingest log") {
  TempDir dir;
  const auto path = dir.path() / "dmarc.sqlite";
  auto store = open_store(path);
  InputLogEntry rejected;
  rejected.path = "/in/bad.xml";
  rejected.content_hash = content_hash("bad");
  rejected.outcome = InputOutcome::rejected;
  rejected.reason = "line 3: unexpected end of document";
  auto ok = store->log_input(rejected);  // outside a batch: commits at once
  REQUIRE_MESSAGE(ok.has_value(), to_string(ok.error()));
  begin(*store);
  InputLogEntry stored{"/in/mail.mbox", "#4 > r.zip", content_hash("good"),
                       InputOutcome::stored, "", 2, 1};
  ok = store->log_input(stored);
  REQUIRE_MESSAGE(ok.has_value(), to_string(ok.error()));
  commit(*store);
  CHECK(query_int(path, "SELECT count(*) FROM inputs") == 2);
  CHECK(query_int(path,
                  "SELECT count(*) FROM inputs WHERE path = '/in/bad.xml' AND entry IS NULL"
                  " AND length(content_hash) = 16 AND outcome = 2"
                  " AND reason = 'line 3: unexpected end of document' AND reports_stored = 0"
                  " AND duplicate_reports = 0 AND at > 1700000000") == 1);
  CHECK(query_int(path,
                  "SELECT count(*) FROM inputs WHERE path = '/in/mail.mbox'"
                  " AND entry = '#4 > r.zip' AND outcome = 0 AND reason IS NULL"
                  " AND reports_stored = 2 AND duplicate_reports = 1") == 1);
}

TEST_CASE("a file that is not SQLite is refused and left alone") {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 100; ++i) text += "this is a text file, not a database\n";
  const auto path = dir.write("notes.txt", text);
  auto store = open_sqlite_store(path);
  REQUIRE(!store.has_value());
  CHECK(store.error().code == Errc::database);
  CHECK(store.error().where == path.string());
  CHECK(store.error().what == "not a dmarcsift database: the file is not an SQLite database");
  CHECK(testing::read_file(path) == text);
}

TEST_CASE("a full disk surfaces as an io error saying so") {
  TempDir dir;
  const auto path = dir.path() / "small.sqlite";
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                          nullptr) == SQLITE_OK);
  sqlite::DbHandle db(raw);
  // max_page_count makes SQLite answer SQLITE_FULL as a full disk would.
  REQUIRE(sqlite::exec(raw, "PRAGMA max_page_count = 4; CREATE TABLE t (b BLOB)", "small",
                       "setup")
              .has_value());
  auto insert = sqlite::Statement::prepare(raw, "INSERT INTO t VALUES (?1)", "small.sqlite",
                                           "insert blob");
  REQUIRE(insert.has_value());
  const std::string blob(3000, 'x');
  Result<void> ok;
  for (int i = 0; i < 100 && ok; ++i) ok = insert->bind_blob(1, blob).run();
  REQUIRE(!ok.has_value());
  CHECK(ok.error().code == Errc::io);
  CHECK(ok.error().where == "small.sqlite");
  CHECK(ok.error().what == "disk full: insert blob failed: database or disk is full");
}

TEST_CASE("a typical record costs well under 80 bytes of database") {
  TempDir dir;
  const auto path = dir.path() / "dmarc.sqlite";
  constexpr int k_reports = 1000;
  constexpr int k_records_per_report = 20;
  {
    auto store = open_store(path);
    begin(*store);
    for (int i = 0; i < k_reports; ++i) {
      const AggregateReport report = typical_report(i, k_records_per_report);
      REQUIRE(add(*store, report, report.metadata.report_id) == StoreOutcome::stored);
    }
    commit(*store);
    CHECK(totals_of(*store).records == k_reports * k_records_per_report);
  }  // the last connection to close checkpoints the WAL into the file
  const auto bytes = std::filesystem::file_size(path);
  const double per_record = static_cast<double>(bytes) / (k_reports * k_records_per_report);
  MESSAGE(bytes << " bytes for " << k_reports * k_records_per_report << " records in "
                << k_reports << " reports: " << per_record << " bytes/record");
  CHECK(!std::filesystem::exists(path.string() + "-wal"));
  CHECK(per_record < 80);
}

}  // namespace
}  // namespace dmarcsift::storage
