// dmarcsift: the command-line entry point. Parses the global options, finds
// the command in one table, and hands it the rest of the arguments.
#include <algorithm>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "cli/command.hpp"
#include "cli/database.hpp"

namespace po = boost::program_options;
using namespace dmarcsift::cli;

namespace {

struct CommandEntry {
  const char* name;
  const char* summary;
  ExitCode (*run)(const GlobalOptions&, const CommandArgs&);
  std::string (*help)();
};

const CommandEntry k_commands[] = {
    {"ingest", "store reports from files, directories, archives, e-mails and mailboxes",
     run_ingest, ingest_help},
    {"reports", "list stored reports", run_reports, reports_help},
    {"show", "show one stored report in full", run_show, show_help},
    {"stats", "totals: reports, records, messages by disposition", run_stats, stats_help},
    {"sources", "who sends as your domains: volume, DMARC pass rate, category, service",
     run_sources, sources_help},
    {"domains", "per domain: policy, pass rate, what p=reject would refuse, next step",
     run_domains, domains_help},
    {"analyze", "findings, most severe first: diagnosis, fix, what receivers do",
     run_analyze, analyze_help},
};

const CommandEntry* find_command(std::string_view name) {
  for (const CommandEntry& c : k_commands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

po::options_description global_options() {
  po::options_description options("Global options");
  options.add_options()
      ("db", po::value<std::string>()->value_name("PATH"),
       "SQLite database (default: $XDG_DATA_HOME/dmarcsift/dmarcsift.db, "
       "else ~/.local/share/dmarcsift/dmarcsift.db)")
      ("config", po::value<std::string>()->value_name("FILE"),
       "read global options from FILE (lines like db = /var/lib/dmarcsift.db)")
      ("format", po::value<std::string>()->value_name("FMT"), "table (default), json, csv or ndjson")
      ("quiet,q", po::bool_switch(), "no progress output")
      ("help,h", po::bool_switch(), "show this help")
      ("version", po::bool_switch(), "print the version");
  return options;
}

void print_usage(std::ostream& out) {
  out << "usage: dmarcsift [global options] <command> [command options]\n\n"
         "DMARC aggregate report processor: ingests rua reports into SQLite and\n"
         "answers questions about who sends mail as your domains.\n\nCommands:\n";
  for (const CommandEntry& c : k_commands) {
    out << "  " << c.name << std::string(10 - std::string_view(c.name).size(), ' ') << c.summary
        << '\n';
  }
  out << "  help      show help for a command: dmarcsift help COMMAND\n\n"
      << global_options()
      << "\nExit status: 0 success; 1 runtime failure (database, disk); 2 usage error;\n"
         "3 some inputs were rejected (the others were stored).\n";
}

ExitCode usage_error(const std::string& message) {
  std::cerr << "dmarcsift: error: " << message << "\n"
            << "Try 'dmarcsift --help' for more information.\n";
  return ExitCode::usage;
}

ExitCode unknown_command(std::string_view name) {
  std::string message = "unknown command '" + std::string(name) + "'";
  const CommandEntry* best = nullptr;
  std::size_t best_distance = 3;
  for (const CommandEntry& c : k_commands) {
    const std::size_t d = edit_distance(name, c.name);
    if (d < best_distance) {
      best_distance = d;
      best = &c;
    }
  }
  if (best != nullptr) message += "; did you mean '" + std::string(best->name) + "'?";
  return usage_error(message);
}

ExitCode run_help(const CommandArgs& args) {
  if (args.empty()) {
    print_usage(std::cout);
    return ExitCode::ok;
  }
  if (args[0] == "help") {
    std::cout << "usage: dmarcsift help [COMMAND]\n";
    return ExitCode::ok;
  }
  const CommandEntry* command = find_command(args[0]);
  if (command == nullptr) return unknown_command(args[0]);
  std::cout << "dmarcsift " << command->name << ": " << command->summary << "\n\n"
            << command->help();
  return ExitCode::ok;
}

std::optional<Format> parse_format(std::string_view name) {
  if (name == "table") return Format::table;
  if (name == "json") return Format::json;
  if (name == "csv") return Format::csv;
  if (name == "ndjson") return Format::ndjson;
  return std::nullopt;
}

ExitCode run(int argc, char** argv) {
  po::options_description visible = global_options();
  po::options_description all;
  all.add(visible).add_options()
      ("command", po::value<std::string>())
      ("args", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("command", 1).add("args", -1);

  po::variables_map vm;
  po::parsed_options parsed = po::command_line_parser(argc, argv)
                                  .options(all)
                                  .positional(positional)
                                  .allow_unregistered()
                                  .run();
  po::store(parsed, vm);
  if (vm.count("config")) {
    const std::string file = vm["config"].as<std::string>();
    try {
      po::store(po::parse_config_file<char>(file.c_str(), visible, true), vm);
    } catch (const po::reading_file&) {
      return usage_error("cannot read config file " + file);
    }
  }
  po::notify(vm);

  if (vm["version"].as<bool>()) {
    std::cout << "dmarcsift " DMARCSIFT_VERSION "\n";
    return ExitCode::ok;
  }
  if (!vm.count("command")) {
    if (vm["help"].as<bool>()) {
      print_usage(std::cout);
      return ExitCode::ok;
    }
    print_usage(std::cerr);
    return ExitCode::usage;
  }

  // Everything after the command name belongs to the command, including
  // options the global parser did not know.
  CommandArgs args = po::collect_unrecognized(parsed.options, po::include_positional);
  const std::string name = vm["command"].as<std::string>();
  args.erase(std::find(args.begin(), args.end(), name));
  if (vm["help"].as<bool>()) args.insert(args.begin(), "--help");

  if (name == "help") return run_help(args);
  const CommandEntry* command = find_command(name);
  if (command == nullptr) return unknown_command(name);
  if (std::find(args.begin(), args.end(), "--help") != args.end() ||
      std::find(args.begin(), args.end(), "-h") != args.end()) {
    return run_help({name});
  }

  GlobalOptions global;
  global.db = vm.count("db") ? std::filesystem::path(vm["db"].as<std::string>())
                             : default_database_path();
  global.quiet = vm["quiet"].as<bool>();
  if (vm.count("format")) {
    auto format = parse_format(vm["format"].as<std::string>());
    if (!format) return usage_error("unknown --format '" + vm["format"].as<std::string>() +
                                    "' (table, json, csv or ndjson)");
    global.format = *format;
    global.format_given = true;
  }
  try {
    return command->run(global, args);
  } catch (const UsageError& e) {
    return usage_error(std::string(command->name) + ": " + e.message);
  } catch (const po::error& e) {
    return usage_error(std::string(command->name) + ": " + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return static_cast<int>(run(argc, argv));
  } catch (const po::error& e) {
    return static_cast<int>(usage_error(e.what()));
  } catch (const std::exception& e) {
    std::cerr << "dmarcsift: error: " << e.what() << '\n';
    return static_cast<int>(ExitCode::failure);
  }
}
