#include "analysis/identify.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/temp_dir.hpp"

namespace dmarcsift::analysis::detail {
extern const std::string_view k_builtin_senders_text;  // generated senders_data.cpp
}

using dmarcsift::DkimAuth;
using dmarcsift::DkimResult;
using dmarcsift::Errc;
using dmarcsift::Record;
using dmarcsift::SpfAuth;
using dmarcsift::SpfResult;
using dmarcsift::SpfScope;
using dmarcsift::analysis::KnownSender;
using dmarcsift::analysis::parse_sender_catalog;
using dmarcsift::analysis::PublicSuffixList;
using dmarcsift::analysis::SenderCatalog;
using dmarcsift::analysis::SenderMemo;

namespace {

PublicSuffixList system_list() {
  auto psl = PublicSuffixList::load();
  REQUIRE_MESSAGE(psl.has_value(), dmarcsift::to_string(psl.error()));
  return std::move(*psl);
}

struct Dkim {
  std::string domain;
  DkimResult result;
};
struct Spf {
  std::string domain;
  SpfResult result;
};

Record make_record(const std::vector<Dkim>& dkim, const std::vector<Spf>& spf, std::string envelope_from = "") {
  Record record;
  record.header_from = "example.com";
  record.envelope_from = std::move(envelope_from);
  for (const Dkim& d : dkim) record.dkim_results.push_back(DkimAuth{d.domain, "s1", d.result, ""});
  for (const Spf& s : spf) record.spf_results.push_back(SpfAuth{s.domain, SpfScope::mfrom, s.result, ""});
  return record;
}

std::string name_of(const KnownSender* sender) { return sender ? sender->name : "(none)"; }

// A catalog holding only the entries of `text`.
SenderCatalog catalog_from(const dmarcsift::testing::TempDir& dir, std::string_view text) {
  SenderCatalog catalog;
  const auto loaded = catalog.load_file(dir.write("senders.tsv", text).string());
  REQUIRE_MESSAGE(loaded.has_value(), dmarcsift::to_string(loaded.error()));
  return catalog;
}

}  // namespace

TEST_CASE("every line of the built-in catalog parses into unique, complete entries") {
  const auto parsed = parse_sender_catalog(dmarcsift::analysis::detail::k_builtin_senders_text, "senders.tsv");
  REQUIRE_MESSAGE(parsed.has_value(), dmarcsift::to_string(parsed.error()));

  std::size_t data_lines = 0;
  std::string_view text = dmarcsift::analysis::detail::k_builtin_senders_text;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    if (!line.empty() && line.front() != '#') ++data_lines;
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
  CHECK(parsed->size() == data_lines);
  CHECK(parsed->size() >= 30);
  CHECK(SenderCatalog::builtin().senders().size() == parsed->size());

  const std::set<std::string> categories = {"mailbox_provider", "esp",       "marketing", "crm",
                                            "helpdesk",         "ecommerce", "saas",      "gateway"};
  std::set<std::string> names;
  std::set<std::string> dkim_patterns;
  std::set<std::string> bounce_patterns;
  for (const KnownSender& sender : *parsed) {
    CAPTURE(sender.name);
    CHECK(names.insert(sender.name).second);
    CHECK(categories.count(sender.category) == 1);
    CHECK(!sender.fix.empty());
    // No pattern belongs to two entries, so identification never depends on line order.
    for (const std::string& d : sender.dkim_domains) CHECK_MESSAGE(dkim_patterns.insert(d).second, d);
    for (const std::string& d : sender.bounce_domains) CHECK_MESSAGE(bounce_patterns.insert(d).second, d);
    // NOTES §5: gateways relay the customer's own mail, so only their PTR names them.
    if (sender.category == "gateway") {
      CHECK(sender.dkim_domains.empty());
      CHECK(sender.bounce_domains.empty());
      CHECK(!sender.ptr_domains.empty());
    }
  }
  for (const char* required :
       {"Google Workspace", "Microsoft 365", "Amazon SES", "SendGrid", "Mailchimp", "Mandrill", "Mailgun",
        "Postmark", "SparkPost", "Salesforce", "Salesforce Marketing Cloud", "Pardot", "HubSpot", "Zendesk",
        "Brevo", "Mailjet", "Constant Contact", "Klaviyo", "Zoho Mail", "ZeptoMail", "Freshdesk", "Atlassian",
        "Intercom", "Shopify", "Marketo", "Oracle Eloqua", "Campaign Monitor", "Proofpoint", "Mimecast",
        "Cisco Secure Email", "Broadcom Email Security.cloud", "Barracuda", "Fastmail", "Yahoo"}) {
    CHECK_MESSAGE(names.count(required) == 1, required);
  }
}

