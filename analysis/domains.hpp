#pragma once
// Per policy domain: the published policy as reported, volume, DMARC pass
// rate, what p=reject would refuse, and the next policy step.
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/sources.hpp"

namespace dmarcsift::analysis {

struct DomainRow {
  std::string domain;
  PolicyPublished policy;  // from the latest report in the window
  std::int64_t messages = 0;
  std::int64_t dmarc_pass_messages = 0;
  std::int64_t sources = 0;  // (source IP, header_from) groups
  std::int64_t messages_by_category[5] = {0, 0, 0, 0, 0};  // by GroupClass
  std::int64_t failing_by_category[5] = {0, 0, 0, 0, 0};   // DMARC-failing messages, by GroupClass
  // Mail from sources that are not unauthorized: what the owner sends.
  std::int64_t legitimate_messages = 0;
  std::int64_t legitimate_failing = 0;  // what p=reject would refuse of it
  std::int64_t legitimate_failing_sources = 0;
  std::string next_step;  // "p=quarantine", "p=reject", "keep p=reject", "stay at p=none", ...
  std::string reason;     // the evidence for it
};

// Sets next_step and reason from the totals and the policy.
void recommend(DomainRow& row);

// Rows sorted by messages, largest first.
Result<std::vector<DomainRow>> summarize_domains(storage::Store& store, const PublicSuffixList& psl,
                                                 const SenderCatalog& senders,
                                                 const storage::ReportFilter& filter);

}  // namespace dmarcsift::analysis
