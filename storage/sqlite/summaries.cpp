#include "storage/sqlite/summaries.hpp"

#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "storage/sqlite/statement.hpp"

namespace dmarcsift::storage::sqlite {
namespace {

// Names stay ids in every scan: the whole names table is a few hundred
// kilobytes even for millions of records, and resolving ids in memory is
// several times faster than a subquery per column.
constexpr const char* k_load_names = "SELECT id, text FROM names WHERE id > ?1 ORDER BY id";
constexpr const char* k_find_name = "SELECT id FROM names WHERE text = ?1";
constexpr const char* k_name_by_id = "SELECT text FROM names WHERE id = ?1";
#define DMARCSIFT_SCANNED_REPORT_COLUMNS                                                   \
  "SELECT id, reporter, policy_domain, begin_time, end_time, adkim, aspf, p, sp, np, pct," \
  " testing, first_record, record_count FROM reports"
#define DMARCSIFT_SCANNED_REPORT_FILTERS                                                \
  " AND (?4 IS NULL OR coalesce((SELECT text FROM names WHERE id = reporter), '') = ?4" \
  " COLLATE NOCASE)"                                                                    \
  " AND (?5 IS NULL OR end_time >= ?5) AND (?6 IS NULL OR begin_time < ?6) ORDER BY id"
// Both number their parameters alike, so one set of binds serves either; ?3
// (the domain) is only read by the second.
constexpr const char* k_scan_reports = DMARCSIFT_SCANNED_REPORT_COLUMNS
    " WHERE id > ?1 AND id <= ?2" DMARCSIFT_SCANNED_REPORT_FILTERS;
// One policy domain's reports, found through reports_by_domain and sorted:
// a rebuild scans every domain in turn, and walking all reports for each
// cost it 18 ms a domain on the 2M-record corpus, against 3 ms.
constexpr const char* k_scan_domain_reports = DMARCSIFT_SCANNED_REPORT_COLUMNS
    " WHERE policy_domain = ?3 AND id > ?1 AND id <= ?2" DMARCSIFT_SCANNED_REPORT_FILTERS;
#undef DMARCSIFT_SCANNED_REPORT_COLUMNS
#undef DMARCSIFT_SCANNED_REPORT_FILTERS
constexpr const char* k_scan_records =
    "SELECT id, source_ip, count, disposition, dkim, spf, header_from, envelope_from,"
    " dkim_domain, dkim_selector, dkim_result, spf_domain, spf_scope, spf_result"
    " FROM records WHERE id >= ?1 ORDER BY id";
constexpr const char* k_scan_dkim =
    "SELECT record, domain, selector, result FROM dkim_results WHERE record >= ?1"
    " ORDER BY record, seq";
constexpr const char* k_scan_spf =
    "SELECT record, domain, scope, result FROM spf_results WHERE record >= ?1"
    " ORDER BY record, seq";
constexpr const char* k_scan_reasons =
    "SELECT record, type, comment FROM override_reasons WHERE record >= ?1 ORDER BY record, seq";
constexpr const char* k_last_report = "SELECT coalesce(max(id), 0) FROM reports";
constexpr const char* k_records_between =
    "SELECT coalesce(sum(record_count), 0) FROM reports WHERE id > ?1 AND id <= ?2";
constexpr const char* k_report_sizes =
    "SELECT id, record_count FROM reports WHERE id > ?1 AND id <= ?2 ORDER BY id";
constexpr const char* k_mark =
    "SELECT folded_through, fingerprint, rebuilding, rebuilt_through FROM summary_mark WHERE id = 1";
constexpr const char* k_set_mark =
    "INSERT OR REPLACE INTO summary_mark (id, folded_through, fingerprint, rebuilding,"
    " rebuilt_through) VALUES (1, ?1, ?2, ?3, ?4)";
// IN, not a join with DISTINCT: SQLite then keeps each domain id once while
// it scans, instead of sorting a name per report (7 against 30 ms on 45,000
// reports).
constexpr const char* k_policy_domains =
    "SELECT text FROM names WHERE id IN (SELECT policy_domain FROM reports WHERE id <= ?1)"
    " ORDER BY text";
constexpr const char* k_clear =
    "DELETE FROM source_summaries; DELETE FROM domain_summaries; DELETE FROM summary_mark";
constexpr const char* k_find_source =
    "SELECT id, messages, failing_messages, last_seen, category, severity, service, state"
    " FROM source_summaries WHERE policy_domain = ?1 AND source_ip IS ?2 AND header_from IS ?3";
constexpr const char* k_insert_source =
    "INSERT INTO source_summaries (policy_domain, source_ip, header_from, messages,"
    " failing_messages, last_seen, category, severity, service, state)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
constexpr const char* k_update_source =
    "UPDATE source_summaries SET messages = ?2, failing_messages = ?3, last_seen = ?4,"
    " category = ?5, severity = ?6, service = ?7, state = ?8 WHERE id = ?1";
constexpr const char* k_find_domain =
    "SELECT state FROM domain_summaries WHERE policy_domain = ?1";
constexpr const char* k_put_domain =
    "INSERT OR REPLACE INTO domain_summaries (policy_domain, state) VALUES (?1, ?2)";
constexpr const char* k_load_domains =
    "SELECT policy_domain, state FROM domain_summaries ORDER BY policy_domain";
constexpr const char* k_latest_policy =
    "SELECT adkim, aspf, p, sp, np, pct, testing, (SELECT text FROM names WHERE id = fo),"
    " (SELECT text FROM names WHERE id = discovery_method) FROM reports"
    " WHERE policy_domain = (SELECT id FROM names WHERE text = ?1)"
    " ORDER BY end_time DESC, id DESC LIMIT 1";

// Reads adkim, aspf, p, sp, np, pct and testing from seven columns starting
// at `first`, as both the record scan and latest_policy() select them; false
// when a stored enumeration is out of range.
bool read_policy(const Statement& q, int first, PolicyPublished& policy) {
  policy.adkim_present = !q.is_null(first);
  policy.aspf_present = !q.is_null(first + 1);
  bool valid = to_enum(policy.adkim_present ? q.column_int64(first) : 0, Alignment::strict,
                       policy.adkim);
  valid = valid && to_enum(policy.aspf_present ? q.column_int64(first + 1) : 0, Alignment::strict,
                           policy.aspf);
  valid = valid && to_enum(q.column_int64(first + 2), PolicyAction::reject, policy.p);
  for (auto [column, target] : {std::pair{first + 3, &policy.sp}, std::pair{first + 4, &policy.np}}) {
    target->reset();
    if (q.is_null(column)) continue;
    PolicyAction action{};
    valid = valid && to_enum(q.column_int64(column), PolicyAction::reject, action);
    *target = action;
  }
  policy.pct.reset();
  if (!q.is_null(first + 5)) policy.pct = static_cast<int>(q.column_int64(first + 5));
  policy.testing.reset();
  if (!q.is_null(first + 6)) policy.testing = q.column_int64(first + 6) != 0;
  return valid;
}

// One of the ordered child tables read alongside the records: positioned on
// its first row at or after a record id, stepped forward with the records.
struct ChildCursor {
  Statement statement;
  bool has_row = false;

