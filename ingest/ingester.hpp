#pragma once
// The ingest driver: reads files, directories, mailboxes and stdin, unpacks
// every container, parses every report and stores it, accounting for every
// input. Libraries never print: progress goes through a callback.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "ingest/limits.hpp"
#include "storage/store.hpp"

namespace dmarcsift::ingest {

struct IngestProgress {
  std::int64_t inputs = 0;
  std::int64_t reports_stored = 0;
  std::int64_t records_stored = 0;
  std::string current;  // the input being read
};
using ProgressFn = std::function<void(const IngestProgress&)>;

// An input, or an entry inside one, that was not stored, and why.
struct InputProblem {
  std::string path;
  std::string entry;  // "" for the input itself
  std::string reason;
};

struct IngestSummary {
  // Inputs are files, plus each message of an mbox; they add up as
  // inputs == stored + duplicate + rejected + no_report.
  std::int64_t inputs = 0;
  std::int64_t inputs_stored = 0;     // at least one report stored from it
  std::int64_t inputs_duplicate = 0;  // only reports already stored
  std::int64_t inputs_rejected = 0;   // nothing usable
  std::int64_t inputs_no_report = 0;  // e-mails that carry no aggregate report
  std::int64_t reports_stored = 0;
  std::int64_t duplicate_reports = 0;
  std::int64_t records_stored = 0;
  std::int64_t messages_stored = 0;  // sum of <count> over stored records
  std::int64_t emails_stored = 0;    // e-mails that carried a stored report
  std::vector<InputProblem> rejected;  // rejected inputs and rejected entries of stored ones
  std::vector<InputProblem> skipped;   // e-mails without a report
  std::map<std::string, std::int64_t> warnings;  // tolerated deviations by kind
};

struct IngestOptions {
  Limits limits;
  ProgressFn progress;            // called after each input; may be empty
  std::int64_t batch_records = 50000;  // records per transaction (also capped by reports)
  unsigned threads = 0;                // threads reading inputs; 0 = one per core
  // Workers start no new chunk of inputs while the parsed ones waiting to be
  // stored hold more records than this: counted in chunks alone, read-ahead
  // of the largest reports seen (79,000 records, some 700 bytes each once
  // parsed) could hold 200 MB.
  std::size_t records_ahead = 50000;
  // Nor unpack an input while its documents and those of every chunk not
  // yet stored would exceed this many bytes (declared_unpacked_bytes()),
  // unless it belongs to the oldest chunk not stored. A report's text and
  // its parsed records take about twice its size, and the 10M-record
  // corpus has 53 MB reports next to each other.
  std::uint64_t documents_ahead_bytes = 64ull << 20;
};

class Ingester {
 public:
  Ingester(storage::Store& store, IngestOptions options);
  ~Ingester();
  Ingester(const Ingester&) = delete;
  Ingester& operator=(const Ingester&) = delete;

  // A file (container sniffed from its bytes) or a directory, walked
  // recursively in name order; a Maildir's tmp/ is skipped. Inputs are read
  // on worker threads and stored on the calling thread in walk order.
  // Problems with an input (unreadable, corrupt, not a report) are recorded
  // in the summary; the Result fails only when the run must stop (database).
  Result<void> ingest_path(const std::filesystem::path& path);
  // Input already in memory (stdin); `name` labels it in messages.
  Result<void> ingest_bytes(std::string_view name, std::string bytes);
  // Commits what is pending. Call once at the end.
  Result<void> finish();

  const IngestSummary& summary() const;

 private:
  class Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace dmarcsift::ingest
