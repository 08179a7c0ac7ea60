#include "storage/sqlite/schema.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "storage/sqlite/sqlite_store.hpp"
#include "storage/sqlite/statement.hpp"
#include "tests/support/temp_dir.hpp"

namespace dmarcsift::storage::sqlite {
namespace {

using testing::TempDir;

// A plain connection, as another program (or an older build) would open it.
DbHandle connect(const std::filesystem::path& path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  DbHandle db(raw);
  REQUIRE(rc == SQLITE_OK);
  return db;
}

std::int64_t query_int(sqlite3* db, const char* sql) {
  auto statement = Statement::prepare(db, sql, "test", "test query");
  REQUIRE_MESSAGE(statement.has_value(), to_string(statement.error()));
  auto value = statement->query_int64();
  REQUIRE_MESSAGE(value.has_value(), to_string(value.error()));
  return value->value_or(-1);
}

void exec_sql(sqlite3* db, const char* sql) {
  auto ok = exec(db, sql, "test", "test exec");
  REQUIRE_MESSAGE(ok.has_value(), to_string(ok.error()));
}

Error open_error(const std::filesystem::path& path) {
  auto store = open_sqlite_store(path);
  REQUIRE(!store.has_value());
  return store.error();
}

TEST_CASE("an empty (version 0) database is migrated to the current schema") {
  TempDir dir;
  const auto path = dir.path() / "dmarc.sqlite";
  {
    DbHandle db = connect(path);
    exec_sql(db.get(), "VACUUM");  // a valid, empty database file
    CHECK(query_int(db.get(), "PRAGMA user_version") == 0);
  }
  REQUIRE(schema_version() == 2);
  for (int open = 0; open < 2; ++open) {  // the second open finds nothing to do
    CAPTURE(open);
    auto store = open_sqlite_store(path);
    REQUIRE_MESSAGE(store.has_value(), to_string(store.error()));
    DbHandle db = connect(path);
    CHECK(query_int(db.get(), "PRAGMA user_version") == 2);
    CHECK(query_int(db.get(), "PRAGMA application_id") == k_application_id);
    CHECK(query_int(db.get(), "SELECT count(*) FROM sqlite_master WHERE type = 'table'") == 12);
    CHECK(query_int(db.get(), "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = "
                              "'wal'") == 1);
  }
}

TEST_CASE("migrate() applies missing steps to a raw connection and is idempotent") {
  TempDir dir;
  DbHandle db = connect(dir.path() / "raw.sqlite");
  auto ok = migrate(db.get(), "raw.sqlite");
  REQUIRE_MESSAGE(ok.has_value(), to_string(ok.error()));
  ok = migrate(db.get(), "raw.sqlite");
  REQUIRE_MESSAGE(ok.has_value(), to_string(ok.error()));
  CHECK(query_int(db.get(), "PRAGMA user_version") == schema_version());
  CHECK(query_int(db.get(), "SELECT count(*) FROM names") == 0);
}

TEST_CASE("a database from a newer build is refused") {
  TempDir dir;
  const auto path = dir.path() / "dmarc.sqlite";
  {
    DbHandle db = connect(path);
    exec_sql(db.get(), "PRAGMA application_id = 1145918278; PRAGMA user_version = 7;"
                       " CREATE TABLE future (x)");
  }
  const Error error = open_error(path);
  CHECK(error.code == Errc::database);
  CHECK(error.where == path.string());
  CHECK(error.what ==
        "database schema version 7 is newer than this build supports (2); upgrade dmarcsift");
}

TEST_CASE("another application's SQLite database is refused") {
  TempDir dir;
  const auto with_id = dir.path() / "other.sqlite";
  {
    DbHandle db = connect(with_id);
    exec_sql(db.get(), "PRAGMA application_id = 1234; CREATE TABLE t (x)");
  }
  CHECK(open_error(with_id).what == "not a dmarcsift database: its application_id is 0x000004d2");

  const auto without_id = dir.path() / "plain.sqlite";
  {
    DbHandle db = connect(without_id);
    exec_sql(db.get(), "CREATE TABLE t (x)");
  }
  const Error error = open_error(without_id);
  CHECK(error.code == Errc::database);
  CHECK(error.where == without_id.string());
  CHECK(error.what == "not a dmarcsift database: it holds another application's tables");
  DbHandle db = connect(without_id);
  CHECK(query_int(db.get(), "SELECT count(*) FROM sqlite_master") == 1);  // left alone
}

TEST_CASE("processes creating the same database at once all succeed") {
  TempDir dir;
  const auto path = dir.path() / "new" / "dmarc.sqlite";
  constexpr int k_openers = 4;
  std::vector<std::string> errors(k_openers);
  std::vector<std::thread> openers;
  for (int i = 0; i < k_openers; ++i) {
    openers.emplace_back([&, i] {
      auto store = open_sqlite_store(path);
      if (!store) errors[static_cast<std::size_t>(i)] = to_string(store.error());
    });
  }
  for (std::thread& opener : openers) opener.join();
  for (const std::string& error : errors) CHECK(error == "");
  DbHandle db = connect(path);
  CHECK(query_int(db.get(), "PRAGMA user_version") == schema_version());
}

}  // namespace
}  // namespace dmarcsift::storage::sqlite
