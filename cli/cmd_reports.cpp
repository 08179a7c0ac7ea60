#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "cli/command.hpp"
#include "cli/database.hpp"
#include "cli/output.hpp"
#include "cli/report_filter.hpp"
#include "core/content_hash.hpp"

namespace po = boost::program_options;

namespace dmarcsift::cli {
namespace {

po::options_description reports_options() {
  po::options_description options("reports options");
  add_report_filter_options(options);
  options.add_options()
      ("reporter", po::value<std::string>()->value_name("ORG"), "only reports from this reporter (org_name)");
  return options;
}

void write_summary_json(JsonWriter& json, const storage::ReportSummary& r) {
  json.begin_object()
      .key("id").value(r.id)
      .key("reporter").value(r.reporter)
      .key("report_id").value(r.report_id)
      .key("policy_domain").value(r.policy_domain)
      .key("begin").value(r.date_range.begin)
      .key("end").value(r.date_range.end)
      .key("records").value(r.records)
      .key("messages").value(r.messages)
      .end_object();
}

}  // namespace

std::string reports_help() {
  std::ostringstream out;
  out << "usage: dmarcsift reports [options]\n\nLists stored reports, oldest first.\n\n"
      << reports_options() << "\nOutput: --format table (default), json, csv or ndjson.\n";
  return out.str();
}

ExitCode run_reports(const GlobalOptions& global, const CommandArgs& args) {
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(reports_options()).run(), vm);
  po::notify(vm);
  storage::ReportFilter filter = report_filter_from(vm);
  if (vm.count("reporter")) filter.reporter = vm["reporter"].as<std::string>();

  auto store = open_database(global);
  if (!store) return ExitCode::failure;
  auto reports = store->list_reports(filter);
  if (!reports) {
    print_error(reports.error());
    return ExitCode::failure;
  }
  switch (global.format) {
    case Format::json: {
      JsonWriter json;
      json.begin_array();
      for (const auto& r : *reports) write_summary_json(json, r);
      json.end_array();
      std::cout << json.str() << '\n';
      break;
    }
    case Format::ndjson:
      for (const auto& r : *reports) {
        JsonWriter json;
        write_summary_json(json, r);
        std::cout << json.str() << '\n';
      }
      break;
    case Format::csv:
    case Format::table: {
      Table table;
      table.headers = {"id", "reporter", "domain", "begin (UTC)", "end (UTC)", "records", "messages"};
      table.right_aligned = {true, false, false, false, false, true, true};
      const bool csv = global.format == Format::csv;
      for (const auto& r : *reports) {
        table.rows.push_back({std::to_string(r.id), r.reporter, r.policy_domain,
                              csv ? std::to_string(r.date_range.begin) : format_utc(r.date_range.begin),
                              csv ? std::to_string(r.date_range.end) : format_utc(r.date_range.end),
                              csv ? std::to_string(r.records) : with_thousands(r.records),
                              csv ? std::to_string(r.messages) : with_thousands(r.messages)});
      }
      if (csv) {
        table.headers[3] = "begin";
        table.headers[4] = "end";
        table.print_csv(std::cout);
      } else if (table.rows.empty()) {
        std::cout << "no reports stored" << (vm.empty() ? "" : " match") << '\n';
      } else {
        table.max_width = output_columns();
    table.print(std::cout);
      }
      break;
    }
  }
  return ExitCode::ok;
}

