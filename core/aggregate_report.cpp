#include "core/aggregate_report.hpp"

#include <algorithm>

namespace dmarcsift {

void add_warning(std::vector<Warning>& warnings, std::string_view kind, std::string_view detail) {
  auto it = std::find_if(warnings.begin(), warnings.end(),
                         [&](const Warning& w) { return w.kind == kind; });
  if (it != warnings.end()) {
    ++it->count;
    return;
  }
  warnings.push_back(Warning{std::string(kind), std::string(detail), 1});
}

const char* to_string(SchemaFlavour value) {
  switch (value) {
    case SchemaFlavour::draft: return "draft";
    case SchemaFlavour::rfc7489: return "rfc7489";
    case SchemaFlavour::rfc9990: return "rfc9990";
  }
  return "?";
}

const char* to_string(Alignment value) { return value == Alignment::strict ? "s" : "r"; }

const char* to_string(PolicyAction value) {
  switch (value) {
    case PolicyAction::none: return "none";
    case PolicyAction::quarantine: return "quarantine";
    case PolicyAction::reject: return "reject";
  }
  return "?";
}

const char* to_string(Disposition value) {
  switch (value) {
    case Disposition::none: return "none";
    case Disposition::quarantine: return "quarantine";
    case Disposition::reject: return "reject";
    case Disposition::pass: return "pass";
  }
  return "?";
}

const char* to_string(Verdict value) {
  switch (value) {
    case Verdict::pass: return "pass";
    case Verdict::fail: return "fail";
    case Verdict::absent: return "";
  }
  return "?";
}

const char* to_string(OverrideType value) {
  switch (value) {
    case OverrideType::forwarded: return "forwarded";
    case OverrideType::sampled_out: return "sampled_out";
    case OverrideType::trusted_forwarder: return "trusted_forwarder";
    case OverrideType::mailing_list: return "mailing_list";
    case OverrideType::local_policy: return "local_policy";
    case OverrideType::other: return "other";
    case OverrideType::policy_test_mode: return "policy_test_mode";
  }
  return "?";
}

const char* to_string(DkimResult value) {
  switch (value) {
    case DkimResult::none: return "none";
    case DkimResult::pass: return "pass";
    case DkimResult::fail: return "fail";
    case DkimResult::policy: return "policy";
    case DkimResult::neutral: return "neutral";
    case DkimResult::temperror: return "temperror";
    case DkimResult::permerror: return "permerror";
  }
  return "?";
}

const char* to_string(SpfResult value) {
  switch (value) {
    case SpfResult::none: return "none";
    case SpfResult::neutral: return "neutral";
    case SpfResult::pass: return "pass";
    case SpfResult::fail: return "fail";
    case SpfResult::softfail: return "softfail";
    case SpfResult::temperror: return "temperror";
    case SpfResult::permerror: return "permerror";
    case SpfResult::policy: return "policy";
  }
  return "?";
}

const char* to_string(SpfScope value) {
  switch (value) {
    case SpfScope::absent: return "";
    case SpfScope::mfrom: return "mfrom";
    case SpfScope::helo: return "helo";
  }
  return "?";
}

}  // namespace dmarcsift
