#pragma once
#include <string>
#include <string_view>

#include "core/aggregate_report.hpp"
#include "core/result.hpp"
#include "ingest/limits.hpp"

namespace dmarcsift::ingest {

// Parses one aggregate report held in memory. `origin` names it in errors
// ("mail.eml > report.zip > a.xml"). Accepts RFC 7489, DMARCbis (RFC 9990)
// and the pre-RFC draft layout, by local element name, namespace or not.
// Each tolerated deviation (NOTES §6) is counted in `AggregateReport::warnings`;
// a record without a valid source_ip or count is dropped with a
// "record_dropped" warning. Errors: not well-formed XML even after the named
// repairs, or not a DMARC aggregate report (no feedback root, report_id,
// reporter, numeric date_range or policy domain), and hostile documents:
// a DOCTYPE declaration (entities are never expanded), or more bytes,
// element nesting or records than `limits` allows (max_xml_bytes,
// max_xml_depth, max_records; the other limits are for containers).
Result<AggregateReport> parse_xml_report(std::string_view xml, std::string_view origin,
                                         const Limits& limits = Limits{});

}  // namespace dmarcsift::ingest
