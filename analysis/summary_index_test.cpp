#include "analysis/summary_index.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "core/content_hash.hpp"
#include "storage/sqlite/sqlite_store.hpp"
#include "tests/support/temp_dir.hpp"

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

std::unique_ptr<storage::Store> store_with_days(const std::filesystem::path& path = ":memory:") {
  auto opened = storage::open_sqlite_store(path);
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

TEST_CASE("a rebuild that reads ahead on a second connection writes what the direct one writes") {
  auto psl = PublicSuffixList::load();
  REQUIRE(psl.has_value());
  const SenderCatalog senders = SenderCatalog::builtin();

  // A database in memory cannot be opened twice: its rebuild folds directly.
  auto in_memory = store_with_days();
  auto direct = refresh_summaries(*in_memory, *psl, senders);
  REQUIRE(direct.has_value());
  CHECK_FALSE(direct->read_ahead);
  const std::vector<SummaryRow> expected = all_rows(*in_memory);
  REQUIRE(expected.size() == 16);
  auto expected_domains = in_memory->summaries().load_domains();
  REQUIRE(expected_domains.has_value());

  // max_rows 2: each domain is read in shares, and started again in more
  // shares when one of them holds too many sources.
  dmarcsift::testing::TempDir dir;
  for (const std::size_t max_rows : {std::size_t{100000}, std::size_t{3}, std::size_t{2}}) {
    CAPTURE(max_rows);
    auto on_file = store_with_days(dir.path() / ("rows-" + std::to_string(max_rows) + ".db"));
    auto ahead = refresh_summaries(*on_file, *psl, senders, RefreshLimits{max_rows});
    REQUIRE(ahead.has_value());
    CHECK(ahead->read_ahead);
    CHECK(ahead->rebuilt);
    CHECK(ahead->records == 6 * 2 * (13 + 3));
    // The share being written and the one being grouped never hold more
    // than max_rows rows between them. With room for all, a.example's 13
    // sources are held at once, and b.example's 3 may be grouped meanwhile.
    if (max_rows == 100000) {
      CHECK(ahead->most_rows >= 13);
      CHECK(ahead->most_rows <= 16);
    } else {
      CHECK(ahead->most_rows >= 1);
      CHECK(ahead->most_rows <= max_rows);
    }
    CHECK(all_rows(*on_file) == expected);
    auto domains = on_file->summaries().load_domains();
    REQUIRE(domains.has_value());
    CHECK(*domains == *expected_domains);
  }
}
