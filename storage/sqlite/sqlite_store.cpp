#include "storage/sqlite/sqlite_store.hpp"

#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "storage/sqlite/schema.hpp"
#include "storage/sqlite/statement.hpp"
#include "storage/sqlite/summaries.hpp"
#include "storage/summaries.hpp"

namespace dmarcsift::storage {
namespace {

using sqlite::DbHandle;
using sqlite::Statement;
using sqlite::to_enum;

constexpr const char* k_find_name = "SELECT id FROM names WHERE text = ?1";
constexpr const char* k_insert_name = "INSERT INTO names (text) VALUES (?1)";
constexpr const char* k_next_record = "SELECT coalesce(max(id), 0) + 1 FROM records";
// IS rather than =: an identity part may be NULL (an empty string), and the
// UNIQUE constraint alone would let NULLs repeat.
constexpr const char* k_find_identity =
    "SELECT id FROM reports WHERE reporter IS ?1 AND report_id IS ?2 AND policy_domain IS ?3"
    " AND begin_time = ?4 AND end_time = ?5";
constexpr const char* k_find_hash = "SELECT id FROM reports WHERE content_hash = ?1";
constexpr const char* k_insert_message =
    "INSERT INTO mail_messages (message_id, from_header, subject, date) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* k_insert_report =
    "INSERT INTO reports (reporter, email, extra_contact_info, report_id, policy_domain,"
    " begin_time, end_time, errors, generator, version, schema_flavour, adkim, aspf, p, sp, np,"
    " pct, fo, testing, discovery_method, content_hash, input, source_entry, message,"
    " ingested_at, first_record, record_count, message_count, messages_none,"
    " messages_quarantine, messages_reject, messages_pass)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
    " ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32)";
constexpr const char* k_insert_record =
    "INSERT INTO records (id, source_ip, count, disposition, dkim, spf, header_from,"
    " envelope_from, envelope_to, dkim_domain, dkim_selector, dkim_result, dkim_human_result,"
    " spf_domain, spf_scope, spf_result, spf_human_result)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";
constexpr const char* k_insert_dkim =
    "INSERT INTO dkim_results (record, seq, domain, selector, result, human_result)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* k_insert_spf =
    "INSERT INTO spf_results (record, seq, domain, scope, result, human_result)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* k_insert_reason =
    "INSERT INTO override_reasons (record, seq, type, comment) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* k_insert_warning =
    "INSERT INTO report_warnings (report, seq, kind, count, detail) VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr const char* k_insert_input =
    "INSERT INTO inputs (path, entry, content_hash, outcome, reason, reports_stored,"
    " duplicate_reports, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr const char* k_update_input =
    "UPDATE inputs SET path = ?1, entry = ?2, content_hash = ?3, outcome = ?4, reason = ?5,"
    " reports_stored = ?6, duplicate_reports = ?7, at = ?8 WHERE id = ?9";

#define DMARCSIFT_NAME(column) "(SELECT text FROM names WHERE id = " column ")"
constexpr const char* k_list_reports =
    "SELECT r.id, " DMARCSIFT_NAME("r.reporter") ", r.report_id, "
    DMARCSIFT_NAME("r.policy_domain") ", r.begin_time, r.end_time, r.record_count,"
    " r.message_count FROM reports r"
    " WHERE (?1 = 0 OR r.policy_domain IS (SELECT id FROM names WHERE text = ?2))"
    " AND (?3 = 0 OR coalesce(" DMARCSIFT_NAME("r.reporter") ", '') = coalesce(?4, '')"
    " COLLATE NOCASE)"
    " AND (?5 IS NULL OR r.end_time >= ?5) AND (?6 IS NULL OR r.begin_time < ?6)"
    " ORDER BY r.begin_time, r.id";
constexpr const char* k_load_report =
    "SELECT " DMARCSIFT_NAME("r.reporter") ", " DMARCSIFT_NAME("r.email") ", "
    DMARCSIFT_NAME("r.extra_contact_info") ", r.report_id, " DMARCSIFT_NAME("r.policy_domain")
    ", r.begin_time, r.end_time, r.errors, " DMARCSIFT_NAME("r.generator") ", "
    DMARCSIFT_NAME("r.version") ", r.schema_flavour, r.adkim, r.aspf, r.p, r.sp, r.np, r.pct, "
    DMARCSIFT_NAME("r.fo") ", r.testing, " DMARCSIFT_NAME("r.discovery_method")
    ", r.content_hash, i.path, r.source_entry, r.ingested_at,"
    " r.first_record, r.record_count, m.id, m.message_id, " DMARCSIFT_NAME("m.from_header")
    ", m.subject, m.date"
    " FROM reports r LEFT JOIN mail_messages m ON m.id = r.message"
    " LEFT JOIN inputs i ON i.id = r.input WHERE r.id = ?1";
constexpr const char* k_load_records =
    "SELECT id, source_ip, count, disposition, dkim, spf, " DMARCSIFT_NAME("header_from") ", "
    DMARCSIFT_NAME("envelope_from") ", " DMARCSIFT_NAME("envelope_to") ", "
    DMARCSIFT_NAME("dkim_domain") ", " DMARCSIFT_NAME("dkim_selector") ", dkim_result, "
    DMARCSIFT_NAME("dkim_human_result") ", " DMARCSIFT_NAME("spf_domain")
    ", spf_scope, spf_result, " DMARCSIFT_NAME("spf_human_result")
    " FROM records WHERE id BETWEEN ?1 AND ?2 ORDER BY id";
constexpr const char* k_load_dkim =
    "SELECT record, " DMARCSIFT_NAME("domain") ", " DMARCSIFT_NAME("selector") ", result, "
    DMARCSIFT_NAME("human_result")
    " FROM dkim_results WHERE record BETWEEN ?1 AND ?2 ORDER BY record, seq";
constexpr const char* k_load_spf =
    "SELECT record, " DMARCSIFT_NAME("domain") ", scope, result, " DMARCSIFT_NAME("human_result")
    " FROM spf_results WHERE record BETWEEN ?1 AND ?2 ORDER BY record, seq";
constexpr const char* k_load_reasons =
    "SELECT record, type, " DMARCSIFT_NAME("comment")
    " FROM override_reasons WHERE record BETWEEN ?1 AND ?2 ORDER BY record, seq";
constexpr const char* k_load_warnings =
    "SELECT " DMARCSIFT_NAME("kind") ", count, detail FROM report_warnings WHERE report = ?1"
    " ORDER BY seq";
#undef DMARCSIFT_NAME
constexpr const char* k_totals =
    "SELECT count(*), coalesce(sum(record_count), 0), coalesce(sum(message_count), 0),"
    " coalesce(sum(messages_none), 0), coalesce(sum(messages_quarantine), 0),"
    " coalesce(sum(messages_reject), 0), coalesce(sum(messages_pass), 0) FROM reports";

// The ids of the names a connection has seen. Open addressing over small
// slots that point into a list of entries, the texts one after another in
// an arena: a look-up reads a slot, an entry and its text, where
// std::unordered_map divided by a prime for the bucket and chased a node
// (on the 2M-record ingest, 3.5 % of all CPU samples against 1.3 %, most of
// them waiting on memory). With its text, a name takes 40-70 bytes, a
// little less than in the map; the 10M-record corpus has 144,719 names.
class NameIds {
 public:
  std::optional<std::int64_t> find(std::string_view text) const {
    if (m_slots.empty()) return std::nullopt;
    const std::uint64_t hash = std::hash<std::string_view>{}(text);
    const auto tag = static_cast<std::uint32_t>(hash);
    const std::size_t mask = m_slots.size() - 1;
    for (std::size_t i = home(hash);; i = (i + 1) & mask) {
      const Slot& slot = m_slots[i];
      if (slot.entry == 0) return std::nullopt;
      if (slot.tag != tag) continue;
      const Entry& entry = m_entries[slot.entry - 1];
      if (text == std::string_view(m_texts).substr(entry.offset, entry.size)) return entry.id;
    }
  }

