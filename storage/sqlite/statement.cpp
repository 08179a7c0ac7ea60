#include "storage/sqlite/statement.hpp"

#include <cerrno>
#include <utility>

#include <sqlite3.h>

namespace dmarcsift::storage::sqlite {

void CloseDb::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }

void Statement::Finalize::operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }

Error database_error(sqlite3* db, int rc, std::string_view where, std::string_view operation) {
  const char* message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string what = std::string(operation) + " failed: " + message;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Error{Errc::busy, std::string(where), std::move(what)};
    case SQLITE_FULL:
      return Error{Errc::io, std::string(where), "disk full: " + what};
    case SQLITE_IOERR:
      // The unix VFS reports most ENOSPC writes as SQLITE_FULL, but not all
      // (e.g. while growing the WAL index); name the cause either way.
      if (db && sqlite3_system_errno(db) == ENOSPC) {
        return Error{Errc::io, std::string(where), "disk full: " + what};
      }
      return Error{Errc::io, std::string(where), std::move(what)};
    default:
      return Error{Errc::database, std::string(where), std::move(what)};
  }
}

Result<void> exec(sqlite3* db, const char* sql, std::string_view where,
                  std::string_view operation) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return tl::unexpected(database_error(db, rc, where, operation));
  return {};
}

Result<Statement> Statement::prepare(sqlite3* db, std::string_view sql, std::string_view where,
                                     std::string_view operation) {
  sqlite3_stmt* raw = nullptr;
  // SQLITE_PREPARE_PERSISTENT: these statements live as long as the
  // connection, so SQLite should not take them from its lookaside memory.
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  Statement statement;
  statement.m_stmt.reset(raw);
  statement.m_where = where;
  statement.m_operation = operation;
  if (rc != SQLITE_OK) {
    return tl::unexpected(database_error(db, rc, where, "prepare " + std::string(operation)));
  }
  return statement;
}

Statement& Statement::bind(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(m_stmt.get(), index, value);
  if (rc != SQLITE_OK && m_bind_rc == 0) m_bind_rc = rc;
  return *this;
}

Statement& Statement::bind(int index, std::optional<std::int64_t> value) {
  return value ? bind(index, *value) : bind_null(index);
}

Statement& Statement::bind_text(int index, std::string_view text) {
  if (text.empty()) return bind_null(index);
  const int rc = sqlite3_bind_text(m_stmt.get(), index, text.data(),
                                   static_cast<int>(text.size()), SQLITE_STATIC);
  if (rc != SQLITE_OK && m_bind_rc == 0) m_bind_rc = rc;
  return *this;
}

Statement& Statement::bind_blob(int index, std::string_view bytes) {
  if (bytes.empty()) return bind_null(index);
  const int rc = sqlite3_bind_blob(m_stmt.get(), index, bytes.data(),
                                   static_cast<int>(bytes.size()), SQLITE_STATIC);
  if (rc != SQLITE_OK && m_bind_rc == 0) m_bind_rc = rc;
  return *this;
}

Statement& Statement::bind_null(int index) {
  const int rc = sqlite3_bind_null(m_stmt.get(), index);
  if (rc != SQLITE_OK && m_bind_rc == 0) m_bind_rc = rc;
  return *this;
}

Error Statement::error(int rc) const {
  return database_error(sqlite3_db_handle(m_stmt.get()), rc, m_where, m_operation);
}

Result<bool> Statement::step() {
  if (m_bind_rc != SQLITE_OK) {
    // sqlite3_errmsg() already describes the failed bind; report it before
    // anything else overwrites it.
    Error failed = error(m_bind_rc);
    reset();
    return tl::unexpected(std::move(failed));
  }
  const int rc = sqlite3_step(m_stmt.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    reset();
    return false;
  }
  Error failed = error(rc);
  reset();
  return tl::unexpected(std::move(failed));
}

Result<void> Statement::run() {
  auto row = step();
  if (!row) return tl::unexpected(std::move(row.error()));
  if (*row) reset();
  return {};
}