TEST_CASE("a built-in entry keeps its columns as written") {
  const SenderCatalog catalog = SenderCatalog::builtin();
  const KnownSender* mailchimp = nullptr;
  for (const KnownSender& sender : catalog.senders()) {
    if (sender.name == "Mailchimp") mailchimp = &sender;
  }
  REQUIRE(mailchimp != nullptr);
  CHECK(mailchimp->category == "marketing");
  CHECK(mailchimp->dkim_domains == std::vector<std::string>{"mcsv.net"});
  CHECK(mailchimp->bounce_domains == std::vector<std::string>{"mcsv.net", "mcdlv.net", "rsgsv.net"});
  CHECK(mailchimp->ptr_domains == std::vector<std::string>{"mcsv.net", "mcdlv.net", "rsgsv.net"});
  CHECK(mailchimp->fix ==
        "Authenticate the domain in Mailchimp (Website > Domains): publish the k2._domainkey and "
        "k3._domainkey CNAMEs; SPF cannot align because Mailchimp keeps its own return path, so DKIM must.");
}

TEST_CASE("identify() names the service from the default domains the test corpora use") {
  const PublicSuffixList psl = system_list();
  const SenderCatalog catalog = SenderCatalog::builtin();
  constexpr DkimResult pass = DkimResult::pass;
  constexpr DkimResult fail = DkimResult::fail;
  constexpr SpfResult spf_pass = SpfResult::pass;
  constexpr SpfResult spf_fail = SpfResult::fail;
  struct Row {
    const char* label;
    Record record;
    const char* expected;
  };
  const Row rows[] = {
      {"Workspace not set up", make_record({{"example-com.20230601.gappssmtp.com", pass}}, {{"example.com", spf_fail}}),
       "Google Workspace"},
      {"Microsoft 365 not set up", make_record({{"contoso.onmicrosoft.com", pass}}, {{"example.com", spf_fail}}),
       "Microsoft 365"},
      {"SES set up: amazonses.com second signature",
       make_record({{"example.com", pass}, {"amazonses.com", pass}}, {{"mail.example.com", spf_pass}}), "Amazon SES"},
      {"SES not set up: regional bounce only", make_record({}, {{"us-east-1.amazonses.com", spf_pass}}), "Amazon SES"},
      {"Mailchimp set up", make_record({{"example.com", pass}, {"mcsv.net", pass}}, {{"mail123.atl11.mcsv.net", spf_pass}}),
       "Mailchimp"},
      {"Mailchimp bounce only, customer signature failing",
       make_record({{"example.com", fail}}, {{"mail123.atl11.mcsv.net", spf_pass}}), "Mailchimp"},
      {"Mailchimp mcdlv.net bounce", make_record({}, {{"mail45.suw12.mcdlv.net", spf_pass}}), "Mailchimp"},
      {"SendGrid not set up", make_record({{"sendgrid.net", pass}}, {{"sendgrid.net", spf_pass}}), "SendGrid"},
      {"SendGrid strict subdomain", make_record({{"example.com", pass}}, {{"sendgrid.net", spf_pass}}), "SendGrid"},
      {"Postmark", make_record({{"example.com", pass}, {"pm.mtasv.net", pass}}, {{"pm.mtasv.net", spf_pass}}),
       "Postmark"},
      {"Mailgun sandbox", make_record({{"mailgun.org", pass}}, {{"sandbox1a2b3c4d.mailgun.org", spf_pass}}), "Mailgun"},
      {"SparkPost", make_record({{"sparkpostmail.com", pass}}, {{"sparkpostmail.com", spf_pass}}), "SparkPost"},
      {"HubSpot", make_record({{"hubspotemail.net", pass}}, {{"1234567.hubspotemail.net", spf_pass}}), "HubSpot"},
      {"Zendesk", make_record({{"zendesk.com", pass}}, {{"acme.zendesk.com", spf_pass}}), "Zendesk"},
      {"Salesforce VERP bounce, no DKIM", make_record({}, {{"12xa1b2c3.bnc.salesforce.com", spf_pass}}), "Salesforce"},
      {"Brevo signature", make_record({{"sendinblue.com", pass}}, {{"sender-sib.com", spf_pass}}), "Brevo"},
      {"Brevo bounce only", make_record({}, {{"sender-sib.com", spf_pass}}), "Brevo"},
      {"Mailjet", make_record({{"mailjet.com", pass}}, {{"bnc3.mailjet.com", spf_pass}}), "Mailjet"},
      {"Campaign Monitor cmail2", make_record({{"cmail1.com", pass}}, {{"cmail2.com", spf_pass}}), "Campaign Monitor"},
      {"Mandrill", make_record({{"mandrillapp.com", pass}}, {{"mandrillapp.com", spf_pass}}), "Mandrill"},
      {"DKIM outranks SPF, whatever its result", make_record({{"mcsv.net", fail}}, {{"sendgrid.net", spf_pass}}),
       "Mailchimp"},
      {"MAIL FROM given only as envelope_from", make_record({}, {}, "sendgrid.net"), "SendGrid"},
      {"envelope_from written as an address", make_record({}, {}, "bounces+42@sendgrid.net"), "SendGrid"},
      {"envelope_from other than an unknown SPF domain",
       make_record({}, {{"example.com", spf_pass}}, "sendgrid.net"), "SendGrid"},
      {"upper case and a trailing dot", make_record({{"Mail123.ATL11.MCSV.NET.", pass}}, {}), "Mailchimp"},
      {"own domain only", make_record({{"example.com", pass}}, {{"example.com", spf_pass}}, "example.com"), "(none)"},
      {"third-party vendor not in the catalog",
       make_record({{"survey-dispatch.net", pass}}, {{"bounce.survey-dispatch.net", spf_pass}}), "(none)"},
      {"a label boundary is required", make_record({{"notsendgrid.net", pass}}, {{"xmcsv.net", spf_pass}}),
       "(none)"},
      {"the wildcard's own domain", make_record({{"gappssmtp.com", pass}}, {}), "(none)"},
      {"no authentication results", make_record({}, {}), "(none)"},
  };
  // Twice through one memo: the second pass answers from it.
  SenderMemo memo;
  for (int pass_number = 0; pass_number < 2; ++pass_number) {
    for (const Row& row : rows) {
      CAPTURE(row.label);
      CAPTURE(pass_number);
      CHECK(name_of(catalog.identify(psl, row.record)) == row.expected);
      CHECK(name_of(catalog.identify(psl, row.record, &memo)) == row.expected);
    }
  }
}

