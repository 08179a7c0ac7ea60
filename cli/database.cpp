#include "cli/database.hpp"

#include <cstdlib>
#include <iostream>

#include "cli/output.hpp"
#include "storage/sqlite/sqlite_store.hpp"

namespace dmarcsift::cli {

std::filesystem::path default_database_path() {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  // XDG Base Directory spec: a relative XDG_DATA_HOME is invalid and ignored.
  if (xdg != nullptr && xdg[0] == '/') return std::filesystem::path(xdg) / "dmarcsift" / "dmarcsift.db";
  const char* home = std::getenv("HOME");
  const std::filesystem::path base = home != nullptr && home[0] != '\0' ? home : ".";
  return base / ".local" / "share" / "dmarcsift" / "dmarcsift.db";
}

std::unique_ptr<storage::Store> open_database(const GlobalOptions& global) {
  auto store = storage::open_sqlite_store(global.db);
  if (!store) {
    print_error(store.error());
    return nullptr;
  }
  return std::move(*store);
}

void print_error(const Error& error) {
  // File and entry names come from archives and mail: untrusted.
  std::cerr << "dmarcsift: error: " << terminal_safe(to_string(error)) << '\n';
}

}  // namespace dmarcsift::cli
