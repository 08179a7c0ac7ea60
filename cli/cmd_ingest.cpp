#include <malloc.h>
#include <unistd.h>

#include <iostream>
#include <iterator>

#include <boost/program_options.hpp>

#include "cli/analysis_context.hpp"
#include "cli/command.hpp"
#include "cli/database.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "ingest/ingester.hpp"

namespace po = boost::program_options;

namespace dmarcsift::cli {
namespace {

po::options_description ingest_options() {
  po::options_description options("ingest options");
  options.add_options()
      ("max-entry-bytes", po::value<std::uint64_t>()->value_name("N"),
       "largest decompressed size of one file or archive entry (default 1 GiB)")
      ("max-input-bytes", po::value<std::uint64_t>()->value_name("N"),
       "largest decompressed size of one input in all (default 4 GiB)")
      ("max-entries", po::value<std::uint32_t>()->value_name("N"),
       "most entries read from one archive (default 100000)")
      ("max-depth", po::value<std::uint32_t>()->value_name("N"),
       "deepest nesting of containers, e.g. zip in mail (default 4)")
      ("max-xml-bytes", po::value<std::uint64_t>()->value_name("N"),
       "largest XML document (default 1 GiB)")
      ("max-xml-depth", po::value<std::uint32_t>()->value_name("N"),
       "deepest nesting of XML elements (default 256)")
      ("max-records", po::value<std::uint32_t>()->value_name("N"),
       "most records in one report (default 1000000)")
      ("threads", po::value<unsigned>()->value_name("N"),
       "threads reading and parsing inputs (default: one per core); one more stores");
  add_sender_options(options);
  return options;
}

std::string problem_line(const ingest::InputProblem& p) {
  return p.entry.empty() ? p.path + ": " + p.reason : p.path + " > " + p.entry + ": " + p.reason;
}

void print_json(const ingest::IngestSummary& s, const std::filesystem::path& db) {
  JsonWriter json;
  json.begin_object()
      .key("database").value(db.string())
      .key("inputs").value(s.inputs)
      .key("inputs_stored").value(s.inputs_stored)
      .key("inputs_duplicate").value(s.inputs_duplicate)
      .key("inputs_rejected").value(s.inputs_rejected)
      .key("inputs_no_report").value(s.inputs_no_report)
      .key("reports_stored").value(s.reports_stored)
      .key("duplicate_reports").value(s.duplicate_reports)
      .key("records_stored").value(s.records_stored)
      .key("messages_stored").value(s.messages_stored)
      .key("emails_stored").value(s.emails_stored);
  const auto problems = [&](const char* name, const std::vector<ingest::InputProblem>& list) {
    json.key(name).begin_array();
    for (const auto& p : list) {
      json.begin_object().key("file").value(p.path).key("entry").value(p.entry)
          .key("reason").value(p.reason).end_object();
    }
    json.end_array();
  };
  problems("rejected", s.rejected);
  problems("skipped", s.skipped);
  json.key("warnings").begin_object();
  for (const auto& [kind, count] : s.warnings) json.key(kind).value(count);
  json.end_object().end_object();
  std::cout << json.str() << '\n';
}

void print_text(const ingest::IngestSummary& s, const std::filesystem::path& db) {
  const std::pair<const char*, std::int64_t> lines[] = {
      {"inputs read", s.inputs},
      {"reports stored", s.reports_stored},
      {"records stored", s.records_stored},
      {"messages stored", s.messages_stored},
      {"e-mails with reports", s.emails_stored},
      {"duplicate reports skipped", s.duplicate_reports},
      {"inputs rejected", s.inputs_rejected},
      {"e-mails without a report", s.inputs_no_report},
  };
  for (const auto& [label, value] : lines) {
    const std::string number = with_thousands(value);
    std::cout << label << std::string(40 - std::string_view(label).size() - number.size(), ' ')
              << number << '\n';
  }
  if (!s.rejected.empty()) {
    std::cout << "\nrejected (" << s.rejected.size() << "):\n";
    for (const auto& p : s.rejected) std::cout << "  " << terminal_safe(problem_line(p)) << '\n';
  }
  if (!s.skipped.empty()) {
    std::cout << "\nskipped (" << s.skipped.size() << "):\n";
    for (const auto& p : s.skipped) std::cout << "  " << terminal_safe(problem_line(p)) << '\n';
  }
  if (!s.warnings.empty()) {
    Table warnings;
    warnings.headers = {"tolerated deviations", "count"};
    warnings.right_aligned = {false, true};
    for (const auto& [kind, count] : s.warnings) warnings.rows.push_back({kind, with_thousands(count)});
    std::cout << '\n';
    warnings.print(std::cout);
  }
  std::cout << "\ndatabase: " << terminal_safe(db.string()) << '\n';
}

}  // namespace

std::string ingest_help() {
  std::ostringstream out;
  out << "usage: dmarcsift ingest [options] PATH...\n\n"
         "PATH is a file, a directory (read recursively, a Maildir as a mailbox) or '-'\n"
         "for standard input. Containers are recognised from their bytes: XML, gzip,\n"
         "zlib, zip, tar, tar.gz, e-mail (.eml) and mbox. A report already stored (same\n"
         "reporter, report id, domain and period, or the same bytes) is skipped.\n\n"
      << ingest_options()
      << "\nExit status: 0 all stored or duplicates, 3 some inputs rejected, 1 runtime\n"
         "failure, 2 usage error.\n";
  return out.str();
}

ExitCode run_ingest(const GlobalOptions& global, const CommandArgs& args) {
  po::options_description all = ingest_options();
  all.add_options()("path", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("path", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
  po::notify(vm);
  if (!vm.count("path")) throw UsageError{"no input given (a file, a directory or '-')"};
  if (global.format == Format::csv || global.format == Format::ndjson) {
    throw UsageError{"the summary is printed as table or json"};
  }

  ingest::IngestOptions options;
  if (vm.count("max-entry-bytes")) options.limits.max_entry_bytes = vm["max-entry-bytes"].as<std::uint64_t>();
  if (vm.count("max-input-bytes")) options.limits.max_input_bytes = vm["max-input-bytes"].as<std::uint64_t>();
  if (vm.count("max-entries")) options.limits.max_entries = vm["max-entries"].as<std::uint32_t>();
  if (vm.count("max-depth")) options.limits.max_depth = vm["max-depth"].as<std::uint32_t>();
  if (vm.count("max-xml-bytes")) options.limits.max_xml_bytes = vm["max-xml-bytes"].as<std::uint64_t>();
  if (vm.count("max-xml-depth")) options.limits.max_xml_depth = vm["max-xml-depth"].as<std::uint32_t>();
  if (vm.count("max-records")) options.limits.max_records = vm["max-records"].as<std::uint32_t>();
  if (vm.count("threads")) options.threads = vm["threads"].as<unsigned>();

  // glibc raises its mmap threshold to the size of each big block freed, so
  // after one 50 MB report its buffers stay in the heap for good; a fixed
  // threshold returns them to the system when they are freed. On the
  // 10M-record corpus RSS between its big reports fell from 242 to 94-158 MB
  // (the peak, while the biggest is parsed, from 367 to 350 MB). A fixed
  // mmap threshold also freezes the trim threshold at 128 KiB, and the
  // workers' arenas then shrink and regrow all the time: 1,720 madvise calls
  // and 0.23 s of system time on the 200k-record zip corpus, against 47 calls
  // with the trim threshold at 8 MiB (2.02-2.06 s against 2.17-2.38 s in all).
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
#endif
  auto store = open_database(global);
  if (!store) return ExitCode::failure;
  ProgressLine progress(global.quiet);
  if (progress.enabled()) options.progress = [&](const ingest::IngestProgress& p) { progress.update(p); };

  ingest::Ingester ingester(*store, options);
  for (const std::string& path : vm["path"].as<std::vector<std::string>>()) {
    Result<void> done;
    if (path == "-") {
      std::string bytes(std::istreambuf_iterator<char>(std::cin), {});
      done = ingester.ingest_bytes("(stdin)", std::move(bytes));
    } else {
      done = ingester.ingest_path(path);
    }
    if (!done) {
      progress.clear();
      print_error(done.error());
      return ExitCode::failure;
    }
  }
  if (auto done = ingester.finish(); !done) {
    progress.clear();
    print_error(done.error());
    return ExitCode::failure;
  }
  progress.clear();
  // The summaries the analysis commands read are brought up to date here,
  // so that a query after a scheduled ingest answers at once.
  if (!refresh_analysis(*store, vm)) return ExitCode::failure;

  const ingest::IngestSummary& summary = ingester.summary();
  for (const auto& p : summary.rejected) {
    std::cerr << "dmarcsift: rejected: " << terminal_safe(problem_line(p)) << '\n';
  }
  if (global.format == Format::json) {
    print_json(summary, global.db);
  } else {
    print_text(summary, global.db);
  }
  return summary.rejected.empty() ? ExitCode::ok : ExitCode::rejected_inputs;
}

}  // namespace dmarcsift::cli
