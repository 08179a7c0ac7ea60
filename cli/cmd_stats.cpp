#include <iostream>

#include "cli/command.hpp"
#include "cli/database.hpp"
#include "cli/output.hpp"

namespace dmarcsift::cli {

std::string stats_help() {
  return "usage: dmarcsift stats\n\n"
         "Totals of the database: reports, records, messages (the sum of record\n"
         "counts) and messages by the disposition receivers applied. --format json\n"
         "prints {\"reports\", \"records\", \"messages\", \"messages_by_disposition\"}.\n";
}

ExitCode run_stats(const GlobalOptions& global, const CommandArgs& args) {
  if (!args.empty()) throw UsageError{"unexpected argument '" + args[0] + "'"};
  auto store = open_database(global);
  if (!store) return ExitCode::failure;
  auto totals = store->totals();
  if (!totals) {
    print_error(totals.error());
    return ExitCode::failure;
  }
  const Disposition dispositions[] = {Disposition::none, Disposition::quarantine,
                                      Disposition::reject, Disposition::pass};
  if (global.format == Format::json || global.format == Format::ndjson) {
    JsonWriter json;
    json.begin_object()
        .key("reports").value(totals->reports)
        .key("records").value(totals->records)
        .key("messages").value(totals->messages)
        .key("messages_by_disposition").begin_object();
    for (Disposition d : dispositions) {
      json.key(to_string(d)).value(totals->messages_by_disposition[static_cast<int>(d)]);
    }
    json.end_object().end_object();
    std::cout << json.str() << '\n';
    return ExitCode::ok;
  }
  const bool csv = global.format == Format::csv;
  const auto number = [&](std::int64_t v) { return csv ? std::to_string(v) : with_thousands(v); };
  Table table;
  table.headers = {csv ? "metric" : "", "count"};
  table.right_aligned = {false, true};
  table.rows = {{"reports", number(totals->reports)},
                {"records", number(totals->records)},
                {"messages", number(totals->messages)}};
  for (Disposition d : dispositions) {
    table.rows.push_back({std::string(csv ? "disposition_" : "  disposition ") + to_string(d),
                          number(totals->messages_by_disposition[static_cast<int>(d)])});
  }
  if (csv) {
    table.print_csv(std::cout);
  } else {
    table.print(std::cout);
  }
  return ExitCode::ok;
}

}  // namespace dmarcsift::cli
