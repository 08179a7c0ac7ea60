#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "analysis/findings.hpp"
#include "cli/analysis_context.hpp"
#include "cli/command.hpp"
#include "cli/database.hpp"
#include "cli/output.hpp"
#include "cli/report_filter.hpp"

namespace po = boost::program_options;

namespace dmarcsift::cli {
namespace {

constexpr std::size_t k_default_table_findings = 20;

po::options_description analyze_options() {
  po::options_description options("analyze options");
  add_report_filter_options(options);
  options.add_options()
      ("min-severity", po::value<std::string>()->value_name("LEVEL")->default_value("low"),
       "critical, high, medium or low")
      ("limit", po::value<std::size_t>()->value_name("N"),
       "at most N findings; 0 for all (default: 20 in a table, all in json, ndjson)");
  add_sender_options(options);
  add_authorized_option(options);
  return options;
}

std::optional<analysis::Severity> parse_severity(std::string_view text) {
  for (auto s : {analysis::Severity::critical, analysis::Severity::high, analysis::Severity::medium,
                 analysis::Severity::low}) {
    if (text == analysis::to_string(s)) return s;
  }
  return std::nullopt;
}

void write_outcome(JsonWriter& json, const analysis::Outcome& outcome) {
  json.begin_object().key("action").value(outcome.action).key("reply").value(outcome.reply).end_object();
}

void write_finding_json(JsonWriter& json, const analysis::Finding& f) {
  const analysis::SourceRow& s = *f.source;
  json.begin_object()
      .key("severity").value(analysis::to_string(f.severity))
      .key("domain").value(s.policy_domain)
      .key("source_ip").value(s.source_ip)
      .key("header_from").value(s.header_from)
      .key("service").value(s.service);
  write_authorization_json(json, s);
  json.key("category").value(analysis::to_string(s.category))
      .key("messages").value(s.messages)
      .key("dmarc_pass_messages").value(s.dmarc_pass_messages)
      .key("days_seen").value(static_cast<std::int64_t>(s.days.size()))
      .key("reporters").begin_array();
  for (const auto& r : s.reporters) json.value(r);
  json.end_array()
      .key("sample_auth_results").value(s.sample_auth)
      .key("policy").value(to_string(f.applicable))
      .key("diagnosis").begin_array();
  for (const auto& d : s.diagnosis) {
    json.begin_object().key("key").value(d.key).key("cause").value(d.cause).key("fix").value(d.fix).end_object();
  }
  json.end_array().key("forecast").begin_object();
  for (const auto& rf : f.forecast) {
    json.key(analysis::to_string(rf.family)).begin_object().key("today");
    write_outcome(json, rf.today);
    json.key("at_reject");
    write_outcome(json, rf.at_reject);
    json.end_object();
  }
  json.end_object().end_object();
}

std::string describe(const analysis::Outcome& outcome) {
  return outcome.reply.empty() ? outcome.action : outcome.reply;
}

void print_finding(const analysis::Finding& f) {
  const analysis::SourceRow& s = *f.source;
  const auto safe = [](std::string_view text) { return terminal_safe(text); };
  std::string upper = analysis::to_string(f.severity);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::cout << "[" << upper << "] " << safe(s.header_from) << "  " << s.source_ip
            << (s.service.empty() ? "" : "  (" + safe(s.service) + ")") << "  "
            << analysis::to_string(s.category) << '\n'
            << "  " << with_thousands(s.messages - s.dmarc_pass_messages) << " of "
            << with_thousands(s.messages) << " messages fail DMARC, seen on " << s.days.size()
            << (s.days.size() == 1 ? " day" : " days") << " by " << s.reporters.size()
            << (s.reporters.size() == 1 ? " reporter" : " reporters") << '\n';
  if (s.authorization) {
    std::cout << "  declared: "
              << (s.authorization->declared ? "yes (" + safe(s.authorization->declared_as) + ")" : "no")
              << '\n';
  }
  if (!s.sample_auth.empty()) std::cout << "  sample: " << safe(s.sample_auth) << '\n';
  for (const auto& d : s.diagnosis) {
    std::cout << "  " << d.key << ": " << safe(d.cause) << "\n    fix: " << safe(d.fix) << '\n';
  }
  std::cout << "  today (p=" << to_string(f.applicable) << "):";
  bool same = true;
  for (const auto& rf : f.forecast) {
    std::cout << "\n    " << analysis::to_string(rf.family) << ": " << safe(describe(rf.today));
    same = same && describe(rf.today) == describe(rf.at_reject);
  }
  if (same) {
    std::cout << "\n  at p=reject: the same";
  } else {
    std::cout << "\n  at p=reject:";
    for (const auto& rf : f.forecast) {
      std::cout << "\n    " << analysis::to_string(rf.family) << ": " << safe(describe(rf.at_reject));
    }
  }
  std::cout << "\n\n";
}

}  // namespace

std::string analyze_help() {
  std::ostringstream out;
  out << "usage: dmarcsift analyze [options]\n\n"
         "Findings, most severe first: sources sending as your domains that fail\n"
         "DMARC or need attention, with the evidence (messages, days seen,\n"
         "reporters, a sample of their auth results), the diagnosis and its fix,\n"
         "and what Gmail, Microsoft, Yahoo/AOL and other receivers do with that\n"
         "mail today and under p=reject.\n\n"
         "Severity: critical = legitimate mail refused or junked today; high =\n"
         "legitimate mail p=reject would refuse; medium = spoofing delivered today;\n"
         "low = the rest worth knowing.\n\n"
         "With --authorized FILE, the services and ranges declared for a domain\n"
         "decide which of its sources are legitimate: a declared source that fails\n"
         "is a fix (declared_service_failing), an undeclared one is flagged\n"
         "(undeclared_source).\n\n"
      << analyze_options() << "\nOutput: --format table (default), json or ndjson.\n";
  return out.str();
}

ExitCode run_analyze(const GlobalOptions& global, const CommandArgs& args) {
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(analyze_options()).run(), vm);
  po::notify(vm);
  const storage::ReportFilter filter = report_filter_from(vm);
  const auto min_severity = parse_severity(vm["min-severity"].as<std::string>());
  if (!min_severity) throw UsageError{"--min-severity must be critical, high, medium or low"};
  if (global.format == Format::csv) throw UsageError{"analyze prints table, json or ndjson"};
  analysis::FindingQuery query;
  query.window = filter;
  query.min_severity = *min_severity;
  if (vm.count("limit")) {
    if (vm["limit"].as<std::size_t>() > 0) query.limit = vm["limit"].as<std::size_t>();
  } else if (global.format == Format::table) {
    query.limit = k_default_table_findings;
  }
  auto context = open_analysis(global, vm);
  if (!context) return ExitCode::failure;
  query.declarations = context->declarations();
  // Findings stream as they come, most severe first, in every format.
  const bool json = global.format == Format::json || global.format == Format::ndjson;
  const bool array = global.format == Format::json;
  std::size_t shown = 0;
  if (array) std::cout << '[';
  auto more = analysis::query_findings(
      *context->store, context->psl, context->senders, query, [&](const analysis::Finding& f) {
        if (json) {
          JsonWriter line;
          write_finding_json(line, f);
          if (array && shown > 0) std::cout << ',';
          std::cout << line.str();
          if (!array) std::cout << '\n';
        } else {
          print_finding(f);
        }
        ++shown;
      });
  if (array) std::cout << "]\n";
  if (!more) {
    print_error(more.error());
    return ExitCode::failure;
  }
  if (json) return ExitCode::ok;
  if (shown == 0) {
    std::cout << "no findings\n";
  } else if (*more) {
    std::cout << "\n(the first " << shown << " findings; --limit N or --limit 0 shows more)\n";
  }
  return ExitCode::ok;
}

}  // namespace dmarcsift::cli
