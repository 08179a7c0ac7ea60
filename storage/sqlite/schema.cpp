#include "storage/sqlite/schema.hpp"

#include <array>
#include <cstdio>
#include <string>

#include <sqlite3.h>

#include "storage/sqlite/statement.hpp"

namespace dmarcsift::storage::sqlite {
namespace {

// k_migrations[v] takes a database from user_version v to v + 1. Released
// steps are never edited: a change is a new step appended here.
//
// Layout choices, measured against the goal of <= 80 bytes per stored record:
// - Every repeated string (org names, domains, selectors, human results...)
//   is interned once in `names`; rows hold its id, usually 1-2 bytes.
// - Enumerations are their C++ enum values, empty strings and absent values
//   NULL; SQLite stores NULL and the integers 0 and 1 in the row header alone.
// - Records carry no report column and no index: a report's records are
//   inserted in one transaction with consecutive ids, so the report keeps
//   first_record + record_count and reads its records as an id range.
// - Nearly every record has exactly one DKIM and one SPF result. The first
//   of each lives in the record row (NULL result = none); only further ones
//   go to dkim_results / spf_results, keyed (record, seq) with seq >= 1.
//   Measured on 1,000,000 typical records (100 per report): with every
//   result in a child table 59 bytes and ~18,800 instructions per record
//   (three b-tree inserts); inlined ~37 bytes and less than half the work.
//   The *_all views give the one-table shape back for ad-hoc SQL.
// - Per-record children are WITHOUT ROWID tables keyed (record, seq): one
//   b-tree, no separate rowid, appended in key order.
// - Report totals by disposition live on the report row, so totals() never
//   scans records.
// - Columns holding names ids are not declared REFERENCES names: names are
//   never deleted, so the check could not fail, yet it cost a lookup per
//   column on every insert. Foreign keys guard the structural links
//   (warnings -> reports, reports -> mail_messages).
constexpr std::array<const char*, 2> k_migrations = {
    R"sql(
CREATE TABLE names (
  id INTEGER PRIMARY KEY,
  text TEXT NOT NULL UNIQUE
);

CREATE TABLE mail_messages (
  id INTEGER PRIMARY KEY,
  message_id TEXT,
  from_header INTEGER,
  subject TEXT,
  date TEXT
);

CREATE TABLE reports (
  id INTEGER PRIMARY KEY,
  reporter INTEGER,                        -- report_metadata/org_name
  email INTEGER,
  extra_contact_info INTEGER,
  report_id TEXT,
  policy_domain INTEGER,
  begin_time INTEGER NOT NULL,             -- UTC epoch seconds
  end_time INTEGER NOT NULL,
  errors BLOB,                             -- each error followed by a NUL byte
  generator INTEGER,
  version INTEGER,
  schema_flavour INTEGER NOT NULL,         -- SchemaFlavour
  adkim INTEGER,                           -- Alignment, NULL when absent
  aspf INTEGER,
  p INTEGER NOT NULL,                      -- PolicyAction
  sp INTEGER,
  np INTEGER,
  pct INTEGER,
  fo INTEGER,
  testing INTEGER,                         -- 0/1, NULL when absent
  discovery_method INTEGER,
  content_hash BLOB,                       -- XXH3-128 of the report document
  input INTEGER NOT NULL REFERENCES inputs, -- the ingest log row of the file it came from
  source_entry TEXT,
  message INTEGER REFERENCES mail_messages,
  ingested_at INTEGER NOT NULL,
  first_record INTEGER NOT NULL,
  record_count INTEGER NOT NULL,
  message_count INTEGER NOT NULL,
  messages_none INTEGER NOT NULL,          -- by Disposition
  messages_quarantine INTEGER NOT NULL,
  messages_reject INTEGER NOT NULL,
  messages_pass INTEGER NOT NULL,
  UNIQUE (reporter, report_id, policy_domain, begin_time, end_time)
);
CREATE UNIQUE INDEX reports_by_content_hash ON reports (content_hash);

CREATE TABLE records (
  id INTEGER PRIMARY KEY,
  source_ip BLOB,                          -- 4 or 16 network-order bytes
  count INTEGER NOT NULL,
  disposition INTEGER NOT NULL,            -- Disposition
  dkim INTEGER NOT NULL,                   -- Verdict of policy_evaluated
  spf INTEGER NOT NULL,
  header_from INTEGER,                     -- names ids
  envelope_from INTEGER,
  envelope_to INTEGER,
  dkim_domain INTEGER,                     -- the first auth_results/dkim
  dkim_selector INTEGER,
  dkim_result INTEGER,                     -- DkimResult, NULL when no DKIM result
  dkim_human_result INTEGER,
  spf_domain INTEGER,                      -- the first auth_results/spf
  spf_scope INTEGER,                       -- SpfScope
  spf_result INTEGER,                      -- SpfResult, NULL when no SPF result
  spf_human_result INTEGER
);

-- The second and later results of a record (seq >= 1).
CREATE TABLE dkim_results (
  record INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  domain INTEGER,
  selector INTEGER,
  result INTEGER NOT NULL,                 -- DkimResult
  human_result INTEGER,
  PRIMARY KEY (record, seq)
) WITHOUT ROWID;

-- Likewise (seq >= 1).
CREATE TABLE spf_results (
  record INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  domain INTEGER,
  scope INTEGER NOT NULL,                  -- SpfScope
  result INTEGER NOT NULL,                 -- SpfResult
  human_result INTEGER,
  PRIMARY KEY (record, seq)
) WITHOUT ROWID;

CREATE TABLE override_reasons (
  record INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  type INTEGER NOT NULL,                   -- OverrideType
  comment INTEGER,
  PRIMARY KEY (record, seq)
) WITHOUT ROWID;

CREATE VIEW dkim_results_all AS
  SELECT id AS record, 0 AS seq, dkim_domain AS domain, dkim_selector AS selector,
         dkim_result AS result, dkim_human_result AS human_result
    FROM records WHERE dkim_result IS NOT NULL
  UNION ALL
  SELECT record, seq, domain, selector, result, human_result FROM dkim_results;

CREATE VIEW spf_results_all AS
  SELECT id AS record, 0 AS seq, spf_domain AS domain, spf_scope AS scope,
         spf_result AS result, spf_human_result AS human_result
    FROM records WHERE spf_result IS NOT NULL
  UNION ALL
  SELECT record, seq, domain, scope, result, human_result FROM spf_results;

-- seq keeps the order the parser found the warnings in.
CREATE TABLE report_warnings (
  report INTEGER NOT NULL REFERENCES reports,
  seq INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  count INTEGER NOT NULL,
  detail TEXT,
  PRIMARY KEY (report, seq)
) WITHOUT ROWID;

-- The ingest log: one row per file, mailbox message or archive entry read.
CREATE TABLE inputs (
  id INTEGER PRIMARY KEY,
  path TEXT,                               -- NULL only for reports stored without a path
  entry TEXT,
  content_hash BLOB,
  outcome INTEGER NOT NULL,                -- InputOutcome
  reason TEXT,
  reports_stored INTEGER NOT NULL,
  duplicate_reports INTEGER NOT NULL,
  at INTEGER NOT NULL                      -- epoch seconds
);
)sql",

