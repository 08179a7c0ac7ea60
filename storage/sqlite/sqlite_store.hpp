#pragma once
#include <filesystem>
#include <memory>

#include "storage/store.hpp"

namespace dmarcsift::storage {

// Opens (creating when missing, with parent directories) the SQLite database
// at `path`, in WAL mode, and migrates its schema to the current version.
// ":memory:" gives a private in-memory database. Fails with Errc::database
// when the file is not a dmarcsift database or is newer than this build.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::filesystem::path& path);

}  // namespace dmarcsift::storage
