#include "cli/analysis_context.hpp"

#include "analysis/summary_index.hpp"
#include "cli/database.hpp"

namespace po = boost::program_options;

namespace dmarcsift::cli {

void add_sender_options(po::options_description& options) {
  options.add_options()("senders", po::value<std::string>()->value_name("FILE"),
                        "extra known senders (same format as the shipped catalog, docs/senders.md)");
}

void add_authorized_option(po::options_description& options) {
  options.add_options()("authorized", po::value<std::string>()->value_name("FILE"),
                        "the services and IP ranges each domain sends through (docs/authorized.md)");
}

namespace {

std::optional<std::pair<analysis::PublicSuffixList, analysis::SenderCatalog>> load_rules(
    const po::variables_map& vm) {
  auto psl = analysis::PublicSuffixList::load();
  if (!psl) {
    print_error(psl.error());
    return std::nullopt;
  }
  analysis::SenderCatalog senders = analysis::SenderCatalog::builtin();
  if (vm.count("senders")) {
    if (auto loaded = senders.load_file(vm["senders"].as<std::string>()); !loaded) {
      print_error(loaded.error());
      return std::nullopt;
    }
  }
  return std::pair(std::move(*psl), std::move(senders));
}

}  // namespace

bool refresh_analysis(storage::Store& store, const po::variables_map& vm) {
  auto rules = load_rules(vm);
  if (!rules) return false;
  auto refreshed = analysis::refresh_summaries(store, rules->first, rules->second);
  if (!refreshed) print_error(refreshed.error());
  return refreshed.has_value();
}

void write_authorization_json(JsonWriter& json, const analysis::SourceRow& row) {
  json.key("declared");
  if (row.authorization) {
    json.value(row.authorization->declared);
  } else {
    json.null();
  }
  json.key("declared_as");
  if (row.authorization && row.authorization->declared) {
    json.value(row.authorization->declared_as);
  } else {
    json.null();
  }
}

std::optional<AnalysisContext> open_analysis(const GlobalOptions& global, const po::variables_map& vm) {
  auto rules = load_rules(vm);
  if (!rules) return std::nullopt;
  auto& [psl, senders] = *rules;
  std::optional<analysis::Declarations> authorized;
  if (vm.count("authorized")) {
    auto loaded = analysis::Declarations::load_file(vm["authorized"].as<std::string>(), senders);
    if (!loaded) {
      print_error(loaded.error());
      return std::nullopt;
    }
    authorized = std::move(*loaded);
  }
  auto store = open_database(global);
  if (!store) return std::nullopt;
  return AnalysisContext{std::move(psl), std::move(senders), std::move(store), std::move(authorized)};
}

}  // namespace dmarcsift::cli