TEST_CASE("a sender memo answers for the catalog it was filled from only") {
  const dmarcsift::testing::TempDir dir;
  const PublicSuffixList psl = system_list();
  const SenderCatalog first = catalog_from(dir, "First\tesp\tshared.example\t-\t-\t-\n");
  const SenderCatalog second = catalog_from(dir, "Second\tesp\tshared.example\t-\t-\t-\n");
  const SenderCatalog none = catalog_from(dir, "Other\tesp\tother.example\t-\t-\t-\n");
  const Record record = make_record({{"mail.shared.example", DkimResult::pass}}, {});
  SenderMemo memo;
  CHECK(name_of(first.identify(psl, record, &memo)) == "First");
  CHECK(name_of(first.identify(psl, record, &memo)) == "First");
  CHECK(name_of(second.identify(psl, record, &memo)) == "Second");
  CHECK(name_of(none.identify(psl, record, &memo)) == "(none)");
  CHECK(name_of(first.identify(psl, record, &memo)) == "First");
}

TEST_CASE("patterns: *.x matches subdomains only, x matches itself and below, the longest wins") {
  const dmarcsift::testing::TempDir dir;
  const PublicSuffixList psl = system_list();
  const SenderCatalog catalog = catalog_from(dir,
                                             "# test catalog\n"
                                             "Wild\tesp\t*.wild.example\t-\t-\t-\n"
                                             "Plain\tesp\tplain.example\t-\t-\t-\n"
                                             "Deep\tesp\tdeep.plain.example\t-\t-\t-\n"
                                             "Bounce\tesp\t-\tplain.example\t-\t-\n"
                                             "First\tesp\tsame.example\t-\t-\t-\n"
                                             "Second\tesp\tsame.example\t-\t-\t-\n"
                                             "Three\tesp\ta.b.three.example\t-\t-\t-\n");
  struct Row {
    const char* dkim_domain;
    const char* expected;
  };
  const Row rows[] = {
      {"wild.example", "(none)"},      {"a.wild.example", "Wild"},       {"a.b.wild.example", "Wild"},
      {"plain.example", "Plain"},      {"x.plain.example", "Plain"},     {"deep.plain.example", "Deep"},
      {"x.deep.plain.example", "Deep"}, {"PLAIN.Example.", "Plain"},     {"example", "(none)"},
      {"same.example", "Second"},      {"other.example", "(none)"},      {"", "(none)"},
      // Only the last two labels of a longer pattern are no match.
      {"three.example", "(none)"},     {"b.three.example", "(none)"},    {"x.b.three.example", "(none)"},
      {"a.b.three.example", "Three"},  {"x.a.b.three.example", "Three"}, {"X.A.B.Three.Example.", "Three"},
      {"a..three.example", "(none)"},  {".a.b.three.example", "Three"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.dkim_domain);
    CHECK(name_of(catalog.identify(psl, make_record({{row.dkim_domain, DkimResult::pass}}, {}))) == row.expected);
  }
  // DKIM domains and bounce domains are separate columns: a d= never matches a bounce pattern.
  CHECK(name_of(catalog.identify(psl, make_record({}, {{"x.plain.example", SpfResult::pass}}))) == "Bounce");
}

