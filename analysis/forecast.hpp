#pragma once
// What receivers do with mail that fails DMARC (NOTES §4): per receiver
// family, under a given policy, with the reply a sender's MTA would log.
#include <string>

#include "core/aggregate_report.hpp"

namespace dmarcsift::analysis {

enum class ReceiverFamily { gmail, microsoft, yahoo, other };
const char* to_string(ReceiverFamily family);  // "gmail", "microsoft", "yahoo", "other"

struct ForecastInput {
  std::string domain;              // the From domain, for reply texts
  bool dmarc_pass = false;         // recomputed alignment
  bool any_auth_pass = false;      // SPF or DKIM passes for some domain
  bool dns_temperror = false;      // a temperror kept it from passing
  PolicyAction policy = PolicyAction::none;  // the policy that applies (p, sp or np)
  bool testing = false;            // RFC 9989 t=y: applied one step softer
};

struct Outcome {
  std::string action;  // "delivered", "spam folder", "quarantined", "rejected", "deferred"
  std::string reply;   // SMTP reply with enhanced status code, "" when accepted silently
};

Outcome forecast(ReceiverFamily family, const ForecastInput& input);

}  // namespace dmarcsift::analysis
