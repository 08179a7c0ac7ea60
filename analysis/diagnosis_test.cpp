#include "analysis/diagnosis.hpp"

#include <doctest/doctest.h>

using namespace dmarcsift;
using namespace dmarcsift::analysis;

namespace {

const PublicSuffixList& psl() {
  static const PublicSuffixList list = std::move(*PublicSuffixList::load());
  return list;
}

Record record(std::int64_t count, std::vector<DkimAuth> dkim, std::vector<SpfAuth> spf,
              std::string from = "example.com") {
  Record r;
  r.source_ip = *IpAddress::parse("192.0.2.7");
  r.count = count;
  r.header_from = std::move(from);
  r.dkim_results = std::move(dkim);
  r.spf_results = std::move(spf);
  return r;
}

// Evaluates `records` as one group and returns its diagnosis keys.
std::vector<Diagnosis> diagnose_group(const std::vector<Record>& records, const PolicyPublished& policy,
                                      const KnownSender* service = nullptr) {
  Evidence evidence;
  GroupTally tally;
  for (const Record& r : records) {
    const RecordVerdict verdict = evaluate(psl(), r, policy);
    evidence.add(psl(), r, policy, verdict);
    tally.add(verdict, r.count);
  }
  return diagnose(evidence, classify_group(tally), service, "192.0.2.7");
}

std::vector<std::string> keys(const std::vector<Diagnosis>& found) {
  std::vector<std::string> out;
  for (const Diagnosis& d : found) out.push_back(d.key);
  return out;
}

}  // namespace

TEST_CASE("each pattern of auth results gets its diagnosis key") {
  PolicyPublished relaxed;
  relaxed.domain = "example.com";
  PolicyPublished strict = relaxed;
  strict.adkim = Alignment::strict;
  strict.aspf = Alignment::strict;
  const DkimAuth own_pass{"example.com", "s1", DkimResult::pass, ""};
  struct Row {
    const char* name;
    std::vector<Record> records;
    const PolicyPublished* policy;
    std::vector<std::string> keys;
  };
  const std::vector<Row> rows = {
      {"SPF permerror on the owner's domain, DKIM carries it",
       {record(5, {own_pass}, {{"example.com", SpfScope::mfrom, SpfResult::permerror, ""}})},
       &relaxed, {"spf_permerror"}},
      {"temperror on bad days, pass on good ones",
       {record(9, {own_pass}, {{"example.com", SpfScope::mfrom, SpfResult::pass, ""}}),
        record(2, {{"example.com", "s1", DkimResult::temperror, ""}},
               {{"example.com", SpfScope::mfrom, SpfResult::temperror, ""}})},
       &relaxed, {"dns_temperror"}},
      {"strict alignment with a subdomain From",
       {record(3, {own_pass}, {{"example.com", SpfScope::mfrom, SpfResult::pass, ""}}, "news.example.com")},
       &strict, {"strict_alignment_subdomain"}},
      {"an unknown third party authenticated as itself",
       {record(4, {{"vendor.example.net", "k1", DkimResult::pass, ""}},
               {{"bounce.vendor.example.net", SpfScope::mfrom, SpfResult::pass, ""}})},
       &relaxed, {"third_party_unaligned"}},
      {"own signature failing, nothing else",
       {record(2, {{"example.com", "old2019", DkimResult::fail, ""}},
               {{"example.com", SpfScope::mfrom, SpfResult::fail, ""}})},
       &relaxed, {"dkim_fail_selector", "spoofed"}},
      {"a server in SPF that does not sign, with a bad day",
       {record(6, {}, {{"example.com", SpfScope::mfrom, SpfResult::pass, ""}}),
        record(1, {}, {{"example.com", SpfScope::mfrom, SpfResult::fail, ""}})},
       &relaxed, {"dkim_missing"}},
      {"own DKIM passes, SPF does not cover the source",
       {record(8, {own_pass}, {{"example.com", SpfScope::mfrom, SpfResult::softfail, ""}})},
       &relaxed, {"spf_not_covering_source"}},
      {"a list that broke DKIM, vouched for by the receiver",
       {[] {
          Record r = record(3, {{"example.com", "s1", DkimResult::fail, ""}},
                            {{"lists.example.org", SpfScope::mfrom, SpfResult::pass, ""}});
          r.reasons.push_back({OverrideType::mailing_list, ""});
          return r;
        }()},
       &relaxed, {"forwarded"}},
      {"nothing passes",
       {record(1, {}, {{"example.com", SpfScope::mfrom, SpfResult::fail, ""}})},
       &relaxed, {"spoofed"}},
      {"aligned mail needs nothing",
       {record(10, {own_pass}, {{"example.com", SpfScope::mfrom, SpfResult::pass, ""}})},
       &relaxed, {}},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    CHECK(keys(diagnose_group(row.records, *row.policy)) == row.keys);
  }
}

TEST_CASE("an ESP without custom DKIM gets the catalog's fix, word for word") {
  PolicyPublished policy;
  policy.domain = "example.com";
  const SenderCatalog catalog = SenderCatalog::builtin();
  const Record r = record(12, {{"sendgrid.net", "s1", DkimResult::pass, ""}},
                          {{"sendgrid.net", SpfScope::mfrom, SpfResult::pass, ""}});
  const KnownSender* sendgrid = catalog.identify(psl(), r);
  REQUIRE(sendgrid != nullptr);
  CHECK(sendgrid->name == "SendGrid");
  const auto found = diagnose_group({r}, policy, sendgrid);
  REQUIRE(found.size() == 1);
  CHECK(found[0].key == "esp_default_dkim");
  CHECK(found[0].cause == "SendGrid sends as example.com but authenticates only its own domain "
                          "(sendgrid.net), 12 messages");
  CHECK(found[0].fix == sendgrid->fix);
  CHECK_FALSE(found[0].fix.empty());
}

