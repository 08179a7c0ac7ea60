#include "analysis/classification.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using dmarcsift::Alignment;
using dmarcsift::DkimAuth;
using dmarcsift::DkimResult;
using dmarcsift::OverrideType;
using dmarcsift::PolicyOverride;
using dmarcsift::PolicyPublished;
using dmarcsift::Record;
using dmarcsift::SpfAuth;
using dmarcsift::SpfResult;
using dmarcsift::SpfScope;
using dmarcsift::Verdict;
using namespace dmarcsift::analysis;

namespace {

constexpr Alignment r = Alignment::relaxed;
constexpr Alignment s = Alignment::strict;

const PublicSuffixList& psl() {
  static const PublicSuffixList list = [] {
    auto loaded = PublicSuffixList::load();
    REQUIRE_MESSAGE(loaded.has_value(), dmarcsift::to_string(loaded.error()));
    return std::move(*loaded);
  }();
  return list;
}

DkimAuth dkim(const char* domain, DkimResult result) { return {domain, "sel", result, ""}; }
SpfAuth spf(const char* domain, SpfScope scope, SpfResult result) {
  return {domain, scope, result, ""};
}
PolicyPublished policy(Alignment adkim, Alignment aspf) {
  PolicyPublished p;
  p.domain = "example.com";
  p.adkim = adkim;
  p.aspf = aspf;
  return p;
}

constexpr auto dkim_pass = DkimResult::pass;
constexpr auto dkim_fail = DkimResult::fail;
constexpr auto mfrom = SpfScope::mfrom;
constexpr auto helo = SpfScope::helo;
constexpr auto no_scope = SpfScope::absent;
constexpr auto spf_pass = SpfResult::pass;

}  // namespace

TEST_CASE("relaxed alignment compares organizational domains; strict compares names") {
  struct Row { std::string_view from, auth; Alignment mode; bool aligned; };
  const Row rows[] = {
      {"example.com", "example.com", r, true},
      {"example.com", "example.com", s, true},
      // Subdomains both ways.
      {"example.com", "mail.example.com", r, true},
      {"example.com", "mail.example.com", s, false},
      {"mail.example.com", "example.com", r, true},
      {"mail.example.com", "example.com", s, false},
      {"a.example.com", "b.example.com", r, true},
      {"a.example.com", "b.example.com", s, false},
      // Other organizations, including look-alike endings.
      {"example.com", "example.net", r, false},
      {"example.com", "notexample.com", r, false},
      {"example.com", "example.com.evil.net", r, false},
      // Multi-label public suffixes.
      {"example.co.uk", "mail.example.co.uk", r, true},
      {"example.co.uk", "other.co.uk", r, false},
      {"example.co.uk", "co.uk", r, false},
      {"co.uk", "co.uk", r, false},  // a public suffix has no organizational domain
      {"co.uk", "co.uk", s, true},   // strict is plain equality of the names
      {"example.com.au", "bounce.example.com.au", r, true},
      {"shop.example.com.au", "example.com.au", r, true},
      {"example.com.au", "example.com", r, false},
      // Private-section suffixes separate their customers.
      {"alice.blogspot.com", "bob.blogspot.com", r, false},
      {"alice.blogspot.com", "www.alice.blogspot.com", r, true},
      {"blogspot.com", "blogspot.com", r, false},
      {"octocat.github.io", "github.io", r, false},
      {"amazonaws.com", "bucket.s3.amazonaws.com", r, false},
      {"his.name", "a.forgot.his.name", r, false},
      {"a.www.ck", "www.ck", r, true},
      {"a.foo.ck", "b.foo.ck", r, false},
      // Trailing dots and case.
      {"example.com.", "example.com", s, true},
      {"example.com", "mail.example.com.", r, true},
      {"Example.COM", "example.com", s, true},
      {"example.com", "MAIL.EXAMPLE.COM", r, true},
      {"MAIL.example.com.", "mail.EXAMPLE.com", s, true},
      // IDN: A-labels compare as names; a U-label has the A-label's org.
      {"xn--bcher-kva.de", "mail.xn--bcher-kva.de", r, true},
      {"xn--bcher-kva.de", "xn--bcher-kva.de", s, true},
      {"b\xC3\xBC" "cher.de", "xn--bcher-kva.de", r, true},
      {"b\xC3\xBC" "cher.de", "mail.xn--bcher-kva.de", r, true},
      {"xn--bcher-kva.de", "mail.b\xC3\xBC" "cher.de", r, true},
      {"xn--bcher-kva.de", "bucher.de", r, false},
      // Strict normalizes case and the trailing dot only, not the IDN form.
      {"xn--bcher-kva.de", "b\xC3\xBC" "cher.de", s, false},
      // Empty, missing or malformed names never align.
      {"", "", r, false},
      {"", "", s, false},
      {"example.com", "", r, false},
      {"example.com", "", s, false},
      {"", "example.com", r, false},
      {"", "example.com", s, false},
      {"example.com", ".", r, false},
      {"example..com", "example..com", r, false},
      {"localhost", "localhost", r, false},
  };
  for (const Row& row : rows) {
    CAPTURE(row.from);
    CAPTURE(row.auth);
    CAPTURE(std::string_view(dmarcsift::to_string(row.mode)));
    CHECK(is_aligned(psl(), row.from, row.auth, row.mode) == row.aligned);
  }
}

