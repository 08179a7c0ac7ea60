#pragma once
// The storage contract ingest and analysis program against. SQLite is the
// only implementation today; a server database would add another beside it.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/aggregate_report.hpp"
#include "core/result.hpp"

namespace dmarcsift::storage {

// Headers of the e-mail that carried a report.
struct MailMessage {
  std::string message_id;
  std::string from;
  std::string subject;
  std::string date;  // the Date header as written
};

// Where a report came from. `entry` names the path inside the input
// ("report.zip > a.xml", "dmarc.mbox#12 > google.zip > a.xml"), empty for a
// plain file. `message`, when set, must stay alive during add_report().
struct ReportOrigin {
  std::string path;
  std::string entry;
  const MailMessage* message = nullptr;
};

enum class StoreOutcome { stored, duplicate };

// What became of one input (a file, a mailbox message, stdin).
enum class InputOutcome { stored, duplicate, rejected, no_report };
const char* to_string(InputOutcome outcome);

struct InputLogEntry {
  std::string path;
  std::string entry;
  std::string content_hash;  // content_hash() of the input's bytes
  InputOutcome outcome = InputOutcome::stored;
  std::string reason;  // why rejected / why no report; empty otherwise
  std::int64_t reports_stored = 0;
  std::int64_t duplicate_reports = 0;
};

struct ReportFilter {
  std::optional<std::string> policy_domain;  // exact, lower-case
  std::optional<std::string> reporter;       // org_name, case-insensitive
  std::optional<std::int64_t> since;         // reports whose end >= since
  std::optional<std::int64_t> until;         // reports whose begin < until
};

struct ReportSummary {
  std::int64_t id = 0;
  std::string reporter;
  std::string report_id;
  std::string policy_domain;
  DateRange date_range;
  std::int64_t records = 0;
  std::int64_t messages = 0;
};

struct StoredReport {
  std::int64_t id = 0;
  AggregateReport report;  // including its stored warnings
  std::string content_hash;
  std::string source_path;
  std::string source_entry;
  std::optional<MailMessage> message;
  std::int64_t ingested_at = 0;  // epoch seconds
};

// Messages (sum of record counts) by disposition, indexed by Disposition.
using DispositionCounts = std::array<std::int64_t, 4>;

struct Totals {
  std::int64_t reports = 0;
  std::int64_t records = 0;
  std::int64_t messages = 0;
  DispositionCounts messages_by_disposition{};
};

class Summaries;

class Store {
 public:
  virtual ~Store() = default;

  // Writes happen inside a batch: nothing is visible to other connections,
  // or survives a crash, until commit_batch(). A batch not committed is
  // rolled back when the store is destroyed.
  virtual Result<void> begin_batch() = 0;
  virtual Result<void> commit_batch() = 0;

  // Stores `report` whole, or reports it as a duplicate when a report with
  // the same identity (org_name, report_id, policy domain, begin, end) or the
  // same `content_hash` of its document is already stored (in this batch too).
  virtual Result<StoreOutcome> add_report(const AggregateReport& report,
                                          std::string_view content_hash,
                                          const ReportOrigin& origin) = 0;
  // Logs one input. Reports added since the last log_input() with the same
  // ReportOrigin::path belong to this input and refer to its log row, which
  // add_report() opened provisionally; log them before committing the batch.
  virtual Result<void> log_input(const InputLogEntry& entry) = 0;

  virtual Result<std::vector<ReportSummary>> list_reports(const ReportFilter& filter) = 0;
  virtual Result<std::optional<StoredReport>> load_report(std::int64_t id) = 0;
  virtual Result<Totals> totals() = 0;

  // The derived per-source data analysis keeps beside the reports.
  virtual Summaries& summaries() = 0;
};

}  // namespace dmarcsift::storage