  // `text` must not be in already; ids are positive.
  void add(std::string_view text, std::int64_t id) {
    // A cache: past what its 32-bit fields can place, names are looked up in SQL.
    if (m_entries.size() >= k_max_entries || m_texts.size() + text.size() > UINT32_MAX) return;
    if ((m_entries.size() + 1) * 4 > m_slots.size() * 3) grow();
    const std::uint64_t hash = std::hash<std::string_view>{}(text);
    m_entries.push_back(
        Entry{id, static_cast<std::uint32_t>(m_texts.size()), static_cast<std::uint32_t>(text.size())});
    m_texts += text;
    place(Slot{static_cast<std::uint32_t>(m_entries.size()), static_cast<std::uint32_t>(hash)}, hash);
  }

  void clear() {
    m_slots.clear();
    m_entries.clear();
    m_texts.clear();
    m_shift = 64;
  }

 private:
  struct Slot {
    std::uint32_t entry = 0;  // 1 + its index in m_entries; 0: empty
    std::uint32_t tag = 0;    // the low bits of the text's hash
  };
  struct Entry {
    std::int64_t id;
    std::uint32_t offset;  // of the text in m_texts
    std::uint32_t size;
  };
  static constexpr std::size_t k_max_entries = UINT32_MAX - 1;

  std::size_t home(std::uint64_t hash) const {
    return static_cast<std::size_t>((hash * 0x9e3779b97f4a7c15ull) >> m_shift);
  }

  void place(Slot slot, std::uint64_t hash) {
    const std::size_t mask = m_slots.size() - 1;
    std::size_t i = home(hash);
    while (m_slots[i].entry != 0) i = (i + 1) & mask;
    m_slots[i] = slot;
  }

  void grow() {
    m_slots.assign(m_slots.empty() ? 1024 : m_slots.size() * 2, Slot{});
    m_shift = 64 - std::countr_zero(m_slots.size());
    for (std::size_t e = 0; e < m_entries.size(); ++e) {
      const Entry& entry = m_entries[e];
      const std::uint64_t hash =
          std::hash<std::string_view>{}(std::string_view(m_texts).substr(entry.offset, entry.size));
      place(Slot{static_cast<std::uint32_t>(e + 1), static_cast<std::uint32_t>(hash)}, hash);
    }
  }

