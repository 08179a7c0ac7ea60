#include "analysis/authorized.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "analysis/findings.hpp"
#include "analysis/sources.hpp"
#include "tests/support/temp_dir.hpp"

using namespace dmarcsift;
using namespace dmarcsift::analysis;

namespace {

const SenderCatalog& catalog() {
  static const SenderCatalog k_catalog = SenderCatalog::builtin();
  return k_catalog;
}

Declarations parsed(std::string_view text) {
  auto declarations = Declarations::parse(text, "authorized.conf", catalog());
  REQUIRE_MESSAGE(declarations.has_value(), to_string(declarations.error()));
  return std::move(*declarations);
}

std::string parse_error(std::string_view text) {
  auto declarations = Declarations::parse(text, "authorized.conf", catalog());
  REQUIRE_FALSE(declarations.has_value());
  CHECK(declarations.error().code == Errc::bad_input);
  return to_string(declarations.error());
}

// A (source IP, header_from) row as the sources pass gives it, failing
// `failing` of its `messages`.
SourceRow source(std::string_view domain, std::string_view ip, std::string_view service = "",
                 std::int64_t messages = 10, std::int64_t failing = 10) {
  SourceRow row;
  row.policy_domain = domain;
  row.header_from = domain;
  row.source_ip = ip;
  row.address = *IpAddress::parse(ip);
  row.service = service;
  row.sender = service.empty() ? nullptr : catalog().find(service);
  row.messages = messages;
  row.dmarc_pass_messages = messages - failing;
  row.category = GroupClass::misaligned;
  return row;
}

// "declared SendGrid (authorized.conf:2)", "undeclared" or "n/a".
std::string verdict(const Declarations& declarations, const SourceRow& row) {
  const auto found = declarations.authorize(row);
  if (!found) return "n/a";
  if (!found->declared) return "undeclared";
  return "declared " + found->declared_as + " for " + found->declared_for + " (" + found->declared_at + ")";
}

std::vector<std::string> keys(const SourceRow& row) {
  std::vector<std::string> out;
  for (const Diagnosis& d : row.diagnosis) out.push_back(d.key);
  return out;
}

}  // namespace

TEST_CASE("a declarations file: comments, several lines per domain, * and CIDR ranges") {
  const Declarations declarations = parsed(
      "\xEF\xBB\xBF# services we send through\r\n"
      "example.com\tSendGrid, 192.0.2.0/24   # marketing and the office\r\n"
      "\n"
      "   # an indented comment\n"
      "Example.COM.   mailchimp,2001:DB8:10::/48\n"
      "example.net 198.51.100.7\n"
      "*  Google Workspace\n");
  CHECK(declarations.origin() == "authorized.conf");
  struct Row {
    const char* domain;
    const char* ip;
    const char* service;
    const char* want;
  };
  const Row rows[] = {
      {"example.com", "203.0.113.5", "SendGrid", "declared SendGrid for example.com (authorized.conf:2)"},
      {"example.com", "192.0.2.200", "", "declared 192.0.2.0/24 for example.com (authorized.conf:2)"},
      {"example.com", "203.0.113.5", "Mailchimp", "declared Mailchimp for example.com (authorized.conf:5)"},
      {"example.com", "2001:db8:10:ff::1", "", "declared 2001:db8:10::/48 for example.com (authorized.conf:5)"},
      {"example.com", "2001:db8:11::1", "", "undeclared"},
      {"example.com", "203.0.113.5", "Google Workspace", "declared Google Workspace for * (authorized.conf:7)"},
      {"example.net", "198.51.100.7", "", "declared 198.51.100.7 for example.net (authorized.conf:6)"},
      {"example.net", "198.51.100.8", "SendGrid", "undeclared"},
      {"example.org", "203.0.113.5", "Google Workspace", "declared Google Workspace for * (authorized.conf:7)"},
      {"example.org", "203.0.113.5", "", "undeclared"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.domain);
    CAPTURE(r.ip);
    CAPTURE(r.service);
    CHECK(verdict(declarations, source(r.domain, r.ip, r.service)) == r.want);
  }
}

