// parse_xml_report on arbitrary bytes: it must return a report or an error,
// never crash, leak or read out of bounds, whatever the document. The
// in-place parse of an owned copy, and the parse that reads records a slice
// at a time, must come to the same verdict.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.hpp"
#include "fuzz/fuzz_limits.hpp"
#include "ingest/xml_report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using dmarcsift::fuzz::check;
  const dmarcsift::ingest::Limits limits = dmarcsift::fuzz::small_limits();
  const auto text = dmarcsift::fuzz::as_chars(data, size);
  auto report = dmarcsift::ingest::parse_xml_report(text, "fuzz.xml", limits);
  auto owned = dmarcsift::ingest::parse_owned_xml_report(std::string(text), "fuzz.xml", limits,
                                                         [&] { return std::string(text); });
  // Records read a slice at a time, as large documents are, whenever the
  // layout allows: the same verdict and the same report.
  dmarcsift::ingest::Limits sliced_limits = limits;
  sliced_limits.sliced_xml_bytes = 0;
  auto sliced = dmarcsift::ingest::parse_xml_report(text, "fuzz.xml", sliced_limits);
  check(owned.has_value() == report.has_value(), "the in-place parse accepts the same documents");
  check(sliced.has_value() == report.has_value(), "the sliced parse accepts the same documents");
  if (!report) {
    check(!report.error().what.empty(), "an error says what went wrong");
    check(owned.error().what == report.error().what, "the in-place parse gives the same error");
    check(sliced.error().what == report.error().what, "the sliced parse gives the same error");
    return 0;
  }
  check(*owned == *report, "the in-place parse reads the same report");
  check(*sliced == *report, "the sliced parse reads the same report");
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
