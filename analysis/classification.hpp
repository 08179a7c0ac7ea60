#pragma once
// DMARC alignment recomputed from auth results (NOTES §2), and the source
// classes of issue 4 / shared/tools/README.md "Classification rules".
#include <cstdint>
#include <string>
#include <string_view>

#include "analysis/public_suffix.hpp"
#include "core/aggregate_report.hpp"

namespace dmarcsift::analysis {

// Machine names (in JSON output): "aligned", "forwarded", "misaligned",
// "unauthorized", and for groups also "intermittent".
enum class RowClass : std::uint8_t { aligned, forwarded, misaligned, unauthorized };
enum class GroupClass : std::uint8_t { aligned, forwarded, misaligned, unauthorized, intermittent };
const char* to_string(RowClass value);
const char* to_string(GroupClass value);

// Whether the authenticated domain `auth` aligns with `header_from` under
// `mode`: strict = equal names, relaxed = equal organizational domains
// (which must exist). Names are compared normalized (case, trailing dot).
bool is_aligned(const PublicSuffixList& psl, std::string_view header_from, std::string_view auth,
                Alignment mode);

// Why our verdict differs from the receiver's policy_evaluated one.
enum class Disagreement : std::uint8_t {
  none,
  receiver_override,  // receiver failed it but gave a forwarding/local-policy reason
  missing_dkim_entry, // receiver passed DKIM but reported no DKIM pass we could align
  receiver_disagrees, // anything else: we see an aligned pass the receiver failed, or the reverse
};
const char* to_string(Disagreement value);

struct RecordVerdict {
  bool dkim_aligned = false;  // some DKIM pass aligned under adkim
  bool spf_aligned = false;   // some SPF pass (scope mfrom or absent) aligned under aspf
  bool dmarc_pass = false;    // dkim_aligned || spf_aligned
  bool from_org_spf_failed = false;  // an SPF result (mfrom/absent) for the From org did not pass
  bool forwarding_override = false;  // forwarded / trusted_forwarder / mailing_list / local_policy "arc=pass"
  RowClass row_class = RowClass::unauthorized;
  Disagreement dkim_disagreement = Disagreement::none;  // vs policy_evaluated dkim
  Disagreement spf_disagreement = Disagreement::none;   // vs policy_evaluated spf
};

// The organizational domain of the name asked for last. A fold reads the
// records of one policy domain after another, whose From domains are few and
// repeat from record to record: remembering one answer spares nearly every
// look-up and the copy of its text. One FromDomain at a time may use a memo:
// a look-up for another name replaces the answer an earlier one refers to.
class OrganizationMemo {
 public:
  const std::string& of(const PublicSuffixList& psl, std::string_view name) {
    if (!m_valid || name != m_name) {
      m_name.assign(name);
      m_org = psl.organizational_domain(name);
      m_valid = true;
    }
    return m_org;
  }

 private:
  std::string m_name;
  std::string m_org;
  bool m_valid = false;
};

// The header_from side of every comparison in one record. Its organizational
// domain is looked up at most once, and only when a comparison needs it, in
// `memo` when given. Names compared with it must be normalized like the
// header_from name.
class FromDomain {
 public:
  FromDomain(const PublicSuffixList& psl, std::string_view name, OrganizationMemo* memo = nullptr)
      : m_psl(psl), m_name(name), m_memo(memo) {}
  FromDomain(const FromDomain&) = delete;
  FromDomain& operator=(const FromDomain&) = delete;

  bool aligned(std::string_view auth, Alignment mode);
  // org(`auth`) exists and equals org(header_from).
  bool same_organization(std::string_view auth);

 private:
  const std::string& organization();

  const PublicSuffixList& m_psl;
  std::string_view m_name;
  OrganizationMemo* m_memo;
  const std::string* m_org = nullptr;  // in m_memo or m_own_org, once looked up
  std::string m_own_org;
};

// Evaluates one record under the report's published policy (adkim/aspf).
RecordVerdict evaluate(const PublicSuffixList& psl, const Record& record,
                       const PolicyPublished& policy);
// The same, with `from` made from the record's header_from: a caller that
// compares more names with it looks its organization up once.
RecordVerdict evaluate(FromDomain& from, const Record& record, const PolicyPublished& policy);

// Per (source_ip, header_from) group over the queried window.
struct GroupTally {
  std::int64_t messages_by_row_class[4] = {0, 0, 0, 0};  // indexed by RowClass
  std::int64_t dmarc_pass_rows = 0;
  std::int64_t misaligned_or_unauthorized_rows = 0;
  void add(const RecordVerdict& verdict, std::int64_t count);
};
// intermittent when the group has a DMARC-passing row and a misaligned or
// unauthorized row; otherwise the class holding most messages (ties go to
// aligned, forwarded, misaligned, unauthorized, in that order).
GroupClass classify_group(const GroupTally& tally);

}  // namespace dmarcsift::analysis
