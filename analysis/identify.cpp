#include "analysis/identify.hpp"

#include <algorithm>
#include <atomic>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <utility>

#include "analysis/text_file.hpp"

namespace dmarcsift::analysis {

namespace detail {
// Defined in the senders_data.cpp that CMake generates from senders_data.cpp.in.
extern const std::string_view k_builtin_senders_text;
}  // namespace detail

namespace {

constexpr std::size_t k_columns = 6;
constexpr const char* k_column_names[k_columns] = {"name",           "category",    "dkim_domains",
                                                   "bounce_domains", "ptr_domains", "fix"};

// Entries claiming a domain, as indexes into the senders vector.
struct Slot {
  std::int32_t self_and_below = -1;  // from a plain pattern "x.com"
  std::int32_t below = -1;           // from a wildcard pattern "*.x.com"
};

// Patterns (stored without the "*.") by the hash of their text taken from the
// last byte to the first: one backward pass over a name yields the hash of
// every suffix that starts a label, so a name costs one pass and a probe per
// label instead of hashing each suffix again (identify() took a tenth of a
// rebuild's instructions that way).
class PatternMap {
 public:
  // The slot of `pattern` (lower case, two labels or more). Its last two
  // labels are entered too, with an empty slot unless they are a pattern
  // themselves: a name whose last two labels are not in the map cannot end
  // in any pattern, which settles most names after their last two labels.
  Slot& operator[](std::string_view pattern) {
    const std::size_t last_dot = pattern.rfind('.');
    if (last_dot != std::string_view::npos && last_dot > 0) {
      const std::size_t dot_before = pattern.rfind('.', last_dot - 1);
      if (dot_before != std::string_view::npos) entry(pattern.substr(dot_before + 1));
    }
    return entry(pattern).slot;
  }

  // The slot of the pattern or last two labels equal to `suffix` ignoring
  // ASCII case, given the suffix's hash (see step()); null when none.
  const Slot* find(std::string_view suffix, std::uint64_t hash) const {
    if (m_table.empty()) return nullptr;
    const std::size_t mask = m_table.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      if (m_table[i] == k_empty) return nullptr;
      const Entry& entry = m_entries[m_table[i]];
      if (entry.hash == hash && equal_ignoring_case(suffix, entry.text)) return &entry.slot;
    }
  }

  bool empty() const { return m_entries.empty(); }

  // FNV-1a over the lower-cased bytes, last to first: start from k_seed,
  // feed the byte before those hashed so far with step(), and finish() the
  // hash of a whole suffix.
  static constexpr std::uint64_t k_seed = 0xcbf29ce484222325ull;
  static std::uint64_t step(std::uint64_t hash, char c) {
    return (hash ^ static_cast<unsigned char>(lower(c))) * 0x100000001b3ull;
  }
  // FNV's low bits mix poorly, and the table index takes the low bits.
  static std::uint64_t finish(std::uint64_t hash) { return hash ^ (hash >> 29); }

 private:
  struct Entry {
    std::uint64_t hash;
    std::string text;
    Slot slot;
  };
  static constexpr std::size_t k_empty = static_cast<std::size_t>(-1);

  static bool equal_ignoring_case(std::string_view name, std::string_view lower_text) {
    if (name.size() != lower_text.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
      if (lower(name[i]) != lower_text[i]) return false;
    }
    return true;
  }

  Entry& entry(std::string_view text) {
    if ((m_entries.size() + 1) * 2 > m_table.size()) grow();
    std::uint64_t hash = k_seed;
    for (std::size_t i = text.size(); i-- > 0;) hash = step(hash, text[i]);
    hash = finish(hash);
    const std::size_t mask = m_table.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      if (m_table[i] == k_empty) {
        m_table[i] = m_entries.size();
        return m_entries.emplace_back(Entry{hash, std::string(text), {}});
      }
      Entry& found = m_entries[m_table[i]];
      if (found.hash == hash && found.text == text) return found;
    }
  }

  void grow() {
    std::vector<std::size_t> table(m_table.empty() ? 64 : m_table.size() * 2, k_empty);
    const std::size_t mask = table.size() - 1;
    for (std::size_t e = 0; e < m_entries.size(); ++e) {
      std::size_t i = m_entries[e].hash & mask;
      while (table[i] != k_empty) i = (i + 1) & mask;
      table[i] = e;
    }
    m_table = std::move(table);
  }

  std::vector<Entry> m_entries;
  std::vector<std::size_t> m_table;  // indexes into m_entries; a power of two of them
};

bool is_category_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

// Letters, digits, '-' and '_' (DKIM and SPF names may hold underscores) in
// non-empty labels; at least two labels, because a lone "com" would claim
// every name under a top-level domain.
bool is_pattern_domain(std::string_view d) {
  if (d.empty() || d.front() == '.' || d.back() == '.') return false;
  bool dot = false;
  char previous = '.';
  for (char c : d) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok || (c == '.' && previous == '.')) return false;
    dot = dot || c == '.';
    previous = c;
  }
  return dot;
}

