#include "analysis/sources.hpp"

#include <algorithm>
#include <tuple>
#include <unordered_map>

namespace dmarcsift::analysis {
namespace {

std::string group_key(SourceGrouping grouping, const std::string& ip, const Record& record,
                      const std::string& service, const std::string& domain,
                      const std::string& reporter) {
  switch (grouping) {
    case SourceGrouping::ip_and_from: return ip + '\t' + record.header_from;
    case SourceGrouping::ip: return ip;
    case SourceGrouping::service: return service;
    case SourceGrouping::domain: return domain;
    case SourceGrouping::reporter: return reporter;
  }
  return ip;
}

// "dkim=pass d=sendgrid.net s=s1; spf=pass smtp.mailfrom=sendgrid.net", in
// the words of an Authentication-Results header (RFC 8601).
std::string describe_auth(const Record& record) {
  std::string out;
  for (const DkimAuth& dkim : record.dkim_results) {
    if (!out.empty()) out += "; ";
    out += std::string("dkim=") + to_string(dkim.result) + " d=" + dkim.domain;
    if (!dkim.selector.empty()) out += " s=" + dkim.selector;
  }
  for (const SpfAuth& spf : record.spf_results) {
    if (!out.empty()) out += "; ";
    out += std::string("spf=") + to_string(spf.result) +
           (spf.scope == SpfScope::helo ? " smtp.helo=" : " smtp.mailfrom=") + spf.domain;
  }
  return out.empty() ? "no auth results" : out;
}

}  // namespace

Result<std::vector<SourceRow>> summarize_sources(storage::Store& store,
                                                 const PublicSuffixList& psl,
                                                 const SenderCatalog& senders,
                                                 const storage::ReportFilter& filter,
                                                 SourceGrouping grouping) {
  auto reports = store.list_reports(filter);
  if (!reports) return tl::unexpected(reports.error());
  std::unordered_map<std::string, std::size_t> index;
  std::vector<SourceRow> rows;
  std::vector<std::int64_t> largest_failing;  // per row: count of its sample record
  for (const storage::ReportSummary& summary : *reports) {
    auto loaded = store.load_report(summary.id);
    if (!loaded) return tl::unexpected(loaded.error());
    if (!*loaded) continue;  // deleted since it was listed
    const AggregateReport& report = (*loaded)->report;
    for (const Record& record : report.records) {
      const RecordVerdict verdict = evaluate(psl, record, report.policy);
      const KnownSender* sender = senders.identify(psl, record);
      const std::string service = sender != nullptr ? sender->name : std::string();
      const std::string ip = record.source_ip.to_string();
      const std::string key = group_key(grouping, ip, record, service, report.policy.domain,
                                        report.metadata.org_name);
      auto [it, inserted] = index.try_emplace(key, rows.size());
      if (inserted) {
        SourceRow& row = rows.emplace_back();
        largest_failing.push_back(0);
        const bool by_ip = grouping == SourceGrouping::ip_and_from || grouping == SourceGrouping::ip;
        if (by_ip) row.source_ip = ip;
        if (grouping == SourceGrouping::ip_and_from) row.header_from = record.header_from;
        row.policy_domain = report.policy.domain;
        if (grouping == SourceGrouping::reporter) row.reporter = report.metadata.org_name;
        row.first_seen = report.metadata.date_range.begin;
        row.last_seen = report.metadata.date_range.end;
      }
      SourceRow& row = rows[it->second];
      // A source IP can sign with different services over time; keep the
      // first one identified.
      if (row.sender == nullptr && sender != nullptr) {
        row.sender = sender;
        row.service = service;
      }
      row.evidence.add(psl, record, report.policy, verdict);
      const std::string& reporter = report.metadata.org_name;
      if (std::find(row.reporters.begin(), row.reporters.end(), reporter) == row.reporters.end()) {
        row.reporters.push_back(reporter);
      }
      const std::int64_t day = report.metadata.date_range.begin / 86400;
      if (std::find(row.days.begin(), row.days.end(), day) == row.days.end()) row.days.push_back(day);
      if (!verdict.dmarc_pass && record.count > largest_failing[it->second]) {
        largest_failing[it->second] = record.count;
        row.sample_auth = describe_auth(record);
      }
      row.messages += record.count;
      row.records += 1;
      if (verdict.dmarc_pass) row.dmarc_pass_messages += record.count;
      if (verdict.spf_aligned) row.spf_aligned_messages += record.count;
      if (verdict.dkim_aligned) row.dkim_aligned_messages += record.count;
      row.messages_by_disposition[static_cast<std::size_t>(record.disposition)] += record.count;
      row.tally.add(verdict, record.count);
      row.first_seen = std::min(row.first_seen, report.metadata.date_range.begin);
      row.last_seen = std::max(row.last_seen, report.metadata.date_range.end);
    }
  }
  for (SourceRow& row : rows) {
    row.category = classify_group(row.tally);
    row.diagnosis = diagnose(row.evidence, row.category, row.sender, row.source_ip);
  }
  std::sort(rows.begin(), rows.end(), [](const SourceRow& a, const SourceRow& b) {
    return std::tie(b.messages, a.source_ip, a.header_from, a.service, a.policy_domain, a.reporter) <
           std::tie(a.messages, b.source_ip, b.header_from, b.service, b.policy_domain, b.reporter);
  });
  return rows;
}

}  // namespace dmarcsift::analysis
