#pragma once
// Which sending service a source is (NOTES §5), from DKIM d= domains and
// SPF / MAIL FROM domains, driven by a data file users can extend.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/public_suffix.hpp"
#include "core/aggregate_report.hpp"
#include "core/result.hpp"

namespace dmarcsift::analysis {

struct KnownSender {
  std::string name;      // "SendGrid"
  std::string category;  // esp, mailbox_provider, gateway, crm, helpdesk, ...
  std::vector<std::string> dkim_domains;    // organizational domains of its default d=
  std::vector<std::string> bounce_domains;  // organizational domains of its MAIL FROM / SPF
  std::vector<std::string> ptr_domains;     // PTR base domains (unused offline)
  std::string fix;       // how to align mail sent through it
};

class SenderCatalog {
 public:
  // The catalog shipped with dmarcsift (analysis/data/senders.tsv, compiled in).
  static SenderCatalog builtin();
  // Adds (or overrides by name) the entries of a user file in the same format;
  // errors name the file and line.
  Result<void> load_file(const std::string& path);

  const std::vector<KnownSender>& senders() const { return m_senders; }
  // The service that sent `record`: the first match of a DKIM domain (any
  // result), then of an SPF domain, compared by organizational domain and
  // also as a suffix match of the full name (e.g. "*.gappssmtp.com").
  const KnownSender* identify(const PublicSuffixList& psl, const Record& record) const;
  // The entry named `name`, or null.
  const KnownSender* find(std::string_view name) const;

 private:
  struct Index;  // domain pattern -> entry; immutable, rebuilt when m_senders changes
  std::vector<KnownSender> m_senders;
  std::shared_ptr<const Index> m_index;
};

// Parses the text of a catalog file (format documented in senders.tsv).
Result<std::vector<KnownSender>> parse_sender_catalog(std::string_view text, std::string_view origin);

}  // namespace dmarcsift::analysis
