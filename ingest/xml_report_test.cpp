#include "ingest/xml_report.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <string_view>

namespace dmarcsift::ingest {
namespace {

// One minimal RFC 7489 report assembled from replaceable parts, so each case
// shows only the deviation it is about.
struct Parts {
  std::string prolog = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  std::string open = "<feedback>";
  std::string version = "<version>1.0</version>";
  std::string metadata =
      "<report_metadata><org_name>Acme</org_name><email>dmarc@acme.example</email>"
      "<report_id>r-1</report_id>"
      "<date_range><begin>1700000000</begin><end>1700086399</end></date_range>"
      "</report_metadata>";
  std::string policy =
      "<policy_published><domain>example.com</domain><adkim>r</adkim><aspf>s</aspf>"
      "<p>reject</p><sp>quarantine</sp><pct>100</pct><fo>1</fo></policy_published>";
  std::string records = record();
  std::string close = "</feedback>";

  static std::string record(std::string ip = "192.0.2.1", std::string count = "3",
                            std::string evaluated =
                                "<disposition>none</disposition>"
                                "<dkim>pass</dkim><spf>fail</spf>",
                            std::string identifiers =
                                "<identifiers><header_from>example.com</header_from>"
                                "<envelope_from>bounce.example.com</envelope_from></identifiers>",
                            std::string auth =
                                "<dkim><domain>example.com</domain><selector>s1</selector>"
                                "<result>pass</result></dkim>"
                                "<spf><domain>bounce.example.com</domain><scope>mfrom</scope>"
                                "<result>fail</result></spf>") {
    return "<record><row><source_ip>" + ip + "</source_ip><count>" + count +
           "</count><policy_evaluated>" + evaluated + "</policy_evaluated></row>" + identifiers +
           "<auth_results>" + auth + "</auth_results></record>";
  }

