#pragma once
// The summaries (storage/summaries.hpp) as the analysis keeps them: one row
// per (policy domain, source IP, header_from) with the totals of SourceRow,
// and one per policy domain with the totals of DomainRow, folded in from new
// reports as they arrive, so that sources, analyze and domains read
// thousands of rows where the records are millions.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "analysis/domains.hpp"
#include "analysis/identify.hpp"
#include "analysis/public_suffix.hpp"
#include "analysis/sources.hpp"
#include "core/result.hpp"
#include "storage/store.hpp"
#include "storage/summaries.hpp"

namespace dmarcsift::analysis {

// Names everything the stored totals depend on besides the records: the
// rules' version, the suffix list and the sender catalog. Summaries written
// under another fingerprint are rebuilt.
std::string summary_fingerprint(const PublicSuffixList& psl, const SenderCatalog& senders);

struct RefreshResult {
  bool rebuilt = false;        // the summaries were computed again from scratch
  std::int64_t reports = 0;    // reports folded in
  std::int64_t records = 0;
  bool read_ahead = false;     // a rebuild read records on a connection of its own
  // Of such a rebuild: the most source rows it held at once, at most
  // RefreshLimits::max_rows.
  std::size_t most_rows = 0;
};

struct RefreshLimits {
  // Source rows held in memory before they are written. A rebuild splits a
  // policy domain with more sources than this into passes over its records,
  // each for a share of its sources, so that every row is written once.
  // A row with its strings takes about 900 bytes; folding the 10M-record
  // corpus (131,101 sources in its largest domain) peaked at 130 MB
  // with 65,536 rows and 156 MB with 100,000, in the same time (24.2-24.9
  // against 23.9-25.7 s); 50,000 rows took 27.6 s for 114 MB.
  std::size_t max_rows = 65536;
};

// Folds every report stored since the last refresh into the summaries, in
// transactions of about 50,000 records: a crash or a concurrent refresh
// leaves them consistent, and a later refresh goes on where this one stopped.
Result<RefreshResult> refresh_summaries(storage::Store& store, const PublicSuffixList& psl,
                                        const SenderCatalog& senders,
                                        const RefreshLimits& limits = {});

// Gives `sink` the source rows `query` selects, concluded, in its order, one
// at a time; with the names of their reporters and the text of their sample
// auth results when `with_samples` (a look-up per row). `sink` returns false
// to stop.
Result<void> for_each_source(storage::Summaries& summaries, const SenderCatalog& senders,
                             const storage::SummaryQuery& query, bool with_samples,
                             const std::function<bool(SourceRow&&)>& sink);

// The domain rows (policy from the latest report, totals, next step), most
// messages first; only `policy_domain` when given.
Result<std::vector<DomainRow>> load_domains(storage::Summaries& summaries,
                                            const std::optional<std::string>& policy_domain);

// The encoded totals of a row, and back; decode fails on malformed bytes.
std::string encode_totals(const SourceRow& row);
bool decode_totals(std::string_view bytes, SourceRow& row);

}  // namespace dmarcsift::analysis