  Result<void> seek(std::int64_t record) {
    statement.reset();
    statement.bind(1, record);
    return step();
  }
  Result<void> step() {
    auto row = statement.step();
    if (!row) return tl::unexpected(std::move(row.error()));
    has_row = *row;
    // Read once per row: a scan compares it with every record id it passes.
    m_record = has_row ? statement.column_int64(0) : 0;
    return {};
  }
  std::int64_t record() const { return m_record; }

 private:
  std::int64_t m_record = 0;
};

class SqliteSummaries final : public Summaries {
 public:
  SqliteSummaries(sqlite3* db, std::string_view where) : m_db(db), m_where(where) {}
  // A reader of its own: owns its connection, and the name errors give.
  SqliteSummaries(DbHandle db, std::string where)
      : m_owned_db(std::move(db)), m_owned_where(std::move(where)), m_db(m_owned_db.get()),
        m_where(m_owned_where) {}

  Result<void> prepare();

  Result<std::int64_t> last_report_id() override;
  Result<std::int64_t> records_between(std::int64_t after, std::int64_t through) override;
  Result<void> scan_records(const ReportFilter& filter, std::int64_t after, std::int64_t through,
                            const RecordVisitor& visit) override;
  Result<std::string> name(std::int64_t id) override;
  Result<std::optional<Record>> record(std::int64_t id) override;
  Result<std::vector<std::string>> policy_domains(std::int64_t through) override;
  Result<std::int64_t> chunk_end(std::int64_t after, std::int64_t through,
                                 std::int64_t records) override;
  Result<std::unique_ptr<Summaries>> open_reader() override;
  Result<void> begin_update() override;
  Result<void> commit_update() override;
  Result<void> rollback_update() override;
  Result<SummaryMark> mark() override;
  Result<void> set_mark(const SummaryMark& mark) override;
  Result<void> clear() override;
  Result<std::optional<SourceSummary>> find_source(std::string_view policy_domain,
                                                   const IpAddress& source_ip,
                                                   std::string_view header_from) override;
  Result<void> put_source(const SourceSummary& source) override;
  Result<void> scan_sources(const SummaryQuery& query,
                            const std::function<bool(SourceSummary&&)>& visit) override;
  Result<std::optional<std::string>> find_domain(std::string_view policy_domain) override;
  Result<void> put_domain(std::string_view policy_domain, std::string_view state) override;
  Result<std::vector<std::pair<std::string, std::string>>> load_domains() override;
  Result<std::optional<PolicyPublished>> latest_policy(std::string_view policy_domain) override;