TEST_CASE("nothing declared for a domain, nor for *: not applicable") {
  const Declarations declarations = parsed("example.com SendGrid\n");
  CHECK(verdict(declarations, source("example.org", "192.0.2.1", "SendGrid")) == "n/a");
  CHECK(verdict(parsed("# nothing yet\n\n"), source("example.com", "192.0.2.1")) == "n/a");
  // Roll-ups mix sources or domains: there is no single source to judge.
  SourceRow by_ip = source("example.com", "192.0.2.1", "SendGrid");
  by_ip.policy_domain.clear();
  CHECK(verdict(declarations, by_ip) == "n/a");
  SourceRow by_domain = source("example.com", "192.0.2.1", "SendGrid");
  by_domain.source_ip.clear();
  by_domain.address = IpAddress();
  CHECK(verdict(declarations, by_domain) == "n/a");
}

TEST_CASE("services match ignoring case; the catalog's spelling is shown") {
  const Declarations declarations = parsed("example.com sendgrid, AMAZON SES\n");
  CHECK(verdict(declarations, source("example.com", "192.0.2.1", "SendGrid")) ==
        "declared SendGrid for example.com (authorized.conf:1)");
  CHECK(verdict(declarations, source("example.com", "192.0.2.1", "Amazon SES")) ==
        "declared Amazon SES for example.com (authorized.conf:1)");
  CHECK(verdict(declarations, source("example.com", "192.0.2.1", "Mailgun")) == "undeclared");
  CHECK(verdict(declarations, source("example.com", "192.0.2.1")) == "undeclared");
}

