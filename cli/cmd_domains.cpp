#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "analysis/domains.hpp"
#include "cli/analysis_context.hpp"
#include "cli/command.hpp"
#include "cli/database.hpp"
#include "cli/output.hpp"
#include "cli/report_filter.hpp"

namespace po = boost::program_options;

namespace dmarcsift::cli {
namespace {

po::options_description domains_options() {
  po::options_description options("domains options");
  add_report_filter_options(options);
  add_sender_options(options);
  return options;
}

constexpr analysis::GroupClass k_categories[] = {
    analysis::GroupClass::aligned, analysis::GroupClass::forwarded, analysis::GroupClass::misaligned,
    analysis::GroupClass::unauthorized, analysis::GroupClass::intermittent};

std::string policy_text(const PolicyPublished& p) {
  std::string text = std::string("p=") + to_string(p.p);
  if (p.sp) text += std::string(" sp=") + to_string(*p.sp);
  if (p.np) text += std::string(" np=") + to_string(*p.np);
  if (p.pct && *p.pct != 100) text += " pct=" + std::to_string(*p.pct);
  if (p.testing.value_or(false)) text += " t=y";
  return text;
}

void write_row_json(JsonWriter& json, const analysis::DomainRow& row) {
  const PolicyPublished& p = row.policy;
  const auto optional_action = [&](const char* name, const std::optional<PolicyAction>& a) {
    json.key(name);
    if (a) json.value(to_string(*a)); else json.null();
  };
  json.begin_object().key("domain").value(row.domain).key("published").begin_object()
      .key("p").value(to_string(p.p));
  optional_action("sp", p.sp);
  optional_action("np", p.np);
  json.key("pct");
  if (p.pct) json.value(static_cast<std::int64_t>(*p.pct)); else json.null();
  json.key("adkim").value(to_string(p.adkim)).key("aspf").value(to_string(p.aspf)).key("testing");
  if (p.testing) json.value(*p.testing ? "y" : "n"); else json.null();
  json.end_object()
      .key("messages").value(row.messages)
      .key("dmarc_pass_messages").value(row.dmarc_pass_messages)
      .key("sources").value(row.sources)
      .key("messages_by_category").begin_object();
  for (auto c : k_categories) json.key(analysis::to_string(c)).value(row.messages_by_category[static_cast<int>(c)]);
  json.end_object().key("refused_at_reject_by_category").begin_object();
  for (auto c : k_categories) json.key(analysis::to_string(c)).value(row.failing_by_category[static_cast<int>(c)]);
  json.end_object()
      .key("legitimate_messages").value(row.legitimate_messages)
      .key("legitimate_failing_messages").value(row.legitimate_failing)
      .key("legitimate_failing_sources").value(row.legitimate_failing_sources)
      .key("next_step").value(row.next_step)
      .key("reason").value(row.reason)
      .end_object();
}

}  // namespace

std::string domains_help() {
  std::ostringstream out;
  out << "usage: dmarcsift domains [options]\n\n"
         "Per policy domain: the DMARC policy as the latest report shows it, volume,\n"
         "the share passing DMARC (recomputed), what p=reject would refuse by source\n"
         "category, and the next policy step (none -> quarantine -> reject) with the\n"
         "evidence that makes it safe or not.\n\n"
      << domains_options() << "\nOutput: --format table (default), json, csv or ndjson.\n";
  return out.str();
}

ExitCode run_domains(const GlobalOptions& global, const CommandArgs& args) {
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(domains_options()).run(), vm);
  po::notify(vm);
  const storage::ReportFilter filter = report_filter_from(vm);
  auto context = open_analysis(global, vm);
  if (!context) return ExitCode::failure;
  auto rows = analysis::summarize_domains(*context->store, context->psl, context->senders, filter);
  if (!rows) {
    print_error(rows.error());
    return ExitCode::failure;
  }
  if (global.format == Format::json) {
    JsonWriter json;
    json.begin_array();
    for (const auto& row : *rows) write_row_json(json, row);
    json.end_array();
    std::cout << json.str() << '\n';
    return ExitCode::ok;
  }
  if (global.format == Format::ndjson) {
    for (const auto& row : *rows) {
      JsonWriter json;
      write_row_json(json, row);
      std::cout << json.str() << '\n';
    }
    return ExitCode::ok;
  }
  const bool csv = global.format == Format::csv;
  const auto number = [&](std::int64_t v) { return csv ? std::to_string(v) : with_thousands(v); };
  Table table;
  table.headers = {"domain", "policy", "messages", "dmarc%", "refused at reject", "next step"};
  table.right_aligned = {false, false, true, true, true, false};
  for (const auto& row : *rows) {
    char pass[16];
    std::snprintf(pass, sizeof pass, "%.1f",
                  row.messages == 0 ? 0.0 : 100.0 * static_cast<double>(row.dmarc_pass_messages) /
                                                static_cast<double>(row.messages));
    table.rows.push_back({row.domain, policy_text(row.policy), number(row.messages), pass,
                          number(row.legitimate_failing), row.next_step});
  }
  if (csv) {
    table.headers.push_back("reason");
    for (std::size_t i = 0; i < rows->size(); ++i) table.rows[i].push_back((*rows)[i].reason);
    table.print_csv(std::cout);
  } else if (table.rows.empty()) {
    std::cout << "no reports stored\n";
  } else {
    table.print(std::cout);
    std::cout << "\n'refused at reject': DMARC-failing messages from sources that are not\n"
                 "unauthorized, which p=reject would bounce today.\n";
  }
  return ExitCode::ok;
}

}  // namespace dmarcsift::cli