 private:
  Error corrupt(const std::string& what) const {
    return Error{Errc::database, std::string(m_where), "corrupt database: " + what};
  }
  Error outside_update(const char* operation) const {
    return Error{Errc::internal, std::string(m_where),
                 std::string(operation) + " called outside a summary update"};
  }
  Result<void> load_new_names();
  // Scans load every name first (load_new_names); a single look-up asks for
  // the names it needs one by one, which is far cheaper on a database of
  // many names. A failed query is kept in m_name_error for the caller.
  std::string_view cached_name(std::int64_t id) {
    if (id <= 0) return {};
    if (static_cast<std::size_t>(id) < m_names.size() && !m_names[static_cast<std::size_t>(id)].empty()) {
      return m_names[static_cast<std::size_t>(id)];
    }
    auto it = m_point_names.find(id);
    if (it == m_point_names.end()) {
      auto row = m_name_by_id.bind(1, id).step();
      if (!row) {
        if (!m_name_error) m_name_error = std::move(row.error());
        return {};
      }
      std::string text;
      if (*row) {
        text = m_name_by_id.column_text(0);
        m_name_by_id.reset();
      }
      it = m_point_names.emplace(id, std::move(text)).first;
    }
    return it->second;
  }
  // NULL reads as 0, which names nothing: no separate type check per column.
  std::string_view name_column(const Statement& statement, int column) {
    return cached_name(statement.column_int64(column));
  }
  struct RecordCursors {
    ChildCursor& records;
    ChildCursor& dkim;
    ChildCursor& spf;
    ChildCursor& reasons;
  };
  // Reads the record row under `at.records` and its children into `record`.
  Result<void> read_record(RecordCursors at, std::int64_t id, Record& record);

