#include "analysis/public_suffix.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.hpp"

using dmarcsift::Errc;
using dmarcsift::analysis::PublicSuffixList;

namespace {

PublicSuffixList system_list() {
  auto psl = PublicSuffixList::load();
  REQUIRE_MESSAGE(psl.has_value(), dmarcsift::to_string(psl.error()));
  return std::move(*psl);
}

struct OrgRow {
  std::string domain;
  std::string org;
};

// Three 63-character labels, `last` characters of a fourth, then ".com":
// 253 characters for last = 57.
std::string long_name(std::size_t last) {
  return std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
         std::string(last, 'd') + ".com";
}

// Answers of the system list (Debian publicsuffix 20230209) that no later
// list is expected to change.
std::vector<OrgRow> system_rows() {
  return {
      {"example.com", "example.com"},
      {"mail.example.com", "example.com"},
      {"a.b.c.example.com", "example.com"},
      {"com", ""},
      // Multi-label ICANN suffixes.
      {"co.uk", ""},
      {"example.co.uk", "example.co.uk"},
      {"mail.example.co.uk", "example.co.uk"},
      {"com.au", ""},
      {"example.com.au", "example.com.au"},
      {"shop.example.com.au", "example.com.au"},
      // Private-section suffixes count like ICANN ones.
      {"blogspot.com", ""},
      {"alice.blogspot.com", "alice.blogspot.com"},
      {"www.alice.blogspot.com", "alice.blogspot.com"},
      {"github.io", ""},
      {"octocat.github.io", "octocat.github.io"},
      {"s3.amazonaws.com", ""},
      {"bucket.s3.amazonaws.com", "bucket.s3.amazonaws.com"},
      {"amazonaws.com", "amazonaws.com"},
      // Wildcard *.ck with the exception !www.ck.
      {"foo.ck", ""},
      {"b.foo.ck", "b.foo.ck"},
      {"www.ck", "www.ck"},
      {"a.www.ck", "www.ck"},
      // A suffix below a registrable domain: "forgot.his.name" and "name" are
      // listed, "his.name" is not.
      {"forgot.his.name", ""},
      {"his.name", "his.name"},
      {"a.forgot.his.name", "a.forgot.his.name"},
      // An unlisted TLD: the implicit "*" rule.
      {"unknowntld", ""},
      {"host.unknowntld", "host.unknowntld"},
      // Case and one trailing dot.
      {"Example.COM", "example.com"},
      {"MAIL.Example.Com.", "example.com"},
      {"example.com.", "example.com"},
      {"com.", ""},
      {"EXAMPLE.CO.UK", "example.co.uk"},
      // IDN: A-labels as they are; U-labels converted to A-labels.
      {"xn--bcher-kva.de", "xn--bcher-kva.de"},
      {"mail.XN--BCHER-KVA.de", "xn--bcher-kva.de"},
      {"xn--p1ai", ""},
      {"xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai"},
      {"b\xC3\xBC" "cher.de", "xn--bcher-kva.de"},                       // bücher.de
      {"www.B\xC3\x9C" "CHER.de", "xn--bcher-kva.de"},                   // www.BÜCHER.de
      {"\xD0\xBF\xD1\x80\xD0\xB8\xD0\xBC\xD0\xB5\xD1\x80.\xD1\x80\xD1\x84",  // пример.рф
       "xn--e1afmkfd.xn--p1ai"},
      {"\xD1\x80\xD1\x84", ""},  // рф
      // Empty and malformed names.
      {"", ""},
      {".", ""},
      {"..", ""},
      {".example.com", ""},
      {"example..com", ""},
      {"example.com..", ""},
      {std::string("exam\0ple.com", 12), ""},
      {"b\xFF" "cher.de", ""},  // not UTF-8
      // 253 characters is the longest name; one more is not a host name.
      {long_name(57), std::string(57, 'd') + ".com"},
      {long_name(58), ""},
  };
}

}  // namespace

TEST_CASE("organizational domains follow the system Public Suffix List") {
  const PublicSuffixList psl = system_list();
  for (const OrgRow& r : system_rows()) {
    CAPTURE(r.domain);
    CHECK(psl.organizational_domain(r.domain) == r.org);
  }
}

TEST_CASE("a list read from a file replaces the system list") {
  dmarcsift::testing::TempDir dir;
  const auto path = dir.write("list.dat",
                              "// ===BEGIN ICANN DOMAINS===\n"
                              "com\n"
                              "*.test\n"
                              "!keep.test\n"
                              "// ===END ICANN DOMAINS===\n"
                              "// ===BEGIN PRIVATE DOMAINS===\n"
                              "pages.example.com\n"
                              "// ===END PRIVATE DOMAINS===\n");
  auto psl = PublicSuffixList::load_file(path.string());
  REQUIRE_MESSAGE(psl.has_value(), dmarcsift::to_string(psl.error()));
  struct Row { std::string_view domain, org; };
  const Row rows[] = {
      {"mail.example.com", "example.com"},
      {"pages.example.com", ""},
      {"me.pages.example.com", "me.pages.example.com"},
      {"a.test", ""},
      {"x.a.test", "x.a.test"},
      {"keep.test", "keep.test"},
      {"www.keep.test", "keep.test"},
      // co.uk is not listed here, so only the implicit "*" rule applies.
      {"co.uk", "co.uk"},
      {"mail.example.co.uk", "co.uk"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.domain);
    CHECK(psl->organizational_domain(r.domain) == r.org);
  }
}

TEST_CASE("a missing list file is an io error naming the file") {
  const auto psl = PublicSuffixList::load_file("/nonexistent/public_suffix_list.dat");
  REQUIRE_FALSE(psl.has_value());
  CHECK(psl.error().code == Errc::io);
  CHECK(psl.error().where == "/nonexistent/public_suffix_list.dat");
  CHECK(psl.error().what == "cannot read the Public Suffix List");
}

TEST_CASE("a moved list keeps answering; the moved-from one answers empty") {
  PublicSuffixList first = system_list();
  PublicSuffixList second = std::move(first);
  CHECK(second.organizational_domain("mail.example.co.uk") == "example.co.uk");
  CHECK(first.organizational_domain("mail.example.co.uk") == "");  // NOLINT(bugprone-use-after-move)
  first = std::move(second);
  CHECK(first.organizational_domain("mail.example.co.uk") == "example.co.uk");
}

TEST_CASE("one list answers from several threads at once") {
  const PublicSuffixList psl = system_list();
  const std::vector<OrgRow> rows = system_rows();
  constexpr int k_threads = 4;
  constexpr int k_rounds = 200;
  std::vector<int> mismatches(k_threads, 0);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < k_threads; ++t) {
      threads.emplace_back([&psl, &rows, &mismatches, t] {
        for (int round = 0; round < k_rounds; ++round) {
          for (const OrgRow& r : rows) {
            if (psl.organizational_domain(r.domain) != r.org) ++mismatches[t];
          }
        }
      });
    }
  }
  for (int t = 0; t < k_threads; ++t) {
    CAPTURE(t);
    CHECK(mismatches[t] == 0);
  }
}