TEST_CASE("evaluate() classes rows by the first matching rule") {
  struct Row {
    std::string_view name;
    std::string_view header_from;
    std::vector<DkimAuth> dkim_results;
    std::vector<SpfAuth> spf_results;
    std::vector<PolicyOverride> reasons;
    Alignment adkim, aspf;
    bool dkim_aligned, spf_aligned, from_org_spf_failed, forwarding_override;
    RowClass row_class;
  };
  const Row rows[] = {
      // 1. aligned
      {"own MTA, DKIM and SPF aligned", "example.com",
       {dkim("example.com", dkim_pass)}, {spf("example.com", mfrom, spf_pass)}, {}, r, r,
       true, true, false, false, RowClass::aligned},
      {"SPF through a bounce subdomain only", "example.com",
       {}, {spf("bounce.example.com", mfrom, spf_pass)}, {}, r, r,
       false, true, false, false, RowClass::aligned},
      {"SPF without a scope counts as mfrom", "example.com",
       {}, {spf("example.com", no_scope, spf_pass)}, {}, r, r,
       false, true, false, false, RowClass::aligned},
      {"From a subdomain, DKIM for the parent", "news.example.com",
       {dkim("example.com", dkim_pass)}, {}, {}, r, r,
       true, false, false, false, RowClass::aligned},
      {"ESP double signing: one aligned signature is enough", "example.com",
       {dkim("amazonses.com", dkim_pass), dkim("example.com", dkim_fail),
        dkim("mail.example.com", dkim_pass)},
       {spf("us-east-1.amazonses.com", mfrom, spf_pass)}, {}, r, r,
       true, false, false, false, RowClass::aligned},
      {"aspf=s fails the bounce subdomain, DKIM still aligns", "example.com",
       {dkim("example.com", dkim_pass)}, {spf("bounce.example.com", mfrom, spf_pass)}, {}, r, s,
       true, false, false, false, RowClass::aligned},
      {"a helo failure for the own domain is not from_org_spf_failed", "example.com",
       {dkim("example.com", dkim_pass)}, {spf("example.com", helo, SpfResult::fail)}, {}, r, r,
       true, false, false, false, RowClass::aligned},
      {"an SPF failure for another org under co.uk", "shop.example.co.uk",
       {dkim("example.co.uk", dkim_pass)}, {spf("other.co.uk", mfrom, SpfResult::fail)}, {}, r, r,
       true, false, false, false, RowClass::aligned},
      {"null sender: an empty SPF domain has no org", "example.com",
       {dkim("example.com", dkim_pass)}, {spf("", mfrom, SpfResult::none)}, {}, r, r,
       true, false, false, false, RowClass::aligned},
      {"an empty SPF domain never aligns", "example.com",
       {dkim("example.com", dkim_pass)}, {spf("", mfrom, spf_pass)}, {}, r, r,
       true, false, false, false, RowClass::aligned},
      {"tie-break: DMARC pass wins over a forwarding reason", "example.com",
       {dkim("example.com", dkim_pass)}, {spf("relay.example.net", mfrom, spf_pass)},
       {{OverrideType::forwarded, ""}}, r, r,
       true, false, false, true, RowClass::aligned},
      // 2. forwarded
      {"forwarder: DKIM survives, own SPF fails", "example.com",
       {dkim("example.com", dkim_pass)}, {spf("example.com", mfrom, SpfResult::fail)}, {}, r, r,
       true, false, true, false, RowClass::forwarded},
      {"softfail for a bounce subdomain of the From org", "example.com",
       {dkim("example.com", dkim_pass)}, {spf("bounce.example.com", no_scope, SpfResult::softfail)},
       {}, r, r, true, false, true, false, RowClass::forwarded},
      {"a broken own SPF record (permerror) with aligned DKIM", "mail.example.com",
       {dkim("mail.example.com", dkim_pass)}, {spf("example.com", mfrom, SpfResult::permerror)},
       {}, s, s, true, false, true, false, RowClass::forwarded},
      {"tie-break: an aligned SPF pass beside a failing one for the From org", "example.com",
       {}, {spf("example.com", mfrom, spf_pass), spf("bounce.example.com", mfrom, SpfResult::fail)},
       {}, r, r, false, true, true, false, RowClass::forwarded},
      {"mailing list broke DKIM, receiver says forwarded", "example.com",
       {dkim("example.com", dkim_fail)}, {spf("example.com", mfrom, SpfResult::fail)},
       {{OverrideType::forwarded, ""}}, r, r,
       false, false, true, true, RowClass::forwarded},
      {"trusted_forwarder override", "example.com",
       {}, {spf("example.com", mfrom, SpfResult::softfail)},
       {{OverrideType::trusted_forwarder, ""}}, r, r,
       false, false, true, true, RowClass::forwarded},
      {"mailing_list override after a sampled_out reason", "example.com",
       {dkim("example.com", dkim_fail)}, {},
       {{OverrideType::sampled_out, ""}, {OverrideType::mailing_list, ""}}, r, r,
       false, false, false, true, RowClass::forwarded},
      {"local_policy with arc=pass", "example.com",
       {dkim("example.com", dkim_fail)}, {spf("example.com", mfrom, SpfResult::fail)},
       {{OverrideType::local_policy, "arc=pass as.1.google.com=pass ams.1.google.com=pass"}}, r, r,
       false, false, true, true, RowClass::forwarded},
      {"local_policy with ARC=Pass in capitals", "example.com",
       {}, {}, {{OverrideType::local_policy, "Forwarded: ARC=Pass"}}, r, r,
       false, false, false, true, RowClass::forwarded},
      {"tie-break: an override wins over a foreign pass", "example.com",
       {dkim("list.example.org", dkim_pass)}, {spf("list.example.org", mfrom, spf_pass)},
       {{OverrideType::mailing_list, ""}}, r, r,
       false, false, false, true, RowClass::forwarded},
      // 3. misaligned
      {"ESP defaults: DKIM and SPF for the ESP", "example.com",
       {dkim("sendgrid.net", dkim_pass)}, {spf("em123.sendgrid.net", mfrom, spf_pass)}, {}, r, r,
       false, false, false, false, RowClass::misaligned},
      {"adkim=s refuses a subdomain signature", "example.com",
       {dkim("mail.example.com", dkim_pass)}, {}, {}, s, r,
       false, false, false, false, RowClass::misaligned},
      {"only a helo pass for another domain", "example.com",
       {}, {spf("mx.example.net", helo, spf_pass)}, {}, r, r,
       false, false, false, false, RowClass::misaligned},
      {"a helo pass never aligns, even for the From domain", "example.com",
       {}, {spf("example.com", helo, spf_pass)}, {}, r, r,
       false, false, false, false, RowClass::misaligned},
      {"a foreign pass while the own SPF fails, no override", "example.com",
       {dkim("gappssmtp.com", dkim_pass)}, {spf("example.com", mfrom, SpfResult::softfail)},
       {}, r, r, false, false, true, false, RowClass::misaligned},
      {"a private suffix separates customers", "alice.blogspot.com",
       {dkim("bob.blogspot.com", dkim_pass)}, {}, {}, r, r,
       false, false, false, false, RowClass::misaligned},
      {"a From that is a public suffix has no org", "co.uk",
       {dkim("co.uk", dkim_pass)}, {}, {}, r, r,
       false, false, false, false, RowClass::misaligned},
      {"a missing header_from aligns with nothing", "",
       {dkim("", dkim_pass)}, {spf("", mfrom, spf_pass)}, {}, s, s,
       false, false, false, false, RowClass::misaligned},
      // 4. unauthorized
      {"spoofer: everything fails", "example.com",
       {dkim("example.com", dkim_fail)}, {spf("example.com", mfrom, SpfResult::fail)}, {}, r, r,
       false, false, true, false, RowClass::unauthorized},
      {"no auth results at all", "example.com", {}, {}, {}, r, r,
       false, false, false, false, RowClass::unauthorized},
      {"errors and neutral results are not passes", "example.com",
       {dkim("example.com", DkimResult::temperror), dkim("other.net", DkimResult::policy)},
       {spf("other.net", mfrom, SpfResult::neutral), spf("example.com", helo, SpfResult::none)},
       {}, r, r, false, false, false, false, RowClass::unauthorized},
      {"local_policy without arc=pass is no override", "example.com",
       {}, {spf("example.com", mfrom, SpfResult::fail)},
       {{OverrideType::local_policy, "arc=fail"}}, r, r,
       false, false, true, false, RowClass::unauthorized},
      {"sampled_out, other and policy_test_mode are no overrides", "example.com",
       {}, {spf("example.com", mfrom, SpfResult::fail)},
       {{OverrideType::sampled_out, "arc=pass"}, {OverrideType::other, "arc=pass"},
        {OverrideType::policy_test_mode, ""}},
       r, r, false, false, true, false, RowClass::unauthorized},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    Record record;
    record.count = 1;
    record.header_from = row.header_from;
    record.dkim_results = row.dkim_results;
    record.spf_results = row.spf_results;
    record.reasons = row.reasons;
    const RecordVerdict v = evaluate(psl(), record, policy(row.adkim, row.aspf));
    CHECK(v.dkim_aligned == row.dkim_aligned);
    CHECK(v.spf_aligned == row.spf_aligned);
    CHECK(v.dmarc_pass == (row.dkim_aligned || row.spf_aligned));
    CHECK(v.from_org_spf_failed == row.from_org_spf_failed);
    CHECK(v.forwarding_override == row.forwarding_override);
    CHECK(to_string(v.row_class) == std::string(to_string(row.row_class)));
    // policy_evaluated is absent here, so there is nothing to disagree with.
    CHECK(v.dkim_disagreement == Disagreement::none);
    CHECK(v.spf_disagreement == Disagreement::none);
  }
}

