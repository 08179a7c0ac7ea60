#pragma once
// The sources pass: stored records grouped by source (IP and From domain by
// default), with volumes, alignment rates, dispositions, the class of each
// group and the service that sent it.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/classification.hpp"
#include "analysis/diagnosis.hpp"
#include "analysis/identify.hpp"
#include "analysis/public_suffix.hpp"
#include "core/result.hpp"
#include "storage/store.hpp"

namespace dmarcsift::analysis {

enum class SourceGrouping { ip_and_from, ip, service, domain, reporter };

struct SourceRow {
  // The group's key: the fields that do not apply to a grouping are empty
  // (--by service leaves source_ip and header_from empty, and so on).
  std::string source_ip;
  std::string header_from;
  std::string policy_domain;  // of --by domain; else the domain of the first report seen
  std::string service;        // identified sender, "" when unknown
  std::string reporter;       // of --by reporter
  std::int64_t messages = 0;
  std::int64_t dmarc_pass_messages = 0;
  std::int64_t spf_aligned_messages = 0;
  std::int64_t dkim_aligned_messages = 0;
  std::int64_t records = 0;
  storage::DispositionCounts messages_by_disposition{};
  GroupTally tally;
  GroupClass category = GroupClass::unauthorized;
  const KnownSender* sender = nullptr;  // into the catalog passed in; null when unknown
  Evidence evidence;
  std::vector<std::string> reporters;   // distinct org_names that reported the group
  std::vector<std::int64_t> days;       // distinct UTC days (begin / 86400) it was seen
  std::string sample_auth;              // auth results of its largest failing record
  std::vector<Diagnosis> diagnosis;  // most severe first
  std::int64_t first_seen = 0;  // earliest report begin
  std::int64_t last_seen = 0;   // latest report end
};

// Groups every record of the reports `filter` selects. Rows come sorted by
// messages, largest first, ties by key.
Result<std::vector<SourceRow>> summarize_sources(storage::Store& store,
                                                 const PublicSuffixList& psl,
                                                 const SenderCatalog& senders,
                                                 const storage::ReportFilter& filter,
                                                 SourceGrouping grouping);

}  // namespace dmarcsift::analysis
