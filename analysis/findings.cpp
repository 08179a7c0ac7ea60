#include "analysis/findings.hpp"

#include <algorithm>
#include <map>

namespace dmarcsift::analysis {
namespace {

constexpr ReceiverFamily k_families[] = {ReceiverFamily::gmail, ReceiverFamily::microsoft,
                                         ReceiverFamily::yahoo, ReceiverFamily::other};

bool only_forwarded(const SourceRow& row) {
  return row.diagnosis.size() == 1 && row.diagnosis.front().key == "forwarded";
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

std::vector<Finding> find_problems(const std::vector<SourceRow>& sources,
                                   const std::vector<DomainRow>& domains) {
  std::map<std::string, const PolicyPublished*> policies;
  for (const DomainRow& domain : domains) policies[domain.domain] = &domain.policy;
  std::vector<Finding> findings;
  for (const SourceRow& row : sources) {
    if (row.diagnosis.empty() || only_forwarded(row)) continue;
    Finding finding;
    finding.source = &row;
    if (auto it = policies.find(row.policy_domain); it != policies.end()) finding.policy = *it->second;
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
    const bool legitimate = row.category != GroupClass::unauthorized;
    if (failing == 0) {
      finding.severity = Severity::low;
    } else if (legitimate) {
      finding.severity = refused_somewhere ? Severity::critical : Severity::high;
    } else {
      finding.severity = delivered_somewhere ? Severity::medium : Severity::low;
    }
    findings.push_back(std::move(finding));
  }
  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity < b.severity;
    return a.source->messages - a.source->dmarc_pass_messages >
           b.source->messages - b.source->dmarc_pass_messages;
  });
  return findings;
}

}  // namespace dmarcsift::analysis
