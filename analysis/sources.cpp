#include "analysis/sources.hpp"

#include <algorithm>
#include <cctype>
#include <tuple>
#include <unordered_map>

#include "analysis/summary_index.hpp"

namespace dmarcsift::analysis {

namespace {

// describe_auth() into `out`, appended piece by piece: the fold describes
// every failing record that may become a source's sample.
void write_auth(std::string& out, const Record& record) {
  const std::size_t start = out.size();
  for (const DkimAuth& dkim : record.dkim_results) {
    if (out.size() != start) out += "; ";
    out += "dkim=";
    out += to_string(dkim.result);
    out += " d=";
    out += dkim.domain;
    if (!dkim.selector.empty()) {
      out += " s=";
      out += dkim.selector;
    }
  }
  for (const SpfAuth& spf : record.spf_results) {
    if (out.size() != start) out += "; ";
    out += "spf=";
    out += to_string(spf.result);
    out += spf.scope == SpfScope::helo ? " smtp.helo=" : " smtp.mailfrom=";
    out += spf.domain;
  }
  if (out.size() == start) out += "no auth results";
}

// An empty row for the group `record` of `report` belongs to.
SourceRow new_source_row(const storage::ScannedReport& report, const Record& record) {
  SourceRow row;
  row.policy_domain = report.policy_domain;
  row.address = record.source_ip;
  row.source_ip = record.source_ip.to_string();
  row.header_from = record.header_from;
  return row;
}

template <typename T>
void add_distinct(std::vector<T>& values, const T& value) {
  if (std::find(values.begin(), values.end(), value) == values.end()) values.push_back(value);
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Groups keyed by (policy domain, source IP, header_from), and also by
// reporter when `by_reporter`, read from the records of the reports `filter`
// selects; concluded, in listed_before() order.
Result<std::vector<SourceRow>> collect_groups(storage::Store& store, const PublicSuffixList& psl,
                                              const SenderCatalog& senders,
                                              const storage::ReportFilter& filter,
                                              bool by_reporter) {
  storage::Summaries& summaries = store.summaries();
  auto last = summaries.last_report_id();
  if (!last) return tl::unexpected(last.error());
  std::unordered_map<std::string, std::size_t> index;
  std::vector<SourceRow> rows;
  std::string key;
  RecordMemos memos;
  auto scanned = summaries.scan_records(
      filter, 0, *last,
      [&](const storage::ScannedReport& report, std::int64_t record_id, const Record& record) {
        write_source_key(key, report.policy_domain, record.source_ip, record.header_from);
        if (by_reporter) {
          key += '\t';
          key += report.reporter;
        }
        auto [it, inserted] = index.try_emplace(key, rows.size());
        if (inserted) {
          SourceRow& row = rows.emplace_back(new_source_row(report, record));
          if (by_reporter) row.reporter = report.reporter;
        }
        add_record(rows[it->second], psl, senders, report, record_id, record, &memos);
        return true;
      });
  if (!scanned) return tl::unexpected(scanned.error());
  for (SourceRow& row : rows) conclude(row);
  std::sort(rows.begin(), rows.end(), listed_before);
  return rows;
}

bool selected(const SourceRow& row, const SourceQuery& query) {
  if (query.failing_only && row.dmarc_pass_messages == row.messages) return false;
  if (query.category && row.category != *query.category) return false;
  if (query.service && !equal_ignoring_case(row.service, *query.service)) return false;
  if (query.min_messages && row.messages < *query.min_messages) return false;
  return true;
}

void sort_rows(std::vector<SourceRow>& rows, SourceSort sort) {
  const auto pass_rate = [](const SourceRow& r) {
    return r.messages == 0 ? 1.0
                           : static_cast<double>(r.dmarc_pass_messages) / static_cast<double>(r.messages);
  };
  switch (sort) {
    case SourceSort::messages: return;  // rows come in that order
    case SourceSort::pass:
      std::stable_sort(rows.begin(), rows.end(),
                       [&](const auto& a, const auto& b) { return pass_rate(a) < pass_rate(b); });
      return;
    case SourceSort::ip:
      std::stable_sort(rows.begin(), rows.end(),
                       [](const auto& a, const auto& b) { return a.source_ip < b.source_ip; });
      return;
    case SourceSort::from:
      std::stable_sort(rows.begin(), rows.end(),
                       [](const auto& a, const auto& b) { return a.header_from < b.header_from; });
      return;
    case SourceSort::last_seen:
      std::stable_sort(rows.begin(), rows.end(),
                       [](const auto& a, const auto& b) { return a.last_seen > b.last_seen; });
      return;
  }
}

// Filters, sorts and limits rows held in memory.
bool select(std::vector<SourceRow> rows, const SourceQuery& query,
            const std::function<void(SourceRow&&)>& sink) {
  std::erase_if(rows, [&](const SourceRow& row) { return !selected(row, query); });
  sort_rows(rows, query.sort);
  const bool more = query.limit && rows.size() > *query.limit;
  if (more) rows.resize(*query.limit);
  for (SourceRow& row : rows) sink(std::move(row));
  return more;
}

}  // namespace

std::string describe_auth(const Record& record) {
  std::string out;
  write_auth(out, record);
  return out;
}

void write_source_key(std::string& key, std::string_view policy_domain, const IpAddress& source_ip,
                      std::string_view header_from) {
  key.assign(policy_domain);
  key += '\t';
  key += source_ip.bytes();
  key += '\t';
  key += header_from;
}

void add_record(SourceTotals& totals, const PublicSuffixList& psl, const SenderCatalog& senders,
                const storage::ScannedReport& report, std::int64_t record_id, const Record& record,
                RecordMemos* memos) {
  FromDomain from(psl, record.header_from, memos != nullptr ? &memos->organizations : nullptr);
  const RecordVerdict verdict = evaluate(from, record, *report.policy);
  // A source IP can sign with different services over time; the first name
  // in order is kept, whatever order the reports were stored in.
  if (const KnownSender* sender =
          senders.identify(psl, record, memos != nullptr ? &memos->senders : nullptr);
      sender != nullptr && (totals.sender == nullptr || sender->name < totals.sender->name)) {
    totals.sender = sender;
  }
  totals.evidence.add(from, record, *report.policy, verdict);
  if (std::find(totals.reporter_ids.begin(), totals.reporter_ids.end(), report.reporter_id) ==
      totals.reporter_ids.end()) {
    totals.reporter_ids.push_back(report.reporter_id);
  }
  totals.days.add(report.date_range.begin / 86400);
  // The sample is the failing record with the most messages; of equal ones,
  // the one whose description sorts first.
  if (!verdict.dmarc_pass && record.count > totals.sample_auth_count) {
    totals.sample_auth_count = record.count;
    totals.sample_record = record_id;
    totals.sample_auth.clear();
    write_auth(totals.sample_auth, record);
  } else if (!verdict.dmarc_pass && record.count == totals.sample_auth_count) {
    thread_local std::string described;  // its memory serves every record
    described.clear();
    write_auth(described, record);
    if (described < totals.sample_auth) {
      totals.sample_record = record_id;
      totals.sample_auth = described;
    }
  }
  if (totals.records == 0) {
    totals.first_seen = report.date_range.begin;
    totals.last_seen = report.date_range.end;
  }
  totals.messages += record.count;
  totals.records += 1;
  if (verdict.dmarc_pass) totals.dmarc_pass_messages += record.count;
  if (verdict.spf_aligned) totals.spf_aligned_messages += record.count;
  if (verdict.dkim_aligned) totals.dkim_aligned_messages += record.count;
  totals.messages_by_disposition[static_cast<std::size_t>(record.disposition)] += record.count;
  totals.tally.add(verdict, record.count);
  totals.first_seen = std::min(totals.first_seen, report.date_range.begin);
  totals.last_seen = std::max(totals.last_seen, report.date_range.end);
}

void add_record(SourceRow& row, const PublicSuffixList& psl, const SenderCatalog& senders,
                const storage::ScannedReport& report, std::int64_t record_id, const Record& record,
                RecordMemos* memos) {
  const KnownSender* sender_before = row.sender;
  const std::size_t reporters_before = row.reporter_ids.size();
  add_record(static_cast<SourceTotals&>(row), psl, senders, report, record_id, record, memos);
  if (row.sender != sender_before) row.service = row.sender->name;
  if (row.reporter_ids.size() != reporters_before) row.reporters.emplace_back(report.reporter);
}

void merge_totals(SourceRow& row, const SourceRow& other) {
  if (other.records == 0) return;
  if (other.sender != nullptr && (row.sender == nullptr || other.service < row.service)) {
    row.sender = other.sender;
    row.service = other.service;
  }
  Evidence& e = row.evidence;
  const Evidence& o = other.evidence;
  for (auto field : {&Evidence::failing, &Evidence::spf_own_permerror, &Evidence::dns_temperror,
                     &Evidence::spf_own_failed_dkim_pass, &Evidence::forwarding_override,
                     &Evidence::dkim_own_failed, &Evidence::dkim_absent, &Evidence::strict_only,
                     &Evidence::foreign_pass, &Evidence::receiver_disagrees,
                     &Evidence::any_spf_pass}) {
    e.*field += o.*field;
  }
  if (e.header_from.empty()) e.header_from = o.header_from;
  keep_smallest(e.failed_selector, o.failed_selector);
  keep_smallest(e.foreign_domain, o.foreign_domain);
  for (const std::string& reporter : other.reporters) add_distinct(row.reporters, reporter);
  for (std::int64_t reporter : other.reporter_ids) add_distinct(row.reporter_ids, reporter);
  row.days.add(other.days);
  if (other.sample_auth_count > row.sample_auth_count ||
      (other.sample_auth_count == row.sample_auth_count && other.sample_auth < row.sample_auth)) {
    row.sample_auth_count = other.sample_auth_count;
    row.sample_record = other.sample_record;
    row.sample_auth = other.sample_auth;
  }
  row.first_seen = row.records == 0 ? other.first_seen : std::min(row.first_seen, other.first_seen);
  row.last_seen = row.records == 0 ? other.last_seen : std::max(row.last_seen, other.last_seen);
  row.messages += other.messages;
  row.records += other.records;
  row.dmarc_pass_messages += other.dmarc_pass_messages;
  row.spf_aligned_messages += other.spf_aligned_messages;
  row.dkim_aligned_messages += other.dkim_aligned_messages;
  for (std::size_t d = 0; d < row.messages_by_disposition.size(); ++d) {
    row.messages_by_disposition[d] += other.messages_by_disposition[d];
  }
  for (std::size_t c = 0; c < 4; ++c) {
    row.tally.messages_by_row_class[c] += other.tally.messages_by_row_class[c];
  }
  row.tally.dmarc_pass_rows += other.tally.dmarc_pass_rows;
  row.tally.misaligned_or_unauthorized_rows += other.tally.misaligned_or_unauthorized_rows;
}

void conclude(SourceRow& row) {
  std::sort(row.reporters.begin(), row.reporters.end());
  row.category = classify_group(row.tally);
  row.messages_by_category = {};
  row.messages_by_category[static_cast<std::size_t>(row.category)] = row.messages;
  row.diagnosis = diagnose(row.evidence, row.category, row.sender, row.source_ip);
}

bool listed_before(const SourceRow& a, const SourceRow& b) {
  if (a.messages != b.messages) return a.messages > b.messages;
  // The summaries' SQL order: domain, address bytes, From domain.
  return std::tuple(std::string_view(a.policy_domain), a.address.bytes(), std::string_view(a.header_from),
                    std::string_view(a.service), std::string_view(a.reporter)) <
         std::tuple(std::string_view(b.policy_domain), b.address.bytes(), std::string_view(b.header_from),
                    std::string_view(b.service), std::string_view(b.reporter));
}

Result<std::vector<SourceRow>> summarize_sources(storage::Store& store, const PublicSuffixList& psl,
                                                 const SenderCatalog& senders,
                                                 const storage::ReportFilter& filter) {
  return collect_groups(store, psl, senders, filter, false);
}

std::vector<SourceRow> roll_up(const std::vector<SourceRow>& groups, SourceGrouping grouping) {
  std::unordered_map<std::string, std::size_t> index;
  std::vector<SourceRow> rows;
  for (const SourceRow& group : groups) {
    std::string key;
    switch (grouping) {
      case SourceGrouping::ip_and_from: key = group.policy_domain + '\t' + group.source_ip + '\t' + group.header_from; break;
      case SourceGrouping::ip: key = group.source_ip; break;
      case SourceGrouping::service: key = group.service; break;
      case SourceGrouping::domain: key = group.policy_domain; break;
      case SourceGrouping::reporter: key = group.reporter; break;
    }
    auto [it, inserted] = index.try_emplace(key, rows.size());
    if (inserted) {
      SourceRow& row = rows.emplace_back();
      if (grouping == SourceGrouping::ip_and_from || grouping == SourceGrouping::ip) {
        row.source_ip = group.source_ip;
        row.address = group.address;
      }
      if (grouping == SourceGrouping::ip_and_from) row.header_from = group.header_from;
      if (grouping == SourceGrouping::service) row.service = group.service;
      if (grouping == SourceGrouping::domain || grouping == SourceGrouping::ip_and_from) {
        row.policy_domain = group.policy_domain;
      }
      if (grouping == SourceGrouping::reporter) row.reporter = group.reporter;
    }
    SourceRow& row = rows[it->second];
    merge_totals(row, group);
    row.messages_by_category[static_cast<std::size_t>(group.category)] += group.messages;
  }
  for (SourceRow& row : rows) {
    std::size_t biggest = 0;
    for (std::size_t c = 1; c < row.messages_by_category.size(); ++c) {
      if (row.messages_by_category[c] > row.messages_by_category[biggest]) biggest = c;
    }
    row.category = static_cast<GroupClass>(biggest);
    row.diagnosis = diagnose(row.evidence, row.category, row.sender, row.source_ip);
  }
  std::sort(rows.begin(), rows.end(), listed_before);
  return rows;
}

Result<bool> query_sources(storage::Store& store, const PublicSuffixList& psl,
                           const SenderCatalog& senders, const SourceQuery& query,
                           const std::function<void(SourceRow&&)>& sink) {
  const bool windowed = query.window.since || query.window.until || query.window.reporter;
  if (windowed || query.grouping == SourceGrouping::reporter) {
    auto groups = collect_groups(store, psl, senders, query.window,
                                 query.grouping == SourceGrouping::reporter);
    if (!groups) return tl::unexpected(groups.error());
    if (query.grouping == SourceGrouping::ip_and_from) return select(std::move(*groups), query, sink);
    return select(roll_up(*groups, query.grouping), query, sink);
  }

  if (auto refreshed = refresh_summaries(store, psl, senders); !refreshed) {
    return tl::unexpected(refreshed.error());
  }
  storage::SummaryQuery summary_query;
  summary_query.policy_domain = query.window.policy_domain;
  if (query.grouping == SourceGrouping::ip_and_from && query.sort == SourceSort::messages) {
    // Filters and order have columns of their own: rows stream from an index.
    summary_query.failing_only = query.failing_only;
    if (query.category) summary_query.category = static_cast<int>(*query.category);
    summary_query.service = query.service;
    summary_query.min_messages = query.min_messages;
    std::size_t given = 0;
    bool more = false;
    auto streamed = for_each_source(store.summaries(), senders, summary_query, false,
                                    [&](SourceRow&& row) {
                                      if (query.limit && given == *query.limit) {
                                        more = true;
                                        return false;
                                      }
                                      ++given;
                                      sink(std::move(row));
                                      return true;
                                    });
    if (!streamed) return tl::unexpected(streamed.error());
    return more;
  }
  std::vector<SourceRow> groups;
  auto loaded = for_each_source(store.summaries(), senders, summary_query, false,
                                [&](SourceRow&& row) {
                                  groups.push_back(std::move(row));
                                  return true;
                                });
  if (!loaded) return tl::unexpected(loaded.error());
  if (query.grouping == SourceGrouping::ip_and_from) return select(std::move(groups), query, sink);
  return select(roll_up(groups, query.grouping), query, sink);
}

}  // namespace dmarcsift::analysis