    // Version 2: summaries the analysis maintains (storage/summaries.hpp), so
    // that queries read one row per source rather than every record. Domains
    // and header_from are plain text here: one row per source, not per record,
    // and readable without the names table.
    R"sql(
CREATE INDEX reports_by_domain ON reports (policy_domain, end_time);

CREATE TABLE source_summaries (
  id INTEGER PRIMARY KEY,
  policy_domain TEXT NOT NULL,
  source_ip BLOB,                          -- 4 or 16 network-order bytes
  header_from TEXT,                        -- NULL for an empty one
  messages INTEGER NOT NULL,
  failing_messages INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  category INTEGER NOT NULL,
  severity INTEGER,                        -- NULL: no finding
  service TEXT,
  state BLOB NOT NULL,                     -- the analysis' totals, opaque here
  UNIQUE (policy_domain, source_ip, header_from)  -- writers look up with IS first
);
CREATE INDEX source_summaries_by_messages ON source_summaries (messages);
CREATE INDEX source_summaries_by_severity ON source_summaries (severity, failing_messages DESC)
  WHERE severity IS NOT NULL;

CREATE TABLE domain_summaries (
  policy_domain TEXT PRIMARY KEY,
  state BLOB NOT NULL
) WITHOUT ROWID;

-- One row: every report with id <= folded_through is in the summaries,
-- except while a rebuild runs (rebuilding = 1): then only those of the
-- policy domains up to rebuilt_through, in text order.
CREATE TABLE summary_mark (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  folded_through INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  rebuilding INTEGER NOT NULL,
  rebuilt_through TEXT
);
)sql",
};