TEST_CASE("a user file replaces entries by name in place and appends new ones") {
  const dmarcsift::testing::TempDir dir;
  const PublicSuffixList psl = system_list();
  SenderCatalog catalog = SenderCatalog::builtin();
  const SenderCatalog before = catalog;
  const std::size_t builtin_count = catalog.senders().size();
  std::size_t sendgrid_position = 0;
  while (catalog.senders()[sendgrid_position].name != "SendGrid") ++sendgrid_position;

  const auto path = dir.write("mine.tsv",
                              "# our senders\r\n"
                              "SendGrid\tesp\tsendgrid.net\tsendgrid.net,sg.example.org\t-\tAsk ops.\r\n"
                              "\r\n"
                              "Acme Mailer\tcrm\tACME-Mailer.example\t-\tmx.acme-mailer.example\t-\r\n");
  const auto loaded = catalog.load_file(path.string());
  REQUIRE_MESSAGE(loaded.has_value(), dmarcsift::to_string(loaded.error()));

  REQUIRE(catalog.senders().size() == builtin_count + 1);
  const KnownSender& sendgrid = catalog.senders()[sendgrid_position];
  CHECK(sendgrid.name == "SendGrid");
  CHECK(sendgrid.fix == "Ask ops.");
  CHECK(sendgrid.bounce_domains == std::vector<std::string>{"sendgrid.net", "sg.example.org"});
  CHECK(sendgrid.ptr_domains.empty());
  const KnownSender& acme = catalog.senders().back();
  CHECK(acme.name == "Acme Mailer");
  CHECK(acme.category == "crm");
  CHECK(acme.dkim_domains == std::vector<std::string>{"acme-mailer.example"});
  CHECK(acme.ptr_domains == std::vector<std::string>{"mx.acme-mailer.example"});
  CHECK(acme.fix.empty());

  CHECK(name_of(catalog.identify(psl, make_record({{"mta1.acme-mailer.example", DkimResult::pass}}, {}))) ==
        "Acme Mailer");
  const KnownSender* by_bounce = catalog.identify(psl, make_record({}, {{"bounce.sg.example.org", SpfResult::pass}}));
  CHECK(by_bounce == &sendgrid);
  // A copy taken before the load keeps its own entries and index.
  CHECK(before.senders().size() == builtin_count);
  CHECK(name_of(before.identify(psl, make_record({{"acme-mailer.example", DkimResult::pass}}, {}))) == "(none)");
  CHECK(name_of(before.identify(psl, make_record({{"sendgrid.net", DkimResult::pass}}, {}))) == "SendGrid");
}

