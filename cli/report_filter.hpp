#pragma once
// The --domain / --since / --until options every query command shares.
#include <boost/program_options.hpp>

#include "storage/store.hpp"

namespace dmarcsift::cli {

void add_report_filter_options(boost::program_options::options_description& options);
// Reads them back; throws UsageError for a malformed time.
storage::ReportFilter report_filter_from(const boost::program_options::variables_map& vm);

}  // namespace dmarcsift::cli