  DbHandle m_owned_db;  // first: closed after the statements are finalized
  std::string m_owned_where;
  sqlite3* m_db;
  std::string_view m_where;
  Statement m_load_names, m_find_name, m_name_by_id, m_scan_reports, m_scan_domain_reports,
      m_last_report, m_records_between, m_report_sizes, m_mark, m_set_mark, m_find_source,
      m_insert_source, m_update_source, m_find_domain, m_put_domain, m_load_domains,
      m_latest_policy, m_policy_domains;
  ChildCursor m_records, m_dkim, m_spf, m_reasons;
  // record() has cursors of its own: it is called while a scan is under way.
  ChildCursor m_one_record, m_one_dkim, m_one_spf, m_one_reasons;
  std::vector<std::string> m_names{1};  // by id; [0] unused
  std::unordered_map<std::int64_t, std::string> m_point_names;
  std::optional<Error> m_name_error;
  std::optional<Transaction> m_update;
};

Result<void> SqliteSummaries::prepare() {
  const std::pair<Statement*, const char*> statements[] = {
      {&m_load_names, k_load_names},
      {&m_find_name, k_find_name},
      {&m_name_by_id, k_name_by_id},
      {&m_scan_reports, k_scan_reports},
      {&m_scan_domain_reports, k_scan_domain_reports},
      {&m_last_report, k_last_report},
      {&m_records_between, k_records_between},
      {&m_report_sizes, k_report_sizes},
      {&m_mark, k_mark},
      {&m_set_mark, k_set_mark},
      {&m_find_source, k_find_source},
      {&m_insert_source, k_insert_source},
      {&m_update_source, k_update_source},
      {&m_find_domain, k_find_domain},
      {&m_put_domain, k_put_domain},
      {&m_load_domains, k_load_domains},
      {&m_latest_policy, k_latest_policy},
      {&m_policy_domains, k_policy_domains},
      {&m_records.statement, k_scan_records},
      {&m_dkim.statement, k_scan_dkim},
      {&m_spf.statement, k_scan_spf},
      {&m_reasons.statement, k_scan_reasons},
      {&m_one_record.statement, k_scan_records},
      {&m_one_dkim.statement, k_scan_dkim},
      {&m_one_spf.statement, k_scan_spf},
      {&m_one_reasons.statement, k_scan_reasons},
  };
  for (const auto& [statement, sql] : statements) {
    auto prepared = Statement::prepare(m_db, sql, m_where, "prepare summary statements");
    if (!prepared) return tl::unexpected(std::move(prepared.error()));
    *statement = std::move(*prepared);
  }
  return {};
}

Result<void> SqliteSummaries::load_new_names() {
  m_load_names.bind(1, static_cast<std::int64_t>(m_names.size() - 1));
  for (;;) {
    auto row = m_load_names.step();
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) return {};
    const std::int64_t id = m_load_names.column_int64(0);
    if (id <= 0) continue;
    if (static_cast<std::size_t>(id) >= m_names.size()) m_names.resize(static_cast<std::size_t>(id) + 1);
    m_names[static_cast<std::size_t>(id)] = m_load_names.column_text(1);
  }
}

Result<std::int64_t> SqliteSummaries::last_report_id() {
  auto last = m_last_report.query_int64();
  if (!last) return tl::unexpected(std::move(last.error()));
  return last->value_or(0);
}

Result<std::int64_t> SqliteSummaries::records_between(std::int64_t after, std::int64_t through) {
  auto sum = m_records_between.bind(1, after).bind(2, through).query_int64();
  if (!sum) return tl::unexpected(std::move(sum.error()));
  return sum->value_or(0);
}

Result<std::string> SqliteSummaries::name(std::int64_t id) {
  std::string text(cached_name(id));
  if (m_name_error) return tl::unexpected(*std::exchange(m_name_error, std::nullopt));
  return text;
}

Result<std::optional<Record>> SqliteSummaries::record(std::int64_t id) {
  const RecordCursors at{m_one_record, m_one_dkim, m_one_spf, m_one_reasons};
  for (ChildCursor* cursor : {&at.records, &at.dkim, &at.spf, &at.reasons}) {
    if (auto ok = cursor->seek(id); !ok) return tl::unexpected(std::move(ok.error()));
  }
  std::optional<Record> found;
  if (at.records.has_row && at.records.record() == id) {
    if (auto ok = read_record(at, id, found.emplace()); !ok) return tl::unexpected(std::move(ok.error()));
  }
  for (ChildCursor* cursor : {&at.records, &at.dkim, &at.spf, &at.reasons}) {
    cursor->statement.reset();
    cursor->has_row = false;
  }
  return found;
}

Result<std::vector<std::string>> SqliteSummaries::policy_domains(std::int64_t through) {
  std::vector<std::string> domains;
  m_policy_domains.bind(1, through);
  for (;;) {
    auto row = m_policy_domains.step();
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) return domains;
    domains.emplace_back(m_policy_domains.column_text(0));
  }
}

Result<std::int64_t> SqliteSummaries::chunk_end(std::int64_t after, std::int64_t through,
                                                std::int64_t records) {
  std::int64_t in_chunk = 0;
  m_report_sizes.bind(1, after).bind(2, through);
  for (;;) {
    auto row = m_report_sizes.step();
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) return through;
    in_chunk += m_report_sizes.column_int64(1);
    if (in_chunk >= records) {
      const std::int64_t end = m_report_sizes.column_int64(0);
      m_report_sizes.reset();
      return end;
    }
  }
}

