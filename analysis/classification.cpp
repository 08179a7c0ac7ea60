#include "analysis/classification.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcsift::analysis {
namespace {

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_ascii(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Whether `name` is `suffix` or ends with "." + `suffix`.
bool ends_with_labels(std::string_view name, std::string_view suffix) {
  if (name.size() == suffix.size()) return name == suffix;
  return name.size() > suffix.size() && name.ends_with(suffix) &&
         name[name.size() - suffix.size() - 1] == '.';
}

bool contains_ignoring_case(std::string_view text, std::string_view lower_needle) {
  if (lower_needle.size() > text.size()) return false;
  for (std::size_t start = 0; start + lower_needle.size() <= text.size(); ++start) {
    std::size_t i = 0;
    while (i < lower_needle.size() && ascii_lower(text[start + i]) == lower_needle[i]) ++i;
    if (i == lower_needle.size()) return true;
  }
  return false;
}

// A name as the rules compare it (one trailing dot removed, ASCII lower-case).
// Records come normalized from the parser, so this copies only for callers of
// is_aligned() that pass raw text.
class NormalizedName {
 public:
  explicit NormalizedName(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    m_view = name;
    for (const char c : name) {
      if (c >= 'A' && c <= 'Z') {
        m_copy.reserve(name.size());
        for (const char d : name) m_copy.push_back(ascii_lower(d));
        m_view = m_copy;
        break;
      }
    }
  }
  NormalizedName(const NormalizedName&) = delete;
  NormalizedName& operator=(const NormalizedName&) = delete;
  std::string_view view() const { return m_view; }

 private:
  std::string m_copy;
  std::string_view m_view;
};

bool is_forwarding_override(const std::vector<PolicyOverride>& reasons) {
  for (const PolicyOverride& reason : reasons) {
    switch (reason.type) {
      case OverrideType::forwarded:
      case OverrideType::trusted_forwarder:
      case OverrideType::mailing_list:
        return true;
      case OverrideType::local_policy:
        // Google reports ARC-sealed forwards this way (NOTES §2).
        if (contains_ignoring_case(reason.comment, "arc=pass")) return true;
        break;
      case OverrideType::sampled_out:
      case OverrideType::other:
      case OverrideType::policy_test_mode:
        break;
    }
  }
  return false;
}

// Reasons that can explain a receiver failing a result we see passing: it
// applied a forwarding or local-policy override (sampling and test mode
// change the disposition, not the verdict).
bool has_override_reason(const std::vector<PolicyOverride>& reasons) {
  for (const PolicyOverride& reason : reasons) {
    switch (reason.type) {
      case OverrideType::forwarded:
      case OverrideType::trusted_forwarder:
      case OverrideType::mailing_list:
      case OverrideType::local_policy:
        return true;
      case OverrideType::sampled_out:
      case OverrideType::other:
      case OverrideType::policy_test_mode:
        break;
    }
  }
  return false;
}

Disagreement compare(Verdict receiver, bool aligned_pass, bool override_reason,
                     bool entries_missing) {
  if (receiver == Verdict::fail && aligned_pass) {
    return override_reason ? Disagreement::receiver_override : Disagreement::receiver_disagrees;
  }
  if (receiver == Verdict::pass && !aligned_pass) {
    // OpenDMARC leaves out DKIM entries it evaluated (NOTES §2), so a pass
    // with nothing to check it against is benign.
    return entries_missing ? Disagreement::missing_dkim_entry : Disagreement::receiver_disagrees;
  }
  return Disagreement::none;
}

}  // namespace

bool FromDomain::aligned(std::string_view auth, Alignment mode) {
  // An empty name authenticates nothing (shared/tools/README.md: an empty
  // SPF domain has no org and never aligns), even against an empty From.
  if (auth.empty()) return false;
  if (mode == Alignment::strict) return auth == m_name;
  return same_organization(auth);
}

bool FromDomain::same_organization(std::string_view auth) {
  if (auth.empty()) return false;
  const std::string& org = organization();
  if (org.empty()) return false;
  if (auth == m_name) return true;
  // For an ASCII name libpsl's answer is a label-aligned suffix of the name
  // itself, so a name that does not end in the From org cannot have it as
  // its org: most foreign domains are rejected without a lookup. U-labels
  // are converted to A-labels first, so they must take the lookup.
  if (!ends_with_labels(auth, org) && is_ascii(auth)) return false;
  return m_psl.organizational_domain(auth) == org;
}

const std::string& FromDomain::organization() {
  if (m_org == nullptr) {
    if (m_memo != nullptr) {
      m_org = &m_memo->of(m_psl, m_name);
    } else {
      m_own_org = m_psl.organizational_domain(m_name);
      m_org = &m_own_org;
    }
  }
  return *m_org;
}

const char* to_string(RowClass value) {
  switch (value) {
    case RowClass::aligned: return "aligned";
    case RowClass::forwarded: return "forwarded";
    case RowClass::misaligned: return "misaligned";
    case RowClass::unauthorized: return "unauthorized";
  }
  return "?";
}

const char* to_string(GroupClass value) {
  switch (value) {
    case GroupClass::aligned: return "aligned";
    case GroupClass::forwarded: return "forwarded";
    case GroupClass::misaligned: return "misaligned";
    case GroupClass::unauthorized: return "unauthorized";
    case GroupClass::intermittent: return "intermittent";
  }
  return "?";
}

const char* to_string(Disagreement value) {
  switch (value) {
    case Disagreement::none: return "none";
    case Disagreement::receiver_override: return "receiver_override";
    case Disagreement::missing_dkim_entry: return "missing_dkim_entry";
    case Disagreement::receiver_disagrees: return "receiver_disagrees";
  }
  return "?";
}

bool is_aligned(const PublicSuffixList& psl, std::string_view header_from, std::string_view auth,
                Alignment mode) {
  const NormalizedName from_name(header_from);
  const NormalizedName auth_name(auth);
  FromDomain from(psl, from_name.view());
  return from.aligned(auth_name.view(), mode);
}

RecordVerdict evaluate(const PublicSuffixList& psl, const Record& record,
                       const PolicyPublished& policy) {
  FromDomain from(psl, record.header_from);
  return evaluate(from, record, policy);
}

RecordVerdict evaluate(FromDomain& from, const Record& record, const PolicyPublished& policy) {
  // The record model holds domains normalized already, so they are compared
  // as they are; shared/tools/README.md "Classification rules" is followed
  // line by line, only skipping checks whose answer is already known.
  RecordVerdict verdict;
  bool any_pass = false;
  for (const DkimAuth& dkim : record.dkim_results) {
    if (dkim.result != DkimResult::pass) continue;
    any_pass = true;
    if (!verdict.dkim_aligned && from.aligned(dkim.domain, policy.adkim)) {
      verdict.dkim_aligned = true;
    }
  }
  for (const SpfAuth& spf : record.spf_results) {
    const bool pass = spf.result == SpfResult::pass;
    // Rule 3 counts a pass of any scope; only MAIL FROM identities (an
    // absent scope is one) take part in alignment: RFC 7489 §3.1.2.
    if (pass) any_pass = true;
    if (spf.scope == SpfScope::helo) continue;
    if (pass) {
      if (!verdict.spf_aligned && from.aligned(spf.domain, policy.aspf)) {
        verdict.spf_aligned = true;
      }
    } else if (!verdict.from_org_spf_failed && from.same_organization(spf.domain)) {
      verdict.from_org_spf_failed = true;
    }
  }
  verdict.dmarc_pass = verdict.dkim_aligned || verdict.spf_aligned;
  verdict.forwarding_override = is_forwarding_override(record.reasons);

  if (verdict.dmarc_pass && !verdict.from_org_spf_failed) {
    verdict.row_class = RowClass::aligned;
  } else if (verdict.dmarc_pass || verdict.forwarding_override) {
    verdict.row_class = RowClass::forwarded;
  } else if (any_pass) {
    verdict.row_class = RowClass::misaligned;
  } else {
    verdict.row_class = RowClass::unauthorized;
  }

  const bool override_reason = has_override_reason(record.reasons);
  verdict.dkim_disagreement = compare(record.dkim, verdict.dkim_aligned, override_reason,
                                      record.dkim_results.empty());
  verdict.spf_disagreement = compare(record.spf, verdict.spf_aligned, override_reason, false);
  return verdict;
}

void GroupTally::add(const RecordVerdict& verdict, std::int64_t count) {
  messages_by_row_class[static_cast<std::size_t>(verdict.row_class)] += count;
  if (verdict.dmarc_pass) ++dmarc_pass_rows;
  if (verdict.row_class == RowClass::misaligned || verdict.row_class == RowClass::unauthorized) {
    ++misaligned_or_unauthorized_rows;
  }
}

GroupClass classify_group(const GroupTally& tally) {
  if (tally.dmarc_pass_rows > 0 && tally.misaligned_or_unauthorized_rows > 0) {
    return GroupClass::intermittent;
  }
  // Strictly greater: a tie keeps the class listed first.
  std::size_t best = 0;
  for (std::size_t i = 1; i < 4; ++i) {
    if (tally.messages_by_row_class[i] > tally.messages_by_row_class[best]) best = i;
  }
  return static_cast<GroupClass>(best);
}

}  // namespace dmarcsift::analysis