  std::vector<Slot> m_slots;  // a power of two of them, at most three quarters in use
  std::vector<Entry> m_entries;
  std::string m_texts;
  int m_shift = 64;  // 64 - log2(m_slots.size())
};

std::int64_t as_int(auto value) { return static_cast<std::int64_t>(value); }

std::string join_errors(const std::vector<std::string>& errors) {
  // NUL-terminated items: XML text cannot contain NUL, and an empty error
  // still round-trips as a lone terminator.
  std::string joined;
  for (const std::string& error : errors) {
    joined += error;
    joined += '\0';
  }
  return joined;
}

std::vector<std::string> split_errors(std::string_view joined) {
  std::vector<std::string> errors;
  while (!joined.empty()) {
    const std::size_t end = joined.find('\0');
    if (end == std::string_view::npos) {
      errors.emplace_back(joined);
      break;
    }
    errors.emplace_back(joined.substr(0, end));
    joined.remove_prefix(end + 1);
  }
  return errors;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(DbHandle db, std::string where) : m_db(std::move(db)), m_where(std::move(where)) {}
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Result<void> prepare_statements();

  Result<void> begin_batch() override;
  Result<void> commit_batch() override;
  Result<StoreOutcome> add_report(const AggregateReport& report, std::string_view content_hash,
                                  const ReportOrigin& origin) override;
  Result<void> log_input(const InputLogEntry& entry) override;
  Result<std::vector<ReportSummary>> list_reports(const ReportFilter& filter) override;
  Result<std::optional<StoredReport>> load_report(std::int64_t id) override;
  Result<Totals> totals() override;
  Summaries& summaries() override { return *m_summaries; }

 private:
  struct BatchMessage {
    const MailMessage* object;
    MailMessage copy;  // tells a new message at a reused address from the old one
    std::int64_t id;
  };

  Error corrupt(std::string_view what) const {
    return Error{Errc::database, m_where, "corrupt database: " + std::string(what)};
  }
  // The id of `text` when it is stored, nullopt otherwise (or when empty).
  Result<std::optional<std::int64_t>> find_name(std::string_view text);
  // The id of `text`, storing it first when new; nullopt for "".
  Result<std::optional<std::int64_t>> intern(std::string_view text);
  Result<std::optional<std::int64_t>> find_duplicate(const AggregateReport& report,
                                                     std::string_view content_hash);
  Result<std::int64_t> insert_message(const MailMessage& message);
  // Makes m_input_id the log row of `path`, inserting a provisional one.
  Result<void> open_input(std::string_view path);
  Result<void> write_input(Statement& statement, const InputLogEntry& entry);
  Result<void> insert_report(const AggregateReport& report, std::string_view content_hash,
                             const ReportOrigin& origin);
  Result<void> insert_record(const Record& record, std::int64_t id);
  Result<void> load_records(std::int64_t first, std::int64_t count, std::vector<Record>& records);
  // Forgets what a rolled-back savepoint or transaction may have written.
  void forget_uncommitted();

  // Declared first so that it is destroyed last, after the statements.
  DbHandle m_db;
  std::string m_where;
  sqlite::SavepointStatements m_savepoint;
  Statement m_find_name, m_insert_name, m_next_record, m_find_identity, m_find_hash,
      m_insert_message, m_insert_report, m_insert_record, m_insert_dkim, m_insert_spf,
      m_insert_reason, m_insert_warning, m_insert_input, m_update_input, m_list_reports,
      m_load_report,
      m_load_records, m_load_dkim, m_load_spf, m_load_reasons, m_load_warnings, m_totals;
  // Every name this connection has seen, so each distinct string costs one
  // SQL lookup per process. Names are never deleted, so ids stay valid.
  NameIds m_names;
  // The names of the record stored last, by column: consecutive records
  // repeat most of them (the From domain, the selector, the reporter's
  // human results), and a comparison is cheaper than a hash look-up.
  enum RecordName { header_from, envelope_from, envelope_to, dkim_domain, dkim_selector,
                    dkim_human_result, spf_domain, spf_human_result, record_names };
  struct LastName {
    std::string text;
    std::optional<std::int64_t> id;
  };
  std::array<LastName, record_names> m_last_names;
  std::vector<BatchMessage> m_batch_messages;  // mail messages stored in this batch
  std::int64_t m_next_record_id = 0;           // valid inside a batch
  // The ingest log row of the input whose reports are being added: a report
  // refers to it instead of repeating its path, and log_input() completes
  // it. Valid inside a batch, for the path it was opened for.
  std::string m_input_path;
  std::optional<std::int64_t> m_input_id;
  std::unique_ptr<Summaries> m_summaries;  // on the same connection
  std::optional<sqlite::Transaction> m_batch;  // destroyed first: rolls back
};

Result<void> SqliteStore::prepare_statements() {
  struct Entry {
    Statement* statement;
    const char* sql;
    const char* operation;
  };
  const Entry entries[] = {
      {&m_find_name, k_find_name, "look up name"},
      {&m_insert_name, k_insert_name, "insert name"},
      {&m_next_record, k_next_record, "find next record id"},
      {&m_find_identity, k_find_identity, "look up report identity"},
      {&m_find_hash, k_find_hash, "look up report content hash"},
      {&m_insert_message, k_insert_message, "insert mail message"},
      {&m_insert_report, k_insert_report, "insert report"},
      {&m_insert_record, k_insert_record, "insert record"},
      {&m_insert_dkim, k_insert_dkim, "insert DKIM result"},
      {&m_insert_spf, k_insert_spf, "insert SPF result"},
      {&m_insert_reason, k_insert_reason, "insert override reason"},
      {&m_insert_warning, k_insert_warning, "insert report warning"},
      {&m_insert_input, k_insert_input, "log input"},
      {&m_update_input, k_update_input, "update input log"},
      {&m_list_reports, k_list_reports, "list reports"},
      {&m_load_report, k_load_report, "load report"},
      {&m_load_records, k_load_records, "load records"},
      {&m_load_dkim, k_load_dkim, "load DKIM results"},
      {&m_load_spf, k_load_spf, "load SPF results"},
      {&m_load_reasons, k_load_reasons, "load override reasons"},
      {&m_load_warnings, k_load_warnings, "load report warnings"},
      {&m_totals, k_totals, "compute totals"},
  };
  for (const Entry& entry : entries) {
    auto prepared = Statement::prepare(m_db.get(), entry.sql, m_where, entry.operation);
    if (!prepared) return tl::unexpected(std::move(prepared.error()));
    *entry.statement = std::move(*prepared);
  }
  auto savepoint = sqlite::SavepointStatements::prepare(m_db.get(), m_where);
  if (!savepoint) return tl::unexpected(std::move(savepoint.error()));
  m_savepoint = std::move(*savepoint);
  auto summaries = sqlite::make_summaries(m_db.get(), m_where);
  if (!summaries) return tl::unexpected(std::move(summaries.error()));
  m_summaries = std::move(*summaries);
  return {};
}

Result<void> SqliteStore::begin_batch() {
  if (m_batch) return fail(Errc::internal, m_where, "begin_batch called inside a batch");
  auto transaction = sqlite::Transaction::begin(m_db.get(), m_where);
  if (!transaction) return tl::unexpected(std::move(transaction.error()));
  // Holding the write lock, nobody else can add records until we commit, so
  // the ids we hand out are max + 1, max + 2, ... with no gaps.
  auto next = m_next_record.query_int64();
  if (!next) return tl::unexpected(std::move(next.error()));
  m_next_record_id = next->value_or(1);
  m_batch_messages.clear();
  m_input_id.reset();
  m_batch.emplace(std::move(*transaction));
  return {};
}

Result<void> SqliteStore::commit_batch() {
  if (!m_batch) return fail(Errc::internal, m_where, "commit_batch called outside a batch");
  auto committed = m_batch->commit();
  m_batch.reset();  // rolls back when the commit failed
  m_batch_messages.clear();
  m_input_id.reset();
  if (!committed) forget_uncommitted();
  return committed;
}

void SqliteStore::forget_uncommitted() {
  // Rare (a failed report or commit), so drop the whole cache rather than
  // track which names were new.
  m_names.clear();
  m_last_names = {};
}

Result<std::optional<std::int64_t>> SqliteStore::find_name(std::string_view text) {
  if (text.empty()) return std::optional<std::int64_t>();
  if (auto cached = m_names.find(text)) return cached;
  auto found = m_find_name.bind_text(1, text).query_int64();
  if (found && *found) m_names.add(text, **found);
  return found;
}

Result<std::optional<std::int64_t>> SqliteStore::intern(std::string_view text) {
  auto found = find_name(text);
  if (!found || *found || text.empty()) return found;
  if (auto inserted = m_insert_name.bind_text(1, text).run(); !inserted) {
    return tl::unexpected(std::move(inserted.error()));
  }
  const std::int64_t id = sqlite3_last_insert_rowid(m_db.get());
  m_names.add(text, id);
  return std::optional<std::int64_t>(id);
}

Result<std::optional<std::int64_t>> SqliteStore::find_duplicate(const AggregateReport& report,
                                                                std::string_view content_hash) {
  if (!content_hash.empty()) {
    auto by_hash = m_find_hash.bind_blob(1, content_hash).query_int64();
    if (!by_hash || *by_hash) return by_hash;
  }
  // A name never stored cannot be part of a stored identity; looking it up
  // without interning keeps a duplicate from writing anything.
  auto reporter = find_name(report.metadata.org_name);
  if (!reporter) return reporter;
  if (!*reporter && !report.metadata.org_name.empty()) return std::optional<std::int64_t>();
  auto domain = find_name(report.policy.domain);
  if (!domain) return domain;
  if (!*domain && !report.policy.domain.empty()) return std::optional<std::int64_t>();
  return m_find_identity.bind(1, *reporter)
      .bind_text(2, report.metadata.report_id)
      .bind(3, *domain)
      .bind(4, report.metadata.date_range.begin)
      .bind(5, report.metadata.date_range.end)
      .query_int64();
}

Result<StoreOutcome> SqliteStore::add_report(const AggregateReport& report,
                                             std::string_view content_hash,
                                             const ReportOrigin& origin) {
  if (!m_batch) return fail(Errc::internal, m_where, "add_report called outside a batch");
  auto duplicate = find_duplicate(report, content_hash);
  if (!duplicate) return tl::unexpected(std::move(duplicate.error()));
  if (*duplicate) return StoreOutcome::duplicate;

  // Outside the report's savepoint: the log row belongs to the input, which
  // stays in the batch whatever becomes of this report.
  if (auto opened = open_input(origin.path); !opened) return tl::unexpected(opened.error());

  // One savepoint per report: a failure half-way undoes this report only and
  // leaves the batch, and the reports already in it, usable.
  auto savepoint = sqlite::Savepoint::begin(m_savepoint);
  if (!savepoint) return tl::unexpected(std::move(savepoint.error()));
  const std::int64_t first_record = m_next_record_id;
  const std::size_t messages_before = m_batch_messages.size();
  auto inserted = insert_report(report, content_hash, origin);
  if (inserted) inserted = savepoint->release();
  if (!inserted) {
    m_next_record_id = first_record;
    m_batch_messages.erase(m_batch_messages.begin() + static_cast<std::ptrdiff_t>(messages_before),
                           m_batch_messages.end());
    forget_uncommitted();
    return tl::unexpected(std::move(inserted.error()));  // the savepoint rolls back
  }
  return StoreOutcome::stored;
}

Result<std::int64_t> SqliteStore::insert_message(const MailMessage& message) {
  // Several reports of one e-mail share its row: the same object, still
  // holding the same headers, is the same message.
  for (const BatchMessage& stored : m_batch_messages) {
    if (stored.object == &message && stored.copy.message_id == message.message_id &&
        stored.copy.from == message.from && stored.copy.subject == message.subject &&
        stored.copy.date == message.date) {
      return stored.id;
    }
  }
  auto from = intern(message.from);
  if (!from) return tl::unexpected(std::move(from.error()));
  auto inserted = m_insert_message.bind_text(1, message.message_id)
                      .bind(2, *from)
                      .bind_text(3, message.subject)
                      .bind_text(4, message.date)
                      .run();
  if (!inserted) return tl::unexpected(std::move(inserted.error()));
  const std::int64_t id = sqlite3_last_insert_rowid(m_db.get());
  m_batch_messages.push_back({&message, message, id});
  return id;
}

Result<void> SqliteStore::insert_report(const AggregateReport& report,
                                        std::string_view content_hash,
                                        const ReportOrigin& origin) {
  const ReportMetadata& metadata = report.metadata;
  const PolicyPublished& policy = report.policy;
  // Names first: interning uses other statements, and a failure must not
  // leave half-bound parameters behind.
  enum NameSlot { reporter, email, extra_contact_info, policy_domain, generator, version, fo,
                  discovery_method, name_slots };
  const std::string_view texts[name_slots] = {
      metadata.org_name, metadata.email,  metadata.extra_contact_info,
      policy.domain,     metadata.generator, metadata.version,
      policy.fo,         policy.discovery_method};
  std::optional<std::int64_t> ids[name_slots];
  for (int slot = 0; slot < name_slots; ++slot) {
    auto id = intern(texts[slot]);
    if (!id) return tl::unexpected(std::move(id.error()));
    ids[slot] = *id;
  }
  std::optional<std::int64_t> message;
  if (origin.message) {
    auto id = insert_message(*origin.message);
    if (!id) return tl::unexpected(std::move(id.error()));
    message = *id;
  }

  std::int64_t message_count = 0;
  DispositionCounts by_disposition{};
  for (const Record& record : report.records) {
    message_count += record.count;
    by_disposition[static_cast<std::size_t>(record.disposition)] += record.count;
  }
  const std::string errors = join_errors(metadata.errors);
  const std::int64_t first_record = m_next_record_id;
  const auto optional_int = [](const auto& value) -> std::optional<std::int64_t> {
    if (!value) return std::nullopt;
    return as_int(*value);
  };

  auto inserted =
      m_insert_report.bind(1, ids[reporter])
          .bind(2, ids[email])
          .bind(3, ids[extra_contact_info])
          .bind_text(4, metadata.report_id)
          .bind(5, ids[policy_domain])
          .bind(6, metadata.date_range.begin)
          .bind(7, metadata.date_range.end)
          .bind_blob(8, errors)
          .bind(9, ids[generator])
          .bind(10, ids[version])
          .bind(11, as_int(report.schema))
          .bind(12, policy.adkim_present ? std::optional(as_int(policy.adkim)) : std::nullopt)
          .bind(13, policy.aspf_present ? std::optional(as_int(policy.aspf)) : std::nullopt)
          .bind(14, as_int(policy.p))
          .bind(15, optional_int(policy.sp))
          .bind(16, optional_int(policy.np))
          .bind(17, optional_int(policy.pct))
          .bind(18, ids[fo])
          .bind(19, optional_int(policy.testing))
          .bind(20, ids[discovery_method])
          .bind_blob(21, content_hash)
          .bind(22, m_input_id)
          .bind_text(23, origin.entry)
          .bind(24, message)
          .bind(25, as_int(std::time(nullptr)))
          .bind(26, first_record)
          .bind(27, as_int(report.records.size()))
          .bind(28, message_count)
          .bind(29, by_disposition[0])
          .bind(30, by_disposition[1])
          .bind(31, by_disposition[2])
          .bind(32, by_disposition[3])
          .run();
  if (!inserted) return inserted;
  const std::int64_t report_row = sqlite3_last_insert_rowid(m_db.get());

  for (std::size_t i = 0; i < report.records.size(); ++i) {
    if (auto ok = insert_record(report.records[i], first_record + as_int(i)); !ok) return ok;
  }
  m_next_record_id = first_record + as_int(report.records.size());

  for (std::size_t seq = 0; seq < report.warnings.size(); ++seq) {
    const Warning& warning = report.warnings[seq];
    auto kind = intern(warning.kind);
    if (!kind) return tl::unexpected(std::move(kind.error()));
    auto ok = m_insert_warning.bind(1, report_row)
                  .bind(2, as_int(seq))
                  .bind(3, *kind)
                  .bind(4, as_int(warning.count))
                  .bind_text(5, warning.detail)
                  .run();
    if (!ok) return ok;
  }
  return {};
}

Result<void> SqliteStore::insert_record(const Record& record, std::int64_t id) {
  // Names are interned before any bind: interning runs other statements, and
  // an early return must not leave this one half-bound.
  const DkimAuth* dkim = record.dkim_results.empty() ? nullptr : &record.dkim_results[0];
  const SpfAuth* spf = record.spf_results.empty() ? nullptr : &record.spf_results[0];
  // string_view on both sides: `dkim ? dkim->domain : ""` would make a
  // temporary std::string, gone before the view is read.
  const std::string_view texts[record_names] = {
      record.header_from,
      record.envelope_from,
      record.envelope_to,
      dkim ? std::string_view(dkim->domain) : std::string_view(),
      dkim ? std::string_view(dkim->selector) : std::string_view(),
      dkim ? std::string_view(dkim->human_result) : std::string_view(),
      spf ? std::string_view(spf->domain) : std::string_view(),
      spf ? std::string_view(spf->human_result) : std::string_view()};
  std::optional<std::int64_t> ids[record_names];
  for (int slot = 0; slot < record_names; ++slot) {
    LastName& last = m_last_names[slot];
    if (texts[slot] != last.text) {
      auto name = intern(texts[slot]);
      if (!name) return tl::unexpected(std::move(name.error()));
      last.text.assign(texts[slot]);
      last.id = *name;
    }
    ids[slot] = last.id;
  }
  const auto optional_int = [](bool present, auto value) -> std::optional<std::int64_t> {
    if (!present) return std::nullopt;
    return as_int(value);
  };
  auto inserted =
      m_insert_record.bind(1, id)
          .bind_blob(2, record.source_ip.bytes())
          .bind(3, record.count)
          .bind(4, as_int(record.disposition))
          .bind(5, as_int(record.dkim))
          .bind(6, as_int(record.spf))
          .bind(7, ids[header_from])
          .bind(8, ids[envelope_from])
          .bind(9, ids[envelope_to])
          .bind(10, ids[dkim_domain])
          .bind(11, ids[dkim_selector])
          .bind(12, optional_int(dkim != nullptr, dkim ? dkim->result : DkimResult::none))
          .bind(13, ids[dkim_human_result])
          .bind(14, ids[spf_domain])
          .bind(15, optional_int(spf != nullptr, spf ? spf->scope : SpfScope::absent))
          .bind(16, optional_int(spf != nullptr, spf ? spf->result : SpfResult::none))
          .bind(17, ids[spf_human_result])
          .run();
  if (!inserted) return inserted;

  for (std::size_t seq = 1; seq < record.dkim_results.size(); ++seq) {
    const DkimAuth& more = record.dkim_results[seq];
    auto domain = intern(more.domain);
    if (!domain) return tl::unexpected(std::move(domain.error()));
    auto selector = intern(more.selector);
    if (!selector) return tl::unexpected(std::move(selector.error()));
    auto human_result = intern(more.human_result);
    if (!human_result) return tl::unexpected(std::move(human_result.error()));
    auto ok = m_insert_dkim.bind(1, id)
                  .bind(2, as_int(seq))
                  .bind(3, *domain)
                  .bind(4, *selector)
                  .bind(5, as_int(more.result))
                  .bind(6, *human_result)
                  .run();
    if (!ok) return ok;
  }
  for (std::size_t seq = 1; seq < record.spf_results.size(); ++seq) {
    const SpfAuth& more = record.spf_results[seq];
    auto domain = intern(more.domain);
    if (!domain) return tl::unexpected(std::move(domain.error()));
    auto human_result = intern(more.human_result);
    if (!human_result) return tl::unexpected(std::move(human_result.error()));
    auto ok = m_insert_spf.bind(1, id)
                  .bind(2, as_int(seq))
                  .bind(3, *domain)
                  .bind(4, as_int(more.scope))
                  .bind(5, as_int(more.result))
                  .bind(6, *human_result)
                  .run();
    if (!ok) return ok;
  }
  for (std::size_t seq = 0; seq < record.reasons.size(); ++seq) {
    const PolicyOverride& reason = record.reasons[seq];
    auto comment = intern(reason.comment);
    if (!comment) return tl::unexpected(std::move(comment.error()));
    auto ok = m_insert_reason.bind(1, id)
                  .bind(2, as_int(seq))
                  .bind(3, as_int(reason.type))
                  .bind(4, *comment)
                  .run();
    if (!ok) return ok;
  }
  return {};
}

Result<void> SqliteStore::open_input(std::string_view path) {
  if (m_input_id && m_input_path == path) return {};
  InputLogEntry provisional;
  provisional.path = std::string(path);
  if (auto written = write_input(m_insert_input, provisional); !written) return written;
  m_input_path = path;
  m_input_id = sqlite3_last_insert_rowid(m_db.get());
  return {};
}

Result<void> SqliteStore::write_input(Statement& statement, const InputLogEntry& entry) {
  statement.bind_text(1, entry.path)
      .bind_text(2, entry.entry)
      .bind_blob(3, entry.content_hash)
      .bind(4, as_int(entry.outcome))
      .bind_text(5, entry.reason)
      .bind(6, entry.reports_stored)
      .bind(7, entry.duplicate_reports)
      .bind(8, as_int(std::time(nullptr)));
  if (&statement == &m_update_input) statement.bind(9, m_input_id);
  return statement.run();
}

Result<void> SqliteStore::log_input(const InputLogEntry& entry) {
  const bool opened = m_input_id && m_input_path == entry.path;
  auto written = write_input(opened ? m_update_input : m_insert_input, entry);
  m_input_id.reset();
  m_input_path.clear();
  return written;
}

Result<std::vector<ReportSummary>> SqliteStore::list_reports(const ReportFilter& filter) {
  // Views of the filter's own strings: value_or("") would bind temporaries.
  const auto text = [](const std::optional<std::string>& value) {
    return value ? std::string_view(*value) : std::string_view();
  };
  const std::string_view policy_domain = text(filter.policy_domain);
  const std::string_view reporter = text(filter.reporter);
  m_list_reports.bind(1, as_int(filter.policy_domain.has_value()))
      .bind_text(2, policy_domain)
      .bind(3, as_int(filter.reporter.has_value()))
      .bind_text(4, reporter)
      .bind(5, filter.since)
      .bind(6, filter.until);
  std::vector<ReportSummary> summaries;
  for (;;) {
    auto row = m_list_reports.step();
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) break;
    ReportSummary& summary = summaries.emplace_back();
    summary.id = m_list_reports.column_int64(0);
    summary.reporter = m_list_reports.column_text(1);
    summary.report_id = m_list_reports.column_text(2);
    summary.policy_domain = m_list_reports.column_text(3);
    summary.date_range = {m_list_reports.column_int64(4), m_list_reports.column_int64(5)};
    summary.records = m_list_reports.column_int64(6);
    summary.messages = m_list_reports.column_int64(7);
  }
  return summaries;
}

Result<std::optional<StoredReport>> SqliteStore::load_report(std::int64_t id) {
  Statement& q = m_load_report;
  auto row = q.bind(1, id).step();
  if (!row) return tl::unexpected(std::move(row.error()));
  if (!*row) return std::optional<StoredReport>();

  StoredReport stored;
  stored.id = id;
  AggregateReport& report = stored.report;
  ReportMetadata& metadata = report.metadata;
  PolicyPublished& policy = report.policy;
  metadata.org_name = q.column_text(0);
  metadata.email = q.column_text(1);
  metadata.extra_contact_info = q.column_text(2);
  metadata.report_id = q.column_text(3);
  policy.domain = q.column_text(4);
  metadata.date_range = {q.column_int64(5), q.column_int64(6)};
  metadata.errors = split_errors(q.column_blob(7));
  metadata.generator = q.column_text(8);
  metadata.version = q.column_text(9);
  bool valid = to_enum(q.column_int64(10), SchemaFlavour::rfc9990, report.schema);
  policy.adkim_present = !q.is_null(11);
  policy.aspf_present = !q.is_null(12);
  valid = valid && to_enum(q.column_int64(11), Alignment::strict, policy.adkim);
  valid = valid && to_enum(q.column_int64(12), Alignment::strict, policy.aspf);
  valid = valid && to_enum(q.column_int64(13), PolicyAction::reject, policy.p);
  for (auto [column, target] : {std::pair{14, &policy.sp}, std::pair{15, &policy.np}}) {
    if (q.is_null(column)) continue;
    PolicyAction action{};
    valid = valid && to_enum(q.column_int64(column), PolicyAction::reject, action);
    *target = action;
  }
  if (!q.is_null(16)) policy.pct = static_cast<int>(q.column_int64(16));
  policy.fo = q.column_text(17);
  if (!q.is_null(18)) policy.testing = q.column_int64(18) != 0;
  policy.discovery_method = q.column_text(19);
  stored.content_hash = q.column_blob(20);
  stored.source_path = q.column_text(21);
  stored.source_entry = q.column_text(22);
  stored.ingested_at = q.column_int64(23);
  const std::int64_t first_record = q.column_int64(24);
  const std::int64_t record_count = q.column_int64(25);
  if (!q.is_null(26)) {
    MailMessage& message = stored.message.emplace();
    message.message_id = q.column_text(27);
    message.from = q.column_text(28);
    message.subject = q.column_text(29);
    message.date = q.column_text(30);
  }
  q.reset();
  if (!valid) return tl::unexpected(corrupt("bad enumeration in report " + std::to_string(id)));

  if (auto ok = load_records(first_record, record_count, report.records); !ok) {
    return tl::unexpected(std::move(ok.error()));
  }
  m_load_warnings.bind(1, id);
  for (;;) {
    auto warning_row = m_load_warnings.step();
    if (!warning_row) return tl::unexpected(std::move(warning_row.error()));
    if (!*warning_row) break;
    report.warnings.push_back({std::string(m_load_warnings.column_text(0)),
                               std::string(m_load_warnings.column_text(2)),
                               static_cast<int>(m_load_warnings.column_int64(1))});
  }
  return std::optional<StoredReport>(std::move(stored));
}

Result<void> SqliteStore::load_records(std::int64_t first, std::int64_t count,
                                       std::vector<Record>& records) {
  if (count <= 0) return {};
  const std::int64_t last = first + count - 1;
  records.reserve(static_cast<std::size_t>(count));
  m_load_records.bind(1, first).bind(2, last);
  bool valid = true;
  for (;;) {
    auto row = m_load_records.step();
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) break;
    Record& record = records.emplace_back();
    const std::string_view ip = m_load_records.column_blob(1);
    if (!ip.empty()) {
      auto address = IpAddress::from_bytes(ip);
      valid = valid && address.has_value();
      if (address) record.source_ip = *address;
    }
    record.count = m_load_records.column_int64(2);
    valid = valid && to_enum(m_load_records.column_int64(3), Disposition::pass, record.disposition);
    valid = valid && to_enum(m_load_records.column_int64(4), Verdict::absent, record.dkim);
    valid = valid && to_enum(m_load_records.column_int64(5), Verdict::absent, record.spf);
    record.header_from = m_load_records.column_text(6);
    record.envelope_from = m_load_records.column_text(7);
    record.envelope_to = m_load_records.column_text(8);
    if (!m_load_records.is_null(11)) {
      DkimAuth& dkim = record.dkim_results.emplace_back();
      dkim.domain = m_load_records.column_text(9);
      dkim.selector = m_load_records.column_text(10);
      valid = valid && to_enum(m_load_records.column_int64(11), DkimResult::permerror, dkim.result);
      dkim.human_result = m_load_records.column_text(12);
    }
    if (!m_load_records.is_null(15)) {
      SpfAuth& spf = record.spf_results.emplace_back();
      spf.domain = m_load_records.column_text(13);
      valid = valid && to_enum(m_load_records.column_int64(14), SpfScope::helo, spf.scope);
      valid = valid && to_enum(m_load_records.column_int64(15), SpfResult::policy, spf.result);
      spf.human_result = m_load_records.column_text(16);
    }
  }
  if (!valid || as_int(records.size()) != count) {
    return tl::unexpected(corrupt("records " + std::to_string(first) + ".." +
                                  std::to_string(last) + " are missing or malformed"));
  }

