#pragma once
// The sources pass: stored records grouped by source (IP and From domain by
// default), with volumes, alignment rates, dispositions, the class of each
// group and the service that sent it.
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "analysis/authorized.hpp"
#include "analysis/classification.hpp"
#include "analysis/day_set.hpp"
#include "analysis/diagnosis.hpp"
#include "analysis/identify.hpp"
#include "analysis/public_suffix.hpp"
#include "core/ip_address.hpp"
#include "core/result.hpp"
#include "storage/store.hpp"
#include "storage/summaries.hpp"

namespace dmarcsift::analysis {

enum class SourceGrouping { ip_and_from, ip, service, domain, reporter };

// What the records of a group add up to: the part of a row that folding
// records into it changes, kept apart so that the summaries' fold holds only
// this and the key for each source while it groups.
struct SourceTotals {
  std::int64_t messages = 0;
  std::int64_t dmarc_pass_messages = 0;
  std::int64_t spf_aligned_messages = 0;
  std::int64_t dkim_aligned_messages = 0;
  std::int64_t records = 0;
  storage::DispositionCounts messages_by_disposition{};
  GroupTally tally;
  const KnownSender* sender = nullptr;  // into the catalog passed in; null when unknown
  Evidence evidence;
  std::vector<std::int64_t> reporter_ids;  // distinct reporters, as the store names them
  DaySet days;                             // of the reports (their begin) it was seen in
  std::string sample_auth;                 // auth results of its largest failing record
  std::int64_t sample_auth_count = 0;      // that record's count
  std::int64_t sample_record = 0;          // and its id
  std::int64_t first_seen = 0;  // earliest report begin
  std::int64_t last_seen = 0;   // latest report end
};

struct SourceRow : SourceTotals {
  // The group's key: the fields that do not apply to a grouping are empty
  // (--by service leaves source_ip and header_from empty, and so on).
  std::string source_ip;
  IpAddress address;  // source_ip as stored, for ordering
  std::string header_from;
  std::string policy_domain;  // of --by domain; else the domain of the first report seen
  std::string service;        // sender's name, "" when unknown
  std::string reporter;       // of --by reporter
  GroupClass category = GroupClass::unauthorized;
  // Of a roll-up: messages by the category of its groups (by GroupClass).
  std::array<std::int64_t, 5> messages_by_category{};
  std::vector<std::string> reporters;  // the org_names of reporter_ids
  std::vector<Diagnosis> diagnosis;    // most severe first
  // What the owner's --authorized file says about the source, set by
  // apply_declarations(); nullopt when it declares nothing for the domain.
  std::optional<Authorization> authorization;
};

// Writes into `key` what tells one (policy domain, source IP, header_from)
// group from another, for in-memory maps of groups.
void write_source_key(std::string& key, std::string_view policy_domain, const IpAddress& source_ip,
                      std::string_view header_from);

// What add_record() may keep from one call to the next, on one thread.
struct RecordMemos {
  OrganizationMemo organizations;  // of the From domain
  SenderMemo senders;
};

// Adds one record of `report` to `totals`, with `memos` when given.
void add_record(SourceTotals& totals, const PublicSuffixList& psl, const SenderCatalog& senders,
                const storage::ScannedReport& report, std::int64_t record_id, const Record& record,
                RecordMemos* memos = nullptr);
// The same for a row, whose service and reporters follow its totals.
void add_record(SourceRow& row, const PublicSuffixList& psl, const SenderCatalog& senders,
                const storage::ScannedReport& report, std::int64_t record_id, const Record& record,
                RecordMemos* memos = nullptr);

// "dkim=pass d=sendgrid.net s=s1; spf=pass smtp.mailfrom=sendgrid.net", in
// the words of an Authentication-Results header (RFC 8601).
std::string describe_auth(const Record& record);
// Adds the totals of `other` (a row with the same key, or one rolled into
// `row`) to `row`.
void merge_totals(SourceRow& row, const SourceRow& other);
// Sets the category and the diagnosis from the totals of a
// (source IP, header_from) row.
void conclude(SourceRow& row);

// The order rows are listed in by default: most messages first, ties by key.
bool listed_before(const SourceRow& a, const SourceRow& b);

// Every (source IP, header_from) group of the reports `filter` selects, read
// from the records themselves. Rows come in listed_before() order.
Result<std::vector<SourceRow>> summarize_sources(storage::Store& store,
                                                 const PublicSuffixList& psl,
                                                 const SenderCatalog& senders,
                                                 const storage::ReportFilter& filter);

// Rolls groups up by `grouping` (anything but ip_and_from). A roll-up's
// category is the category holding most of its messages among its groups, so
// a service set up for one domain and not another reads as the bigger one,
// not as "intermittent"; messages_by_category gives the split.
std::vector<SourceRow> roll_up(const std::vector<SourceRow>& groups, SourceGrouping grouping);

enum class SourceSort { messages, pass, ip, from, last_seen };

struct SourceQuery {
  storage::ReportFilter window;
  SourceGrouping grouping = SourceGrouping::ip_and_from;
  bool failing_only = false;  // rows with messages failing DMARC
  std::optional<GroupClass> category;
  std::optional<std::string> service;  // ignoring ASCII case
  std::optional<std::int64_t> min_messages;
  SourceSort sort = SourceSort::messages;
  std::optional<std::size_t> limit;
};

// Gives `sink` the rows `query` asks for, in order, one at a time; returns
// whether rows beyond the limit exist. Without a date or reporter window the
// rows come from the summaries (brought up to date first), else from the
// records.
Result<bool> query_sources(storage::Store& store, const PublicSuffixList& psl,
                           const SenderCatalog& senders, const SourceQuery& query,
                           const std::function<void(SourceRow&&)>& sink);

}  // namespace dmarcsift::analysis
