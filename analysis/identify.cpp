#include "analysis/identify.hpp"

#include <algorithm>
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

// Patterns are stored without the "*." and looked up with string_view keys,
// so identify() never builds a std::string for a lookup.
struct TransparentHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// Entries claiming a domain, as indexes into the senders vector.
struct Slot {
  std::int32_t self_and_below = -1;  // from a plain pattern "x.com"
  std::int32_t below = -1;           // from a wildcard pattern "*.x.com"
};
using PatternMap = std::unordered_map<std::string, Slot, TransparentHash, std::equal_to<>>;

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

// The entry whose pattern is the longest suffix of `domain` (lower-case,
// no trailing dot), or -1. Walks a.b.c.com -> b.c.com -> c.com; the last
// label is never looked up since every pattern has at least two.
std::int32_t find_entry(const PatternMap& map, std::string_view domain) {
  bool whole = true;
  while (true) {
    const std::size_t dot = domain.find('.');
    if (dot == std::string_view::npos) return -1;
    if (const auto it = map.find(domain); it != map.end()) {
      const Slot& slot = it->second;
      if (whole) {
        if (slot.self_and_below >= 0) return slot.self_and_below;
      } else if (slot.self_and_below >= 0 || slot.below >= 0) {
        return std::max(slot.self_and_below, slot.below);
      }
    }
    domain.remove_prefix(dot + 1);
    whole = false;
  }
}

// Longest domain name in text form without the final dot (RFC 1035 §2.3.4:
// 255 octets on the wire); anything longer cannot be a catalog domain.
constexpr std::size_t k_max_name = 253;

// Records are normalised to lower case without a trailing dot already; only
// a hand-built record takes the copy, into a stack buffer, not the heap.
std::int32_t find_normalized(const PatternMap& map, std::string_view domain) {
  if (domain.empty() || map.empty()) return -1;
  bool clean = domain.back() != '.';
  for (char c : domain) clean = clean && lower(c) == c;
  if (clean) return find_entry(map, domain);
  if (domain.back() == '.') domain.remove_suffix(1);
  if (domain.size() > k_max_name) return -1;
  std::array<char, k_max_name> buffer;
  for (std::size_t i = 0; i < domain.size(); ++i) buffer[i] = lower(domain[i]);
  return find_entry(map, std::string_view(buffer.data(), domain.size()));
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

}  // namespace

struct SenderCatalog::Index : PatternIndex {};

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

const KnownSender* SenderCatalog::identify(const PublicSuffixList& /*psl*/, const Record& record) const {
  if (!m_index) return nullptr;
  // NOTES §5: the DKIM d= is the stronger signal, whatever its result (a
  // failed ESP signature still says which service built the message).
  for (const DkimAuth& dkim : record.dkim_results) {
    if (const std::int32_t i = find_normalized(m_index->dkim, dkim.domain); i >= 0) return &m_senders[i];
  }
  for (const SpfAuth& spf : record.spf_results) {
    if (const std::int32_t i = find_normalized(m_index->bounce, spf.domain); i >= 0) return &m_senders[i];
  }
  // Some reporters give the MAIL FROM only as envelope_from, occasionally as
  // a whole address.
  std::string_view envelope = record.envelope_from;
  if (const std::size_t at = envelope.rfind('@'); at != std::string_view::npos) envelope.remove_prefix(at + 1);
  if (const std::int32_t i = find_normalized(m_index->bounce, envelope); i >= 0) return &m_senders[i];
  return nullptr;
}

}  // namespace dmarcsift::analysis
