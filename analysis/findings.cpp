#include "analysis/findings.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <tuple>

#include "analysis/summary_index.hpp"

namespace dmarcsift::analysis {
namespace {

constexpr ReceiverFamily k_families[] = {ReceiverFamily::gmail, ReceiverFamily::microsoft,
                                         ReceiverFamily::yahoo, ReceiverFamily::other};

bool only_forwarded(const SourceRow& row) {
  return row.diagnosis.size() == 1 && row.diagnosis.front().key == "forwarded";
}

// The owner knows which services send their mail better than the auth
// results suggest; a forwarder is neither declared nor undeclared mail.
bool legitimate(const SourceRow& row) {
  if (row.authorization && row.category != GroupClass::forwarded) return row.authorization->declared;
  return row.category != GroupClass::unauthorized;
}

using PolicyOf = std::function<const PolicyPublished*(const std::string& domain)>;

// Declarations add diagnoses and move severities at query time, so the
// stored ranking neither orders nor selects the findings any more. The
// candidates are the sources with a stored finding and those failing DMARC
// (the only ones a declaration can make a finding); they are assessed again
// and sorted in memory.
Result<bool> declared_findings(storage::Summaries& summaries, const SenderCatalog& senders,
                               const FindingQuery& query, const PolicyOf& policy_of,
                               std::optional<Error>& error,
                               const std::function<void(const Finding&)>& sink) {
  std::deque<SourceRow> rows;  // Finding::source points into it
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  const auto keep = [&](SourceRow&& row) {
    if (seen.emplace(row.policy_domain, row.address.bytes(), row.header_from).second) {
      rows.push_back(std::move(row));
    }
    return true;
  };
  storage::SummaryQuery ranked;
  ranked.policy_domain = query.window.policy_domain;
  ranked.order = storage::SummaryOrder::severity;
  if (auto loaded = for_each_source(summaries, senders, ranked, true, keep); !loaded) {
    return tl::unexpected(loaded.error());
  }
  storage::SummaryQuery failing;
  failing.policy_domain = query.window.policy_domain;
  failing.failing_only = true;
  if (auto loaded = for_each_source(summaries, senders, failing, true, keep); !loaded) {
    return tl::unexpected(loaded.error());
  }
  std::vector<Finding> findings;
  for (SourceRow& row : rows) {
    apply_declarations(row, *query.declarations);
    const PolicyPublished* policy = policy_of(row.policy_domain);
    if (policy == nullptr) return tl::unexpected(*error);
    auto finding = assess(row, *policy);
    if (finding && finding->severity <= query.min_severity) findings.push_back(std::move(*finding));
  }
  std::stable_sort(findings.begin(), findings.end(), more_severe);
  const bool more = query.limit && findings.size() > *query.limit;
  if (more) findings.resize(*query.limit);
  for (const Finding& finding : findings) sink(finding);
  return more;
}

}  // namespace

const char* to_string(Severity severity) {
  switch (severity) {
    case Severity::critical: return "critical";
    case Severity::high: return "high";
    case Severity::medium: return "medium";
    case Severity::low: return "low";
  }
  return "low";
}

std::optional<Finding> assess(const SourceRow& row, const PolicyPublished& policy) {
  if (row.diagnosis.empty() || only_forwarded(row)) return std::nullopt;
  Finding finding;
  finding.source = &row;
  finding.policy = policy;
  // RFC 7489 §6.3: sp applies to subdomains of the policy domain, else p.
  const bool subdomain = row.header_from != row.policy_domain;
  finding.applicable = subdomain ? finding.policy.sp.value_or(finding.policy.p) : finding.policy.p;

  const Evidence& e = row.evidence;
  const std::int64_t failing = row.messages - row.dmarc_pass_messages;
  ForecastInput input;
  input.domain = row.header_from;
  input.dmarc_pass = failing == 0;
  input.any_auth_pass = e.any_spf_pass > 0 || e.foreign_pass > 0 || e.strict_only > 0 ||
                        row.dmarc_pass_messages > 0;
  input.dns_temperror = failing > 0 && e.dns_temperror * 2 > failing;
  input.policy = finding.applicable;
  input.testing = finding.policy.testing.value_or(false);
  ForecastInput at_reject = input;
  at_reject.policy = PolicyAction::reject;
  at_reject.testing = false;
  bool refused_somewhere = false;
  bool delivered_somewhere = false;
  for (ReceiverFamily family : k_families) {
    ReceiverForecast f{family, forecast(family, input), forecast(family, at_reject)};
    refused_somewhere = refused_somewhere || f.today.action != "delivered";
    delivered_somewhere = delivered_somewhere || f.today.action == "delivered";
    finding.forecast.push_back(std::move(f));
  }
  if (failing == 0) {
    finding.severity = Severity::low;
  } else if (legitimate(row)) {
    finding.severity = refused_somewhere ? Severity::critical : Severity::high;
  } else {
    finding.severity = delivered_somewhere ? Severity::medium : Severity::low;
  }
  return finding;
}

bool more_severe(const Finding& a, const Finding& b) {
  if (a.severity != b.severity) return a.severity < b.severity;
  return a.source->messages - a.source->dmarc_pass_messages >
         b.source->messages - b.source->dmarc_pass_messages;
}

std::vector<Finding> find_problems(const std::vector<SourceRow>& sources,
                                   const std::vector<DomainRow>& domains) {
  std::map<std::string, const PolicyPublished*> policies;
  for (const DomainRow& domain : domains) policies[domain.domain] = &domain.policy;
  std::vector<Finding> findings;
  const PolicyPublished unknown;
  for (const SourceRow& row : sources) {
    const auto it = policies.find(row.policy_domain);
    auto finding = assess(row, it != policies.end() ? *it->second : unknown);
    if (finding) findings.push_back(std::move(*finding));
  }
  std::stable_sort(findings.begin(), findings.end(), more_severe);
  return findings;
}

Result<bool> query_findings(storage::Store& store, const PublicSuffixList& psl,
                            const SenderCatalog& senders, const FindingQuery& query,
                            const std::function<void(const Finding&)>& sink) {
  if (query.window.since || query.window.until || query.window.reporter) {
    auto sources = summarize_sources(store, psl, senders, query.window);
    if (!sources) return tl::unexpected(sources.error());
    if (query.declarations) {
      for (SourceRow& row : *sources) apply_declarations(row, *query.declarations);
    }
    auto domains = summarize_domains(store, psl, senders, query.window);
    if (!domains) return tl::unexpected(domains.error());
    std::vector<Finding> findings = find_problems(*sources, *domains);
    std::erase_if(findings, [&](const Finding& f) { return f.severity > query.min_severity; });
    const bool more = query.limit && findings.size() > *query.limit;
    if (more) findings.resize(*query.limit);
    for (const Finding& finding : findings) sink(finding);
    return more;
  }

  if (auto refreshed = refresh_summaries(store, psl, senders); !refreshed) {
    return tl::unexpected(refreshed.error());
  }
  std::map<std::string, PolicyPublished, std::less<>> policies;
  std::optional<Error> error;
  // The domain's latest policy, the one its sources are ranked under; null
  // (and `error` set) when the store fails.
  const auto policy_of = [&](const std::string& domain) -> const PolicyPublished* {
    auto it = policies.find(domain);
    if (it == policies.end()) {
      auto latest = store.summaries().latest_policy(domain);
      if (!latest) {
        error = latest.error();
        return nullptr;
      }
      it = policies.emplace(domain, latest->value_or(PolicyPublished{})).first;
    }
    return &it->second;
  };
  if (query.declarations) {
    return declared_findings(store.summaries(), senders, query, policy_of, error, sink);
  }
  // Severity is stored with each source, ranked under its domain's latest
  // policy, so the most severe come first from an index.
  storage::SummaryQuery summary_query;
  summary_query.policy_domain = query.window.policy_domain;
  summary_query.order = storage::SummaryOrder::severity;
  summary_query.max_severity = static_cast<int>(query.min_severity);
  std::size_t given = 0;
  bool more = false;
  auto streamed = for_each_source(
      store.summaries(), senders, summary_query, true, [&](SourceRow&& row) {
        const PolicyPublished* policy = policy_of(row.policy_domain);
        if (policy == nullptr) return false;
        auto finding = assess(row, *policy);
        if (!finding) return true;
        if (query.limit && given == *query.limit) {
          more = true;
          return false;
        }
        ++given;
        sink(*finding);
        return true;
      });
  if (!streamed) return tl::unexpected(streamed.error());
  if (error) return tl::unexpected(*error);
  return more;
}

}  // namespace dmarcsift::analysis
