#pragma once
// Derived data kept beside the reports so that queries over millions of
// records read one row per source instead of every record: per source (policy
// domain, source IP, header_from) and per policy domain, the analysis' running
// totals. Storage holds them without knowing what they mean: the analysis
// encodes its totals into `state` and names the few columns queries filter and
// sort on. Everything here can be rebuilt from the records, and is whenever
// the analysis says its `fingerprint` (rules, suffix list, sender catalog)
// changed.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/aggregate_report.hpp"
#include "core/ip_address.hpp"
#include "core/result.hpp"
#include "storage/store.hpp"

namespace dmarcsift::storage {

// What a record scan tells about the report a record belongs to.
struct ScannedReport {
  std::int64_t id = 0;
  std::string_view reporter;  // org_name
  std::int64_t reporter_id = 0;  // names it for name(); 0 when empty
  std::string_view policy_domain;
  const PolicyPublished* policy = nullptr;  // adkim, aspf, p, sp, np, pct, testing
  DateRange date_range;
};
// Returns false to stop the scan.
using RecordVisitor = std::function<bool(const ScannedReport&, std::int64_t record_id, const Record&)>;

struct SourceSummary {
  std::int64_t id = 0;  // 0 until stored
  std::string policy_domain;
  IpAddress source_ip;
  std::string header_from;
  std::int64_t messages = 0;
  std::int64_t failing_messages = 0;  // not passing DMARC
  std::int64_t last_seen = 0;         // epoch seconds
  int category = 0;                   // the analysis' group class
  std::optional<int> severity;        // the analysis' rank of a finding; none when no finding
  std::string service;                // "" when unknown
  std::string state;                  // the analysis' encoded totals
};

enum class SummaryOrder {
  messages,  // most messages first
  severity,  // lowest severity value first, then most failing messages
};

struct SummaryQuery {
  std::optional<std::string> policy_domain;
  bool failing_only = false;
  std::optional<int> category;
  std::optional<std::string> service;  // compared ignoring ASCII case
  std::optional<std::int64_t> min_messages;
  std::optional<int> max_severity;     // only rows with a severity <= this
  SummaryOrder order = SummaryOrder::messages;
  std::optional<std::int64_t> limit;
};

// How far the summaries reach: every report with id <= folded_through is in
// them, computed by the analysis that wrote `fingerprint`.
struct SummaryMark {
  std::int64_t folded_through = 0;
  std::string fingerprint;
  // While a rebuild runs: the summaries hold the reports up to
  // folded_through of the policy domains up to `rebuilt_through` (text
  // order; "" when none yet) and nothing of the others.
  bool rebuilding = false;
  std::string rebuilt_through;
};

class Summaries {
 public:
  virtual ~Summaries() = default;

  virtual Result<std::int64_t> last_report_id() = 0;
  // The number of records of the reports after `after`, up to `through`.
  virtual Result<std::int64_t> records_between(std::int64_t after, std::int64_t through) = 0;
  // Calls `visit` for every record of the reports with after < id <= through
  // that `filter` selects, in report id order. Auth results and override
  // reasons are filled in; human_result strings and envelope_to are not.
  virtual Result<void> scan_records(const ReportFilter& filter, std::int64_t after,
                                    std::int64_t through, const RecordVisitor& visit) = 0;
  // The text of a name id (ScannedReport::reporter_id).
  virtual Result<std::string> name(std::int64_t id) = 0;
  // One record as scan_records() gives it; nullopt when there is none.
  virtual Result<std::optional<Record>> record(std::int64_t id) = 0;
  // The policy domains of the reports up to `through`, in text order.
  virtual Result<std::vector<std::string>> policy_domains(std::int64_t through) = 0;
  // The id of the report at which the records after report `after` first
  // add up to `records` or more; `through` when they never do.
  virtual Result<std::int64_t> chunk_end(std::int64_t after, std::int64_t through,
                                         std::int64_t records) = 0;

  // Summaries on a connection of their own, for scans that read records
  // while this one writes; null when the database cannot be opened twice
  // (in memory). It sees what was committed when each scan starts.
  virtual Result<std::unique_ptr<Summaries>> open_reader() = 0;

  // Updates happen in a write transaction, committed whole.
  virtual Result<void> begin_update() = 0;
  virtual Result<void> commit_update() = 0;
  virtual Result<void> rollback_update() = 0;  // undoes the update and ends it
  virtual Result<SummaryMark> mark() = 0;
  virtual Result<void> set_mark(const SummaryMark& mark) = 0;  // inside an update
  virtual Result<void> clear() = 0;                            // inside an update

  virtual Result<std::optional<SourceSummary>> find_source(std::string_view policy_domain,
                                                           const IpAddress& source_ip,
                                                           std::string_view header_from) = 0;
  virtual Result<void> put_source(const SourceSummary& source) = 0;  // insert or replace
  // Rows matching `query` in its order; `visit` returns false to stop.
  virtual Result<void> scan_sources(const SummaryQuery& query,
                                    const std::function<bool(SourceSummary&&)>& visit) = 0;

  virtual Result<std::optional<std::string>> find_domain(std::string_view policy_domain) = 0;
  virtual Result<void> put_domain(std::string_view policy_domain, std::string_view state) = 0;
  // Every domain's state, by domain name.
  virtual Result<std::vector<std::pair<std::string, std::string>>> load_domains() = 0;
  // The policy published in the report for `policy_domain` with the latest
  // end; nullopt when there is none.
  virtual Result<std::optional<PolicyPublished>> latest_policy(std::string_view policy_domain) = 0;
};

}  // namespace dmarcsift::storage
