#pragma once
// What every analysis command needs: the Public Suffix List, the sender
// catalog (with the user's --senders file) and the database.
#include <memory>
#include <optional>

#include <boost/program_options.hpp>

#include "analysis/identify.hpp"
#include "analysis/public_suffix.hpp"
#include "cli/command.hpp"
#include "storage/store.hpp"

namespace dmarcsift::cli {

struct AnalysisContext {
  analysis::PublicSuffixList psl;
  analysis::SenderCatalog senders;
  std::unique_ptr<storage::Store> store;
};

// Adds --senders FILE.
void add_sender_options(boost::program_options::options_description& options);
// Loads all three; on failure prints the one-line error and returns nullopt.
std::optional<AnalysisContext> open_analysis(const GlobalOptions& global,
                                             const boost::program_options::variables_map& vm);

// Brings the summaries of `store` up to date for the suffix list and the
// sender catalog (with --senders) that queries will use; on failure prints
// the one-line error and returns false.
bool refresh_analysis(storage::Store& store, const boost::program_options::variables_map& vm);

}  // namespace dmarcsift::cli