TEST_CASE("a file that fails to load leaves the catalog as it was") {
  const dmarcsift::testing::TempDir dir;
  SenderCatalog catalog = SenderCatalog::builtin();
  const std::size_t count = catalog.senders().size();

  const auto bad = dir.write("bad.tsv", "New One\tesp\tnew.example\t-\t-\t-\nBroken\tesp\n");
  const auto parse_error = catalog.load_file(bad.string());
  REQUIRE(!parse_error.has_value());
  CHECK(parse_error.error().code == Errc::bad_input);
  CHECK(dmarcsift::to_string(parse_error.error()) ==
        bad.string() + ":2: expected 6 tab-separated columns, found 2");
  CHECK(catalog.senders().size() == count);

  const std::string missing = (dir.path() / "missing.tsv").string();
  const auto io_error = catalog.load_file(missing);
  REQUIRE(!io_error.has_value());
  CHECK(io_error.error().code == Errc::io);
  CHECK(dmarcsift::to_string(io_error.error()) == missing + ": cannot open: No such file or directory");
  CHECK(catalog.senders().size() == count);
}

TEST_CASE("parse errors name the origin, the line and the fault") {
  struct Row {
    std::string text;
    std::string error;
  };
  const std::string ok = "A\tesp\ta.example\t-\t-\tFix it.\n";
  const Row rows[] = {
      {"# 1\n# 2\n# 3\n# 4\n# 5\n# 6\n# 7\n# 8\n# 9\n# 10\n\nSendGrid\tesp\tsendgrid.net\tFix.\n",
       "senders.tsv:12: expected 6 tab-separated columns, found 4"},
      {ok + "B\tesp\t-\t-\t-\tFix.\textra\n", "senders.tsv:2: expected 6 tab-separated columns, found 7"},
      {"B esp - - - Fix.\n", "senders.tsv:1: expected 6 tab-separated columns, found 1"},
      {" \tesp\t-\t-\t-\tFix.\n", "senders.tsv:1: column name is empty"},
      {"B\t\t-\t-\t-\tFix.\n", "senders.tsv:1: column category is empty"},
      {"B\tBig ESP\t-\t-\t-\tFix.\n",
       "senders.tsv:1: column category: \"Big ESP\" is not lower-case letters, digits and _"},
      {"B\tesp\tcom\t-\t-\tFix.\n",
       "senders.tsv:1: column dkim_domains: \"com\" is not a domain of two or more labels (optionally "
       "starting with \"*.\")"},
      {"B\tesp\t*.*.b.example\t-\t-\tFix.\n",
       "senders.tsv:1: column dkim_domains: \"*.*.b.example\" is not a domain of two or more labels "
       "(optionally starting with \"*.\")"},
      {"B\tesp\t-\tb..example\t-\tFix.\n",
       "senders.tsv:1: column bounce_domains: \"b..example\" is not a domain of two or more labels "
       "(optionally starting with \"*.\")"},
      {"B\tesp\t-\ta.example,,b.example\t-\tFix.\n", "senders.tsv:1: column bounce_domains has an empty entry"},
      {"B\tesp\t-\t-\t\tFix.\n", "senders.tsv:1: column ptr_domains is empty (use - for none)"},
      {"B\tesp\t-\t-\t-\t\n", "senders.tsv:1: column fix is empty (use - for none)"},
      {ok + "\n" + ok, "senders.tsv:3: duplicate name \"A\" (first on line 1)"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.text);
    const auto parsed = parse_sender_catalog(row.text, "senders.tsv");
    REQUIRE(!parsed.has_value());
    CHECK(parsed.error().code == Errc::bad_input);
    CHECK(dmarcsift::to_string(parsed.error()) == row.error);
  }
}

TEST_CASE("parsing tolerates CRLF, spaces around items, case and trailing dots, and no final newline") {
  const auto parsed = parse_sender_catalog(
      "\xEF\xBB\xBF# a comment\r\n\r\n   \r\n"
      "Acme\tesp\t *.Acme.Example. , mail.acme.example \t-\tptr.acme.example\t Sign with d=yourdomain. ",
      "x.tsv");
  REQUIRE_MESSAGE(parsed.has_value(), dmarcsift::to_string(parsed.error()));
  REQUIRE(parsed->size() == 1);
  const KnownSender& acme = parsed->front();
  CHECK(acme.name == "Acme");
  CHECK(acme.category == "esp");
  CHECK(acme.dkim_domains == std::vector<std::string>{"*.acme.example", "mail.acme.example"});
  CHECK(acme.bounce_domains.empty());
  CHECK(acme.ptr_domains == std::vector<std::string>{"ptr.acme.example"});
  CHECK(acme.fix == "Sign with d=yourdomain.");
  CHECK(parse_sender_catalog("", "x.tsv")->empty());
}
