#include "analysis/diagnosis.hpp"

namespace dmarcsift::analysis {
namespace {

}  // namespace

void keep_smallest(std::string& kept, std::string_view candidate) {
  if (!candidate.empty() && (kept.empty() || candidate < kept)) kept = candidate;
}

namespace {

std::string messages(std::int64_t n) { return std::to_string(n) + (n == 1 ? " message" : " messages"); }

}  // namespace

void Evidence::add(const PublicSuffixList& psl, const Record& record, const PolicyPublished& policy,
                   const RecordVerdict& verdict) {
  FromDomain from(psl, record.header_from);
  add(from, record, policy, verdict);
}

void Evidence::add(FromDomain& from, const Record& record, const PolicyPublished& policy,
                   const RecordVerdict& verdict) {
  if (header_from.empty()) header_from = record.header_from;
  const std::int64_t count = record.count;
  const auto own = [&](std::string_view domain) { return from.same_organization(domain); };
  bool own_permerror = false;
  bool temperror = false;
  bool own_dkim_failed = false;
  bool relaxed_would_pass = false;
  bool foreign = false;
  // Of several records the smallest name is kept, so that the evidence does
  // not depend on the order reports were stored in.
  std::string_view record_foreign;
  std::string_view record_selector;
  for (const SpfAuth& spf : record.spf_results) {
    if (spf.scope == SpfScope::helo) continue;
    if (spf.result == SpfResult::permerror && own(spf.domain)) own_permerror = true;
    if (spf.result == SpfResult::temperror) temperror = true;
    if (spf.result == SpfResult::pass) {
      if (own(spf.domain)) {
        relaxed_would_pass = relaxed_would_pass || policy.aspf == Alignment::strict;
      } else {
        foreign = true;
        if (record_foreign.empty()) record_foreign = spf.domain;
      }
    }
  }
  for (const SpfAuth& spf : record.spf_results) {
    if (spf.result == SpfResult::pass) {
      any_spf_pass += count;
      break;
    }
  }
  for (const DkimAuth& dkim : record.dkim_results) {
    if (dkim.result == DkimResult::temperror) temperror = true;
    if (dkim.result == DkimResult::pass) {
      if (own(dkim.domain)) {
        relaxed_would_pass = relaxed_would_pass || policy.adkim == Alignment::strict;
      } else {
        foreign = true;
        if (record_foreign.empty()) record_foreign = dkim.domain;
      }
    } else if ((dkim.result == DkimResult::fail || dkim.result == DkimResult::permerror) &&
               own(dkim.domain)) {
      own_dkim_failed = true;
      if (record_selector.empty()) record_selector = dkim.selector;
    }
  }
  keep_smallest(foreign_domain, record_foreign);
  keep_smallest(failed_selector, record_selector);
  if (own_permerror) spf_own_permerror += count;
  if (verdict.dmarc_pass && verdict.from_org_spf_failed && !own_permerror) {
    spf_own_failed_dkim_pass += count;
  }
  if (verdict.forwarding_override) forwarding_override += count;
  if (verdict.dkim_disagreement == Disagreement::receiver_disagrees ||
      verdict.spf_disagreement == Disagreement::receiver_disagrees) {
    receiver_disagrees += count;
  }
  if (verdict.dmarc_pass) return;
  failing += count;
  if (temperror) dns_temperror += count;
  if (own_dkim_failed) dkim_own_failed += count;
  if (record.dkim_results.empty()) dkim_absent += count;
  if (relaxed_would_pass) strict_only += count;
  if (foreign) foreign_pass += count;
}

std::vector<Diagnosis> diagnose(const Evidence& e, GroupClass category, const KnownSender* service,
                                const std::string& source_ip) {
  std::vector<Diagnosis> found;
  const std::string& d = e.header_from;
  // A receiver that vouched for a forwarder or list explains the failures
  // (a list's footer breaks DKIM, its own SPF passes): nothing to fix.
  if (category == GroupClass::forwarded && e.forwarding_override > 0) {
    found.push_back({"forwarded",
                     "forwarded or mailing-list mail that the receiver accepted on its own "
                     "judgement (override reason)",
                     "Nothing to change; keep DKIM signing all mail so forwarded copies keep passing."});
    return found;
  }
  if (e.spf_own_permerror > 0) {
    found.push_back({"spf_permerror",
                     "receivers got a permanent error evaluating the SPF record of " + d + " (" +
                         messages(e.spf_own_permerror) + ")",
                     "Repair the SPF record of " + d +
                         ": publish exactly one v=spf1 TXT record and keep it under 10 DNS lookups "
                         "(include, a, mx, ptr, exists, redirect); flatten or remove includes."});
  }
  if (e.dns_temperror > 0) {
    found.push_back({"dns_temperror",
                     "DNS lookups for SPF or DKIM failed temporarily at receivers (" +
                         messages(e.dns_temperror) + " failed DMARC)",
                     "Check that every authoritative name server of " + d +
                         " answers TXT queries for the SPF record and the selector._domainkey "
                         "keys quickly and consistently."});
  }
  if (e.strict_only > 0) {
    found.push_back({"strict_alignment_subdomain",
                     "SPF or DKIM passes for the organizational domain of " + d +
                         ", but strict alignment (adkim=s / aspf=s) requires the exact From domain (" +
                         messages(e.strict_only) + ")",
                     "Sign with d=" + d + " and use a MAIL FROM under " + d +
                         ", or publish adkim=r / aspf=r in the DMARC record."});
  }
  if (e.foreign_pass > 0 && service != nullptr) {
    found.push_back({"esp_default_dkim",
                     service->name + " sends as " + d + " but authenticates only its own domain (" +
                         e.foreign_domain + "), " + messages(e.foreign_pass),
                     service->fix});
  } else if (e.foreign_pass > 0) {
    found.push_back({"third_party_unaligned",
                     source_ip + " authenticates as " + e.foreign_domain + ", not as " + d + " (" +
                         messages(e.foreign_pass) + ")",
                     "If you send through this service, set up its custom-domain authentication "
                     "(DKIM with d=" + d + " and a return path under " + d +
                         "); if you do not, it is misusing your domain."});
  }
  if (e.dkim_own_failed > 0) {
    const std::string selector = e.failed_selector.empty() ? "selector" : e.failed_selector;
    found.push_back({"dkim_fail_selector",
                     "DKIM signatures of " + d + " with selector " + selector + " fail (" +
                         messages(e.dkim_own_failed) + ")",
                     "Check that " + selector + "._domainkey." + d +
                         " publishes the public key the signer uses (it may have been rotated or "
                         "deleted) and that nothing rewrites messages after signing."});
  }
  if (e.dkim_absent > 0 && e.any_spf_pass > 0) {
    found.push_back({"dkim_missing",
                     "mail from " + source_ip + " is not DKIM-signed, so DMARC rests on SPF alone (" +
                         messages(e.dkim_absent) + " failed)",
                     "Enable DKIM signing for " + d + " on this server or service and publish its "
                     "selector._domainkey." + d + " key."});
  }
  if (e.spf_own_failed_dkim_pass > 0 && e.forwarding_override == 0 &&
      category != GroupClass::unauthorized) {
    found.push_back({"spf_not_covering_source",
                     "SPF for " + d + " fails from " + source_ip + " while aligned DKIM passes (" +
                         messages(e.spf_own_failed_dkim_pass) + ")",
                     "If " + source_ip + " is your server or a gateway you use, add it to the SPF "
                     "record of " + d + " (ip4:/ip6: or the provider's include); if it is a "
                     "forwarder, nothing to do: DKIM carries DMARC."});
  }
  if (e.receiver_disagrees > 0) {
    found.push_back({"receiver_disagrees",
                     "the receiver reported DMARC fail although the auth results hold an aligned pass (" +
                         messages(e.receiver_disagrees) + ")",
                     "Nothing to change in DNS; if it persists, show the receiver's postmaster the "
                     "report (reporter, report id) with the aligned pass."});
  }
  if (category == GroupClass::unauthorized && e.foreign_pass == 0 && e.any_spf_pass == 0) {
    found.push_back({"spoofed",
                     "nothing authenticates mail from " + source_ip + " as " + d,
                     "If you do not know " + source_ip + ", this is spoofing, which p=quarantine or "
                     "p=reject stops; if it is yours, authorize it (SPF and DKIM for " + d +
                         ") before tightening the policy."});
  }
  return found;
}

}  // namespace dmarcsift::analysis
