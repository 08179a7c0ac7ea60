#pragma once
#include <functional>
#include <optional>
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

// The same for a document the caller no longer needs. UTF-8 that needs no
// decoding, nearly every report, is parsed in `xml` itself rather than in a
// copy, and `xml` is overwritten. `reread` is called for the document again
// only when pugixml refuses one that passed the strict checks: the repairs
// need the original text, and there is no second copy to take it from.
Result<AggregateReport> parse_owned_xml_report(std::string&& xml, std::string_view origin,
                                               const Limits& limits,
                                               const std::function<std::string()>& reread);

namespace detail {
// The way both read documents of `limits.sliced_xml_bytes` or more: their
// records a slice at a time, for the plain layout only, and nullopt for any
// other or anything not read cleanly, which is then parsed whole. Exposed
// for tests, which check which documents take it and that it agrees with
// the whole parse.
std::optional<AggregateReport> parse_in_slices(std::string_view xml, std::string_view origin,
                                               const Limits& limits);
}  // namespace detail

}  // namespace dmarcsift::ingest
