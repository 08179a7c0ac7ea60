// Large documents are read a slice of records at a time (Limits::
// sliced_xml_bytes). These tests force that way on small documents and
// check, for each layout, whether it is taken and that every entry point
// gives what the whole parse gives, warnings and errors included.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "ingest/archive.hpp"
#include "ingest/xml_report.hpp"

namespace dmarcsift::ingest {
namespace {

Limits in_slices() {
  Limits limits;
  limits.sliced_xml_bytes = 0;
  return limits;
}

std::string record(int n, const std::string& count = "") {
  const std::string ip = "192.0." + std::to_string(n / 250 % 250) + "." + std::to_string(n % 250 + 1);
  return "<record><row><source_ip>" + ip + "</source_ip><count>" +
         (count.empty() ? std::to_string(n % 7 + 1) : count) +
         "</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim>"
         "<spf>fail</spf></policy_evaluated></row><identifiers><header_from>example.com"
         "</header_from></identifiers><auth_results><dkim><domain>example.com</domain>"
         "<selector>s" + std::to_string(n % 3) + "</selector><result>pass</result></dkim>"
         "<spf><domain>bounce.example.com</domain><result>fail</result></spf></auth_results>"
         "</record>\n";
}

const std::string k_head =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n<version>1.0</version>\n"
    "<report_metadata><org_name>Acme</org_name><email>dmarc@acme.example</email>"
    "<report_id>r-1</report_id><date_range><begin>1700000000</begin><end>1700086399</end>"
    "</date_range></report_metadata>\n"
    "<policy_published><domain>example.com</domain><p>reject</p></policy_published>\n";

std::string records(int from, int to) {
  std::string text;
  for (int n = from; n < to; ++n) text += record(n);
  return text;
}

std::string document(const std::string& body, const std::string& tail = "</feedback>\n") {
  return k_head + body + tail;
}

// Parses `xml` whole, and in slices through both entry points; all must
// agree. Returns whether the sliced way read it itself.
bool same_either_way(const std::string& xml, const Limits& base = {}) {
  Limits sliced = base;
  sliced.sliced_xml_bytes = 0;
  Limits unsliced = base;
  unsliced.sliced_xml_bytes = std::numeric_limits<std::uint64_t>::max();
  const auto expected = parse_xml_report(xml, "t.xml", unsliced);
  const auto copied = parse_xml_report(xml, "t.xml", sliced);
  const auto owned = parse_owned_xml_report(std::string(xml), "t.xml", sliced, [&] { return xml; });
  REQUIRE(copied.has_value() == expected.has_value());
  REQUIRE(owned.has_value() == expected.has_value());
  if (expected) {
    CHECK(*copied == *expected);
    CHECK(*owned == *expected);
  } else {
    CHECK(to_string(copied.error()) == to_string(expected.error()));
    CHECK(to_string(owned.error()) == to_string(expected.error()));
  }
  const auto direct = detail::parse_in_slices(xml, "t.xml", sliced);
  if (direct) {
    REQUIRE(expected.has_value());
    CHECK(*direct == *expected);
  }
  return direct.has_value();
}

TEST_CASE("a report of 3,000 records is read in slices as it is read whole") {
  std::string body = records(0, 3000);
  // Dropped records are numbered across slices: 700, 1400, 2100 and 2800.
  for (int n : {700, 1400, 2100, 2800}) {
    const std::string kept = record(n - 1);
    body.replace(body.find(kept), kept.size(), record(n - 1, "many"));
  }
  const std::string xml = document(body);
  CHECK(same_either_way(xml));
  const auto report = detail::parse_in_slices(xml, "t.xml", in_slices());
  REQUIRE(report.has_value());
  CHECK(report->records.size() == 2996);
  CHECK(report->records[2995].source_ip.to_string() == "192.0.11.250");
  CHECK(report->records[2995].count == 2999 % 7 + 1);
  const Warning* dropped = nullptr;
  for (const Warning& warning : report->warnings) {
    if (warning.kind == "record_dropped") dropped = &warning;
  }
  REQUIRE(dropped != nullptr);
  CHECK(dropped->count == 4);
  CHECK(dropped->detail == "record 700: count 'many' is not a whole number");
  CHECK(report->policy.domain == "example.com");
  CHECK(report->metadata.report_id == "r-1");
}

TEST_CASE("what stands around the records is read from the head document") {
  SUBCASE("policy_published after the records") {
    const std::string head_without_policy =
        k_head.substr(0, k_head.find("<policy_published>"));
    const std::string xml = head_without_policy + records(0, 5) +
                            "<policy_published><domain>example.org</domain><p>none</p>"
                            "</policy_published></feedback>";
    CHECK(same_either_way(xml));
    CHECK(detail::parse_in_slices(xml, "t.xml", in_slices())->policy.domain == "example.org");
  }
  SUBCASE("an element after the root") {
    const std::string xml = document(records(0, 5), "</feedback>\n<extra/>\n");
    CHECK(same_either_way(xml));
    const auto report = detail::parse_in_slices(xml, "t.xml", in_slices());
    REQUIRE(report.has_value());
    REQUIRE(!report->warnings.empty());
    CHECK(report->warnings[0].kind == "content_after_root");
    CHECK(report->warnings[0].detail == "<extra> after </feedback> ignored");
  }
  SUBCASE("max_xml_depth exactly as deep as the records go") {
    // feedback > record > auth_results > dkim > domain: 5 deep.
    Limits limits;
    limits.max_xml_depth = 5;
    CHECK(same_either_way(document(records(0, 5)), limits));
  }
  SUBCASE("a default namespace on the root") {
    const std::string xml = "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">" +
                            k_head.substr(k_head.find("<version>")) + records(0, 5) + "</feedback>";
    CHECK(same_either_way(xml));
  }
}

TEST_CASE("any other layout is parsed whole, with the same outcome") {
  const std::string five = records(0, 5);
  const std::string first = record(0);
  struct Case {
    const char* what;
    std::string xml;
    Limits limits;
  };
  const auto with_max_records = [] {
    Limits limits;
    limits.max_records = 4;
    return limits;
  };
  const auto with_depth = [] {
    Limits limits;
    limits.max_xml_depth = 4;
    return limits;
  };
  const std::vector<Case> cases = {
      {"a comment between records", document(first + "<!-- x -->" + five), {}},
      {"CDATA in a record",
       document(five + "<record><row><source_ip><![CDATA[192.0.2.9]]></source_ip><count>1</count>"
                       "</row></record>"),
       {}},
      {"records in a wrapper element", document("<records>" + five + "</records>"), {}},
      {"a record with an attribute", document("<record id=\"1\">" + first.substr(8) + five), {}},
      {"prefixed records",
       "<d:feedback xmlns:d=\"urn:x\">" + k_head.substr(k_head.find("<version>")) +
           "<d:record>" + first.substr(8, first.size() - 18) + "</d:record></d:feedback>",
       {}},
      {"text between records", document(first + "stray text" + five), {}},
      {"a malformed record", document(five + "<record><row></record>"), {}},
      // Slices read before have given their pages of the text back: the
      // whole parse needs the text again.
      {"text between records after two slices",
       document(records(0, 2500) + "stray text" + five), {}},
      {"more records than max_records", document(five), with_max_records()},
      {"a record nested deeper than max_xml_depth", document(five), with_depth()},
      {"a DOCTYPE", "<!DOCTYPE feedback>" + document(five), {}},
      {"records after the root", document(first, "</feedback>" + five), {}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    CHECK_FALSE(same_either_way(c.xml, c.limits));
  }
}

// Every real report of the shared corpus (../shared beside the checkout),
// plain or gzip, read with slicing forced reads as it does whole.
TEST_CASE("the shared corpus reads the same in slices") {
  const char* shared = std::getenv("DMARCSIFT_SHARED");
  REQUIRE_MESSAGE(shared != nullptr, "DMARCSIFT_SHARED names the shared folder (ctest sets it)");
  const std::filesystem::path corpus = std::filesystem::path(shared) / "corpus";
  REQUIRE(std::filesystem::is_directory(corpus));
  int documents = 0;
  int sliced = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    const std::string name = entry.path().filename().string();
    const bool gzip = name.ends_with(".xml.gz");
    if (!gzip && !name.ends_with(".xml")) continue;
    CAPTURE(name);
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (gzip) {
      std::vector<Warning> warnings;
      auto inflated = inflate_stream(bytes, name, Limits{}, warnings);
      if (!inflated) continue;  // the corpus holds broken gzip files on purpose
      bytes = std::move(*inflated);
    }
    ++documents;
    if (same_either_way(bytes)) ++sliced;
  }
  CHECK(documents >= 40);
  // Most real reports have the plain layout; the others fall back whole.
  CHECK(sliced * 2 > documents);
  MESSAGE(sliced << " of " << documents << " corpus documents read in slices");
}

}  // namespace
}  // namespace dmarcsift::ingest
