#pragma once
// The analyze pass: sources that need attention, most severe first, with
// what receivers do to their mail today and at p=reject.
#include <functional>
#include <optional>
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

// The finding for one (IP, header_from) source under its domain's `policy`;
// nullopt when there is nothing to report. Where the owner declared the
// domain's services (apply_declarations), the declaration says whether the
// source's mail is legitimate, else its category does.
std::optional<Finding> assess(const SourceRow& source, const PolicyPublished& policy);

// Most severe first, then most failing messages.
bool more_severe(const Finding& a, const Finding& b);

// Findings for the `sources` grouped by (IP, header_from), using each
// domain's policy from `domains`; most severe first, then most failing mail.
std::vector<Finding> find_problems(const std::vector<SourceRow>& sources,
                                   const std::vector<DomainRow>& domains);

struct FindingQuery {
  storage::ReportFilter window;
  Severity min_severity = Severity::low;  // this and more severe
  std::optional<std::size_t> limit;
  const Declarations* declarations = nullptr;  // --authorized, applied to every source
};

// Gives `sink` the findings `query` asks for, most severe first, one at a
// time (the source a finding points to lives as long as the call); returns
// whether findings beyond the limit exist. Without a date or reporter window
// they come from the summaries (brought up to date first), else from the
// records. With declarations, every source that is or may become a finding
// is held in memory, since they change the order of the stored ranking.
Result<bool> query_findings(storage::Store& store, const PublicSuffixList& psl,
                            const SenderCatalog& senders, const FindingQuery& query,
                            const std::function<void(const Finding&)>& sink);

}  // namespace dmarcsift::analysis
