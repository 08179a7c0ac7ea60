#include "analysis/forecast.hpp"

namespace dmarcsift::analysis {
namespace {

PolicyAction softer(PolicyAction policy) {
  return policy == PolicyAction::reject ? PolicyAction::quarantine : PolicyAction::none;
}

}  // namespace

const char* to_string(ReceiverFamily family) {
  switch (family) {
    case ReceiverFamily::gmail: return "gmail";
    case ReceiverFamily::microsoft: return "microsoft";
    case ReceiverFamily::yahoo: return "yahoo";
    case ReceiverFamily::other: return "other";
  }
  return "other";
}

Outcome forecast(ReceiverFamily family, const ForecastInput& in) {
  if (in.dmarc_pass) return {"delivered", ""};
  const std::string& d = in.domain;
  // A temporary DNS failure is retried later rather than judged.
  if (in.dns_temperror) {
    switch (family) {
      case ReceiverFamily::gmail:
        return {"deferred", "451 4.7.26 Unauthenticated email from " + d +
                                " is not accepted due to domain's DMARC policy, temporary DNS failure"};
      case ReceiverFamily::yahoo: return {"deferred", "451 4.7.0 Temporary error, try again later"};
      case ReceiverFamily::other: return {"deferred", "451 4.7.1 DMARC temporary DNS failure for " + d};
      case ReceiverFamily::microsoft: break;
    }
  }
  // Gmail and Yahoo refuse mail that nothing authenticates, whatever the
  // domain's policy (Gmail since 2024, enforced with 5xx since Nov 2025).
  if (!in.any_auth_pass) {
    if (family == ReceiverFamily::gmail) {
      return {"rejected", "550 5.7.26 This mail has been blocked because the sender is "
                          "unauthenticated. Gmail requires all senders to authenticate with either "
                          "SPF or DKIM."};
    }
    if (family == ReceiverFamily::yahoo) {
      return {"rejected", "550 5.7.9 This mail has been blocked because the sender is unauthenticated."};
    }
  }
  const PolicyAction policy = in.testing ? softer(in.policy) : in.policy;
  switch (policy) {
    case PolicyAction::reject:
      switch (family) {
        case ReceiverFamily::gmail:
          return {"rejected", "550 5.7.26 Unauthenticated email from " + d +
                                  " is not accepted due to domain's DMARC policy"};
        case ReceiverFamily::microsoft:
          return {"rejected", "550 5.7.509 Access denied, sending domain " + d +
                                  " does not pass DMARC verification and has a DMARC policy of reject"};
        case ReceiverFamily::yahoo: return {"rejected", "554 5.7.9 Message not accepted for policy reasons"};
        case ReceiverFamily::other: return {"rejected", "550 5.7.1 Rejected by DMARC policy for " + d};
      }
      break;
    case PolicyAction::quarantine:
      return {family == ReceiverFamily::microsoft ? "quarantined" : "spam folder", ""};
    case PolicyAction::none:
      break;
  }
  return {"delivered", ""};
}

}  // namespace dmarcsift::analysis
