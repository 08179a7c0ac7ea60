#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "analysis/sources.hpp"
#include "cli/analysis_context.hpp"
#include "cli/command.hpp"
#include "cli/database.hpp"
#include "cli/output.hpp"
#include "cli/report_filter.hpp"

namespace po = boost::program_options;

namespace dmarcsift::cli {
namespace {

constexpr std::size_t k_default_table_rows = 50;

po::options_description sources_options() {
  po::options_description options("sources options");
  options.add_options()
      ("by", po::value<std::string>()->value_name("KEY")->default_value("source"),
       "group by source (IP and From domain), ip, service, domain or reporter");
  add_report_filter_options(options);
  options.add_options()
      ("failing", po::bool_switch(), "only groups with messages that fail DMARC")
      ("category", po::value<std::string>()->value_name("CLASS"),
       "only aligned, forwarded, misaligned, unauthorized or intermittent groups")
      ("service", po::value<std::string>()->value_name("NAME"),
       "only groups identified as this service (case-insensitive)")
      ("min-messages", po::value<std::int64_t>()->value_name("N"), "only groups with at least N messages")
      ("limit", po::value<std::size_t>()->value_name("N"),
       "at most N rows; 0 for all (default: 50 in a table, all in json, csv, ndjson)")
      ("sort", po::value<std::string>()->value_name("KEY")->default_value("messages"),
       "messages (default), pass (lowest DMARC pass rate first), ip, from or last-seen");
  add_sender_options(options);
  add_authorized_option(options);
  return options;
}

std::optional<analysis::SourceGrouping> parse_grouping(std::string_view text) {
  if (text == "source") return analysis::SourceGrouping::ip_and_from;
  if (text == "ip") return analysis::SourceGrouping::ip;
  if (text == "service") return analysis::SourceGrouping::service;
  if (text == "domain") return analysis::SourceGrouping::domain;
  if (text == "reporter") return analysis::SourceGrouping::reporter;
  return std::nullopt;
}

std::optional<analysis::GroupClass> parse_class(std::string_view text) {
  for (auto c : {analysis::GroupClass::aligned, analysis::GroupClass::forwarded,
                 analysis::GroupClass::misaligned, analysis::GroupClass::unauthorized,
                 analysis::GroupClass::intermittent}) {
    if (text == analysis::to_string(c)) return c;
  }
  return std::nullopt;
}


std::string percent(std::int64_t part, std::int64_t whole) {
  if (whole == 0) return "-";
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%.1f", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buffer;
}

std::string declared_cell(const analysis::SourceRow& row) {
  if (!row.authorization) return "";
  return row.authorization->declared ? "yes" : "no";
}

void write_row_json(JsonWriter& json, const analysis::SourceRow& row) {
  const Disposition dispositions[] = {Disposition::none, Disposition::quarantine,
                                      Disposition::reject, Disposition::pass};
  json.begin_object()
      .key("source_ip").value(row.source_ip)
      .key("header_from").value(row.header_from)
      .key("policy_domain").value(row.policy_domain)
      .key("reporter").value(row.reporter)
      .key("messages").value(row.messages)
      .key("records").value(row.records)
      .key("dmarc_pass_messages").value(row.dmarc_pass_messages)
      .key("spf_aligned_messages").value(row.spf_aligned_messages)
      .key("dkim_aligned_messages").value(row.dkim_aligned_messages)
      .key("messages_by_disposition").begin_object();
  for (Disposition d : dispositions) {
    json.key(to_string(d)).value(row.messages_by_disposition[static_cast<std::size_t>(d)]);
  }
  json.end_object().key("messages_by_row_class").begin_object();
  for (auto c : {analysis::RowClass::aligned, analysis::RowClass::forwarded,
                 analysis::RowClass::misaligned, analysis::RowClass::unauthorized}) {
    json.key(analysis::to_string(c)).value(row.tally.messages_by_row_class[static_cast<std::size_t>(c)]);
  }
  json.end_object().key("messages_by_category").begin_object();
  for (auto c : {analysis::GroupClass::aligned, analysis::GroupClass::forwarded,
                 analysis::GroupClass::misaligned, analysis::GroupClass::unauthorized,
                 analysis::GroupClass::intermittent}) {
    json.key(analysis::to_string(c)).value(row.messages_by_category[static_cast<std::size_t>(c)]);
  }
  json.end_object()
      .key("category").value(analysis::to_string(row.category))
      .key("service").value(row.service);
  write_authorization_json(json, row);
  json.key("diagnosis").begin_array();
  for (const analysis::Diagnosis& d : row.diagnosis) {
    json.begin_object().key("key").value(d.key).key("cause").value(d.cause).key("fix").value(d.fix)
        .end_object();
  }
  json.end_array()
      .key("first_seen").value(row.first_seen)
      .key("last_seen").value(row.last_seen)
      .end_object();
}

}  // namespace

std::string sources_help() {
  std::ostringstream out;
  out << "usage: dmarcsift sources [options]\n\n"
         "Who sends mail as your domains: one row per source IP and From domain (or\n"
         "per IP, service, policy domain or reporter with --by), with messages, the\n"
         "share passing DMARC, SPF and DKIM alignment as recomputed from the auth\n"
         "results, dispositions, the category and the identified service.\n\n"
         "Categories: aligned (passes DMARC), forwarded (passes through DKIM while\n"
         "the From domain's SPF fails, or a receiver vouched for a forwarder or list),\n"
         "misaligned (authenticated for another domain: a service without custom\n"
         "domain set-up), unauthorized (nothing passes), intermittent (passes on\n"
         "some days and fails on others).\n\n"
         "With --authorized FILE, a source is declared (yes) or not (no) for its\n"
         "domain, and a failing one is diagnosed declared_service_failing or\n"
         "undeclared_source.\n\n"
      << sources_options() << "\nOutput: --format table (default), json, csv or ndjson.\n";
  return out.str();
}

ExitCode run_sources(const GlobalOptions& global, const CommandArgs& args) {
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(sources_options()).run(), vm);
  po::notify(vm);
  const auto grouping = parse_grouping(vm["by"].as<std::string>());
  if (!grouping) throw UsageError{"--by must be source, ip, service, domain or reporter"};
  const storage::ReportFilter filter = report_filter_from(vm);
  std::optional<analysis::GroupClass> category;
  if (vm.count("category")) {
    category = parse_class(vm["category"].as<std::string>());
    if (!category) throw UsageError{"--category must be aligned, forwarded, misaligned, unauthorized or intermittent"};
  }
  const std::string sort = vm["sort"].as<std::string>();
  if (sort != "messages" && sort != "pass" && sort != "ip" && sort != "from" && sort != "last-seen") {
    throw UsageError{"--sort must be messages, pass, ip, from or last-seen"};
  }