  std::string xml() const { return prolog + open + version + metadata + policy + records + close; }
};

const Warning* find_warning(const AggregateReport& report, std::string_view kind) {
  for (const Warning& warning : report.warnings) {
    if (warning.kind == kind) return &warning;
  }
  return nullptr;
}

std::string warning_kinds(const AggregateReport& report) {
  std::string kinds;
  for (const Warning& warning : report.warnings) {
    kinds += (kinds.empty() ? "" : ",") + warning.kind;
  }
  return kinds;
}

AggregateReport parse_ok(const std::string& xml) {
  auto report = parse_xml_report(xml, "test.xml");
  if (!report) FAIL_CHECK(to_string(report.error()));
  REQUIRE(report.has_value());
  return *report;
}

TEST_CASE("an RFC 7489 report fills every field of the model") {
  Parts parts;
  parts.metadata =
      "<report_metadata><org_name>Acme Mail</org_name><email>dmarc@acme.example</email>"
      "<extra_contact_info>https://acme.example/dmarc</extra_contact_info>"
      "<report_id>&lt;r-1@acme.example&gt;</report_id>"
      "<date_range><begin>1700000000</begin><end>1700086399</end></date_range>"
      "<error>first</error><error>second</error></report_metadata>";
  parts.records =
      Parts::record(
          "192.0.2.1", "3",
          "<disposition>quarantine</disposition><dkim>pass</dkim><spf>fail</spf>"
          "<reason><type>local_policy</type><comment>arc=pass</comment></reason>",
          "<identifiers><envelope_to>to.example</envelope_to>"
          "<envelope_from>bounce.example.com</envelope_from>"
          "<header_from>example.com</header_from></identifiers>",
          "<dkim><domain>example.com</domain><selector>s1</selector><result>pass</result>"
          "<human_result>good</human_result></dkim>"
          "<dkim><domain>esp.example</domain><selector>s2</selector><result>fail</result>"
          "</dkim>"
          "<spf><domain>bounce.example.com</domain><scope>mfrom</scope>"
          "<result>softfail</result></spf>"
          "<spf><domain>mx.example</domain><scope>helo</scope><result>pass</result></spf>") +
      Parts::record("2001:db8::5", "7");
  const AggregateReport report = parse_ok(parts.xml());

  CHECK(report.schema == SchemaFlavour::rfc7489);
  CHECK(report.warnings.empty());
  CHECK(report.metadata.org_name == "Acme Mail");
  CHECK(report.metadata.email == "dmarc@acme.example");
  CHECK(report.metadata.extra_contact_info == "https://acme.example/dmarc");
  CHECK(report.metadata.report_id == "<r-1@acme.example>");
  CHECK(report.metadata.date_range.begin == 1700000000);
  CHECK(report.metadata.date_range.end == 1700086399);
  CHECK(report.metadata.errors == std::vector<std::string>{"first", "second"});
  CHECK(report.metadata.generator.empty());
  CHECK(report.metadata.version == "1.0");

  const PolicyPublished& policy = report.policy;
  CHECK(policy.domain == "example.com");
  CHECK(policy.adkim == Alignment::relaxed);
  CHECK(policy.aspf == Alignment::strict);
  CHECK(policy.adkim_present);
  CHECK(policy.aspf_present);
  CHECK(policy.p == PolicyAction::reject);
  CHECK(policy.sp == PolicyAction::quarantine);
  CHECK_FALSE(policy.np.has_value());
  CHECK(policy.pct == 100);
  CHECK(policy.fo == "1");
  CHECK_FALSE(policy.testing.has_value());
  CHECK(policy.discovery_method.empty());

  REQUIRE(report.records.size() == 2);
  const Record& first = report.records[0];
  CHECK(first.source_ip.to_string() == "192.0.2.1");
  CHECK(first.count == 3);
  CHECK(first.disposition == Disposition::quarantine);
  CHECK(first.dkim == Verdict::pass);
  CHECK(first.spf == Verdict::fail);
  REQUIRE(first.reasons.size() == 1);
  CHECK(first.reasons[0].type == OverrideType::local_policy);
  CHECK(first.reasons[0].comment == "arc=pass");
  CHECK(first.header_from == "example.com");
  CHECK(first.envelope_from == "bounce.example.com");
  CHECK(first.envelope_to == "to.example");
  REQUIRE(first.dkim_results.size() == 2);
  CHECK(first.dkim_results[0].domain == "example.com");
  CHECK(first.dkim_results[0].selector == "s1");
  CHECK(first.dkim_results[0].result == DkimResult::pass);
  CHECK(first.dkim_results[0].human_result == "good");
  CHECK(first.dkim_results[1].domain == "esp.example");
  CHECK(first.dkim_results[1].result == DkimResult::fail);
  REQUIRE(first.spf_results.size() == 2);
  CHECK(first.spf_results[0].domain == "bounce.example.com");
  CHECK(first.spf_results[0].scope == SpfScope::mfrom);
  CHECK(first.spf_results[0].result == SpfResult::softfail);
  CHECK(first.spf_results[1].scope == SpfScope::helo);
  CHECK(first.spf_results[1].result == SpfResult::pass);
  CHECK(report.records[1].source_ip.to_string() == "2001:db8::5");
  CHECK(report.records[1].count == 7);
}

TEST_CASE("an RFC 9990 report in the dmarc-2.0 namespace, with or without a prefix") {
  const std::string body =
      "<report_metadata><org_name>Sample</org_name><email>r@sample.example</email>"
      "<report_id>abc</report_id><date_range><begin>302832000</begin><end>302918399</end>"
      "</date_range><generator>Gen v1.2</generator></report_metadata>"
      "<policy_published><domain>example.com</domain><p>quarantine</p><sp>none</sp>"
      "<np>reject</np><testing>y</testing><discovery_method>treewalk</discovery_method>"
      "</policy_published>"
      "<record><row><source_ip>192.0.2.123</source_ip><count>123</count><policy_evaluated>"
      "<disposition>pass</disposition><dkim>pass</dkim><spf>fail</spf>"
      "<reason><type>policy_test_mode</type></reason></policy_evaluated></row>"
      "<identifiers><header_from>example.com</header_from></identifiers><auth_results>"
      "<dkim><domain>example.com</domain><result>pass</result></dkim>"
      "<spf><domain>example.com</domain><result>policy</result></spf></auth_results>"
      "<extension><x:thing xmlns:x=\"urn:x\">ignored</x:thing></extension></record>";
  struct Row {
    std::string name;
    std::string xml;
  };
  const Row rows[] = {
      {"default namespace",
       "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\"><version>1.0</version>" + body +
           "</feedback>"},
      {"prefixed namespace",
       "<d:feedback xmlns:d=\"urn:ietf:params:xml:ns:dmarc-2.0\"><d:version>1.0</d:version>" +
           [&] {
             std::string prefixed;
             for (std::size_t i = 0; i < body.size(); ++i) {
               prefixed += body[i];
               if (body[i] == '<' && body[i + 1] != '/' && body.compare(i + 1, 2, "x:") != 0) {
                 prefixed += "d:";
               } else if (body[i] == '/' && body[i - 1] == '<' && body.compare(i + 1, 2, "x:")) {
                 prefixed += "d:";
               }
             }
             return prefixed;
           }() +
           "</d:feedback>"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    const AggregateReport report = parse_ok(row.xml);
    CHECK(report.schema == SchemaFlavour::rfc9990);
    // RFC 9990 made sp/pct/fo/adkim/aspf/envelope_from/scope optional: no
    // missing_* warnings, except the selector it made mandatory.
    CHECK(warning_kinds(report) == "missing_dkim_selector");
    CHECK(report.metadata.generator == "Gen v1.2");
    CHECK(report.policy.np == PolicyAction::reject);
    CHECK(report.policy.testing == true);
    CHECK(report.policy.discovery_method == "treewalk");
    CHECK_FALSE(report.policy.adkim_present);
    CHECK(report.policy.adkim == Alignment::relaxed);
    REQUIRE(report.records.size() == 1);
    CHECK(report.records[0].disposition == Disposition::pass);
    REQUIRE(report.records[0].reasons.size() == 1);
    CHECK(report.records[0].reasons[0].type == OverrideType::policy_test_mode);
    CHECK(report.records[0].reasons[0].comment.empty());
    CHECK(report.records[0].spf_results[0].result == SpfResult::policy);
    CHECK(report.records[0].spf_results[0].scope == SpfScope::absent);
  }
}

TEST_CASE("schema flavour follows NOTES section 1") {
  struct Row {
    std::string name;
    std::string version;
    std::string policy_extra;
    SchemaFlavour expected;
  };
  const Row rows[] = {
      {"version present", "<version>1.0</version>", "", SchemaFlavour::rfc7489},
      {"no version", "", "", SchemaFlavour::draft},
      {"np without namespace (Google)", "", "<np>none</np>", SchemaFlavour::rfc9990},
      {"testing marker", "<version>1.0</version>", "<testing>n</testing>", SchemaFlavour::rfc9990},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    Parts parts;
    parts.version = row.version;
    parts.policy = "<policy_published><domain>example.com</domain><p>none</p>" + row.policy_extra +
                   "</policy_published>";
    CHECK(parse_ok(parts.xml()).schema == row.expected);
  }
}

TEST_CASE("the pre-RFC draft layout is read, with its omissions as warnings") {
  const std::string xml =
      "<?xml version=\"1.0\"?>\n<!-- leading comment -->\n<feedback>\n"
      "  <report_metadata>\n    <org_name>acme.com</org_name>\n"
      "    <email>noreply@acme.com</email>\n    <report_id>9391651994964116463</report_id>\n"
      "    <date_range><begin>1335571200</begin><end>1335657599</end></date_range>\n"
      "  </report_metadata>\n  <policy_published><domain>example.com</domain><p>none</p>"
      "</policy_published>\n  <record>\n    <row><source_ip>72.150.241.94</source_ip>"
      "<count>2</count><policy_evaluated><disposition>none</disposition><dkim>fail</dkim>"
      "<spf>pass</spf></policy_evaluated></row>\n"
      "    <identifiers><header_from>example.com</header_from></identifiers>\n"
      "    <auth_results><dkim><domain>example.com</domain><result>fail</result>"
      "<human_result></human_result></dkim><spf><domain>example.com</domain>"
      "<result>pass</result></spf></auth_results>\n  </record>\n</feedback>\n";
  const AggregateReport report = parse_ok(xml);
  CHECK(report.schema == SchemaFlavour::draft);
  CHECK(warning_kinds(report) ==
        "missing_version,missing_adkim,missing_aspf,missing_sp,missing_pct,missing_fo,"
        "missing_envelope_from,empty_human_result,missing_dkim_selector,missing_spf_scope");
  CHECK(find_warning(report, "missing_envelope_from")->detail == "record 1: envelope_from");
  REQUIRE(report.records.size() == 1);
  CHECK(report.records[0].spf_results[0].scope == SpfScope::absent);
  CHECK(report.policy.adkim == Alignment::relaxed);
  CHECK_FALSE(report.policy.sp.has_value());
  CHECK_FALSE(report.policy.pct.has_value());
}

// Each quirk: the document change, the value then stored, and the warning.
TEST_CASE("tolerated deviations store a normalized value and warn once per kind") {
  using Get = std::function<std::string(const AggregateReport&)>;
  const Get org_name = [](const AggregateReport& r) { return r.metadata.org_name; };
  const Get header_from = [](const AggregateReport& r) { return r.records.at(0).header_from; };
  const Get disposition = [](const AggregateReport& r) {
    return std::string(to_string(r.records.at(0).disposition));
  };
  const Get spf_result = [](const AggregateReport& r) {
    return std::string(to_string(r.records.at(0).spf_results.at(0).result));
  };
  const Get dkim_result = [](const AggregateReport& r) {
    return std::string(to_string(r.records.at(0).dkim_results.at(0).result));
  };
  const Get sp = [](const AggregateReport& r) {
    return r.policy.sp ? std::string(to_string(*r.policy.sp)) : std::string("absent");
  };
  const Get begin = [](const AggregateReport& r) {
    return std::to_string(r.metadata.date_range.begin);
  };
  const Get source_ip = [](const AggregateReport& r) {
    return r.records.at(0).source_ip.to_string();
  };

  struct Row {
    std::string name;
    std::function<void(Parts&)> change;
    Get get;
    std::string value;
    std::string kind;
    std::string detail;
  };
  const std::string meta_tail =
      "<report_id>r-1</report_id><date_range><begin>1700000000</begin><end>1700086399</end>"
      "</date_range></report_metadata>";
  const std::string auth_mfrom =
      "<dkim><domain>example.com</domain><selector>s1</selector><result>pass</result></dkim>"
      "<spf><domain>bounce.example.com</domain><scope>mfrom</scope><result>";
  auto with_spf_result = [&](std::string word) {
    return [=](Parts& p) {
      p.records = Parts::record("192.0.2.1", "3",
                                "<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf>",
                                "<identifiers><header_from>example.com</header_from>"
                                "<envelope_from>b.example</envelope_from></identifiers>",
                                auth_mfrom + word + "</result></spf>");
    };
  };
  auto with_identifiers = [](std::string identifiers) {
    return [=](Parts& p) {
      p.records = Parts::record("192.0.2.1", "3",
                                "<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf>",
                                identifiers);
    };
  };
  const Row rows[] = {
      {"whitespace padding",
       [&](Parts& p) {
         p.metadata =
             "<report_metadata><org_name>\n\t Acme Mail \r\n</org_name>"
             "<email>dmarc@acme.example</email>" +
             meta_tail;
       },
       org_name, "Acme Mail", "whitespace_padding", "org_name"},
      {"upper-case enumeration",
       [](Parts& p) {
         p.records = Parts::record(
             "192.0.2.1", "3", "<disposition>None</disposition><dkim>PASS</dkim><spf>fail</spf>");
       },
       disposition, "none", "upper_case_values", "record 1: disposition"},
      {"empty org_name falls back to the email domain",
       [&](Parts& p) {
         p.metadata =
             "<report_metadata><org_name></org_name>"
             "<email>dmarc@Reports.Example.NET</email>" +
             meta_tail;
       },
       org_name, "reports.example.net", "empty_org_name",
       "org_name empty: using reports.example.net"},
      {"empty sp is absent",
       [](Parts& p) {
         p.policy =
             "<policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf>"
             "<p>none</p><sp/><pct>100</pct><fo>0</fo></policy_published>";
       },
       sp, "absent", "empty_sp", "sp"},
      {"missing sp",
       [](Parts& p) {
         p.policy =
             "<policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf>"
             "<p>none</p><pct>100</pct><fo>0</fo></policy_published>";
       },
       sp, "absent", "missing_sp", "sp"},
      {"missing version", [](Parts& p) { p.version.clear(); },
       [](const AggregateReport& r) { return r.metadata.version; }, "", "missing_version",
       "version"},
      {"spf hardfail", with_spf_result("HardFail"), spf_result, "fail", "spf_result_hardfail",
       "record 1: spf/result"},
      {"spf unknown", with_spf_result("unknown"), spf_result, "temperror", "result_unknown",
       "record 1: spf/result"},
      {"spf error", with_spf_result("error"), spf_result, "permerror", "spf_result_error",
       "record 1: spf/result"},
      {"dkim unknown",
       [](Parts& p) {
         p.records = Parts::record(
             "192.0.2.1", "3", "<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf>",
             "<identifiers><header_from>example.com</header_from>"
             "<envelope_from>b.example</envelope_from></identifiers>",
             "<dkim><domain>a.example</domain><selector>s</selector>"
             "<result>Unknown</result></dkim><spf><domain>a.example</domain>"
             "<scope>mfrom</scope><result>pass</result></spf>");
       },
       dkim_result, "temperror", "result_unknown", "record 1: dkim/result"},
      {"unknown word keeps the record",
       [](Parts& p) {
         p.records =
             Parts::record("192.0.2.1", "3",
                           "<disposition>deferred</disposition><dkim>pass</dkim><spf>fail</spf>");
       },
       disposition, "none", "unknown_value", "record 1: disposition 'deferred'"},
      {"identities instead of identifiers",
       with_identifiers("<identities><header_from>example.com</header_from>"
                        "<envelope_from>b.example</envelope_from></identities>"),
       header_from, "example.com", "identities_element", "record 1: identities"},
      {"missing envelope_from",
       with_identifiers("<identifiers><header_from>Example.COM."
                        "</header_from></identifiers>"),
       header_from, "example.com", "missing_envelope_from", "record 1: envelope_from"},
      {"two policy_published blocks",
       [](Parts& p) {
         p.policy +=
             "<policy_published><domain>second.example</domain><p>none</p>"
             "</policy_published>";
       },
       [](const AggregateReport& r) { return r.policy.domain; }, "example.com",
       "two_policy_published", "2 policy_published blocks: first used"},
      {"fractional timestamps",
       [](Parts& p) {
         p.metadata =
             "<report_metadata><org_name>Acme</org_name><email>d@acme.example</email>"
             "<report_id>r-1</report_id><date_range><begin>1790812800.000</begin>"
             "<end>1790899199.5</end></date_range></report_metadata>";
       },
       begin, "1790812800", "fractional_timestamps", "date_range/begin"},
      {"IPv6 canonicalised", [](Parts& p) { p.records = Parts::record("2001:0DB8:0000::0001"); },
       source_ip, "2001:db8::1", "non_canonical_ipv6",
       "record 1: source_ip '2001:0DB8:0000::0001'"},
      {"empty reason",
       [](Parts& p) {
         p.records = Parts::record("192.0.2.1", "3",
                                   "<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf>"
                                   "<reason><type></type><comment></comment></reason>");
       },
       [](const AggregateReport& r) { return std::to_string(r.records.at(0).reasons.size()); }, "0",
       "empty_reason", "record 1: reason"},
      {"missing spf result",
       [](Parts& p) {
         p.records = Parts::record(
             "192.0.2.1", "3", "<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf>",
             "<identifiers><header_from>example.com</header_from>"
             "<envelope_from>b.example</envelope_from></identifiers>",
             "<dkim><domain>a.example</domain><selector>s</selector>"
             "<result>pass</result></dkim>");
       },
       [](const AggregateReport& r) { return std::to_string(r.records.at(0).spf_results.size()); },
       "0", "missing_spf_result", "record 1: auth_results/spf"},
      {"utf-8 byte order mark", [](Parts& p) { p.prolog = "\xEF\xBB\xBF" + p.prolog; }, org_name,
       "Acme", "utf8_bom", "byte order mark skipped"},
      {"windows-1252 declared",
       [&](Parts& p) {
         p.prolog = "<?xml version=\"1.0\" encoding=\"windows-1252\"?>";
         p.metadata =
             "<report_metadata><org_name>Caf\xE9 \x80</org_name>"
             "<email>d@acme.example</email>" +
             meta_tail;
       },
       org_name, "Caf\xC3\xA9 \xE2\x82\xAC", "encoding_windows-1252",
       "declared windows-1252: decoded to UTF-8"},
      {"iso-8859-1 declared",
       [&](Parts& p) {
         p.prolog = "<?xml version='1.0' encoding='ISO-8859-1'?>";
         p.metadata =
             "<report_metadata><org_name>Z\xFCrich</org_name>"
             "<email>d@acme.example</email>" +
             meta_tail;
       },
       org_name, "Z\xC3\xBCrich", "encoding_iso-8859-1", "declared iso-8859-1: decoded to UTF-8"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    Parts parts;
    row.change(parts);
    const AggregateReport report = parse_ok(parts.xml());
    CHECK(row.get(report) == row.value);
    if (row.kind.empty()) continue;
    const Warning* warning = find_warning(report, row.kind);
    REQUIRE_MESSAGE(warning != nullptr, warning_kinds(report));
    CHECK(warning->detail == row.detail);
  }
}

TEST_CASE("a warning is counted per occurrence and keeps the first detail") {
  Parts parts;
  parts.records = Parts::record("192.0.2.1", "1",
                                "<disposition>NONE</disposition>"
                                "<dkim>Pass</dkim><spf>fail</spf>") +
                  Parts::record("192.0.2.2", "1",
                                "<disposition>Reject</disposition>"
                                "<dkim>pass</dkim><spf>fail</spf>");
  const AggregateReport report = parse_ok(parts.xml());
  const Warning* warning = find_warning(report, "upper_case_values");
  REQUIRE(warning != nullptr);
  CHECK(warning->count == 3);
  CHECK(warning->detail == "record 1: disposition");
  CHECK(report.records[1].disposition == Disposition::reject);
}

TEST_CASE("an unusable record is dropped with its reason; the others are kept") {
  struct Row {
    std::string name;
    std::string record;
    std::string detail;
  };
  const Row rows[] = {
      {"no source_ip", Parts::record(""), "record 2: source_ip missing"},
      {"invalid source_ip", Parts::record("192.0.2.300"),
       "record 2: source_ip '192.0.2.300' is not an IP address"},
      {"no count", Parts::record("192.0.2.9", ""), "record 2: count missing"},
      {"non-numeric count", Parts::record("192.0.2.9", "many"),
       "record 2: count 'many' is not a whole number"},
      {"fractional count", Parts::record("192.0.2.9", "1.5"),
       "record 2: count '1.5' is not a whole number"},
      {"negative count", Parts::record("192.0.2.9", "-4"), "record 2: count '-4' is negative"},
      {"count beyond int64", Parts::record("192.0.2.9", "9223372036854775808"),
       "record 2: count '9223372036854775808' exceeds the 64-bit range"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    Parts parts;
    parts.records = Parts::record("192.0.2.1", "5") + row.record + Parts::record("192.0.2.2", "6");
    const AggregateReport report = parse_ok(parts.xml());
    REQUIRE(report.records.size() == 2);
    CHECK(report.records[0].count == 5);
    CHECK(report.records[1].count == 6);
    const Warning* warning = find_warning(report, "record_dropped");
    REQUIRE(warning != nullptr);
    CHECK(warning->detail == row.detail);
    CHECK(warning->count == 1);
  }
}

TEST_CASE("the largest accepted count (2^32) is kept exactly, one more is dropped") {
  Parts parts;
  parts.records = Parts::record("192.0.2.1", "4294967296") + Parts::record("192.0.2.2", "4294967297");
  const AggregateReport report = parse_ok(parts.xml());
  REQUIRE(report.records.size() == 1);
  CHECK(report.records[0].count == 4294967296);
  const Warning* warning = find_warning(report, "record_dropped");
  REQUIRE(warning != nullptr);
  CHECK(warning->detail ==
        "record 2: count '4294967297' is more than 4294967296 messages, more than any receiver sees");
}

TEST_CASE("a report whose only record is empty is kept with 0 records (o2.pl)") {
  Parts parts;
  parts.prolog = "   ";
  parts.records =
      "<record><row><source_ip></source_ip><count>0</count><policy_evaluated>"
      "<disposition></disposition><dkim></dkim><spf></spf></policy_evaluated></row>"
      "<identifiers><header_from></header_from></identifiers><auth_results><spf><domain>"
      "</domain><result></result></spf></auth_results></record>";
  const AggregateReport report = parse_ok(parts.xml());
  CHECK(report.records.empty());
  CHECK(find_warning(report, "empty_record") != nullptr);
  CHECK(find_warning(report, "record_dropped")->detail == "record 1: source_ip missing");
  // Leading whitespace without an XML declaration is well-formed: no repair.
  CHECK(find_warning(report, "junk_before_xml_declaration") == nullptr);
}

// NOTES §6: strict parse first, then named repairs, each recorded.
TEST_CASE("named repairs recover common breakage and are recorded") {
  struct Row {
    std::string name;
    std::function<void(Parts&)> change;
    std::function<std::string(const AggregateReport&)> get;
    std::string value;
    std::string kind;
    std::string detail;
  };
  const Row rows[] = {
      {"space before the XML declaration", [](Parts& p) { p.prolog = " \r\n" + p.prolog; },
       [](const AggregateReport& r) { return r.metadata.org_name; }, "Acme",
       "junk_before_xml_declaration", "repair strip_leading_junk at offset 0"},
      {"garbage before the root", [](Parts& p) { p.prolog = "x-junk: 1\n"; },
       [](const AggregateReport& r) { return r.metadata.org_name; }, "Acme",
       "junk_before_xml_declaration", "repair strip_leading_junk at offset 0"},
      {"unclosed xs:schema start tag",
       [](Parts& p) {
         p.prolog =
             "<?xml version=\"1.0\"?> <xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\""
             " targetNamespace=\"http://dmarc.org/dmarc-xml/0.1\">\n";
       },
       [](const AggregateReport& r) { return r.policy.domain; }, "example.com",
       "stray_xs_schema_tag", "repair strip_xs_schema at offset 22"},
      {"unescaped < in values (parsedmarc invalid_xml.xml)",
       [](Parts& p) {
         p.metadata =
             "<report_metadata><org_name>veeam.com</org_name>"
             "<email><bad-xml@bad-xml.net></email><report_id>r</report_id><date_range>"
             "<begin>1</begin><end>2</end></date_range></report_metadata>";
         p.records = Parts::record(
             "192.0.2.1", "1", "<disposition>none</disposition><dkim>fail</dkim><spf>fail</spf>",
             "<identifiers><header_from>bad<xml.net</header_from>"
             "</identifiers>");
       },
       [](const AggregateReport& r) {
         return r.metadata.email + " " + r.records.at(0).header_from;
       },
       "<bad-xml@bad-xml.net> bad<xml.net", "unescaped_lt_in_value",
       "repair escape_stray_lt at offset 125"},
      {"unescaped &",
       [](Parts& p) {
         p.metadata =
             "<report_metadata><org_name>AT&T</org_name><email>d@att.example</email>"
             "<report_id>a&amp;b</report_id><date_range><begin>1</begin><end>2</end>"
             "</date_range></report_metadata>";
       },
       [](const AggregateReport& r) { return r.metadata.org_name + " " + r.metadata.report_id; },
       "AT&T a&b", "unescaped_amp_in_value", "repair escape_stray_amp at offset 100"},
      {"byte that is not UTF-8",
       [](Parts& p) {
         p.metadata =
             "<report_metadata><org_name>Acme\xFF Mail\x01</org_name>"
             "<email>d@acme.example</email><report_id>r</report_id><date_range>"
             "<begin>1</begin><end>2</end></date_range></report_metadata>";
       },
       [](const AggregateReport& r) { return r.metadata.org_name; }, "Acme Mail",
       "invalid_utf8_bytes", "repair drop_invalid_utf8 at offset 102"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    Parts parts;
    row.change(parts);
    const AggregateReport report = parse_ok(parts.xml());
    CHECK(row.get(report) == row.value);
    const Warning* warning = find_warning(report, row.kind);
    REQUIRE_MESSAGE(warning != nullptr, warning_kinds(report));
    CHECK(warning->detail == row.detail);
  }
}

TEST_CASE("bytes outside printable ASCII are checked wherever they fall in a block") {
  // The UTF-8 check skips printable ASCII 16 bytes (SSE2) or 8 bytes at a
  // time; a control byte or a non-ASCII sequence at any offset must still
  // be seen, and 17 offsets put it at every place in a block.
  const auto with_org_name = [](const std::string& org_name) {
    Parts parts;
    parts.metadata = "<report_metadata><org_name>" + org_name + "</org_name>"
                     "<email>d@acme.example</email><report_id>r</report_id><date_range>"
                     "<begin>1</begin><end>2</end></date_range></report_metadata>";
    return parse_ok(parts.xml());
  };
  for (std::size_t offset = 0; offset < 17; ++offset) {
    CAPTURE(offset);
    const std::string before(offset, 'a');
    const AggregateReport repaired = with_org_name(before + "\x01" + "bcdefghij");
    CHECK(repaired.metadata.org_name == before + "bcdefghij");
    CHECK(warning_kinds(repaired) == "invalid_utf8_bytes");

    const AggregateReport kept = with_org_name(before + "\xC3\xA9" + "bcdefghij");
    CHECK(kept.metadata.org_name == before + "\xC3\xA9" + "bcdefghij");
    CHECK(warning_kinds(kept) == "");

    // Line ends and tabs pass, a vertical tab among them does not.
    const AggregateReport dropped = with_org_name(before + "x\n\x0B\t\r\ny" + "bcdefghij");
    CHECK(dropped.metadata.org_name == before + "x\n\t\ny" + "bcdefghij");
    CHECK(warning_kinds(dropped) == "invalid_utf8_bytes");
  }
}

TEST_CASE("an owned document is parsed in place and read again only when pugixml refuses it") {
  struct Row {
    std::string name;
    std::function<void(Parts&)> change;
    int rereads;
    std::string warnings;
  };
  const Row rows[] = {
      {"a plain report", [](Parts&) {}, 0, ""},
      {"an unescaped & (the strict checks refuse it first)",
       [](Parts& p) {
         p.metadata = "<report_metadata><org_name>AT&T</org_name><email>d@att.example</email>"
                      "<report_id>r</report_id><date_range><begin>1</begin><end>2</end>"
                      "</date_range></report_metadata>";
       },
       0, "unescaped_amp_in_value"},
      {"an unescaped < (only pugixml refuses it)",
       [](Parts& p) {
         p.records = Parts::record("192.0.2.1", "1",
                                   "<disposition>none</disposition><dkim>fail</dkim><spf>fail</spf>",
                                   "<identifiers><header_from>bad<xml.net</header_from></identifiers>");
       },
       1, "unescaped_lt_in_value,missing_envelope_from"},
      {"a byte order mark (decoded into a copy)",
       [](Parts& p) { p.prolog = "\xEF\xBB\xBF" + p.prolog; }, 0, "utf8_bom"},
      {"windows-1252 (decoded into a copy)",
       [](Parts& p) {
         p.prolog = "<?xml version=\"1.0\" encoding=\"windows-1252\"?>";
         p.metadata = "<report_metadata><org_name>Caf\xE9</org_name><email>d@cafe.example</email>"
                      "<report_id>r</report_id><date_range><begin>1</begin><end>2</end>"
                      "</date_range></report_metadata>";
       },
       0, "encoding_windows-1252"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    Parts parts;
    row.change(parts);
    const std::string original = parts.xml();
    const AggregateReport copied = parse_ok(original);
    int rereads = 0;
    auto owned = parse_owned_xml_report(std::string(original), "test.xml", Limits{}, [&] {
      ++rereads;
      return original;
    });
    REQUIRE(owned.has_value());
    CHECK(rereads == row.rereads);
    CHECK(warning_kinds(*owned) == row.warnings);
    CHECK(warning_kinds(copied) == row.warnings);
    CHECK(owned->metadata.org_name == copied.metadata.org_name);
    CHECK(owned->metadata.report_id == copied.metadata.report_id);
    REQUIRE(owned->records.size() == 1);
    CHECK(owned->records[0].header_from == copied.records.at(0).header_from);
    CHECK(owned->records[0].count == copied.records.at(0).count);
  }

  const std::string broken = "<feedback><org_name>a</feedback>";
  int rereads = 0;
  const auto refused = parse_owned_xml_report(std::string(broken), "bad.xml", Limits{}, [&] {
    ++rereads;
    return broken;
  });
  REQUIRE_FALSE(refused.has_value());
  CHECK(rereads == 1);
  CHECK(refused.error().what == "not well-formed XML: Start-end tags mismatch at offset 23");
}

TEST_CASE("input that is not a DMARC aggregate report is rejected with the reason") {
  struct Row {
    std::string name;
    std::function<std::string()> xml;
    std::string where;
    std::string what;
  };
  auto with = [](std::function<void(Parts&)> change) {
    return [=] {
      Parts parts;
      change(parts);
      return parts.xml();
    };
  };
  const std::string dates = "<date_range><begin>1</begin><end>2</end></date_range>";
  const Row rows[] = {
      {"empty", [] { return std::string(" \n"); }, "a.xml",
       "not well-formed XML: document is empty"},
      {"mismatched tag", [] { return std::string("<feedback><report_metadata></feedback>"); },
       "a.xml", "not well-formed XML: Start-end tags mismatch at offset 29"},
      {"plain text", [] { return std::string("this is a file\n"); }, "a.xml",
       "not well-formed XML: No document element found at offset 14"},
      {"other root", [] { return std::string("<rss version=\"2.0\"><channel/></rss>"); }, "a.xml",
       "not a DMARC aggregate report: root element is <rss>"},
      {"XSD", [] { return std::string("<xs:schema xmlns:xs=\"x\"></xs:schema>"); }, "a.xml",
       "not a DMARC aggregate report: root element is <xs:schema>"},
      {"no report_metadata", with([](Parts& p) { p.metadata.clear(); }), "a.xml > /feedback",
       "not a DMARC aggregate report: no report_metadata"},
      {"no report_id", with([&](Parts& p) {
         p.metadata = "<report_metadata><org_name>A</org_name><report_id> </report_id>" + dates +
                      "</report_metadata>";
       }),
       "a.xml > /feedback/report_metadata", "report_metadata has no report_id"},
      {"no reporter", with([&](Parts& p) {
         p.metadata = "<report_metadata><org_name/><email/><report_id>r</report_id>" + dates +
                      "</report_metadata>";
       }),
       "a.xml > /feedback/report_metadata", "no reporter (org_name and email empty)"},
      {"date_range misspelt", with([](Parts& p) {
         p.metadata =
             "<report_metadata><org_name>A</org_name><report_id>r</report_id>"
             "<data_range><begin>1</begin><end>2</end></data_range></report_metadata>";
       }),
       "a.xml > /feedback/report_metadata/date_range",
       "no usable date_range (begin/end missing or not numeric)"},
      {"non-numeric dates", with([](Parts& p) {
         p.metadata =
             "<report_metadata><org_name>A</org_name><report_id>r</report_id>"
             "<date_range><begin>not-a-number</begin><end>2</end></date_range>"
             "</report_metadata>";
       }),
       "a.xml > /feedback/report_metadata/date_range",
       "no usable date_range (begin/end missing or not numeric)"},
      {"no policy_published", with([](Parts& p) { p.policy.clear(); }), "a.xml > /feedback",
       "not a DMARC aggregate report: no policy_published"},
      {"no policy domain", with([](Parts& p) {
         p.policy = "<policy_published><domain> </domain><p>none</p></policy_published>";
       }),
       "a.xml > /feedback/policy_published", "policy_published has no domain"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    const auto report = parse_xml_report(row.xml(), "a.xml");
    REQUIRE_FALSE(report.has_value());
    CHECK(report.error().code == Errc::bad_input);
    CHECK(report.error().where == row.where);
    CHECK(report.error().what == row.what);
  }
}

TEST_CASE("a failure left after the repairs names them") {
  const auto report =
      parse_xml_report("<feedback><org_name>a < b</org_name></feedback_x>", "a.xml");
  REQUIRE_FALSE(report.has_value());
  CHECK(report.error().what ==
        "not well-formed XML: Start-end tags mismatch at offset 41 (offset in the text after "
        "repairs: escape_stray_lt)");
}

TEST_CASE("a UTF-16 document with a byte order mark is decoded") {
  Parts parts;
  parts.metadata =
      "<report_metadata><org_name>Acme</org_name><email>d@acme.example</email>"
      "<report_id>r-1</report_id><date_range><begin>1</begin><end>2</end></date_range>"
      "</report_metadata>";
  const std::string ascii = parts.xml();
  std::string utf16 = "\xFF\xFE";
  for (const char c : ascii) {
    utf16 += c;
    utf16 += '\0';
  }
  const AggregateReport report = parse_ok(utf16);
  CHECK(report.metadata.org_name == "Acme");
  CHECK(report.records.size() == 1);
  CHECK(find_warning(report, "encoding_utf-16") != nullptr);
}

TEST_CASE("CDATA, lang attributes and unknown elements are read or ignored") {
  Parts parts;
  parts.records = Parts::record(
      "192.0.2.1", "1",
      "<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf>"
      "<reason><type>other</type><comment lang=\"en\"><![CDATA[a <b> & c]]></comment></reason>"
      "<vendor_extra>x</vendor_extra>");
  parts.close = "<extension><anything/></extension></feedback><!-- trailer -->";
  const AggregateReport report = parse_ok(parts.xml());
  REQUIRE(report.records.at(0).reasons.size() == 1);
  CHECK(report.records[0].reasons[0].type == OverrideType::other);
  CHECK(report.records[0].reasons[0].comment == "a <b> & c");
  CHECK(report.warnings.empty());
}

TEST_CASE("a second top-level element is ignored with a warning") {
  Parts parts;
  parts.close = "</feedback><feedback/>";
  const AggregateReport report = parse_ok(parts.xml());
  REQUIRE(find_warning(report, "content_after_root") != nullptr);
  CHECK(find_warning(report, "content_after_root")->detail ==
        "<feedback> after </feedback> ignored");
}

TEST_CASE("no prefix of a report and no byte flip crashes the parser") {
  Parts parts;
  parts.records = Parts::record() + Parts::record("2001:db8::1", "2");
  const std::string xml = parts.xml();
  for (std::size_t length = 0; length <= xml.size(); ++length) {
    (void)parse_xml_report(std::string_view(xml).substr(0, length), "prefix");
  }
  for (std::size_t i = 0; i < xml.size(); ++i) {
    for (const char c : {'<', '>', '&', '\0', '\xFF', ' '}) {
      std::string flipped = xml;
      flipped[i] = c;
      (void)parse_xml_report(flipped, "flip");
    }
  }
  CHECK(parse_xml_report(xml, "whole").has_value());
}

std::string nested(const std::string& name, int levels) {
  std::string xml;
  xml.reserve(static_cast<std::size_t>(levels) * (2 * name.size() + 5));
  for (int i = 0; i < levels; ++i) xml += "<" + name + ">";
  for (int i = 0; i < levels; ++i) xml += "</" + name + ">";
  return xml;
}

void check_refused(const std::string& xml, const std::string& what, const Limits& limits = {}) {
  const auto report = parse_xml_report(xml, "hostile.xml", limits);
  REQUIRE_FALSE(report.has_value());
  CHECK(report.error().code == Errc::bad_input);
  CHECK(report.error().where == "hostile.xml");
  CHECK(report.error().what == what);
}

const std::string k_doctype_refused =
    "XML with a DOCTYPE declaration is refused (entity expansion, billion laughs)";

TEST_CASE("issue 6: a billion-laughs document is refused before anything is expanded") {
  // Ten levels of ten references: 10^9 "lol"s, 3 GB, in a 2 KB report.
  std::string doctype = "<!DOCTYPE feedback [\n  <!ENTITY lol0 \"lol\">\n";
  for (int level = 1; level <= 9; ++level) {
    doctype += "  <!ENTITY lol" + std::to_string(level) + " \"";
    for (int i = 0; i < 10; ++i) doctype += "&lol" + std::to_string(level - 1) + ";";
    doctype += "\">\n";
  }
  doctype += "]>\n";
  Parts parts;
  parts.prolog += doctype;
  parts.metadata =
      "<report_metadata><org_name>&lol9;</org_name><email>d@acme.example</email>"
      "<report_id>r-1</report_id>"
      "<date_range><begin>1700000000</begin><end>1700086399</end></date_range>"
      "</report_metadata>";
  const std::string xml = parts.xml();
  CHECK(xml.size() < 2048);
  check_refused(xml, k_doctype_refused);
}

TEST_CASE("issue 6: any DOCTYPE is refused, wherever it stands") {
  struct Row {
    std::string name;
    std::string xml;
  };
  const std::string body = Parts().open + Parts().version + Parts().metadata + Parts().policy +
                           Parts::record() + Parts().close;
  const std::string external = "<!DOCTYPE feedback SYSTEM \"file:///etc/passwd\">";
  std::string utf16 = "\xFF\xFE";
  for (char c : "<!DOCTYPE feedback>" + body) {
    utf16 += c;
    utf16 += '\0';
  }
  const Row rows[] = {
      {"without an internal subset", "<!DOCTYPE feedback>" + body},
      {"external entity", external + body},
      {"after the declaration, a comment and a PI",
       "<?xml version=\"1.0\"?>\n<!-- x --><?pi y?>\n" + external + body},
      {"lower case", "<!doctype feedback>" + body},
      {"in UTF-16", utf16},
      {"after the root element", body + external},
      {"behind a stray <xs:schema> that a repair removes",
       "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">" + external + body},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    check_refused(row.xml, k_doctype_refused);
  }
}

TEST_CASE("issue 6: DOCTYPE as text, in a comment or in CDATA is no declaration") {
  Parts parts;
  parts.prolog += "<!-- <!DOCTYPE feedback> -->";
  parts.metadata =
      "<report_metadata><org_name>&lt;!DOCTYPE x&gt;</org_name>"
      "<email><![CDATA[<!DOCTYPE y>]]></email><report_id>r-1</report_id>"
      "<date_range><begin>1700000000</begin><end>1700086399</end></date_range>"
      "</report_metadata>";
  const AggregateReport report = parse_ok(parts.xml());
  CHECK(report.metadata.org_name == "<!DOCTYPE x>");
  CHECK(report.metadata.email == "<!DOCTYPE y>");
}

TEST_CASE("issue 6: 200,000 nested elements are refused at max_xml_depth") {
  Parts parts;
  parts.records = "<record>" + nested("x", 200000) + "</record>" + Parts::record();
  check_refused(parts.xml(), "XML elements nested more than 256 deep (limit max_xml_depth)");
  check_refused(nested("feedback", 200000),
                "XML elements nested more than 256 deep (limit max_xml_depth)");
}

TEST_CASE("issue 6: max_xml_depth counts the root element as depth 1") {
  // feedback > record > auth_results > dkim > domain: real reports are 5 deep.
  const std::string xml = Parts().xml();
  Limits limits;
  limits.max_xml_depth = 5;
  CHECK(parse_xml_report(xml, "hostile.xml", limits).has_value());
  limits.max_xml_depth = 4;
  check_refused(xml, "XML elements nested more than 4 deep (limit max_xml_depth)", limits);
  limits.max_xml_depth = 0;
  check_refused(xml, "XML elements nested more than 0 deep (limit max_xml_depth)", limits);
}

TEST_CASE("issue 6: a document over max_xml_bytes is refused before it is parsed") {
  const std::string xml = Parts().xml();
  Limits limits;
  limits.max_xml_bytes = xml.size();
  CHECK(parse_xml_report(xml, "hostile.xml", limits).has_value());
  limits.max_xml_bytes = xml.size() - 1;
  check_refused(xml,
                "XML document is " + std::to_string(xml.size()) + " bytes, more than " +
                    std::to_string(xml.size() - 1) + " (limit max_xml_bytes)",
                limits);
}

TEST_CASE("issue 6: a report with more records than max_records is refused whole") {
  Parts parts;
  // The dropped record counts too: the limit is on what must be read.
  parts.records = Parts::record("192.0.2.1") + Parts::record("") + Parts::record("192.0.2.3");
  Limits limits;
  limits.max_records = 3;
  const auto report = parse_xml_report(parts.xml(), "hostile.xml", limits);
  REQUIRE(report.has_value());
  CHECK(report->records.size() == 2);
  limits.max_records = 2;
  check_refused(parts.xml(), "report has more than 2 records (limit max_records)", limits);
}

TEST_CASE("issue 6: counts of 10^12 and 2^64 drop their records; the others are kept exactly") {
  // 10^12 messages from one IP in one day is more than all the e-mail sent
  // worldwide in a day; 2^64 does not fit any 64-bit integer.
  Parts parts;
  parts.records = Parts::record("192.0.2.1", "5") + Parts::record("192.0.2.2", "1000000000000") +
                  Parts::record("192.0.2.3", "18446744073709551616") +
                  Parts::record("192.0.2.4", "4294967296");
  const AggregateReport report = parse_ok(parts.xml());
  REQUIRE(report.records.size() == 2);
  CHECK(report.records[0].source_ip.to_string() == "192.0.2.1");
  CHECK(report.records[0].count == 5);
  CHECK(report.records[1].source_ip.to_string() == "192.0.2.4");
  CHECK(report.records[1].count == 4294967296);
  const Warning* warning = find_warning(report, "record_dropped");
  REQUIRE(warning != nullptr);
  CHECK(warning->count == 2);
  CHECK(warning->detail ==
        "record 2: count '1000000000000' is more than 4294967296 messages, more than any "
        "receiver sees");
  parts.records = Parts::record("192.0.2.3", "18446744073709551616");
  const AggregateReport overflow = parse_ok(parts.xml());
  CHECK(overflow.records.empty());
  REQUIRE(find_warning(overflow, "record_dropped") != nullptr);
  CHECK(find_warning(overflow, "record_dropped")->detail ==
        "record 1: count '18446744073709551616' exceeds the 64-bit range");
}

}  // namespace
}  // namespace dmarcsift::ingest

TEST_CASE("fuzz regression: counts that overflow a 64-bit sum never reach storage") {
  const auto doc = [](const std::string& records) {
    return "<feedback><report_metadata><org_name>a</org_name><report_id>1</report_id>"
           "<date_range><begin>0</begin><end>1</end></date_range></report_metadata>"
           "<policy_published><domain>a</domain></policy_published>" + records + "</feedback>";
  };
  const auto record = [](const std::string& count) {
    return "<record><row><source_ip>192.0.2.1</source_ip><count>" + count + "</count></row></record>";
  };
  SUBCASE("a count above 2^32 drops its record") {
    auto report = dmarcsift::ingest::parse_xml_report(
        doc(record("9223372036854775807") + record("4294967296") + record("1")), "big.xml");
    REQUIRE(report);
    REQUIRE(report->records.size() == 2);
    CHECK(report->records[0].count == 4294967296);
    CHECK(report->records[1].count == 1);
    REQUIRE(!report->warnings.empty());
    bool found = false;
    for (const auto& w : report->warnings) {
      if (w.kind != "record_dropped") continue;
      found = true;
      CHECK(w.detail == "record 1: count '9223372036854775807' is more than 4294967296 messages, "
                        "more than any receiver sees");
    }
    CHECK(found);
  }
}