namespace {

void write_report_json(JsonWriter& json, const storage::StoredReport& stored) {
  const AggregateReport& r = stored.report;
  const auto optional_action = [&](const char* name, const std::optional<PolicyAction>& a) {
    json.key(name);
    if (a) json.value(to_string(*a)); else json.null();
  };
  json.begin_object().key("id").value(stored.id).key("schema").value(to_string(r.schema));
  json.key("metadata").begin_object()
      .key("org_name").value(r.metadata.org_name)
      .key("email").value(r.metadata.email)
      .key("extra_contact_info").value(r.metadata.extra_contact_info)
      .key("report_id").value(r.metadata.report_id)
      .key("begin").value(r.metadata.date_range.begin)
      .key("end").value(r.metadata.date_range.end)
      .key("generator").value(r.metadata.generator)
      .key("version").value(r.metadata.version)
      .key("errors").begin_array();
  for (const auto& e : r.metadata.errors) json.value(e);
  json.end_array().end_object();
  json.key("policy_published").begin_object()
      .key("domain").value(r.policy.domain)
      .key("adkim").value(to_string(r.policy.adkim))
      .key("aspf").value(to_string(r.policy.aspf))
      .key("p").value(to_string(r.policy.p));
  optional_action("sp", r.policy.sp);
  optional_action("np", r.policy.np);
  json.key("pct");
  if (r.policy.pct) json.value(static_cast<std::int64_t>(*r.policy.pct)); else json.null();
  json.key("fo").value(r.policy.fo).key("testing");
  if (r.policy.testing) json.value(*r.policy.testing ? "y" : "n"); else json.null();
  json.key("discovery_method").value(r.policy.discovery_method).end_object();
  json.key("records").begin_array();
  for (const Record& rec : r.records) {
    json.begin_object()
        .key("source_ip").value(rec.source_ip.to_string())
        .key("count").value(rec.count)
        .key("disposition").value(to_string(rec.disposition))
        .key("dkim").value(to_string(rec.dkim))
        .key("spf").value(to_string(rec.spf))
        .key("reasons").begin_array();
    for (const auto& reason : rec.reasons) {
      json.begin_object().key("type").value(to_string(reason.type))
          .key("comment").value(reason.comment).end_object();
    }
    json.end_array()
        .key("header_from").value(rec.header_from)
        .key("envelope_from").value(rec.envelope_from)
        .key("envelope_to").value(rec.envelope_to)
        .key("dkim_results").begin_array();
    for (const auto& d : rec.dkim_results) {
      json.begin_object().key("domain").value(d.domain).key("selector").value(d.selector)
          .key("result").value(to_string(d.result)).key("human_result").value(d.human_result)
          .end_object();
    }
    json.end_array().key("spf_results").begin_array();
    for (const auto& s : rec.spf_results) {
      json.begin_object().key("domain").value(s.domain).key("scope").value(to_string(s.scope))
          .key("result").value(to_string(s.result)).key("human_result").value(s.human_result)
          .end_object();
    }
    json.end_array().end_object();
  }
  json.end_array().key("warnings").begin_array();
  for (const Warning& w : r.warnings) {
    json.begin_object().key("kind").value(w.kind).key("count").value(static_cast<std::int64_t>(w.count))
        .key("detail").value(w.detail).end_object();
  }
  json.end_array().key("source").begin_object()
      .key("file").value(stored.source_path)
      .key("entry").value(stored.source_entry)
      .key("content_hash").value(hash_to_hex(stored.content_hash))
      .key("ingested_at").value(stored.ingested_at);
  json.key("email");
  if (stored.message) {
    json.begin_object().key("message_id").value(stored.message->message_id)
        .key("from").value(stored.message->from).key("subject").value(stored.message->subject)
        .key("date").value(stored.message->date).end_object();
  } else {
    json.null();
  }
  json.end_object().end_object();
}

void print_report_text(const storage::StoredReport& stored) {
  const AggregateReport& r = stored.report;
  const auto safe = [](std::string_view s) { return terminal_safe(s); };
  std::cout << "report " << stored.id << " (" << to_string(r.schema) << ")\n"
            << "  reporter:   " << safe(r.metadata.org_name) << " <" << safe(r.metadata.email) << ">\n"
            << "  report id:  " << safe(r.metadata.report_id) << '\n'
            << "  period:     " << format_utc(r.metadata.date_range.begin) << " .. "
            << format_utc(r.metadata.date_range.end) << " UTC\n";
  if (!r.metadata.extra_contact_info.empty())
    std::cout << "  contact:    " << safe(r.metadata.extra_contact_info) << '\n';
  if (!r.metadata.generator.empty()) std::cout << "  generator:  " << safe(r.metadata.generator) << '\n';
  for (const auto& e : r.metadata.errors) std::cout << "  error:      " << safe(e) << '\n';
  std::cout << "  policy:     " << safe(r.policy.domain) << " p=" << to_string(r.policy.p);
  if (r.policy.sp) std::cout << " sp=" << to_string(*r.policy.sp);
  if (r.policy.np) std::cout << " np=" << to_string(*r.policy.np);
  if (r.policy.pct) std::cout << " pct=" << *r.policy.pct;
  std::cout << " adkim=" << to_string(r.policy.adkim) << " aspf=" << to_string(r.policy.aspf);
  if (!r.policy.fo.empty()) std::cout << " fo=" << safe(r.policy.fo);
  if (r.policy.testing) std::cout << " t=" << (*r.policy.testing ? "y" : "n");
  if (!r.policy.discovery_method.empty()) std::cout << " discovery=" << safe(r.policy.discovery_method);
  std::cout << "\n  source:     " << safe(stored.source_path)
            << (stored.source_entry.empty() ? "" : " > " + safe(stored.source_entry)) << '\n';
  if (stored.message) {
    std::cout << "  e-mail:     " << safe(stored.message->subject) << "\n              from "
              << safe(stored.message->from) << ", " << safe(stored.message->date) << ", <"
              << safe(stored.message->message_id) << ">\n";
  }
  std::cout << "\n" << r.records.size() << " records:\n";
  for (std::size_t i = 0; i < r.records.size(); ++i) {
    const Record& rec = r.records[i];
    std::cout << "  [" << i + 1 << "] " << rec.source_ip.to_string() << "  count " << rec.count
              << "  disposition " << to_string(rec.disposition) << "  dkim "
              << (rec.dkim == Verdict::absent ? "-" : to_string(rec.dkim)) << "  spf "
              << (rec.spf == Verdict::absent ? "-" : to_string(rec.spf)) << '\n'
              << "      header_from " << safe(rec.header_from);
    if (!rec.envelope_from.empty()) std::cout << "  envelope_from " << safe(rec.envelope_from);
    if (!rec.envelope_to.empty()) std::cout << "  envelope_to " << safe(rec.envelope_to);
    std::cout << '\n';
    for (const auto& reason : rec.reasons) {
      std::cout << "      override " << to_string(reason.type)
                << (reason.comment.empty() ? "" : ": " + safe(reason.comment)) << '\n';
    }
    for (const auto& d : rec.dkim_results) {
      std::cout << "      dkim " << to_string(d.result) << "  d=" << safe(d.domain)
                << (d.selector.empty() ? "" : " s=" + safe(d.selector))
                << (d.human_result.empty() ? "" : "  (" + safe(d.human_result) + ")") << '\n';
    }
    for (const auto& s : rec.spf_results) {
      std::cout << "      spf  " << to_string(s.result) << "  " << safe(s.domain)
                << (s.scope == SpfScope::absent ? "" : std::string("  scope ") + to_string(s.scope))
                << (s.human_result.empty() ? "" : "  (" + safe(s.human_result) + ")") << '\n';
    }
  }
  if (!r.warnings.empty()) {
    std::cout << "\nwarnings (tolerated deviations):\n";
    for (const Warning& w : r.warnings) {
      std::cout << "  " << w.kind << " x" << w.count << (w.detail.empty() ? "" : ": " + safe(w.detail))
                << '\n';
    }
  }
}

}  // namespace

