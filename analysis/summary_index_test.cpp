#include "analysis/summary_index.hpp"

#include <doctest/doctest.h>

#include <string>
#include <tuple>
#include <vector>

#include "core/content_hash.hpp"
#include "storage/sqlite/sqlite_store.hpp"

using namespace dmarcsift;
using namespace dmarcsift::analysis;

namespace {

// Day `day` of a reporter's reports for `domain`: sources 198.51.100.1 ...
// .`sources`, half of them failing DKIM, each with `day` + its number messages.
AggregateReport daily_report(const std::string& domain, const std::string& reporter, int day,
                             int sources) {
  AggregateReport r;
  r.metadata.org_name = reporter;
  r.metadata.report_id = reporter + "-" + domain + "-" + std::to_string(day);
  r.metadata.date_range = {1790812800 + day * 86400, 1790812800 + day * 86400 + 86399};
  r.policy.domain = domain;
  r.policy.p = PolicyAction::reject;
  for (int i = 1; i <= sources; ++i) {
    Record& record = r.records.emplace_back();
    record.source_ip = *IpAddress::parse("198.51.100." + std::to_string(i));
    record.count = day + i;
    record.header_from = domain;
    const bool passing = i % 2 == 0;
    record.dkim = passing ? Verdict::pass : Verdict::fail;
    record.spf = Verdict::fail;
    record.disposition = passing ? Disposition::none : Disposition::reject;
    record.dkim_results.push_back(
        {passing ? domain : "esp" + std::to_string(i) + ".example", "s" + std::to_string(day % 3),
         passing ? DkimResult::pass : DkimResult::fail, ""});
    record.spf_results.push_back({"bounce.esp.example", SpfScope::mfrom, SpfResult::pass, ""});
  }
  return r;
}

std::unique_ptr<storage::Store> store_with_days() {
  auto opened = storage::open_sqlite_store(":memory:");
  REQUIRE(opened.has_value());
  std::unique_ptr<storage::Store> store = std::move(*opened);
  REQUIRE(store->begin_batch().has_value());
  for (int day = 0; day < 6; ++day) {
    for (const char* reporter : {"google.com", "Yahoo"}) {
      for (const auto& [domain, sources] : {std::pair("a.example", 13), std::pair("b.example", 3)}) {
        const AggregateReport r = daily_report(domain, reporter, day, sources);
        auto added = store->add_report(r, content_hash(r.metadata.report_id), {"test", "", nullptr});
        REQUIRE(added.has_value());
        storage::InputLogEntry entry;
        entry.path = "test";
        entry.reports_stored = 1;
        REQUIRE(store->log_input(entry).has_value());
      }
    }
  }
  REQUIRE(store->commit_batch().has_value());
  return store;
}

using SummaryRow = std::tuple<std::string, std::string, std::string, std::int64_t, std::int64_t,
                              int, std::optional<int>, std::string, std::string>;

std::vector<SummaryRow> all_rows(storage::Store& store) {
  std::vector<SummaryRow> rows;
  auto scanned = store.summaries().scan_sources({}, [&](storage::SourceSummary&& s) {
    rows.emplace_back(s.policy_domain, s.source_ip.to_string(), s.header_from, s.messages,
                      s.failing_messages, s.category, s.severity, s.service, s.state);
    return true;
  });
  REQUIRE(scanned.has_value());
  return rows;
}

}  // namespace

TEST_CASE("a rebuild in shares of a domain's sources writes what one pass writes") {
  auto psl = PublicSuffixList::load();
  REQUIRE(psl.has_value());
  const SenderCatalog senders = SenderCatalog::builtin();

  auto whole = store_with_days();
  auto in_one_pass = refresh_summaries(*whole, *psl, senders);
  REQUIRE(in_one_pass.has_value());
  CHECK(in_one_pass->rebuilt);
  CHECK(in_one_pass->records == 6 * 2 * (13 + 3));

  // 13 sources of a.example and 3 of b.example, never more than 2 in memory:
  // both domains are folded in shares, retried with more until each fits.
  auto shared = store_with_days();
  auto in_shares = refresh_summaries(*shared, *psl, senders, RefreshLimits{2});
  REQUIRE(in_shares.has_value());
  CHECK(in_shares->rebuilt);
  CHECK(in_shares->records == 6 * 2 * (13 + 3));

  const std::vector<SummaryRow> expected = all_rows(*whole);
  REQUIRE(expected.size() == 16);
  CHECK(all_rows(*shared) == expected);
  auto domains_whole = whole->summaries().load_domains();
  auto domains_shared = shared->summaries().load_domains();
  REQUIRE(domains_whole.has_value());
  REQUIRE(domains_shared.has_value());
  CHECK(*domains_shared == *domains_whole);
  CHECK(domains_whole->size() == 2);
}