// The next auth result or reason of a record being read, reusing one the
// previous record left so that its strings keep their memory: a scan reads
// millions of records into one Record, and clearing the vectors freed and
// allocated those strings for every record. The scan sets every field the
// summaries read; the human results, which it does not read, stay empty.
template <typename T>
T& next_item(std::vector<T>& items, std::size_t& used) {
  if (used == items.size()) items.emplace_back();
  return items[used++];
}

Result<void> SqliteSummaries::read_record(RecordCursors at, std::int64_t id, Record& record) {
  const Statement& q = at.records.statement;
  std::size_t dkim_count = 0;
  std::size_t spf_count = 0;
  std::size_t reason_count = 0;
  bool valid = true;
  record.source_ip = IpAddress();
  if (const std::string_view ip = q.column_blob(1); !ip.empty()) {
    auto address = IpAddress::from_bytes(ip);
    valid = address.has_value();
    if (address) record.source_ip = *address;
  }
  record.count = q.column_int64(2);
  valid = valid && to_enum(q.column_int64(3), Disposition::pass, record.disposition);
  valid = valid && to_enum(q.column_int64(4), Verdict::absent, record.dkim);
  valid = valid && to_enum(q.column_int64(5), Verdict::absent, record.spf);
  record.header_from = name_column(q, 6);
  record.envelope_from = name_column(q, 7);
  if (!q.is_null(10)) {
    DkimAuth& dkim = next_item(record.dkim_results, dkim_count);
    dkim.domain = name_column(q, 8);
    dkim.selector = name_column(q, 9);
    valid = valid && to_enum(q.column_int64(10), DkimResult::permerror, dkim.result);
  }
  if (!q.is_null(13)) {
    SpfAuth& spf = next_item(record.spf_results, spf_count);
    spf.domain = name_column(q, 11);
    valid = valid && to_enum(q.column_int64(12), SpfScope::helo, spf.scope);
    valid = valid && to_enum(q.column_int64(13), SpfResult::policy, spf.result);
  }
  for (; at.dkim.has_row && at.dkim.record() <= id;) {
    if (at.dkim.record() == id) {
      const Statement& c = at.dkim.statement;
      DkimAuth& dkim = next_item(record.dkim_results, dkim_count);
      dkim.domain = name_column(c, 1);
      dkim.selector = name_column(c, 2);
      valid = valid && to_enum(c.column_int64(3), DkimResult::permerror, dkim.result);
    }
    if (auto ok = at.dkim.step(); !ok) return ok;
  }
  for (; at.spf.has_row && at.spf.record() <= id;) {
    if (at.spf.record() == id) {
      const Statement& c = at.spf.statement;
      SpfAuth& spf = next_item(record.spf_results, spf_count);
      spf.domain = name_column(c, 1);
      valid = valid && to_enum(c.column_int64(2), SpfScope::helo, spf.scope);
      valid = valid && to_enum(c.column_int64(3), SpfResult::policy, spf.result);
    }
    if (auto ok = at.spf.step(); !ok) return ok;
  }
  for (; at.reasons.has_row && at.reasons.record() <= id;) {
    if (at.reasons.record() == id) {
      const Statement& c = at.reasons.statement;
      PolicyOverride& reason = next_item(record.reasons, reason_count);
      valid = valid && to_enum(c.column_int64(1), OverrideType::policy_test_mode, reason.type);
      reason.comment = name_column(c, 2);
    }
    if (auto ok = at.reasons.step(); !ok) return ok;
  }
  record.dkim_results.resize(dkim_count);
  record.spf_results.resize(spf_count);
  record.reasons.resize(reason_count);
  if (m_name_error) return tl::unexpected(*std::exchange(m_name_error, std::nullopt));
  if (!valid) return tl::unexpected(corrupt("malformed record " + std::to_string(id)));
  return {};
}