  analysis::SourceQuery query;
  query.window = filter;
  query.grouping = *grouping;
  query.failing_only = vm["failing"].as<bool>();
  query.category = category;
  if (vm.count("service")) query.service = vm["service"].as<std::string>();
  if (vm.count("min-messages")) query.min_messages = vm["min-messages"].as<std::int64_t>();
  if (sort == "pass") query.sort = analysis::SourceSort::pass;
  if (sort == "ip") query.sort = analysis::SourceSort::ip;
  if (sort == "from") query.sort = analysis::SourceSort::from;
  if (sort == "last-seen") query.sort = analysis::SourceSort::last_seen;
  // A table is read by a person: the first rows, and a line saying there are
  // more. Programs get every row unless they ask otherwise.
  const bool table_format = global.format == Format::table;
  if (vm.count("limit")) {
    if (vm["limit"].as<std::size_t>() > 0) query.limit = vm["limit"].as<std::size_t>();
  } else if (table_format) {
    query.limit = k_default_table_rows;
  }

  auto context = open_analysis(global, vm);
  if (!context) return ExitCode::failure;
  // JSON streams row by row: a postmaster exporting millions of sources
  // should not need memory for all of them. Tables need every row to size
  // their columns.
  const bool json = global.format == Format::json || global.format == Format::ndjson;
  const bool array = global.format == Format::json;
  std::vector<analysis::SourceRow> selected;
  bool first = true;
  if (array) std::cout << '[';
  auto more = analysis::query_sources(
      *context->store, context->psl, context->senders, query, [&](analysis::SourceRow&& row) {
        if (const analysis::Declarations* declarations = context->declarations()) {
          analysis::apply_declarations(row, *declarations);
        }
        if (!json) {
          selected.push_back(std::move(row));
          return;
        }
        JsonWriter line;
        write_row_json(line, row);
        if (array && !first) std::cout << ',';
        std::cout << line.str();
        if (!array) std::cout << '\n';
        first = false;
      });
  if (!more) {
    if (array) std::cout << "]\n";
    print_error(more.error());
    return ExitCode::failure;
  }
  if (json) {
    if (array) std::cout << "]\n";
    return ExitCode::ok;
  }
  const bool csv = global.format == Format::csv;
  Table table;
  switch (*grouping) {
    case analysis::SourceGrouping::ip_and_from: table.headers = {"source", "from"}; break;
    case analysis::SourceGrouping::ip: table.headers = {"source"}; break;
    case analysis::SourceGrouping::service: table.headers = {"service"}; break;
    case analysis::SourceGrouping::domain: table.headers = {"domain"}; break;
    case analysis::SourceGrouping::reporter: table.headers = {"reporter"}; break;
  }
  const std::size_t key_columns = table.headers.size();
  // On a narrow terminal the SPF and DKIM rates give way to the key, the
  // From domain and the service; JSON and CSV always carry them.
  const std::size_t columns = csv ? 0 : output_columns();
  const bool rates = columns == 0 || columns >= 120;
  table.headers.push_back("messages");
  table.headers.push_back("dmarc%");
  if (rates) {
    table.headers.push_back("spf%");
    table.headers.push_back("dkim%");
  }
  const std::size_t category_column = table.headers.size();
  table.headers.push_back("category");
  // Declarations judge single sources; a table shows them only when asked
  // for, CSV always has the column so that scripts see one layout.
  const bool declared_column =
      !csv && context->declarations() != nullptr && *grouping == analysis::SourceGrouping::ip_and_from;
  // Where the rates gave way, a short header leaves the From domain more room.
  if (declared_column) table.headers.push_back(rates ? "declared" : "decl");
  if (*grouping != analysis::SourceGrouping::service) table.headers.push_back("service");
  if (csv) {
    table.headers.push_back("diagnosis");
    table.headers.push_back("declared");
  }
  table.right_aligned.assign(table.headers.size(), false);
  for (std::size_t c = key_columns; c < category_column; ++c) table.right_aligned[c] = true;
  for (const auto& row : selected) {
    std::vector<std::string> cells;
    switch (*grouping) {
      case analysis::SourceGrouping::ip_and_from: cells = {row.source_ip, row.header_from}; break;
      case analysis::SourceGrouping::ip: cells = {row.source_ip}; break;
      case analysis::SourceGrouping::service: cells = {row.service.empty() ? "(unknown)" : row.service}; break;
      case analysis::SourceGrouping::domain: cells = {row.policy_domain}; break;
      case analysis::SourceGrouping::reporter: cells = {row.reporter}; break;
    }
    cells.push_back(csv ? std::to_string(row.messages) : with_thousands(row.messages));
    cells.push_back(percent(row.dmarc_pass_messages, row.messages));
    if (rates) {
      cells.push_back(percent(row.spf_aligned_messages, row.messages));
      cells.push_back(percent(row.dkim_aligned_messages, row.messages));
    }
    cells.push_back(analysis::to_string(row.category));
    if (declared_column) cells.push_back(declared_cell(row));
    if (*grouping != analysis::SourceGrouping::service) cells.push_back(row.service);
    if (csv) {
      std::string keys;
      for (const analysis::Diagnosis& d : row.diagnosis) keys += (keys.empty() ? "" : " ") + d.key;
      cells.push_back(keys);
      cells.push_back(declared_cell(row));
    }
    table.rows.push_back(std::move(cells));
  }
  if (csv) {
    table.print_csv(std::cout);
  } else if (table.rows.empty()) {
    std::cout << "no sources match\n";
  } else {
    table.max_width = columns;
    // An address cut short would name another source; a category is a key.
    table.keep_whole.assign(table.headers.size(), false);
    table.keep_whole[0] = *grouping == analysis::SourceGrouping::ip_and_from ||
                          *grouping == analysis::SourceGrouping::ip;
    table.keep_whole[category_column] = true;
    if (declared_column) table.keep_whole[category_column + 1] = true;
    table.print(std::cout);
    if (*more) {
      std::cout << "(the first " << selected.size() << " rows; --limit N or --limit 0 shows more)\n";
    }
  }
  return ExitCode::ok;
}

}  // namespace dmarcsift::cli
