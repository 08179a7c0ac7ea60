#pragma once
// The SQLite schema of a dmarcsift database and its forward-only migrations,
// versioned by PRAGMA user_version.
#include <cstdint>
#include <string_view>

#include "core/result.hpp"

struct sqlite3;

namespace dmarcsift::storage::sqlite {

// PRAGMA application_id of every dmarcsift database: "DMSF" in ASCII, so
// file(1) and we can tell our databases from other SQLite files.
inline constexpr std::int32_t k_application_id = 0x444d5346;

// The user_version this build migrates databases to.
int schema_version();

// Refuses with Errc::database a file that is not SQLite, belongs to another
// application, or has a schema newer than this build; then applies the
// missing migrations, each in its own transaction. Safe when several
// processes open the same new database at once. `where` names it in errors.
Result<void> migrate(sqlite3* db, std::string_view where);

}  // namespace dmarcsift::storage::sqlite
