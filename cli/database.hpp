#pragma once
#include <filesystem>
#include <memory>

#include "cli/command.hpp"
#include "storage/store.hpp"

namespace dmarcsift::cli {

// $XDG_DATA_HOME/dmarcsift/dmarcsift.db, else ~/.local/share/dmarcsift/dmarcsift.db.
std::filesystem::path default_database_path();

// Opens the database named by the global options; on failure prints the
// one-line error and returns null.
std::unique_ptr<storage::Store> open_database(const GlobalOptions& global);

// Prints "dmarcsift: error: <where>: <what>" on stderr.
void print_error(const Error& error);

}  // namespace dmarcsift::cli
