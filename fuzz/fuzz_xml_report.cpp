// parse_xml_report on arbitrary bytes: it must return a report or an error,
// never crash, leak or read out of bounds, whatever the document.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_check.hpp"
#include "fuzz/fuzz_limits.hpp"
#include "ingest/xml_report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using dmarcsift::fuzz::check;
  const dmarcsift::ingest::Limits limits = dmarcsift::fuzz::small_limits();
  auto report = dmarcsift::ingest::parse_xml_report(dmarcsift::fuzz::as_chars(data, size),
                                                    "fuzz.xml", limits);
  if (!report) {
    check(!report.error().what.empty(), "an error says what went wrong");
    return 0;
  }
  // The header's contract: a report has these, or parsing fails.
  check(!report->metadata.org_name.empty(), "a parsed report has a reporter");
  check(!report->metadata.report_id.empty(), "a parsed report has a report_id");
  check(!report->policy.domain.empty(), "a parsed report has a policy domain");
  check(size <= limits.max_xml_bytes, "a parsed report keeps max_xml_bytes");
  check(report->records.size() <= limits.max_records, "a parsed report keeps max_records");
  for (const dmarcsift::Record& record : report->records) {
    check(record.count >= 0, "a record's count is not negative");
  }
  for (const dmarcsift::Warning& warning : report->warnings) {
    check(!warning.kind.empty() && warning.count >= 1, "a warning has a kind and a count");
  }
  return 0;
}
