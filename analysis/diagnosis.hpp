#pragma once
// Diagnosis: why a source fails DMARC and what to change, from the patterns
// in its auth results. Each finding has a stable key for programs.
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/classification.hpp"
#include "analysis/identify.hpp"
#include "analysis/public_suffix.hpp"
#include "core/aggregate_report.hpp"

namespace dmarcsift::analysis {

// What one (source IP, header_from) group's records show, by messages.
struct Evidence {
  std::int64_t failing = 0;                  // messages not passing DMARC (recomputed)
  std::int64_t spf_own_permerror = 0;        // SPF permerror for the From organization
  std::int64_t dns_temperror = 0;            // failing, with an SPF or DKIM temperror
  std::int64_t spf_own_failed_dkim_pass = 0; // DKIM carried DMARC while the From org's SPF failed
  std::int64_t forwarding_override = 0;      // receiver vouched for a forwarder or list
  std::int64_t dkim_own_failed = 0;          // failing, with a failed DKIM signature of the From org
  std::int64_t dkim_absent = 0;              // failing, without any DKIM result
  std::int64_t strict_only = 0;              // failing, but a relaxed adkim/aspf would pass
  std::int64_t foreign_pass = 0;             // failing, with a pass for an unrelated domain
  std::int64_t receiver_disagrees = 0;       // receiver failed what we see aligned, no reason given
  std::int64_t any_spf_pass = 0;             // some SPF pass, any domain
  std::string header_from;
  std::string failed_selector;               // of the first failed own signature
  std::string foreign_domain;                // first unrelated domain that passed

  void add(const PublicSuffixList& psl, const Record& record, const PolicyPublished& policy,
           const RecordVerdict& verdict);
  // The same, with `from` made from the record's header_from.
  void add(FromDomain& from, const Record& record, const PolicyPublished& policy,
           const RecordVerdict& verdict);
};

// Sets `kept` to `candidate` when that is not empty and sorts before it (or
// `kept` is empty): evidence that names one of several values keeps the
// smallest, whatever order the records came in.
void keep_smallest(std::string& kept, std::string_view candidate);

struct Diagnosis {
  std::string key;    // spf_permerror, dns_temperror, esp_default_dkim, ...
  std::string cause;  // one sentence
  std::string fix;    // what to publish or change, and where
};

// Findings for a group, most severe first; empty when nothing needs doing.
std::vector<Diagnosis> diagnose(const Evidence& evidence, GroupClass category,
                                const KnownSender* service, const std::string& source_ip);

}  // namespace dmarcsift::analysis
