#include "core/aggregate_report.hpp"

#include <doctest/doctest.h>

#include "core/content_hash.hpp"

using namespace dmarcsift;

TEST_CASE("warnings are counted per kind and keep the first detail") {
  std::vector<Warning> warnings;
  add_warning(warnings, "whitespace_padding", "org_name");
  add_warning(warnings, "missing_version", "");
  add_warning(warnings, "whitespace_padding", "record 3 header_from");
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0].kind == "whitespace_padding");
  CHECK(warnings[0].detail == "org_name");
  CHECK(warnings[0].count == 2);
  CHECK(warnings[1].count == 1);
}

TEST_CASE("enumerations print the schema's words") {
  CHECK(std::string(to_string(Disposition::quarantine)) == "quarantine");
  CHECK(std::string(to_string(SpfResult::softfail)) == "softfail");
  CHECK(std::string(to_string(OverrideType::policy_test_mode)) == "policy_test_mode");
  CHECK(std::string(to_string(Alignment::strict)) == "s");
  CHECK(std::string(to_string(SpfScope::absent)).empty());
}

TEST_CASE("content hashes are 16 bytes and stable") {
  const std::string h = content_hash("dmarc");
  CHECK(h.size() == 16);
  CHECK(hash_to_hex(h).size() == 32);
  CHECK(content_hash("dmarc") == h);
  CHECK(content_hash("dmarc ") != h);
}