Result<void> SqliteSummaries::scan_records(const ReportFilter& filter, std::int64_t after,
                                           std::int64_t through, const RecordVisitor& visit) {
  if (auto ok = load_new_names(); !ok) return ok;
  std::optional<std::int64_t> domain_id;
  if (filter.policy_domain) {
    auto found = m_find_name.bind_text(1, *filter.policy_domain).query_int64();
    if (!found) return tl::unexpected(std::move(found.error()));
    if (!*found) return {};  // no report names that domain
    domain_id = **found;
  }
  Statement& reports = domain_id ? m_scan_domain_reports : m_scan_reports;
  reports.bind(1, after).bind(2, through).bind(3, domain_id).bind(5, filter.since).bind(6, filter.until);
  if (filter.reporter) {
    reports.bind_text(4, *filter.reporter);
  } else {
    reports.bind_null(4);
  }
  // The cursors stay open across reports whose records follow each other;
  // a filtered scan seeks past the records of the reports it skips.
  std::int64_t next_record = 0;
  ScannedReport scanned;
  PolicyPublished policy;
  Record record;
  for (;;) {
    auto row = reports.step();
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) break;
    scanned.id = reports.column_int64(0);
    scanned.reporter = name_column(reports, 1);
    scanned.reporter_id = reports.is_null(1) ? 0 : reports.column_int64(1);
    scanned.policy_domain = name_column(reports, 2);
    scanned.date_range = {reports.column_int64(3), reports.column_int64(4)};
    policy.domain = scanned.policy_domain;
    const bool valid = read_policy(reports, 5, policy);
    if (!valid) return tl::unexpected(corrupt("malformed report " + std::to_string(scanned.id)));
    scanned.policy = &policy;

    const std::int64_t first = reports.column_int64(12);
    const std::int64_t count = reports.column_int64(13);
    if (count <= 0) continue;
    if (first != next_record) {
      for (ChildCursor* cursor : {&m_records, &m_dkim, &m_spf, &m_reasons}) {
        if (auto ok = cursor->seek(first); !ok) {
          reports.reset();
          return ok;
        }
      }
    }
    for (std::int64_t id = first; id < first + count; ++id) {
      if (!m_records.has_row || m_records.record() != id) {
        reports.reset();
        return tl::unexpected(corrupt("record " + std::to_string(id) + " of report " +
                                      std::to_string(scanned.id) + " is missing"));
      }
      if (auto ok = read_record({m_records, m_dkim, m_spf, m_reasons}, id, record); !ok) {
        reports.reset();
        return ok;
      }
      if (!visit(scanned, id, record)) {
        reports.reset();
        next_record = -1;
        break;
      }
      if (auto ok = m_records.step(); !ok) {
        reports.reset();
        return ok;
      }
    }
    if (next_record == -1) break;
    next_record = first + count;
  }
  for (ChildCursor* cursor : {&m_records, &m_dkim, &m_spf, &m_reasons}) {
    cursor->statement.reset();
    cursor->has_row = false;
  }
  return {};
}

Result<std::unique_ptr<Summaries>> SqliteSummaries::open_reader() {
  const char* file = sqlite3_db_filename(m_db, "main");
  if (file == nullptr || *file == '\0') return std::unique_ptr<Summaries>();
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(file, &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) return tl::unexpected(database_error(raw, rc, m_where, "open a reader"));
  sqlite3_extended_result_codes(raw, 1);
  // It reads records in order, each page once: a small cache does.
  if (auto ok = exec(raw, "PRAGMA busy_timeout = 30000; PRAGMA cache_size = -2048", m_where,
                     "configure a reader");
      !ok) {
    return tl::unexpected(std::move(ok.error()));
  }
  auto reader = std::make_unique<SqliteSummaries>(std::move(db), std::string(m_where));
  if (auto ok = reader->prepare(); !ok) return tl::unexpected(std::move(ok.error()));
  return std::unique_ptr<Summaries>(std::move(reader));
}

Result<void> SqliteSummaries::begin_update() {
  if (m_update) return fail(Errc::internal, std::string(m_where), "summary update already open");
  auto transaction = Transaction::begin(m_db, m_where);
  if (!transaction) return tl::unexpected(std::move(transaction.error()));
  m_update.emplace(std::move(*transaction));
  return {};
}

