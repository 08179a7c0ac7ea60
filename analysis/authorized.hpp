#pragma once
// Authorized services: per policy domain, the services and IP ranges the
// domain's owner declares as sending its mail (--authorized FILE, format in
// docs/authorized.md), and what that says about each source.
#include <optional>
#include <string>
#include <string_view>
#include <map>
#include <vector>

#include "analysis/identify.hpp"
#include "core/ip_address.hpp"
#include "core/result.hpp"

namespace dmarcsift::analysis {

struct SourceRow;

struct Authorization {
  bool declared = false;     // a declared service or range matches the source
  std::string declared_as;   // the service's catalog name or the range ("192.0.2.0/24"); "" when undeclared
  std::string declared_for;  // the policy domain of the line that matched, or "*"; "" when undeclared
  std::string declared_at;   // "FILE:LINE" of that line; "" when undeclared
};

class Declarations {
 public:
  // Reads the file at `path`. Services must be named in `senders` (ignoring
  // case); errors name the file and line.
  static Result<Declarations> load_file(const std::string& path, const SenderCatalog& senders);
  // The same for text held in memory; `origin` names it in errors and fixes.
  static Result<Declarations> parse(std::string_view text, std::string_view origin,
                                    const SenderCatalog& senders);

  const std::string& origin() const { return m_origin; }

  // What the declarations for the row's policy_domain (and those for "*") say
  // about its source: declared by the source's service or by the most
  // specific range holding its address, else undeclared. nullopt when
  // nothing is declared for the domain, or the row has no source IP or no
  // policy domain (roll-ups by ip, service, domain or reporter).
  std::optional<Authorization> authorize(const SourceRow& row) const;

 private:
  struct Item {
    std::string service;  // catalog name; "" for a range
    IpAddress network;    // of a range
    int prefix = 0;       // of a range
    std::string text;     // as shown: the service name or the canonical range
    std::string domain;   // of its line, or "*"
    std::string where;    // FILE:LINE
  };
  std::string m_origin;
  std::map<std::string, std::vector<Item>, std::less<>> m_by_domain;  // "*" for every domain
};

// Sets `row.authorization` and, when the source fails DMARC, puts
// declared_service_failing (a declared source to fix) or undeclared_source
// (not the owner's, unless they forgot to declare it) first in its
// diagnosis. Forwarders are never called undeclared: they relay mail the
// owner sent elsewhere. Calling it again replaces what it added.
void apply_declarations(SourceRow& row, const Declarations& declarations);

}  // namespace dmarcsift::analysis
