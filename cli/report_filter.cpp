#include "cli/report_filter.hpp"

#include <ctime>

#include "cli/command.hpp"
#include "cli/dates.hpp"

namespace po = boost::program_options;

namespace dmarcsift::cli {

void add_report_filter_options(po::options_description& options) {
  options.add_options()
      ("domain", po::value<std::string>()->value_name("DOMAIN"), "only reports about this policy domain")
      ("since", po::value<std::string>()->value_name("WHEN"),
       "only reports whose period ends at or after WHEN (YYYY-MM-DD, epoch, or 30d / 12h / 2w ago)")
      ("until", po::value<std::string>()->value_name("WHEN"), "only reports whose period begins before WHEN");
}

storage::ReportFilter report_filter_from(const po::variables_map& vm) {
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  const auto time_option = [&](const char* name) {
    const std::string text = vm[name].as<std::string>();
    auto parsed = parse_time_arg(text, now);
    if (!parsed) {
      throw UsageError{"--" + std::string(name) + " '" + text +
                       "' is not a date (YYYY-MM-DD), epoch seconds or an age like 30d"};
    }
    return *parsed;
  };
  storage::ReportFilter filter;
  if (vm.count("domain")) filter.policy_domain = vm["domain"].as<std::string>();
  if (vm.count("since")) filter.since = time_option("since");
  if (vm.count("until")) filter.until = time_option("until");
  return filter;
}

}  // namespace dmarcsift::cli