TEST_CASE("evaluate() explains where the receiver's verdict differs from ours") {
  struct Row {
    std::string_view name;
    Verdict receiver_dkim, receiver_spf;
    std::vector<DkimAuth> dkim_results;
    std::vector<SpfAuth> spf_results;
    std::vector<PolicyOverride> reasons;
    Disagreement dkim, spf;
  };
  constexpr auto pass = Verdict::pass;
  constexpr auto fail = Verdict::fail;
  constexpr auto absent = Verdict::absent;
  const Row rows[] = {
      {"both agree on pass", pass, pass,
       {dkim("example.com", dkim_pass)}, {spf("example.com", mfrom, spf_pass)}, {},
       Disagreement::none, Disagreement::none},
      {"both agree on fail", fail, fail,
       {dkim("example.com", dkim_fail)}, {spf("example.com", mfrom, SpfResult::fail)}, {},
       Disagreement::none, Disagreement::none},
      {"no receiver verdict: nothing to compare", absent, absent,
       {dkim("example.com", dkim_pass)}, {}, {},
       Disagreement::none, Disagreement::none},
      {"receiver fails an aligned pass without a reason", fail, fail,
       {dkim("example.com", dkim_pass)}, {spf("bounce.example.com", mfrom, spf_pass)}, {},
       Disagreement::receiver_disagrees, Disagreement::receiver_disagrees},
      {"receiver fails an aligned pass, citing ARC", fail, pass,
       {dkim("example.com", dkim_pass)}, {spf("example.com", mfrom, spf_pass)},
       {{OverrideType::local_policy, "arc=pass"}},
       Disagreement::receiver_override, Disagreement::none},
      {"any local_policy reason explains a failed verdict", fail, fail,
       {dkim("example.com", dkim_pass)}, {spf("example.com", no_scope, spf_pass)},
       {{OverrideType::local_policy, ""}},
       Disagreement::receiver_override, Disagreement::receiver_override},
      {"forwarded, trusted_forwarder and mailing_list explain it", fail, fail,
       {dkim("example.com", dkim_pass)}, {spf("example.com", mfrom, spf_pass)},
       {{OverrideType::mailing_list, ""}},
       Disagreement::receiver_override, Disagreement::receiver_override},
      {"sampled_out does not explain a failed verdict", fail, absent,
       {dkim("example.com", dkim_pass)}, {}, {{OverrideType::sampled_out, ""}},
       Disagreement::receiver_disagrees, Disagreement::none},
      {"policy_test_mode and other do not either", fail, fail,
       {dkim("example.com", dkim_pass)}, {spf("example.com", mfrom, spf_pass)},
       {{OverrideType::policy_test_mode, ""}, {OverrideType::other, "arc=pass"}},
       Disagreement::receiver_disagrees, Disagreement::receiver_disagrees},
      {"receiver passes DKIM it did not report (OpenDMARC)", pass, pass,
       {}, {spf("example.com", mfrom, spf_pass)}, {},
       Disagreement::missing_dkim_entry, Disagreement::none},
      {"receiver passes DKIM we see failing", pass, fail,
       {dkim("example.com", dkim_fail)}, {spf("example.com", mfrom, SpfResult::fail)}, {},
       Disagreement::receiver_disagrees, Disagreement::none},
      {"receiver passes DKIM for a domain that does not align", pass, fail,
       {dkim("sendgrid.net", dkim_pass)}, {spf("sendgrid.net", mfrom, spf_pass)}, {},
       Disagreement::receiver_disagrees, Disagreement::none},
      {"receiver passes SPF that only passed for helo", fail, pass,
       {}, {spf("example.com", helo, spf_pass)}, {},
       Disagreement::none, Disagreement::receiver_disagrees},
      {"a missing SPF entry is not excused like a DKIM one", absent, pass,
       {}, {}, {},
       Disagreement::none, Disagreement::receiver_disagrees},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    Record record;
    record.count = 3;
    record.header_from = "example.com";
    record.dkim = row.receiver_dkim;
    record.spf = row.receiver_spf;
    record.dkim_results = row.dkim_results;
    record.spf_results = row.spf_results;
    record.reasons = row.reasons;
    const RecordVerdict v = evaluate(psl(), record, policy(r, r));
    CHECK(to_string(v.dkim_disagreement) == std::string(to_string(row.dkim)));
    CHECK(to_string(v.spf_disagreement) == std::string(to_string(row.spf)));
  }
}