Result<void> SqliteSummaries::commit_update() {
  if (!m_update) return tl::unexpected(outside_update("commit_update"));
  auto committed = m_update->commit();
  m_update.reset();
  return committed;
}

Result<void> SqliteSummaries::rollback_update() {
  if (!m_update) return tl::unexpected(outside_update("rollback_update"));
  m_update.reset();  // a transaction not committed rolls back
  return {};
}

Result<SummaryMark> SqliteSummaries::mark() {
  SummaryMark mark;
  auto row = m_mark.step();
  if (!row) return tl::unexpected(std::move(row.error()));
  if (*row) {
    mark.folded_through = m_mark.column_int64(0);
    mark.fingerprint = m_mark.column_text(1);
    mark.rebuilding = m_mark.column_int64(2) != 0;
    mark.rebuilt_through = m_mark.column_text(3);
    m_mark.reset();
  }
  return mark;
}

Result<void> SqliteSummaries::set_mark(const SummaryMark& mark) {
  if (!m_update) return tl::unexpected(outside_update("set_mark"));
  return m_set_mark.bind(1, mark.folded_through)
      .bind_text(2, mark.fingerprint)
      .bind(3, static_cast<std::int64_t>(mark.rebuilding))
      .bind_text(4, mark.rebuilt_through)
      .run();
}

Result<void> SqliteSummaries::clear() {
  if (!m_update) return tl::unexpected(outside_update("clear"));
  return exec(m_db, k_clear, m_where, "clear summaries");
}

Result<std::optional<SourceSummary>> SqliteSummaries::find_source(std::string_view policy_domain,
                                                                  const IpAddress& source_ip,
                                                                  std::string_view header_from) {
  Statement& q = m_find_source;
  q.bind_text(1, policy_domain).bind_blob(2, source_ip.bytes()).bind_text(3, header_from);
  auto row = q.step();
  if (!row) return tl::unexpected(std::move(row.error()));
  if (!*row) return std::optional<SourceSummary>();
  SourceSummary found;
  found.id = q.column_int64(0);
  found.policy_domain = policy_domain;
  found.source_ip = source_ip;
  found.header_from = header_from;
  found.messages = q.column_int64(1);
  found.failing_messages = q.column_int64(2);
  found.last_seen = q.column_int64(3);
  found.category = static_cast<int>(q.column_int64(4));
  if (!q.is_null(5)) found.severity = static_cast<int>(q.column_int64(5));
  found.service = q.column_text(6);
  found.state = q.column_blob(7);
  q.reset();
  return std::optional<SourceSummary>(std::move(found));
}

Result<void> SqliteSummaries::put_source(const SourceSummary& source) {
  if (!m_update) return tl::unexpected(outside_update("put_source"));
  const std::optional<std::int64_t> severity =
      source.severity ? std::optional<std::int64_t>(*source.severity) : std::nullopt;
  if (source.id == 0) {
    return m_insert_source.bind_text(1, source.policy_domain)
        .bind_blob(2, source.source_ip.bytes())
        .bind_text(3, source.header_from)
        .bind(4, source.messages)
        .bind(5, source.failing_messages)
        .bind(6, source.last_seen)
        .bind(7, static_cast<std::int64_t>(source.category))
        .bind(8, severity)
        .bind_text(9, source.service)
        .bind_blob(10, source.state)
        .run();
  }
  return m_update_source.bind(1, source.id)
      .bind(2, source.messages)
      .bind(3, source.failing_messages)
      .bind(4, source.last_seen)
      .bind(5, static_cast<std::int64_t>(source.category))
      .bind(6, severity)
      .bind_text(7, source.service)
      .bind_blob(8, source.state)
      .run();
}