std::string show_help() {
  return "usage: dmarcsift show ID\n\n"
         "Shows one stored report in full: metadata, published policy, every record\n"
         "with its authentication results, the warnings recorded for it and where it\n"
         "came from. ID is the number `dmarcsift reports` prints. --format json for\n"
         "programs.\n";
}

ExitCode run_show(const GlobalOptions& global, const CommandArgs& args) {
  if (args.size() != 1) throw UsageError{"expected exactly one report ID"};
  std::int64_t id = 0;
  try {
    std::size_t used = 0;
    id = std::stoll(args[0], &used);
    if (used != args[0].size() || id <= 0) throw std::invalid_argument("id");
  } catch (const std::exception&) {
    throw UsageError{"report ID must be a positive number, not '" + args[0] + "'"};
  }
  auto store = open_database(global);
  if (!store) return ExitCode::failure;
  auto stored = store->load_report(id);
  if (!stored) {
    print_error(stored.error());
    return ExitCode::failure;
  }
  if (!*stored) {
    std::cerr << "dmarcsift: error: no report with ID " << id << " in " << global.db.string() << '\n';
    return ExitCode::failure;
  }
  if (global.format == Format::json || global.format == Format::ndjson) {
    JsonWriter json;
    write_report_json(json, **stored);
    std::cout << json.str() << '\n';
  } else if (global.format == Format::csv) {
    throw UsageError{"show prints table or json"};
  } else {
    print_report_text(**stored);
  }
  return ExitCode::ok;
}

}  // namespace dmarcsift::cli
