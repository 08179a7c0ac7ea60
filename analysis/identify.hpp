#pragma once
// Which sending service a source is (NOTES §5), from DKIM d= domains and
// SPF / MAIL FROM domains, driven by a data file users can extend.
#include <cstddef>
#include <cstdint>
#include <functional>
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

// The catalog entries identify() found for the names it looked up, by name:
// a fold asks about the same few hundred DKIM and bounce domains for record
// after record, and a look-up hashes every label of its name. The table,
// 512 names, is small enough to stay in the cache. On the 200k-record
// fold identify() took 102 M instructions with it against 164 M; the 2M
// fold was faster in 7 of 8 alternated runs, by 0.8 %. Serves one catalog
// at a time: a look-up in another starts it afresh.
class SenderMemo {
 public:
  // The answer `find(name)` gave before, in look-ups of `kind` (0 or 1) in
  // the catalog index numbered `generation`, or find(name) now, remembered
  // in place of another name's.
  template <typename Find>
  std::int32_t look_up(std::uint64_t generation, std::size_t kind, std::string_view name,
                       Find&& find) {
    if (generation != m_generation) {
      m_answers.assign(2 * k_answers, Answer{});
      m_generation = generation;
    }
    Answer& answer =
        m_answers[kind * k_answers + (std::hash<std::string_view>{}(name) & (k_answers - 1))];
    if (!answer.known || answer.name != name) {
      answer.name.assign(name);
      answer.entry = find(name);
      answer.known = true;
    }
    return answer.entry;
  }

 private:
  struct Answer {
    std::string name;
    std::int32_t entry = -1;
    bool known = false;
  };
  static constexpr std::size_t k_answers = 256;  // of each kind; a power of two
  std::uint64_t m_generation = 0;  // of none
  std::vector<Answer> m_answers;
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
  // `memo`, when given, keeps answers from one call to the next.
  const KnownSender* identify(const PublicSuffixList& psl, const Record& record,
                              SenderMemo* memo = nullptr) const;
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