Result<void> SqliteSummaries::scan_sources(const SummaryQuery& query,
                                           const std::function<bool(SourceSummary&&)>& visit) {
  std::string sql =
      "SELECT id, policy_domain, source_ip, header_from, messages, failing_messages, last_seen,"
      " category, severity, service, state FROM source_summaries WHERE 1";
  if (query.policy_domain) sql += " AND policy_domain = ?1";
  if (query.failing_only) sql += " AND failing_messages > 0";
  if (query.category) sql += " AND category = ?2";
  if (query.service) sql += " AND service = ?3 COLLATE NOCASE";
  if (query.min_messages) sql += " AND messages >= ?4";
  if (query.order == SummaryOrder::severity || query.max_severity) sql += " AND severity IS NOT NULL";
  if (query.max_severity) sql += " AND severity <= ?5";
  // The key columns break ties so that both orders are total and repeatable.
  sql += query.order == SummaryOrder::messages
             ? " ORDER BY messages DESC"
             : " ORDER BY severity, failing_messages DESC, messages DESC";
  sql += ", policy_domain, source_ip, header_from";
  if (query.limit) sql += " LIMIT ?6";
  auto statement = Statement::prepare(m_db, sql, m_where, "query source summaries");
  if (!statement) return tl::unexpected(std::move(statement.error()));
  Statement& q = *statement;
  if (query.policy_domain) q.bind_text(1, *query.policy_domain);
  if (query.category) q.bind(2, static_cast<std::int64_t>(*query.category));
  if (query.service) q.bind_text(3, *query.service);
  if (query.min_messages) q.bind(4, *query.min_messages);
  if (query.max_severity) q.bind(5, static_cast<std::int64_t>(*query.max_severity));
  if (query.limit) q.bind(6, *query.limit);
  for (;;) {
    auto row = q.step();
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) return {};
    SourceSummary source;
    source.id = q.column_int64(0);
    source.policy_domain = q.column_text(1);
    if (const std::string_view ip = q.column_blob(2); !ip.empty()) {
      auto address = IpAddress::from_bytes(ip);
      if (!address) return tl::unexpected(corrupt("malformed source summary " + std::to_string(source.id)));
      source.source_ip = *address;
    }
    source.header_from = q.column_text(3);
    source.messages = q.column_int64(4);
    source.failing_messages = q.column_int64(5);
    source.last_seen = q.column_int64(6);
    source.category = static_cast<int>(q.column_int64(7));
    if (!q.is_null(8)) source.severity = static_cast<int>(q.column_int64(8));
    source.service = q.column_text(9);
    source.state = q.column_blob(10);
    if (!visit(std::move(source))) {
      q.reset();
      return {};
    }
  }
}

Result<std::optional<std::string>> SqliteSummaries::find_domain(std::string_view policy_domain) {
  m_find_domain.bind_text(1, policy_domain);
  auto row = m_find_domain.step();
  if (!row) return tl::unexpected(std::move(row.error()));
  if (!*row) return std::optional<std::string>();
  std::string state(m_find_domain.column_blob(0));
  m_find_domain.reset();
  return std::optional<std::string>(std::move(state));
}

Result<void> SqliteSummaries::put_domain(std::string_view policy_domain, std::string_view state) {
  if (!m_update) return tl::unexpected(outside_update("put_domain"));
  return m_put_domain.bind_text(1, policy_domain).bind_blob(2, state).run();
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteSummaries::load_domains() {
  std::vector<std::pair<std::string, std::string>> domains;
  for (;;) {
    auto row = m_load_domains.step();
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) return domains;
    domains.emplace_back(m_load_domains.column_text(0), m_load_domains.column_blob(1));
  }
}

Result<std::optional<PolicyPublished>> SqliteSummaries::latest_policy(std::string_view policy_domain) {
  Statement& q = m_latest_policy;
  q.bind_text(1, policy_domain);
  auto row = q.step();
  if (!row) return tl::unexpected(std::move(row.error()));
  if (!*row) return std::optional<PolicyPublished>();
  PolicyPublished policy;
  policy.domain = policy_domain;
  const bool valid = read_policy(q, 0, policy);
  policy.fo = q.column_text(7);
  policy.discovery_method = q.column_text(8);
  q.reset();
  if (!valid) return tl::unexpected(corrupt("malformed policy of " + std::string(policy_domain)));
  return std::optional<PolicyPublished>(std::move(policy));
}

}  // namespace

Result<std::unique_ptr<Summaries>> make_summaries(sqlite3* db, std::string_view where) {
  auto summaries = std::make_unique<SqliteSummaries>(db, where);
  if (auto ok = summaries->prepare(); !ok) return tl::unexpected(std::move(ok.error()));
  return std::unique_ptr<Summaries>(std::move(summaries));
}

}  // namespace dmarcsift::storage::sqlite