Result<std::vector<std::string>> parse_domains(std::string_view field, std::size_t column,
                                               const std::string& where) {
  std::vector<std::string> out;
  if (field == "-") return out;
  const std::string column_name = k_column_names[column];
  if (field.empty()) return fail(Errc::bad_input, where, "column " + column_name + " is empty (use - for none)");
  while (true) {
    const std::size_t comma = field.find(',');
    const std::string_view item = trim(field.substr(0, comma));
    if (item.empty()) return fail(Errc::bad_input, where, "column " + column_name + " has an empty entry");
    std::string domain(item);
    for (char& c : domain) c = lower(c);
    if (domain.back() == '.') domain.pop_back();  // "x.com." is the same name
    const bool wildcard = domain.starts_with("*.");
    if (!is_pattern_domain(wildcard ? std::string_view(domain).substr(2) : std::string_view(domain))) {
      return fail(Errc::bad_input, where,
                  "column " + column_name + ": \"" + std::string(item) +
                      "\" is not a domain of two or more labels (optionally starting with \"*.\")");
    }
    out.push_back(std::move(domain));
    if (comma == std::string_view::npos) return out;
    field.remove_prefix(comma + 1);
  }
}

void add_patterns(PatternMap& map, const std::vector<std::string>& patterns, std::int32_t index) {
  for (const std::string& pattern : patterns) {
    // A later entry overrides an earlier one on the same pattern, so a user
    // file can claim a domain the built-in catalog assigns elsewhere.
    if (pattern.starts_with("*.")) {
      map[pattern.substr(2)].below = index;
    } else {
      map[pattern].self_and_below = index;
    }
  }
}

// The entry whose pattern is the longest suffix of `domain` that starts a
// label, compared ignoring ASCII case and a trailing dot; -1 when none. A
// wildcard pattern does not claim the name it is made of. The last label is
// never looked up: every pattern has at least two.
std::int32_t find_entry(const PatternMap& map, std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty() || map.empty()) return -1;
  // Shortest suffix first, so that a longer match found later wins. A dot
  // ends the suffix hashed so far; the last label alone is never looked up.
  // The first suffix looked up is the last two labels, which the map holds
  // for every pattern: when they are missing, nothing longer can match.
  std::int32_t found = -1;
  std::uint64_t hash = PatternMap::k_seed;
  int dots = 0;
  const auto look_up = [&](std::size_t start) {
    const Slot* slot = map.find(domain.substr(start), PatternMap::finish(hash));
    if (slot == nullptr) return dots > 2;
    if (start == 0) {
      if (slot->self_and_below >= 0) found = slot->self_and_below;
    } else if (slot->self_and_below >= 0 || slot->below >= 0) {
      found = std::max(slot->self_and_below, slot->below);
    }
    return true;
  };
  for (std::size_t i = domain.size(); i-- > 0;) {
    const char c = domain[i];
    if (c == '.' && ++dots > 1 && !look_up(i + 1)) return found;
    hash = PatternMap::step(hash, c);
  }
  if (dots > 0) look_up(0);
  return found;
}

struct PatternIndex {
  PatternMap dkim;    // from dkim_domains
  PatternMap bounce;  // from bounce_domains
};

void fill_index(PatternIndex& index, const std::vector<KnownSender>& senders) {
  for (std::size_t i = 0; i < senders.size(); ++i) {
    add_patterns(index.dkim, senders[i].dkim_domains, static_cast<std::int32_t>(i));
    add_patterns(index.bounce, senders[i].bounce_domains, static_cast<std::int32_t>(i));
  }
}

// Tells indexes apart for SenderMemo, even one built where a freed one was.
std::uint64_t next_index_generation() {
  static std::atomic<std::uint64_t> last{0};
  return ++last;
}

}  // namespace

struct SenderCatalog::Index : PatternIndex {
  const std::uint64_t generation = next_index_generation();  // never 0
};

