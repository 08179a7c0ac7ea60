#include "analysis/domains.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

#include "analysis/summary_index.hpp"

namespace dmarcsift::analysis {
namespace {

// Below these shares of legitimate mail failing DMARC, tightening the policy
// costs less than the spoofing it stops (M3AAWG's DMARC deployment advice
// moves one step once failures are rare and understood).
constexpr double k_quarantine_threshold = 0.02;
constexpr double k_reject_threshold = 0.005;

std::string percent(std::int64_t part, std::int64_t whole) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f%%",
                whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buffer;
}

}  // namespace

void recommend(DomainRow& row) {
  const double share = row.legitimate_messages == 0
                           ? 0.0
                           : static_cast<double>(row.legitimate_failing) /
                                 static_cast<double>(row.legitimate_messages);
  const std::string failing = percent(row.legitimate_failing, row.legitimate_messages) +
                              " of legitimate mail (" + std::to_string(row.legitimate_failing) +
                              " messages from " + std::to_string(row.legitimate_failing_sources) +
                              " sources) fails DMARC";
  const bool full = !row.policy.pct || *row.policy.pct >= 100;
  const bool testing = row.policy.testing.value_or(false);
  switch (row.policy.p) {
    case PolicyAction::none:
      if (share < k_quarantine_threshold) {
        row.next_step = "p=quarantine";
        row.reason = failing + "; unauthorized mail is delivered under p=none";
      } else {
        row.next_step = "stay at p=none";
        row.reason = failing + ": fix those sources first";
      }
      return;
    case PolicyAction::quarantine:
      if (share < k_reject_threshold) {
        row.next_step = "p=reject";
        row.reason = failing + "; quarantined mail still reaches spam folders";
      } else {
        row.next_step = "stay at p=quarantine";
        row.reason = failing + ": p=reject would bounce it";
      }
      return;
    case PolicyAction::reject:
      if (full && !testing) {
        row.next_step = share < k_reject_threshold ? "keep p=reject" : "keep p=reject, fix sources";
        row.reason = failing;
      } else if (share < k_reject_threshold) {
        row.next_step = testing ? "p=reject without t=y" : "p=reject with pct=100";
        row.reason = failing + "; part of the failing mail is still only quarantined";
      } else {
        row.next_step = "fix sources before full enforcement";
        row.reason = failing;
      }
      return;
  }
}

Result<std::vector<DomainRow>> summarize_domains(storage::Store& store, const PublicSuffixList& psl,
                                                 const SenderCatalog& senders,
                                                 const storage::ReportFilter& filter) {
  if (!filter.since && !filter.until && !filter.reporter) {
    if (auto refreshed = refresh_summaries(store, psl, senders); !refreshed) {
      return tl::unexpected(refreshed.error());
    }
    return load_domains(store.summaries(), filter.policy_domain);
  }
  auto sources = summarize_sources(store, psl, senders, filter);
  if (!sources) return tl::unexpected(sources.error());
  auto reports = store.list_reports(filter);
  if (!reports) return tl::unexpected(reports.error());

  std::map<std::string, DomainRow> rows;
  // The latest report is the one that ends last (then the one stored last),
  // as Summaries::latest_policy() picks it.
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> latest;  // (end, id)
  for (const storage::ReportSummary& report : *reports) {
    auto& [end, id] = latest[report.policy_domain];
    if (std::pair(report.date_range.end, report.id) > std::pair(end, id)) {
      end = report.date_range.end;
      id = report.id;
    }
  }
  for (const auto& [domain, end_and_id] : latest) {
    const std::int64_t id = end_and_id.second;
    auto loaded = store.load_report(id);
    if (!loaded) return tl::unexpected(loaded.error());
    DomainRow& row = rows[domain];
    row.domain = domain;
    if (*loaded) row.policy = (*loaded)->report.policy;
  }
  for (const SourceRow& source : *sources) {
    DomainRow& row = rows[source.policy_domain];
    row.domain = source.policy_domain;
    const auto category = static_cast<std::size_t>(source.category);
    const std::int64_t failing = source.messages - source.dmarc_pass_messages;
    row.messages += source.messages;
    row.dmarc_pass_messages += source.dmarc_pass_messages;
    row.sources += 1;
    row.messages_by_category[category] += source.messages;
    row.failing_by_category[category] += failing;
    if (source.category != GroupClass::unauthorized) {
      row.legitimate_messages += source.messages;
      row.legitimate_failing += failing;
      if (failing > 0) row.legitimate_failing_sources += 1;
    }
  }
  std::vector<DomainRow> out;
  out.reserve(rows.size());
  for (auto& [domain, row] : rows) {
    recommend(row);
    out.push_back(std::move(row));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const DomainRow& a, const DomainRow& b) { return a.messages > b.messages; });
  return out;
}

}  // namespace dmarcsift::analysis
