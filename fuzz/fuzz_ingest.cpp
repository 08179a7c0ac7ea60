// The whole ingest of one input into a fresh in-memory database, as
// `dmarcsift ingest -` would do it, then reading back what was stored.
// A database error is a finding too: untrusted bytes must never stop a run.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.hpp"
#include "fuzz/fuzz_limits.hpp"
#include "ingest/ingester.hpp"
#include "storage/sqlite/sqlite_store.hpp"

namespace {

using dmarcsift::fuzz::check;

std::string describe(const dmarcsift::Error& error) { return error.where + ": " + error.what; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto store = dmarcsift::storage::open_sqlite_store(":memory:");
  if (!store) dmarcsift::fuzz::fail("open_sqlite_store(:memory:)", describe(store.error()));

  dmarcsift::ingest::IngestOptions options;
  options.limits = dmarcsift::fuzz::small_limits();
  options.threads = 1;  // deterministic: no worker threads
  dmarcsift::ingest::Ingester ingester(**store, options);
  if (auto read = ingester.ingest_bytes("(stdin)", std::string(dmarcsift::fuzz::as_chars(data, size)));
      !read) {
    dmarcsift::fuzz::fail("ingest_bytes", describe(read.error()));
  }
  if (auto finished = ingester.finish(); !finished) {
    dmarcsift::fuzz::fail("finish", describe(finished.error()));
  }

  // ingester.hpp: inputs == stored + duplicate + rejected + no_report.
  const dmarcsift::ingest::IngestSummary& summary = ingester.summary();
  check(summary.inputs >= 1, "every input is counted");
  check(summary.inputs == summary.inputs_stored + summary.inputs_duplicate +
                              summary.inputs_rejected + summary.inputs_no_report,
        "the input outcomes add up");

  auto totals = (*store)->totals();
  if (!totals) dmarcsift::fuzz::fail("totals", describe(totals.error()));
  check(totals->reports == summary.reports_stored, "totals() counts the stored reports");
  check(totals->records == summary.records_stored, "totals() counts the stored records");
  check(totals->messages == summary.messages_stored, "totals() counts the stored messages");

  auto reports = (*store)->list_reports({});
  if (!reports) dmarcsift::fuzz::fail("list_reports", describe(reports.error()));
  check(static_cast<std::int64_t>(reports->size()) == summary.reports_stored,
        "list_reports() lists the stored reports");
  for (const dmarcsift::storage::ReportSummary& listed : *reports) {
    auto loaded = (*store)->load_report(listed.id);
    if (!loaded) dmarcsift::fuzz::fail("load_report", describe(loaded.error()));
    check(loaded->has_value(), "a listed report loads");
    check(static_cast<std::int64_t>((*loaded)->report.records.size()) == listed.records,
          "a loaded report has the records listed");
  }
  return 0;
}
