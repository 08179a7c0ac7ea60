#include "analysis/forecast.hpp"

#include <doctest/doctest.h>

using namespace dmarcsift;
using namespace dmarcsift::analysis;

TEST_CASE("each receiver family's reply when DMARC fails under p=reject") {
  ForecastInput in;
  in.domain = "example.com";
  in.any_auth_pass = true;  // an ESP passing for its own domain
  in.policy = PolicyAction::reject;
  struct Row { ReceiverFamily family; const char* action; const char* reply; };
  const Row rows[] = {
      {ReceiverFamily::gmail, "rejected",
       "550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy"},
      {ReceiverFamily::microsoft, "rejected",
       "550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and "
       "has a DMARC policy of reject"},
      {ReceiverFamily::yahoo, "rejected", "554 5.7.9 Message not accepted for policy reasons"},
      {ReceiverFamily::other, "rejected", "550 5.7.1 Rejected by DMARC policy for example.com"},
  };
  for (const Row& r : rows) {
    CAPTURE(to_string(r.family));
    const Outcome out = forecast(r.family, in);
    CHECK(out.action == r.action);
    CHECK(out.reply == r.reply);
  }
}

TEST_CASE("unauthenticated mail is refused by Gmail and Yahoo even at p=none") {
  ForecastInput in;
  in.domain = "example.com";
  in.policy = PolicyAction::none;
  CHECK(forecast(ReceiverFamily::gmail, in).reply ==
        "550 5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires "
        "all senders to authenticate with either SPF or DKIM.");
  CHECK(forecast(ReceiverFamily::yahoo, in).reply ==
        "550 5.7.9 This mail has been blocked because the sender is unauthenticated.");
  CHECK(forecast(ReceiverFamily::microsoft, in).action == "delivered");
  CHECK(forecast(ReceiverFamily::other, in).action == "delivered");
}

TEST_CASE("quarantine, testing mode, temporary errors and passing mail") {
  ForecastInput in;
  in.domain = "example.com";
  in.any_auth_pass = true;
  in.policy = PolicyAction::quarantine;
  CHECK(forecast(ReceiverFamily::gmail, in).action == "spam folder");
  CHECK(forecast(ReceiverFamily::microsoft, in).action == "quarantined");
  CHECK(forecast(ReceiverFamily::gmail, in).reply.empty());
  in.policy = PolicyAction::reject;
  in.testing = true;  // t=y: reject applied as quarantine
  CHECK(forecast(ReceiverFamily::yahoo, in).action == "spam folder");
  in.testing = false;
  in.dns_temperror = true;
  CHECK(forecast(ReceiverFamily::gmail, in).reply ==
        "451 4.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC "
        "policy, temporary DNS failure");
  CHECK(forecast(ReceiverFamily::microsoft, in).reply.rfind("550 5.7.509", 0) == 0);
  in.dmarc_pass = true;
  CHECK(forecast(ReceiverFamily::gmail, in).action == "delivered");
  CHECK(forecast(ReceiverFamily::gmail, in).reply.empty());
}