  // Further results come back ordered by (record, seq), after the first
  // ones read from the record rows; each row's record id says which Record
  // it belongs to.
  // The queries' BETWEEN keeps every id inside the range.
  const auto owner = [&](std::int64_t record) {
    return &records[static_cast<std::size_t>(record - first)];
  };
  m_load_dkim.bind(1, first).bind(2, last);
  for (;;) {
    auto row = m_load_dkim.step();
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) break;
    DkimAuth dkim;
    dkim.domain = m_load_dkim.column_text(1);
    dkim.selector = m_load_dkim.column_text(2);
    valid = valid && to_enum(m_load_dkim.column_int64(3), DkimResult::permerror, dkim.result);
    dkim.human_result = m_load_dkim.column_text(4);
    owner(m_load_dkim.column_int64(0))->dkim_results.push_back(std::move(dkim));
  }
  m_load_spf.bind(1, first).bind(2, last);
  for (;;) {
    auto row = m_load_spf.step();
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) break;
    SpfAuth spf;
    spf.domain = m_load_spf.column_text(1);
    valid = valid && to_enum(m_load_spf.column_int64(2), SpfScope::helo, spf.scope);
    valid = valid && to_enum(m_load_spf.column_int64(3), SpfResult::policy, spf.result);
    spf.human_result = m_load_spf.column_text(4);
    owner(m_load_spf.column_int64(0))->spf_results.push_back(std::move(spf));
  }
  m_load_reasons.bind(1, first).bind(2, last);
  for (;;) {
    auto row = m_load_reasons.step();
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) break;
    PolicyOverride reason;
    valid = valid &&
            to_enum(m_load_reasons.column_int64(1), OverrideType::policy_test_mode, reason.type);
    reason.comment = m_load_reasons.column_text(2);
    owner(m_load_reasons.column_int64(0))->reasons.push_back(std::move(reason));
  }
  if (!valid) {
    return tl::unexpected(corrupt("bad enumeration in records " + std::to_string(first) + ".." +
                                  std::to_string(last)));
  }
  return {};
}

