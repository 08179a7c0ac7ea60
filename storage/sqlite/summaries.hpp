#pragma once
// The SQLite implementation of storage::Summaries, sharing the connection of
// the SqliteStore that owns it.
#include <memory>
#include <string_view>

#include "storage/summaries.hpp"

struct sqlite3;

namespace dmarcsift::storage::sqlite {

// `where` names the database in errors and must outlive the object.
Result<std::unique_ptr<Summaries>> make_summaries(sqlite3* db, std::string_view where);

}  // namespace dmarcsift::storage::sqlite
