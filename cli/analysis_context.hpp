#pragma once
// What every analysis command needs: the Public Suffix List, the sender
// catalog (with the user's --senders file), the database, and for the
// commands that judge single sources the owner's --authorized file.
#include <memory>
#include <optional>

#include <boost/program_options.hpp>

#include "analysis/authorized.hpp"
#include "analysis/identify.hpp"
#include "analysis/public_suffix.hpp"
#include "analysis/sources.hpp"
#include "cli/command.hpp"
#include "cli/output.hpp"
#include "storage/store.hpp"

namespace dmarcsift::cli {

struct AnalysisContext {
  analysis::PublicSuffixList psl;
  analysis::SenderCatalog senders;
  std::unique_ptr<storage::Store> store;
  std::optional<analysis::Declarations> authorized;  // with --authorized

  const analysis::Declarations* declarations() const { return authorized ? &*authorized : nullptr; }
};

// "declared" and "declared_as" of a source, null when nothing is declared
// for its domain (or no --authorized file was given).
void write_authorization_json(JsonWriter& json, const analysis::SourceRow& row);

// Adds --senders FILE.
void add_sender_options(boost::program_options::options_description& options);
// Adds --authorized FILE (docs/authorized.md).
void add_authorized_option(boost::program_options::options_description& options);
// Loads them all; on failure prints the one-line error and returns nullopt.
std::optional<AnalysisContext> open_analysis(const GlobalOptions& global,
                                             const boost::program_options::variables_map& vm);

// Brings the summaries of `store` up to date for the suffix list and the
// sender catalog (with --senders) that queries will use; on failure prints
// the one-line error and returns false.
bool refresh_analysis(storage::Store& store, const boost::program_options::variables_map& vm);

}  // namespace dmarcsift::cli
