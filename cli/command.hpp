#pragma once
// What every command gets and returns; the command table lives in main.cpp.
#include <filesystem>
#include <string>
#include <vector>

namespace dmarcsift::cli {

// Documented in README.md ("Exit status"); scripts depend on these values.
enum class ExitCode : int { ok = 0, failure = 1, usage = 2, rejected_inputs = 3 };

enum class Format { table, json, csv, ndjson };

struct GlobalOptions {
  std::filesystem::path db;  // resolved: --db, or the default location
  Format format = Format::table;
  bool format_given = false;
  bool quiet = false;
};

// A usage error inside a command: main prints it with a hint and exits 2.
struct UsageError {
  std::string message;
};

using CommandArgs = std::vector<std::string>;  // the command's own arguments

ExitCode run_ingest(const GlobalOptions& global, const CommandArgs& args);
ExitCode run_reports(const GlobalOptions& global, const CommandArgs& args);
ExitCode run_show(const GlobalOptions& global, const CommandArgs& args);
ExitCode run_stats(const GlobalOptions& global, const CommandArgs& args);
ExitCode run_sources(const GlobalOptions& global, const CommandArgs& args);
ExitCode run_domains(const GlobalOptions& global, const CommandArgs& args);
ExitCode run_analyze(const GlobalOptions& global, const CommandArgs& args);

// The command's options, for `dmarcsift help COMMAND`.
std::string ingest_help();
std::string reports_help();
std::string show_help();
std::string stats_help();
std::string sources_help();
std::string domains_help();
std::string analyze_help();

}  // namespace dmarcsift::cli