Result<Totals> SqliteStore::totals() {
  auto row = m_totals.step();
  if (!row) return tl::unexpected(std::move(row.error()));
  Totals totals;
  if (*row) {
    totals.reports = m_totals.column_int64(0);
    totals.records = m_totals.column_int64(1);
    totals.messages = m_totals.column_int64(2);
    for (int i = 0; i < 4; ++i) {
      totals.messages_by_disposition[static_cast<std::size_t>(i)] = m_totals.column_int64(3 + i);
    }
    m_totals.reset();
  }
  return totals;
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::filesystem::path& path) {
  const std::string where = path.string();
  const bool in_memory = where == ":memory:";
  if (!in_memory && path.has_parent_path()) {
    std::error_code error;
    std::filesystem::create_directories(path.parent_path(), error);
    if (error) {
      return fail(Errc::io, where,
                  "cannot create directory " + path.parent_path().string() + ": " +
                      error.message());
    }
  }
  // SQLite's memory statistics take a global mutex on every allocation;
  // nothing here reads them, and turning them off saved 8% of the
  // instructions of add_report. It must precede sqlite3_initialize(), so the
  // first open decides; later calls return SQLITE_MISUSE, which is harmless.
  static std::once_flag memory_statistics_off;
  std::call_once(memory_statistics_off, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(where.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  DbHandle db(raw);  // sqlite3_open_v2 allocates a handle even when it fails
  if (rc != SQLITE_OK) return tl::unexpected(sqlite::database_error(raw, rc, where, "open"));
  sqlite3_extended_result_codes(raw, 1);

  // busy_timeout before anything that locks: concurrent ingest processes
  // wait for each other (up to 30 s) instead of failing.
  if (auto ok = sqlite::exec(raw, "PRAGMA busy_timeout = 30000", where, "set busy_timeout");
      !ok) {
    return tl::unexpected(std::move(ok.error()));
  }
  if (auto ok = sqlite::migrate(raw, where); !ok) return tl::unexpected(std::move(ok.error()));
  // WAL: readers never block the writer; synchronous=NORMAL is durable in
  // WAL mode except for the last commits before a power cut, never corrupt.
  // A 16 MiB page cache: 64 MiB cost the 2M-record ingest 30-60 MB of RSS
  // and bought no time, not even on 10M records.
  // The journal mode is stored in the file, so only a database that is not
  // in WAL mode yet is switched. Switching needs a moment with no other
  // connection, and SQLite answers "database is locked" at once rather than
  // waiting: two processes creating the same database at once, or another
  // process's ingest or query under load, made that happen. The read below
  // takes no such lock; a switch that finds the database busy is tried
  // again, as long as busy_timeout would wait.
  auto journal = Statement::prepare(raw, "PRAGMA journal_mode", where, "read journal mode");
  if (!journal) return tl::unexpected(std::move(journal.error()));
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto journal_row = journal->step();
    if (!journal_row) return tl::unexpected(std::move(journal_row.error()));
    const bool wal = *journal_row && journal->column_text(0) == "wal";
    journal->reset();
    if (wal) break;
    auto switched = sqlite::exec(raw, "PRAGMA journal_mode = WAL", where, "switch to WAL mode");
    if (switched) break;
    if (switched.error().code != Errc::busy || std::chrono::steady_clock::now() > give_up) {
      return tl::unexpected(std::move(switched.error()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (auto ok = sqlite::exec(raw,
                             "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
                             " PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY",
                             where, "configure connection");
      !ok) {
    return tl::unexpected(std::move(ok.error()));
  }
  auto store = std::make_unique<SqliteStore>(std::move(db), where);
  if (auto ok = store->prepare_statements(); !ok) return tl::unexpected(std::move(ok.error()));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace dmarcsift::storage