Result<std::optional<std::int64_t>> Statement::query_int64() {
  auto row = step();
  if (!row) return tl::unexpected(std::move(row.error()));
  if (!*row) return std::optional<std::int64_t>();
  const std::int64_t value = column_int64(0);
  reset();
  return std::optional<std::int64_t>(value);
}

void Statement::reset() {
  sqlite3_reset(m_stmt.get());
  m_bind_rc = 0;
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(m_stmt.get(), column) == SQLITE_NULL;
}

std::int64_t Statement::column_int64(int column) const {
  return sqlite3_column_int64(m_stmt.get(), column);
}

std::optional<std::int64_t> Statement::column_optional(int column) const {
  if (is_null(column)) return std::nullopt;
  return column_int64(column);
}

std::string_view Statement::column_text(int column) const {
  const unsigned char* text = sqlite3_column_text(m_stmt.get(), column);
  if (!text) return {};
  return {reinterpret_cast<const char*>(text),
          static_cast<std::size_t>(sqlite3_column_bytes(m_stmt.get(), column))};
}

std::string_view Statement::column_blob(int column) const {
  const void* blob = sqlite3_column_blob(m_stmt.get(), column);
  if (!blob) return {};
  return {static_cast<const char*>(blob),
          static_cast<std::size_t>(sqlite3_column_bytes(m_stmt.get(), column))};
}

Result<Transaction> Transaction::begin(sqlite3* db, std::string_view where) {
  auto begun = exec(db, "BEGIN IMMEDIATE", where, "begin transaction");
  if (!begun) return tl::unexpected(std::move(begun.error()));
  return Transaction(db, where);
}

Result<void> Transaction::commit() {
  auto committed = exec(m_db, "COMMIT", m_where, "commit");
  // On failure the transaction may still be open; the destructor rolls it back.
  if (committed) m_db = nullptr;
  return committed;
}

Transaction::Transaction(Transaction&& other) noexcept
    : m_db(std::exchange(other.m_db, nullptr)), m_where(other.m_where) {}

Transaction::~Transaction() {
  // Fails harmlessly when SQLite already rolled back (e.g. after SQLITE_FULL).
  if (m_db) sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
}

Result<SavepointStatements> SavepointStatements::prepare(sqlite3* db, std::string_view where) {
  SavepointStatements statements;
  struct Entry {
    Statement* statement;
    const char* sql;
    const char* operation;
  };
  const Entry entries[] = {
      {&statements.begin, "SAVEPOINT dmarcsift_report", "begin savepoint"},
      {&statements.release, "RELEASE dmarcsift_report", "release savepoint"},
      {&statements.rollback_to, "ROLLBACK TO dmarcsift_report", "roll back savepoint"},
  };
  for (const Entry& entry : entries) {
    auto prepared = Statement::prepare(db, entry.sql, where, entry.operation);
    if (!prepared) return tl::unexpected(std::move(prepared.error()));
    *entry.statement = std::move(*prepared);
  }
  return statements;
}

Result<Savepoint> Savepoint::begin(SavepointStatements& statements) {
  auto begun = statements.begin.run();
  if (!begun) return tl::unexpected(std::move(begun.error()));
  return Savepoint(statements);
}

Result<void> Savepoint::release() {
  auto released = m_statements->release.run();
  if (released) m_statements = nullptr;
  return released;
}

Savepoint::Savepoint(Savepoint&& other) noexcept
    : m_statements(std::exchange(other.m_statements, nullptr)) {}

Savepoint::~Savepoint() {
  // ROLLBACK TO undoes the changes but keeps the savepoint; RELEASE drops
  // it. Errors cannot be reported from here; if SQLite already rolled back
  // the whole transaction (SQLITE_FULL), both fail harmlessly.
  if (m_statements) {
    (void)m_statements->rollback_to.run();
    (void)m_statements->release.run();
  }
}

}  // namespace dmarcsift::storage::sqlite