TEST_CASE("fix texts name the domain, selector and source") {
  PolicyPublished policy;
  policy.domain = "example.com";
  const auto permerror = diagnose_group(
      {record(5, {{"example.com", "s1", DkimResult::pass, ""}},
              {{"example.com", SpfScope::mfrom, SpfResult::permerror, ""}})},
      policy);
  REQUIRE(permerror.size() == 1);
  CHECK(permerror[0].cause ==
        "receivers got a permanent error evaluating the SPF record of example.com (5 messages)");
  CHECK(permerror[0].fix ==
        "Repair the SPF record of example.com: publish exactly one v=spf1 TXT record and keep it "
        "under 10 DNS lookups (include, a, mx, ptr, exists, redirect); flatten or remove includes.");
  const auto selector = diagnose_group(
      {record(2, {{"example.com", "old2019", DkimResult::fail, ""}},
              {{"example.com", SpfScope::mfrom, SpfResult::fail, ""}})},
      policy);
  REQUIRE(selector.size() == 2);
  CHECK(selector[0].fix ==
        "Check that old2019._domainkey.example.com publishes the public key the signer uses (it "
        "may have been rotated or deleted) and that nothing rewrites messages after signing.");
  CHECK(selector[1].fix ==
        "If you do not know 192.0.2.7, this is spoofing, which p=quarantine or p=reject stops; if "
        "it is yours, authorize it (SPF and DKIM for example.com) before tightening the policy.");
}

TEST_CASE("every diagnosis key comes with its exact fix text") {
  PolicyPublished relaxed;
  relaxed.domain = "example.com";
  PolicyPublished strict = relaxed;
  strict.adkim = Alignment::strict;
  strict.aspf = Alignment::strict;
  const DkimAuth own_pass{"example.com", "s1", DkimResult::pass, ""};
  const SpfAuth own_spf_pass{"example.com", SpfScope::mfrom, SpfResult::pass, ""};
  Record disagreeing = record(4, {own_pass}, {own_spf_pass});
  disagreeing.dkim = Verdict::fail;
  disagreeing.spf = Verdict::fail;
  Record listed = record(3, {{"example.com", "s1", DkimResult::fail, ""}},
                         {{"lists.example.org", SpfScope::mfrom, SpfResult::pass, ""}});
  listed.reasons.push_back({OverrideType::forwarded, ""});
  struct Row {
    std::vector<Record> records;
    const PolicyPublished* policy;
    const char* key;
    const char* fix;
  };
  const std::vector<Row> rows = {
      {{record(9, {own_pass}, {own_spf_pass}),
        record(2, {{"example.com", "s1", DkimResult::temperror, ""}},
               {{"example.com", SpfScope::mfrom, SpfResult::temperror, ""}})},
       &relaxed, "dns_temperror",
       "Check that every authoritative name server of example.com answers TXT queries for the SPF "
       "record and the selector._domainkey keys quickly and consistently."},
      {{record(3, {own_pass}, {own_spf_pass}, "news.example.com")}, &strict,
       "strict_alignment_subdomain",
       "Sign with d=news.example.com and use a MAIL FROM under news.example.com, or publish "
       "adkim=r / aspf=r in the DMARC record."},
      {{record(4, {{"vendor.example.net", "k1", DkimResult::pass, ""}},
               {{"bounce.vendor.example.net", SpfScope::mfrom, SpfResult::pass, ""}})},
       &relaxed, "third_party_unaligned",
       "If you send through this service, set up its custom-domain authentication (DKIM with "
       "d=example.com and a return path under example.com); if you do not, it is misusing your "
       "domain."},
      {{record(6, {}, {own_spf_pass}),
        record(1, {}, {{"example.com", SpfScope::mfrom, SpfResult::fail, ""}})},
       &relaxed, "dkim_missing",
       "Enable DKIM signing for example.com on this server or service and publish its "
       "selector._domainkey.example.com key."},
      {{record(8, {own_pass}, {{"example.com", SpfScope::mfrom, SpfResult::softfail, ""}})}, &relaxed,
       "spf_not_covering_source",
       "If 192.0.2.7 is your server or a gateway you use, add it to the SPF record of example.com "
       "(ip4:/ip6: or the provider's include); if it is a forwarder, nothing to do: DKIM carries "
       "DMARC."},
      {{disagreeing}, &relaxed, "receiver_disagrees",
       "Nothing to change in DNS; if it persists, show the receiver's postmaster the report "
       "(reporter, report id) with the aligned pass."},
      {{listed}, &relaxed, "forwarded",
       "Nothing to change; keep DKIM signing all mail so forwarded copies keep passing."},
  };
  for (const Row& row : rows) {
    CAPTURE(row.key);
    const auto found = diagnose_group(row.records, *row.policy);
    REQUIRE(found.size() == 1);
    CHECK(found[0].key == row.key);
    CHECK(found[0].fix == row.fix);
  }
}
