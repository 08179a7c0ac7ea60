#pragma once
// The analyze pass: sources that need attention, most severe first, with
// what receivers do to their mail today and at p=reject.
#include <vector>

#include "analysis/domains.hpp"
#include "analysis/forecast.hpp"
#include "analysis/sources.hpp"

namespace dmarcsift::analysis {

// critical: legitimate mail refused or junked today; high: legitimate mail
// that p=reject would refuse; medium: spoofing that is delivered today;
// low: the rest worth knowing (spoofing already blocked, SPF gaps DKIM
// covers, receivers that disagree).
enum class Severity { critical, high, medium, low };
const char* to_string(Severity severity);

struct ReceiverForecast {
  ReceiverFamily family;
  Outcome today;      // under the published policy
  Outcome at_reject;  // under p=reject
};

struct Finding {
  Severity severity = Severity::low;
  const SourceRow* source = nullptr;  // into the rows passed to find_problems()
  PolicyPublished policy;             // of the source's policy domain, as last reported
  PolicyAction applicable = PolicyAction::none;  // p, or sp for a subdomain
  std::vector<ReceiverForecast> forecast;        // gmail, microsoft, yahoo, other
};

// Findings for the `sources` grouped by (IP, header_from), using each
// domain's policy from `domains`; most severe first, then most failing mail.
std::vector<Finding> find_problems(const std::vector<SourceRow>& sources,
                                   const std::vector<DomainRow>& domains);

}  // namespace dmarcsift::analysis