TEST_CASE("groups take their rows' majority class unless they are intermittent") {
  RecordVerdict aligned;
  aligned.dkim_aligned = aligned.dmarc_pass = true;
  aligned.row_class = RowClass::aligned;
  RecordVerdict forwarded_pass;  // DKIM carried it while the own SPF failed
  forwarded_pass.dkim_aligned = forwarded_pass.dmarc_pass = true;
  forwarded_pass.from_org_spf_failed = true;
  forwarded_pass.row_class = RowClass::forwarded;
  RecordVerdict forwarded_override;  // no DMARC pass, a forwarding reason
  forwarded_override.forwarding_override = true;
  forwarded_override.row_class = RowClass::forwarded;
  RecordVerdict misaligned;
  misaligned.row_class = RowClass::misaligned;
  RecordVerdict unauthorized;
  unauthorized.row_class = RowClass::unauthorized;

  struct Entry { const RecordVerdict* verdict; std::int64_t count; };
  struct Row {
    std::string_view name;
    std::vector<Entry> entries;
    std::int64_t messages[4];
    std::int64_t dmarc_pass_rows, misaligned_or_unauthorized_rows;
    GroupClass group_class;
  };
  const Row rows[] = {
      {"no rows: the first class", {}, {0, 0, 0, 0}, 0, 0, GroupClass::aligned},
      {"aligned only", {{&aligned, 5}, {&aligned, 7}}, {12, 0, 0, 0}, 2, 0, GroupClass::aligned},
      {"aligned and forwarded: most messages", {{&aligned, 3}, {&forwarded_pass, 4}},
       {3, 4, 0, 0}, 2, 0, GroupClass::forwarded},
      {"tie aligned / forwarded", {{&forwarded_pass, 5}, {&aligned, 5}},
       {5, 5, 0, 0}, 2, 0, GroupClass::aligned},
      {"tie forwarded / misaligned", {{&misaligned, 2}, {&forwarded_override, 2}},
       {0, 2, 2, 0}, 0, 1, GroupClass::forwarded},
      {"tie misaligned / unauthorized", {{&unauthorized, 9}, {&misaligned, 9}},
       {0, 0, 9, 9}, 0, 2, GroupClass::misaligned},
      {"forwarded by override beats fewer unauthorized messages",
       {{&forwarded_override, 3}, {&unauthorized, 2}}, {0, 3, 0, 2}, 0, 1, GroupClass::forwarded},
      {"unauthorized majority over misaligned", {{&misaligned, 2}, {&unauthorized, 7}},
       {0, 0, 2, 7}, 0, 2, GroupClass::unauthorized},
      {"one failing message among many aligned: intermittent",
       {{&aligned, 1000}, {&misaligned, 1}}, {1000, 0, 1, 0}, 1, 1, GroupClass::intermittent},
      {"a DKIM-carried forward and a spoof: intermittent",
       {{&forwarded_pass, 1}, {&unauthorized, 50}}, {0, 1, 0, 50}, 1, 1,
       GroupClass::intermittent},
      {"rows with zero messages still count for intermittent",
       {{&aligned, 0}, {&unauthorized, 0}}, {0, 0, 0, 0}, 1, 1, GroupClass::intermittent},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    GroupTally tally;
    for (const Entry& e : row.entries) tally.add(*e.verdict, e.count);
    for (int i = 0; i < 4; ++i) {
      CAPTURE(i);
      CHECK(tally.messages_by_row_class[i] == row.messages[i]);
    }
    CHECK(tally.dmarc_pass_rows == row.dmarc_pass_rows);
    CHECK(tally.misaligned_or_unauthorized_rows == row.misaligned_or_unauthorized_rows);
    CHECK(to_string(classify_group(tally)) == std::string(to_string(row.group_class)));
  }
}

TEST_CASE("class and disagreement names are the JSON names") {
  CHECK(std::string(to_string(RowClass::aligned)) == "aligned");
  CHECK(std::string(to_string(RowClass::forwarded)) == "forwarded");
  CHECK(std::string(to_string(RowClass::misaligned)) == "misaligned");
  CHECK(std::string(to_string(RowClass::unauthorized)) == "unauthorized");
  CHECK(std::string(to_string(GroupClass::aligned)) == "aligned");
  CHECK(std::string(to_string(GroupClass::forwarded)) == "forwarded");
  CHECK(std::string(to_string(GroupClass::misaligned)) == "misaligned");
  CHECK(std::string(to_string(GroupClass::unauthorized)) == "unauthorized");
  CHECK(std::string(to_string(GroupClass::intermittent)) == "intermittent");
  CHECK(std::string(to_string(Disagreement::none)) == "none");
  CHECK(std::string(to_string(Disagreement::receiver_override)) == "receiver_override");
  CHECK(std::string(to_string(Disagreement::missing_dkim_entry)) == "missing_dkim_entry");
  CHECK(std::string(to_string(Disagreement::receiver_disagrees)) == "receiver_disagrees");
}