struct DatabaseState {
  std::int64_t application_id = 0;
  std::int64_t user_version = 0;
  std::int64_t objects = 0;  // tables, indexes... in sqlite_schema
};

Result<DatabaseState> read_state(sqlite3* db, std::string_view where) {
  // One statement, hence one snapshot: read separately, another process's
  // migration could commit between the reads, and we would see its tables
  // without its application_id.
  auto statement = Statement::prepare(
      db,
      "SELECT (SELECT application_id FROM pragma_application_id),"
      " (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master)",
      where, "read database header");
  // SQLite opens any file lazily; the first read of the header, here while
  // preparing, is where a foreign file shows up.
  const auto refuse_foreign_file = [&](Error error) -> tl::unexpected<Error> {
    if (sqlite3_extended_errcode(db) == SQLITE_NOTADB) {
      return fail(Errc::database, std::string(where),
                  "not a dmarcsift database: the file is not an SQLite database");
    }
    return tl::unexpected(std::move(error));
  };
  if (!statement) return refuse_foreign_file(std::move(statement.error()));
  auto row = statement->step();
  if (!row) return refuse_foreign_file(std::move(row.error()));
  DatabaseState state;
  if (*row) {
    state.application_id = statement->column_int64(0);
    state.user_version = statement->column_int64(1);
    state.objects = statement->column_int64(2);
    statement->reset();
  }
  return state;
}

Result<void> check_state(const DatabaseState& state, std::string_view where) {
  if (state.application_id != 0 && state.application_id != k_application_id) {
    char found[16];
    std::snprintf(found, sizeof found, "0x%08x",
                  static_cast<unsigned>(static_cast<std::uint32_t>(state.application_id)));
    return fail(Errc::database, std::string(where),
                std::string("not a dmarcsift database: its application_id is ") + found);
  }
  if (state.application_id == 0 && (state.user_version != 0 || state.objects != 0)) {
    return fail(Errc::database, std::string(where),
                "not a dmarcsift database: it holds another application's tables");
  }
  if (state.user_version > schema_version()) {
    return fail(Errc::database, std::string(where),
                "database schema version " + std::to_string(state.user_version) +
                    " is newer than this build supports (" + std::to_string(schema_version()) +
                    "); upgrade dmarcsift");
  }
  return {};
}

}  // namespace

int schema_version() { return static_cast<int>(k_migrations.size()); }

Result<void> migrate(sqlite3* db, std::string_view where) {
  // Checked without a lock first so that opening an up-to-date database, the
  // common case, never waits for another process's write transaction.
  auto state = read_state(db, where);
  if (!state) return tl::unexpected(std::move(state.error()));
  if (auto ok = check_state(*state, where); !ok) return ok;
  while (state->user_version < schema_version()) {
    auto transaction = Transaction::begin(db, where);
    if (!transaction) return tl::unexpected(std::move(transaction.error()));
    // Read again under the write lock: another process may have migrated
    // since the first look.
    state = read_state(db, where);
    if (!state) return tl::unexpected(std::move(state.error()));
    if (auto ok = check_state(*state, where); !ok) return ok;
    if (state->user_version < schema_version()) {
      const int next = static_cast<int>(state->user_version) + 1;
      const std::string operation = "migrate schema to version " + std::to_string(next);
      if (auto ok = exec(db, k_migrations[static_cast<std::size_t>(state->user_version)], where,
                         operation);
          !ok) {
        return ok;
      }
      const std::string stamp = "PRAGMA user_version = " + std::to_string(next) +
                                "; PRAGMA application_id = " + std::to_string(k_application_id);
      if (auto ok = exec(db, stamp.c_str(), where, operation); !ok) return ok;
      state->user_version = next;
    }
    if (auto ok = transaction->commit(); !ok) return ok;
  }
  return {};
}

}  // namespace dmarcsift::storage::sqlite
