// parse_xml_report on arbitrary bytes: it must return a report or an error,
// never crash, leak or read out of bounds, whatever the document.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_check.hpp"
#include "ingest/xml_report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using dmarcsift::fuzz::check;
  auto report = dmarcsift::ingest::parse_xml_report(dmarcsift::fuzz::as_chars(data, size),
                                                    "fuzz.xml");
  if (!report) {
    check(!report.error().what.empty(), "an error says what went wrong");
    return 0;
  }
  // The header's contract: a report has these, or parsing fails.
  check(!report->metadata.org_name.empty(), "a parsed report has a reporter");
  check(!report->metadata.report_id.empty(), "a parsed report has a report_id");
  check(!report->policy.domain.empty(), "a parsed report has a policy domain");
  for (const dmarcsift::Record& record : report->records) {
    check(record.count >= 0, "a record's count is not negative");
  }
  for (const dmarcsift::Warning& warning : report->warnings) {
    check(!warning.kind.empty() && warning.count >= 1, "a warning has a kind and a count");
  }
  return 0;
}