TEST_CASE("range edges: /0, /32, /128, families apart, IPv4-mapped IPv6") {
  struct Row {
    const char* range;
    const char* ip;
    bool declared;
  };
  const Row rows[] = {
      {"0.0.0.0/0", "255.255.255.255", true},
      {"0.0.0.0/0", "0.0.0.0", true},
      {"0.0.0.0/0", "2001:db8::1", false},
      {"::/0", "2001:db8::1", true},
      {"::/0", "192.0.2.1", false},
      {"192.0.2.7/32", "192.0.2.7", true},
      {"192.0.2.7/32", "192.0.2.6", false},
      {"192.0.2.7", "192.0.2.7", true},
      {"192.0.2.7", "192.0.2.8", false},
      {"192.0.2.128/25", "192.0.2.128", true},
      {"192.0.2.128/25", "192.0.2.255", true},
      {"192.0.2.128/25", "192.0.2.127", false},
      {"198.51.96.0/20", "198.51.111.255", true},
      {"198.51.96.0/20", "198.51.112.0", false},
      {"2001:db8::1/128", "2001:db8::1", true},
      {"2001:db8::1/128", "2001:db8::2", false},
      {"2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true},
      {"2001:db8::/32", "2001:db9::", false},
      {"2001:db8:0:2::/63", "2001:db8:0:3:ffff::", true},
      {"2001:db8:0:2::/63", "2001:db8:0:4::", false},
      {"192.0.2.0/24", "::ffff:192.0.2.9", true},
      {"192.0.2.0/24", "::ffff:192.0.3.9", false},
  };
  for (const Row& r : rows) {
    CAPTURE(r.range);
    CAPTURE(r.ip);
    const Declarations declarations = parsed(std::string("example.com ") + r.range + "\n");
    const auto found = declarations.authorize(source("example.com", r.ip));
    REQUIRE(found.has_value());
    CHECK(found->declared == r.declared);
  }
}

TEST_CASE("the declared service wins over a range, the most specific range over a wider one") {
  const Declarations declarations = parsed(
      "*           192.0.2.0/26\n"
      "example.com 192.0.2.0/24, 192.0.2.0/28\n"
      "example.com 192.0.2.0/25, SendGrid\n");
  CHECK(verdict(declarations, source("example.com", "192.0.2.3")) ==
        "declared 192.0.2.0/28 for example.com (authorized.conf:2)");
  CHECK(verdict(declarations, source("example.com", "192.0.2.40")) ==
        "declared 192.0.2.0/26 for * (authorized.conf:1)");
  CHECK(verdict(declarations, source("example.com", "192.0.2.100")) ==
        "declared 192.0.2.0/25 for example.com (authorized.conf:3)");
  CHECK(verdict(declarations, source("example.com", "192.0.2.200")) ==
        "declared 192.0.2.0/24 for example.com (authorized.conf:2)");
  CHECK(verdict(declarations, source("example.com", "192.0.2.3", "SendGrid")) ==
        "declared SendGrid for example.com (authorized.conf:3)");
}

TEST_CASE("mistakes in a declarations file name the file, the line and the item") {
  struct Row {
    const char* text;
    const char* error;
  };
  const Row rows[] = {
      {"# ours\nexample.com SendGrid, Sendgird\n",
       "authorized.conf:2: unknown service \"Sendgird\" (did you mean \"SendGrid\"?)"},
      {"example.com mailchmp\n", "authorized.conf:1: unknown service \"mailchmp\" (did you mean \"Mailchimp\"?)"},
      {"example.com Amazon\n", "authorized.conf:1: unknown service \"Amazon\" (did you mean \"Amazon SES\"?)"},
      {"example.com Acme Mailer\n",
       "authorized.conf:1: unknown service \"Acme Mailer\" (not in the sender catalog; add it with "
       "--senders FILE, or declare its IP ranges)"},
      {"example.com 192.0.2.300/24\n", "authorized.conf:1: \"192.0.2.300/24\" is not an IP address or CIDR range"},
      {"example.com 192.0.2.0/\n", "authorized.conf:1: \"192.0.2.0/\" is not an IP address or CIDR range"},
      {"example.com 192.0.2.0/-1\n", "authorized.conf:1: \"192.0.2.0/-1\" is not an IP address or CIDR range"},
      {"example.com 2001:db8::g\n", "authorized.conf:1: \"2001:db8::g\" is not an IP address or CIDR range"},
      {"example.com 192.0.2.0/33\n",
       "authorized.conf:1: \"192.0.2.0/33\": the prefix length of an IPv4 range is 0 to 32"},
      {"example.com 2001:db8::/129\n",
       "authorized.conf:1: \"2001:db8::/129\": the prefix length of an IPv6 range is 0 to 128"},
      {"example.com 192.0.2.1/24\n",
       "authorized.conf:1: \"192.0.2.1/24\" has host bits set; the range is 192.0.2.0/24"},
      {"example.com 2001:db8::1/32\n",
       "authorized.conf:1: \"2001:db8::1/32\" has host bits set; the range is 2001:db8::/32"},
      {"example.com SendGrid,, Mailchimp\n",
       "authorized.conf:1: empty item in the list (two commas in a row, or a comma at an end)"},
      {"example.com SendGrid,\n",
       "authorized.conf:1: empty item in the list (two commas in a row, or a comma at an end)"},
      {"\n\nexample.com\n",
       "authorized.conf:3: expected a domain, then services and ranges separated by commas"},
      {"example.com   # SendGrid\n",
       "authorized.conf:1: expected a domain, then services and ranges separated by commas"},
      {"example.com: SendGrid\n",
       "authorized.conf:1: \"example.com:\" is not a domain name (or * for every domain)"},
      {"exa..mple.com SendGrid\n",
       "authorized.conf:1: \"exa..mple.com\" is not a domain name (or * for every domain)"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.text);
    CHECK(parse_error(r.text) == r.error);
  }
}

TEST_CASE("a declarations file that cannot be opened is an io error naming it") {
  const testing::TempDir dir;
  const std::string missing = (dir.path() / "nope.conf").string();
  const auto declarations = Declarations::load_file(missing, catalog());
  REQUIRE_FALSE(declarations.has_value());
  CHECK(declarations.error().code == Errc::io);
  CHECK(to_string(declarations.error()) == missing + ": cannot open: No such file or directory");

  const std::string path = dir.write("authorized.conf", "example.com SendGrid\n").string();
  const auto loaded = Declarations::load_file(path, catalog());
  REQUIRE(loaded.has_value());
  CHECK(loaded->origin() == path);
}

TEST_CASE("a service from the user's --senders file can be declared") {
  const testing::TempDir dir;
  SenderCatalog senders = SenderCatalog::builtin();
  REQUIRE(senders.load_file(dir.write("senders.tsv", "Vendor Post\tesp\tvendor-post.example\t-\t-\t-\n").string())
              .has_value());
  auto declarations = Declarations::parse("example.org vendor post\n", "authorized.conf", senders);
  REQUIRE(declarations.has_value());
  SourceRow row = source("example.org", "198.51.100.75");
  row.service = "Vendor Post";
  CHECK(verdict(*declarations, row) == "declared Vendor Post for example.org (authorized.conf:1)");
}

TEST_CASE("declared_service_failing: first in the diagnosis, with the service's fix") {
  const Declarations declarations = parsed("example.net SendGrid\n*\t192.0.2.0/24, 2001:db8:10::/48\n");
  SourceRow row = source("example.net", "198.51.100.20", "SendGrid", 15, 15);
  row.diagnosis = {{"esp_default_dkim", "cause", "fix"}};
  apply_declarations(row, declarations);
  REQUIRE(row.authorization.has_value());
  CHECK(row.authorization->declared);
  CHECK(keys(row) == std::vector<std::string>{"declared_service_failing", "esp_default_dkim"});
  CHECK(row.diagnosis[0].cause ==
        "SendGrid is declared as authorized for example.net (authorized.conf:1), but 15 of 15 messages "
        "from 198.51.100.20 fail DMARC");
  CHECK(row.diagnosis[0].fix ==
        "Authenticate the domain in SendGrid (Settings > Sender Authentication): publish the em####, "
        "s1._domainkey and s2._domainkey CNAMEs; add a custom return path if aspf=s.");

  SUBCASE("a declared range without a known service: the SPF and DKIM to publish") {
    SourceRow own = source("example.com", "192.0.2.60", "", 93, 3);
    own.category = GroupClass::intermittent;
    apply_declarations(own, declarations);
    CHECK(keys(own) == std::vector<std::string>{"declared_service_failing"});
    CHECK(own.diagnosis[0].cause ==
          "192.0.2.0/24 is declared as authorized for every domain (authorized.conf:2), but 3 of 93 "
          "messages from 192.0.2.60 fail DMARC");
    CHECK(own.diagnosis[0].fix ==
          "Add ip4:192.0.2.0/24 to the SPF record of example.com and DKIM-sign the mail sent from "
          "192.0.2.0/24 with d=example.com.");
    SourceRow v6 = source("example.com", "2001:db8:10::25", "", 1, 1);
    apply_declarations(v6, declarations);
    CHECK(v6.diagnosis[0].fix ==
          "Add ip6:2001:db8:10::/48 to the SPF record of example.com and DKIM-sign the mail sent from "
          "2001:db8:10::/48 with d=example.com.");
  }
  SUBCASE("a declared range where a service without a catalog fix sends") {
    SourceRow gateway = source("example.com", "192.0.2.9", "", 4, 4);
    KnownSender relay{"Relay", "gateway", {}, {}, {"relay.example"}, ""};
    gateway.service = "Relay";
    gateway.sender = &relay;
    apply_declarations(gateway, declarations);
    CHECK(gateway.diagnosis[0].fix ==
          "Set up Relay to authenticate as example.com: DKIM with d=example.com and a return path "
          "(MAIL FROM) under example.com.");
  }
  SUBCASE("applied twice, the entry is there once") {
    apply_declarations(row, declarations);
    CHECK(keys(row) == std::vector<std::string>{"declared_service_failing", "esp_default_dkim"});
  }
}

TEST_CASE("undeclared_source: a failing source the owner did not declare") {
  const Declarations declarations = parsed("example.net SendGrid\nexample.com 192.0.2.0/24\n");
  SourceRow mailchimp = source("example.net", "198.51.100.90", "Mailchimp", 230, 230);
  mailchimp.diagnosis = {{"esp_default_dkim", "cause", "fix"}};
  apply_declarations(mailchimp, declarations);
  REQUIRE(mailchimp.authorization.has_value());
  CHECK_FALSE(mailchimp.authorization->declared);
  CHECK(mailchimp.authorization->declared_as == "");
  CHECK(keys(mailchimp) == std::vector<std::string>{"undeclared_source", "esp_default_dkim"});
  CHECK(mailchimp.diagnosis[0].cause ==
        "198.51.100.90 (Mailchimp) is not among the services and ranges declared for example.net "
        "(230 messages fail DMARC)");
  CHECK(mailchimp.diagnosis[0].fix ==
        "If Mailchimp sends for you, declare it in authorized.conf and set up its SPF and DKIM for "
        "example.net; otherwise this mail is not yours: p=quarantine or p=reject stops it.");

  SourceRow spoof = source("example.com", "203.0.113.99", "", 12, 1);
  spoof.category = GroupClass::unauthorized;
  spoof.diagnosis = {{"spoofed", "cause", "fix"}};
  apply_declarations(spoof, declarations);
  CHECK(keys(spoof) == std::vector<std::string>{"undeclared_source", "spoofed"});
  CHECK(spoof.diagnosis[0].cause ==
        "203.0.113.99 is not among the services and ranges declared for example.com (1 message fails DMARC)");
  CHECK(spoof.diagnosis[0].fix ==
        "If 203.0.113.99 sends for you, declare it in authorized.conf and set up its SPF and DKIM for "
        "example.com; otherwise this mail is not yours: p=quarantine or p=reject stops it.");
}

TEST_CASE("sources that pass, forwarders and undeclared domains get no entry") {
  const Declarations declarations = parsed("example.com SendGrid\n");
  SourceRow passing = source("example.com", "198.51.100.20", "SendGrid", 40, 0);
  passing.category = GroupClass::aligned;
  apply_declarations(passing, declarations);
  CHECK(passing.authorization.has_value());
  CHECK(passing.diagnosis.empty());

  SourceRow undeclared_passing = source("example.com", "192.0.2.10", "", 40, 0);
  apply_declarations(undeclared_passing, declarations);
  REQUIRE(undeclared_passing.authorization.has_value());
  CHECK_FALSE(undeclared_passing.authorization->declared);
  CHECK(undeclared_passing.diagnosis.empty());

  SourceRow list = source("example.com", "198.51.100.36", "", 20, 20);
  list.category = GroupClass::forwarded;
  list.diagnosis = {{"forwarded", "cause", "fix"}};
  apply_declarations(list, declarations);
  CHECK(keys(list) == std::vector<std::string>{"forwarded"});

  SourceRow other = source("example.org", "203.0.113.5", "", 5, 5);
  apply_declarations(other, declarations);
  CHECK_FALSE(other.authorization.has_value());
  CHECK(other.diagnosis.empty());
}

TEST_CASE("declarations decide whether failing mail is legitimate, and so its severity") {
  const Declarations declarations = parsed("example.com 192.0.2.0/24\n");
  PolicyPublished reject;
  reject.domain = "example.com";
  reject.p = PolicyAction::reject;
  PolicyPublished none;
  none.domain = "example.com";

  // Nothing passes, so without declarations it reads as spoofing.
  SourceRow own = source("example.com", "192.0.2.25", "", 8, 8);
  own.category = GroupClass::unauthorized;
  own.diagnosis = {{"spoofed", "cause", "fix"}};
  CHECK(assess(own, reject)->severity == Severity::low);
  apply_declarations(own, declarations);
  // Gmail and Yahoo refuse unauthenticated mail whatever the policy.
  CHECK(assess(own, none)->severity == Severity::critical);

  // Authenticated for a service, so without declarations it reads as legitimate.
  SourceRow service = source("example.com", "203.0.113.17", "Google Workspace", 26, 26);
  service.evidence.foreign_pass = 26;
  service.diagnosis = {{"esp_default_dkim", "cause", "fix"}};
  CHECK(assess(service, reject)->severity == Severity::critical);
  CHECK(assess(service, none)->severity == Severity::high);
  SourceRow declared = service;
  apply_declarations(service, declarations);
  CHECK(assess(service, reject)->severity == Severity::low);
  CHECK(assess(service, none)->severity == Severity::medium);
  apply_declarations(declared, parsed("example.com Google Workspace\n"));
  CHECK(assess(declared, reject)->severity == Severity::critical);
  CHECK(assess(declared, none)->severity == Severity::high);

  // An undeclared source that failed without a diagnosis still becomes a finding.
  SourceRow quiet = source("example.com", "203.0.113.7", "", 3, 1);
  quiet.category = GroupClass::intermittent;
  CHECK_FALSE(assess(quiet, none).has_value());
  apply_declarations(quiet, declarations);
  REQUIRE(assess(quiet, none).has_value());
  CHECK(assess(quiet, none)->severity == Severity::medium);
}
