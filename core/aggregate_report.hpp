#pragma once
// The parsed, validated, normalized DMARC aggregate report: independent of
// XML and of SQL. Strings are trimmed; domains are lower-case without a
// trailing dot; enumerations are closed sets (synonyms already mapped).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/ip_address.hpp"

namespace dmarcsift {

// Which schema the document follows (NOTES §1): RFC 9990 when it is in the
// dmarc-2.0 namespace or carries generator/np/testing/discovery_method;
// RFC 7489 when it has <version>; otherwise the pre-RFC draft layout.
enum class SchemaFlavour : std::uint8_t { draft, rfc7489, rfc9990 };
enum class Alignment : std::uint8_t { relaxed, strict };
enum class PolicyAction : std::uint8_t { none, quarantine, reject };
enum class Disposition : std::uint8_t { none, quarantine, reject, pass };
enum class Verdict : std::uint8_t { pass, fail, absent };  // policy_evaluated dkim/spf
enum class OverrideType : std::uint8_t {
  forwarded, sampled_out, trusted_forwarder, mailing_list, local_policy, other, policy_test_mode
};
enum class DkimResult : std::uint8_t { none, pass, fail, policy, neutral, temperror, permerror };
enum class SpfResult : std::uint8_t {
  none, neutral, pass, fail, softfail, temperror, permerror, policy
};
enum class SpfScope : std::uint8_t { absent, mfrom, helo };

struct DateRange {
  std::int64_t begin = 0;  // UTC epoch seconds, as reported
  std::int64_t end = 0;
  friend bool operator==(const DateRange&, const DateRange&) = default;
};

struct ReportMetadata {
  std::string org_name;  // falls back to the email's domain when empty
  std::string email;
  std::string extra_contact_info;
  std::string report_id;  // as written (angle brackets kept)
  DateRange date_range;
  std::vector<std::string> errors;
  std::string generator;  // RFC 9990
  std::string version;    // empty when absent
  friend bool operator==(const ReportMetadata&, const ReportMetadata&) = default;
};

struct PolicyPublished {
  std::string domain;
  Alignment adkim = Alignment::relaxed;  // absent means relaxed
  Alignment aspf = Alignment::relaxed;
  bool adkim_present = false;
  bool aspf_present = false;
  PolicyAction p = PolicyAction::none;
  std::optional<PolicyAction> sp;
  std::optional<PolicyAction> np;
  std::optional<int> pct;
  std::string fo;  // empty when absent
  std::optional<bool> testing;  // RFC 9990 t=y / t=n
  std::string discovery_method;  // RFC 9990: psl | treewalk, empty when absent
  friend bool operator==(const PolicyPublished&, const PolicyPublished&) = default;
};

struct PolicyOverride {
  OverrideType type = OverrideType::other;
  std::string comment;
  friend bool operator==(const PolicyOverride&, const PolicyOverride&) = default;
};

struct DkimAuth {
  std::string domain;
  std::string selector;
  DkimResult result = DkimResult::none;
  std::string human_result;
  friend bool operator==(const DkimAuth&, const DkimAuth&) = default;
};

struct SpfAuth {
  std::string domain;
  SpfScope scope = SpfScope::absent;
  SpfResult result = SpfResult::none;
  std::string human_result;
  friend bool operator==(const SpfAuth&, const SpfAuth&) = default;
};

struct Record {
  IpAddress source_ip;
  std::int64_t count = 0;
  Disposition disposition = Disposition::none;
  Verdict dkim = Verdict::absent;
  Verdict spf = Verdict::absent;
  std::vector<PolicyOverride> reasons;
  std::string header_from;
  std::string envelope_from;
  std::string envelope_to;
  std::vector<DkimAuth> dkim_results;
  std::vector<SpfAuth> spf_results;
  friend bool operator==(const Record&, const Record&) = default;
};

// A tolerated deviation. `kind` is a stable key (e.g. "whitespace_padding",
// "missing_version", "record_dropped"); `detail` names the first occurrence.
struct Warning {
  std::string kind;
  std::string detail;
  int count = 1;
  friend bool operator==(const Warning&, const Warning&) = default;
};

struct AggregateReport {
  SchemaFlavour schema = SchemaFlavour::draft;
  ReportMetadata metadata;
  PolicyPublished policy;
  std::vector<Record> records;
  std::vector<Warning> warnings;  // one entry per kind, counted
  friend bool operator==(const AggregateReport&, const AggregateReport&) = default;
};

// Adds one occurrence of `kind`, keeping the first `detail` seen.
void add_warning(std::vector<Warning>& warnings, std::string_view kind, std::string_view detail);

// Lower-case names as the schema spells them ("quarantine", "mfrom", ...).
const char* to_string(SchemaFlavour value);
const char* to_string(Alignment value);  // "r" / "s"
const char* to_string(PolicyAction value);
const char* to_string(Disposition value);
const char* to_string(Verdict value);
const char* to_string(OverrideType value);
const char* to_string(DkimResult value);
const char* to_string(SpfResult value);
const char* to_string(SpfScope value);

}  // namespace dmarcsift
