#pragma once
// RAII over the SQLite C API, private to storage/sqlite: the connection,
// prepared statements, transactions and savepoints, and the translation of
// SQLite result codes into Error. Every `where` names the database in errors
// (its path as the user gave it) and must outlive the object it is given to.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace dmarcsift::storage::sqlite {

struct CloseDb {
  void operator()(sqlite3* db) const noexcept;
};
using DbHandle = std::unique_ptr<sqlite3, CloseDb>;

// The Error for result code `rc` of the last call on `db` during `operation`
// ("insert record"): Errc::busy for SQLITE_BUSY/LOCKED, Errc::io for
// SQLITE_FULL ("disk full: ...") and SQLITE_IOERR, else Errc::database.
Error database_error(sqlite3* db, int rc, std::string_view where, std::string_view operation);

// Runs `sql`, one or more statements whose rows, if any, are ignored.
Result<void> exec(sqlite3* db, const char* sql, std::string_view where,
                  std::string_view operation);

// A stored integer as enum `E`: false, leaving `out` alone, unless it is one
// of `E`'s values up to `last`. Enumerations are stored as their values.
template <typename E>
bool to_enum(std::int64_t stored, E last, E& out) {
  if (stored < 0 || stored > static_cast<std::int64_t>(last)) return false;
  out = static_cast<E>(stored);
  return true;
}

// A prepared statement, prepared once per connection and reset after each
// use. Text and blobs are bound without copying (SQLITE_STATIC): the bytes
// must stay alive until the statement is reset, which run(), query_int64()
// and a step() returning false do. Binds chain; the first failed bind is
// reported by the next step().
class Statement {
 public:
  Statement() = default;  // empty; assign a prepare() result before use
  static Result<Statement> prepare(sqlite3* db, std::string_view sql, std::string_view where,
                                   std::string_view operation);

  Statement& bind(int index, std::int64_t value);  // 1-based, as in SQLite
  Statement& bind(int index, std::optional<std::int64_t> value);  // NULL when empty
  // The database keeps no empty strings: "" is bound as NULL.
  Statement& bind_text(int index, std::string_view text);
  Statement& bind_blob(int index, std::string_view bytes);
  Statement& bind_null(int index);

  Result<bool> step();  // true while a row is ready; resets after the last
  Result<void> run();   // for statements without rows; resets when done
  // Column 0 of the first row, or nullopt when there is none; resets.
  Result<std::optional<std::int64_t>> query_int64();
  void reset();

  // Columns of the current row, 0-based as in SQLite.
  bool is_null(int column) const;
  std::int64_t column_int64(int column) const;
  std::optional<std::int64_t> column_optional(int column) const;
  std::string_view column_text(int column) const;  // "" for NULL
  std::string_view column_blob(int column) const;  // "" for NULL

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* stmt) const noexcept;
  };
  Error error(int rc) const;

  std::unique_ptr<sqlite3_stmt, Finalize> m_stmt;
  std::string m_where;
  std::string m_operation;
  int m_bind_rc = 0;  // first failed bind since the last reset, 0 when none
};

// BEGIN IMMEDIATE in begin(): the write lock is taken up front, so a
// concurrent writer makes us wait (busy_timeout) here rather than fail in
// the middle of a batch. Rolled back on destruction unless committed.
class Transaction {
 public:
  static Result<Transaction> begin(sqlite3* db, std::string_view where);
  Result<void> commit();
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

 private:
  Transaction(sqlite3* db, std::string_view where) : m_db(db), m_where(where) {}
  sqlite3* m_db;  // null once committed or moved from
  std::string_view m_where;
};

// The statements of one named SAVEPOINT, prepared once per connection:
// parsing them again for every report cost as much as storing a small one.
struct SavepointStatements {
  static Result<SavepointStatements> prepare(sqlite3* db, std::string_view where);
  Statement begin;
  Statement release;
  Statement rollback_to;
};

// A SAVEPOINT inside the current transaction: release() keeps its changes,
// destruction without release() undoes them and leaves the transaction open.
// `statements` must outlive it; savepoints on one connection nest.
class Savepoint {
 public:
  static Result<Savepoint> begin(SavepointStatements& statements);
  Result<void> release();
  Savepoint(Savepoint&& other) noexcept;
  Savepoint& operator=(Savepoint&&) = delete;
  ~Savepoint();

 private:
  explicit Savepoint(SavepointStatements& statements) : m_statements(&statements) {}
  SavepointStatements* m_statements;  // null once released or moved from
};

}  // namespace dmarcsift::storage::sqlite
