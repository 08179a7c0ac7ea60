#include "storage/sqlite/summaries.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/content_hash.hpp"
#include "storage/sqlite/sqlite_store.hpp"
#include "storage/summaries.hpp"
#include "tests/support/temp_dir.hpp"

namespace dmarcsift::storage {
namespace {

IpAddress ip(std::string_view text) {
  auto parsed = IpAddress::parse(text);
  REQUIRE_MESSAGE(parsed.has_value(), "bad test address " << text);
  return *parsed;
}

// A report of `records` records for `domain`, counts 1, 2, 3 ...; the second
// record of each carries a second DKIM result and an override reason.
AggregateReport report(const std::string& domain, const std::string& id, int records,
                       std::int64_t begin) {
  AggregateReport r;
  r.metadata.org_name = "Reporter " + id;
  r.metadata.report_id = id;
  r.metadata.date_range = {begin, begin + 86399};
  r.policy.domain = domain;
  r.policy.p = PolicyAction::quarantine;
  for (int i = 0; i < records; ++i) {
    Record& record = r.records.emplace_back();
    record.source_ip = ip("192.0.2." + std::to_string(i + 1));
    record.count = i + 1;
    record.header_from = domain;
    record.dkim_results.push_back({domain, "s1", DkimResult::pass, ""});
    if (i == 1) {
      record.dkim_results.push_back({"esp.example", "e1", DkimResult::fail, ""});
      record.reasons.push_back({OverrideType::forwarded, "list"});
    }
    record.spf_results.push_back({domain, SpfScope::mfrom, SpfResult::pass, ""});
  }
  return r;
}

// A source row with totals the analysis would not read: storage keeps them
// as opaque bytes.
SourceSummary source_summary(const std::string& domain, std::string_view address,
                             std::int64_t messages) {
  SourceSummary source;
  source.policy_domain = domain;
  source.source_ip = ip(address);
  source.header_from = domain;
  source.messages = messages;
  source.state = std::string("\x01\x00\x02", 3);
  return source;
}

std::unique_ptr<Store> store_with_reports() {
  auto opened = open_sqlite_store(":memory:");
  REQUIRE_MESSAGE(opened.has_value(), to_string(opened.error()));
  std::unique_ptr<Store> store = std::move(*opened);
  REQUIRE(store->begin_batch().has_value());
  const std::vector<AggregateReport> reports = {report("a.example", "1", 3, 1700000000),
                                                report("b.example", "2", 2, 1700086400),
                                                report("a.example", "3", 4, 1700172800)};
  for (const AggregateReport& r : reports) {
    auto added = store->add_report(r, content_hash(r.metadata.report_id), {"test", "", nullptr});
    REQUIRE_MESSAGE(added.has_value(), to_string(added.error()));
    InputLogEntry entry;
    entry.path = "test";
    entry.reports_stored = 1;
    REQUIRE(store->log_input(entry).has_value());
  }
  REQUIRE(store->commit_batch().has_value());
  return store;
}

struct Seen {
  std::int64_t report;
  std::int64_t record;
  std::int64_t count;
  std::size_t dkim_results;
  std::size_t reasons;
};

TEST_CASE("scan_records visits the records of the reports a filter selects, with their children") {
  auto store = store_with_reports();
  Summaries& summaries = store->summaries();
  std::vector<Seen> seen;
  ReportFilter of_a;
  of_a.policy_domain = "a.example";
  auto scanned = summaries.scan_records(of_a, 0, 3, [&](const ScannedReport& r, std::int64_t id,
                                                         const Record& record) {
    CHECK(r.policy_domain == "a.example");
    CHECK(r.policy->p == PolicyAction::quarantine);
    seen.push_back({r.id, id, record.count, record.dkim_results.size(), record.reasons.size()});
    // A look-up in the middle of a scan must not move the scan's cursors.
    auto other = summaries.record(4);
    REQUIRE(other.has_value());
    REQUIRE(other->has_value());
    CHECK((*other)->count == 1);
    return true;
  });
  REQUIRE_MESSAGE(scanned.has_value(), to_string(scanned.error()));
  // Report 2 (b.example) holds records 4 and 5 and is skipped.
  const std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::size_t, std::size_t>>
      expected = {{1, 1, 1, 1, 0}, {1, 2, 2, 2, 1}, {1, 3, 3, 1, 0},
                  {3, 6, 1, 1, 0}, {3, 7, 2, 2, 1}, {3, 8, 3, 1, 0}, {3, 9, 4, 1, 0}};
  REQUIRE(seen.size() == expected.size());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    CAPTURE(i);
    CHECK(std::tuple(seen[i].report, seen[i].record, seen[i].count, seen[i].dkim_results,
                     seen[i].reasons) == expected[i]);
  }
}

TEST_CASE("a visitor returning false stops the scan; reports after `after` only") {
  auto store = store_with_reports();
  std::vector<std::int64_t> ids;
  auto scanned = store->summaries().scan_records({}, 1, 3, [&](const ScannedReport&, std::int64_t id,
                                                               const Record&) {
    ids.push_back(id);
    return ids.size() < 3;
  });
  REQUIRE(scanned.has_value());
  CHECK(ids == std::vector<std::int64_t>{4, 5, 6});
}

TEST_CASE("source summaries are found by key, updated in place and listed by messages") {
  auto store = store_with_reports();
  Summaries& summaries = store->summaries();
  REQUIRE(summaries.begin_update().has_value());
  SourceSummary first = source_summary("a.example", "192.0.2.1", 5);
  first.failing_messages = 2;
  first.category = 3;
  first.severity = 1;
  first.service = "SendGrid";
  SourceSummary second = first;
  second.source_ip = ip("2001:db8::1");
  second.header_from = "";  // stored as NULL, still found by key
  second.messages = 9;
  second.severity.reset();
  REQUIRE(summaries.put_source(first).has_value());
  REQUIRE(summaries.put_source(second).has_value());
  REQUIRE(summaries.set_mark({3, "rules 1", false, ""}).has_value());
  REQUIRE(summaries.commit_update().has_value());

  auto found = summaries.find_source("a.example", ip("2001:db8::1"), "");
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  CHECK((*found)->messages == 9);
  CHECK(!(*found)->severity.has_value());
  auto missing = summaries.find_source("b.example", ip("192.0.2.1"), "a.example");
  REQUIRE(missing.has_value());
  CHECK(!missing->has_value());

  std::vector<std::int64_t> messages;
  auto listed = summaries.scan_sources({}, [&](SourceSummary&& s) {
    messages.push_back(s.messages);
    return true;
  });
  REQUIRE(listed.has_value());
  CHECK(messages == std::vector<std::int64_t>{9, 5});

  SummaryQuery findings;
  findings.order = SummaryOrder::severity;
  std::vector<std::string> states;
  REQUIRE(summaries.scan_sources(findings, [&](SourceSummary&& s) {
    states.push_back(s.state);
    CHECK(s.service == "SendGrid");
    return true;
  }).has_value());
  CHECK(states == std::vector<std::string>{std::string("\x01\x00\x02", 3)});

  auto mark = summaries.mark();
  REQUIRE(mark.has_value());
  CHECK(mark->folded_through == 3);
  CHECK(mark->fingerprint == "rules 1");
  CHECK(!mark->rebuilding);
}

TEST_CASE("latest_policy is the policy of the report that ends last") {
  auto store = store_with_reports();
  auto policy = store->summaries().latest_policy("a.example");
  REQUIRE(policy.has_value());
  REQUIRE(policy->has_value());
  CHECK((*policy)->p == PolicyAction::quarantine);
  auto none = store->summaries().latest_policy("c.example");
  REQUIRE(none.has_value());
  CHECK(!none->has_value());
  auto domains = store->summaries().policy_domains(3);
  REQUIRE(domains.has_value());
  CHECK(*domains == std::vector<std::string>{"a.example", "b.example"});
}

TEST_CASE("a rolled back update leaves nothing behind and ends the update") {
  auto store = store_with_reports();
  Summaries& summaries = store->summaries();
  REQUIRE(summaries.begin_update().has_value());
  auto put = summaries.put_source(source_summary("a.example", "192.0.2.1", 5));
  REQUIRE_MESSAGE(put.has_value(), to_string(put.error()));
  REQUIRE(summaries.put_domain("a.example", "state").has_value());
  REQUIRE(summaries.set_mark({3, "rules 1", false, ""}).has_value());
  REQUIRE(summaries.rollback_update().has_value());

  auto found = summaries.find_source("a.example", ip("192.0.2.1"), "a.example");
  REQUIRE(found.has_value());
  CHECK(!found->has_value());
  auto domain = summaries.find_domain("a.example");
  REQUIRE(domain.has_value());
  CHECK(!domain->has_value());
  auto mark = summaries.mark();
  REQUIRE(mark.has_value());
  CHECK(mark->folded_through == 0);
  CHECK(mark->fingerprint.empty());
  auto again = summaries.rollback_update();
  REQUIRE(!again.has_value());
  CHECK(again.error().what == "rollback_update called outside a summary update");
  CHECK(summaries.begin_update().has_value());
}

TEST_CASE("writes outside an update are refused") {
  auto store = store_with_reports();
  auto put = store->summaries().put_source(SourceSummary{});
  REQUIRE(!put.has_value());
  CHECK(put.error().what == "put_source called outside a summary update");
}

}  // namespace
}  // namespace dmarcsift::storage