Result<std::vector<KnownSender>> parse_sender_catalog(std::string_view text, std::string_view origin) {
  std::vector<KnownSender> out;
  std::unordered_map<std::string_view, std::size_t> first_line;  // name -> line, for duplicates
  TextLines lines(text);
  for (std::string_view line; lines.next(line);) {
    if (trim(line).empty() || line.front() == '#') continue;

    const std::size_t line_number = lines.number();
    const std::string where = std::string(origin) + ":" + std::to_string(line_number);
    std::array<std::string_view, k_columns> fields;
    std::size_t count = 0;
    for (std::string_view rest = line;; ++count) {
      const std::size_t tab = rest.find('\t');
      if (count < k_columns) fields[count] = trim(rest.substr(0, tab));
      if (tab == std::string_view::npos) break;
      rest.remove_prefix(tab + 1);
    }
    ++count;
    if (count != k_columns) {
      return fail(Errc::bad_input, where,
                  "expected 6 tab-separated columns, found " + std::to_string(count));
    }

    KnownSender sender;
    sender.name = fields[0];
    if (sender.name.empty()) return fail(Errc::bad_input, where, "column name is empty");
    if (const auto [it, inserted] = first_line.emplace(fields[0], line_number); !inserted) {
      return fail(Errc::bad_input, where,
                  "duplicate name \"" + sender.name + "\" (first on line " + std::to_string(it->second) + ")");
    }
    sender.category = fields[1];
    if (sender.category.empty()) return fail(Errc::bad_input, where, "column category is empty");
    for (char c : sender.category) {
      if (!is_category_char(c)) {
        return fail(Errc::bad_input, where,
                    "column category: \"" + sender.category + "\" is not lower-case letters, digits and _");
      }
    }
    auto dkim = parse_domains(fields[2], 2, where);
    if (!dkim) return tl::unexpected(std::move(dkim.error()));
    auto bounce = parse_domains(fields[3], 3, where);
    if (!bounce) return tl::unexpected(std::move(bounce.error()));
    auto ptr = parse_domains(fields[4], 4, where);
    if (!ptr) return tl::unexpected(std::move(ptr.error()));
    sender.dkim_domains = std::move(*dkim);
    sender.bounce_domains = std::move(*bounce);
    sender.ptr_domains = std::move(*ptr);
    if (fields[5].empty()) return fail(Errc::bad_input, where, "column fix is empty (use - for none)");
    if (fields[5] != "-") sender.fix = fields[5];
    out.push_back(std::move(sender));
  }
  return out;
}

SenderCatalog SenderCatalog::builtin() {
  static const SenderCatalog k_catalog = [] {
    SenderCatalog catalog;
    // A parse error here is a bug in analysis/data/senders.tsv that
    // identify_test catches; an untested build would just identify nothing.
    if (auto parsed = parse_sender_catalog(detail::k_builtin_senders_text, "senders.tsv")) {
      catalog.m_senders = std::move(*parsed);
    }
    auto index = std::make_shared<Index>();
    fill_index(*index, catalog.m_senders);
    catalog.m_index = std::move(index);
    return catalog;
  }();
  return k_catalog;  // copies share the immutable index
}

Result<void> SenderCatalog::load_file(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) return tl::unexpected(std::move(text.error()));
  auto parsed = parse_sender_catalog(*text, path);
  if (!parsed) return tl::unexpected(std::move(parsed.error()));
  for (KnownSender& sender : *parsed) {
    auto same = std::find_if(m_senders.begin(), m_senders.end(),
                             [&](const KnownSender& s) { return s.name == sender.name; });
    if (same != m_senders.end()) {
      *same = std::move(sender);
    } else {
      m_senders.push_back(std::move(sender));
    }
  }
  auto index = std::make_shared<Index>();
  fill_index(*index, m_senders);
  m_index = std::move(index);  // copies made earlier keep the index of their own entries
  return {};
}

// The suffix walk already answers "same organizational domain" for every
// pattern at or below an organizational domain, and answers it more exactly
// for patterns below one (pm.mtasv.net), so `psl` is not consulted.
const KnownSender* SenderCatalog::find(std::string_view name) const {
  for (const KnownSender& sender : m_senders) {
    if (sender.name == name) return &sender;
  }
  return nullptr;
}

const KnownSender* SenderCatalog::identify(const PublicSuffixList& /*psl*/, const Record& record,
                                           SenderMemo* memo) const {
  if (!m_index) return nullptr;
  enum Kind : std::size_t { dkim_kind, bounce_kind };
  const auto find = [&](Kind kind, std::string_view domain) -> const KnownSender* {
    const PatternMap& map = kind == dkim_kind ? m_index->dkim : m_index->bounce;
    const std::int32_t i =
        memo == nullptr ? find_entry(map, domain)
                        : memo->look_up(m_index->generation, kind, domain,
                                        [&](std::string_view name) { return find_entry(map, name); });
    return i >= 0 ? &m_senders[static_cast<std::size_t>(i)] : nullptr;
  };
  // NOTES §5: the DKIM d= is the stronger signal, whatever its result (a
  // failed ESP signature still says which service built the message).
  for (const DkimAuth& dkim : record.dkim_results) {
    if (const KnownSender* sender = find(dkim_kind, dkim.domain)) return sender;
  }
  for (const SpfAuth& spf : record.spf_results) {
    if (const KnownSender* sender = find(bounce_kind, spf.domain)) return sender;
  }
  // Some reporters give the MAIL FROM only as envelope_from, occasionally as
  // a whole address.
  std::string_view envelope = record.envelope_from;
  if (const std::size_t at = envelope.rfind('@'); at != std::string_view::npos) envelope.remove_prefix(at + 1);
  // Mostly the SPF domain again, found in no entry just above: looking it
  // up twice took a quarter of this function's instructions on a fold.
  for (const SpfAuth& spf : record.spf_results) {
    if (spf.domain == envelope) return nullptr;
  }
  return find(bounce_kind, envelope);
}

}  // namespace dmarcsift::analysis
