#include "analysis/authorized.hpp"

#include <algorithm>
#include <array>

#include "analysis/sources.hpp"
#include "analysis/text_file.hpp"

namespace dmarcsift::analysis {
namespace {

constexpr std::string_view k_every_domain = "*";
constexpr std::string_view k_declared_key = "declared_service_failing";
constexpr std::string_view k_undeclared_key = "undeclared_source";

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// Report domains are stored lower-case; names outside ASCII pass through as
// the reporter wrote them, so their bytes are allowed as they are.
bool is_domain(std::string_view d) {
  if (d.empty() || d.front() == '.' || d.back() == '.') return false;
  char previous = '.';
  for (char c : d) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                    c == '.' || static_cast<unsigned char>(c) >= 0x80;
    if (!ok || (c == '.' && previous == '.')) return false;
    previous = c;
  }
  return true;
}

// No catalog name holds '/' or ':' or is only digits and dots, so an item
// that does is meant as an address, and a typo in it is reported as one.
bool looks_like_address(std::string_view item) {
  if (item.find_first_of("/:") != std::string_view::npos) return true;
  return std::all_of(item.begin(), item.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

// Optimal string alignment distance: a swapped pair of letters ("Sendgird")
// counts as one edit.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The catalog name a misspelt or shortened `item` most likely means: the
// nearest within two edits (one for short names), else the first name whose
// first words are `item` ("Amazon" for "Amazon SES"); "" when none is close.
std::string did_you_mean(std::string_view item, const SenderCatalog& senders) {
  const std::string wanted = lowered(item);
  const std::size_t allowed = wanted.size() <= 4 ? 1 : 2;
  std::string best;
  std::size_t best_distance = allowed + 1;
  for (const KnownSender& sender : senders.senders()) {
    const std::size_t distance = edit_distance(wanted, lowered(sender.name));
    if (distance < best_distance) {
      best_distance = distance;
      best = sender.name;
    }
  }
  if (!best.empty()) return best;
  for (const KnownSender& sender : senders.senders()) {
    const std::string name = lowered(sender.name);
    if (wanted.size() >= 3 && name.starts_with(wanted) && name[wanted.size()] == ' ') return sender.name;
  }
  return {};
}

const KnownSender* find_ignoring_case(std::string_view name, const SenderCatalog& senders) {
  // A user's file may add a name that differs from a shipped one only in
  // case; the exact spelling then decides.
  if (const KnownSender* exact = senders.find(name)) return exact;
  for (const KnownSender& sender : senders.senders()) {
    if (equal_ignoring_case(sender.name, name)) return &sender;
  }
  return nullptr;
}

bool host_bits_clear(std::string_view bytes, int prefix) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const int bits_in_network = std::clamp(prefix - static_cast<int>(i) * 8, 0, 8);
    const auto mask = static_cast<unsigned char>(0xFF >> bits_in_network);
    if ((static_cast<unsigned char>(bytes[i]) & mask) != 0) return false;
  }
  return true;
}

std::string network_of(std::string_view bytes, int prefix) {
  std::string out(bytes);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int bits_in_network = std::clamp(prefix - static_cast<int>(i) * 8, 0, 8);
    out[i] = static_cast<char>(static_cast<unsigned char>(out[i]) &
                               static_cast<unsigned char>(0xFF00 >> bits_in_network));
  }
  return out;
}

bool in_range(std::string_view address, std::string_view network, int prefix) {
  return address.size() == network.size() && network_of(address, prefix) == network;
}

struct Range {
  IpAddress network;
  int prefix = 0;
  std::string text;
};

// "192.0.2.0/24", "2001:db8::/32" or a single address; the host bits must
// be zero, since "192.0.2.1/24" more often means a mistake than the /24.
Result<Range> parse_range(std::string_view item, const std::string& where) {
  const std::size_t slash = item.find('/');
  const std::string quoted = "\"" + std::string(item) + "\"";
  const auto address = IpAddress::parse(item.substr(0, slash));
  if (!address) return fail(Errc::bad_input, where, quoted + " is not an IP address or CIDR range");
  const int bits = address->is_v6() ? 128 : 32;
  Range range{*address, bits, address->to_string()};
  if (slash == std::string_view::npos) return range;
  const std::string_view digits = item.substr(slash + 1);
  if (digits.empty() || digits.size() > 3 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return fail(Errc::bad_input, where, quoted + " is not an IP address or CIDR range");
  }
  range.prefix = std::stoi(std::string(digits));
  if (range.prefix > bits) {
    return fail(Errc::bad_input, where,
                quoted + ": the prefix length of an " + (address->is_v6() ? "IPv6" : "IPv4") +
                    " range is 0 to " + std::to_string(bits));
  }
  range.text += "/" + std::to_string(range.prefix);
  if (!host_bits_clear(address->bytes(), range.prefix)) {
    const auto network = IpAddress::from_bytes(network_of(address->bytes(), range.prefix));
    return fail(Errc::bad_input, where,
                quoted + " has host bits set; the range is " + network->to_string() + "/" +
                    std::to_string(range.prefix));
  }
  return range;
}

// An IPv4 address a reporter wrote in IPv4-mapped IPv6 form (::ffff:a.b.c.d)
// is the same host as far as an ip4 declaration goes.
std::string_view as_ipv4_if_mapped(std::string_view bytes) {
  static constexpr std::array<char, 12> k_mapped_prefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                           static_cast<char>(0xFF), static_cast<char>(0xFF)};
  if (bytes.size() == 16 && bytes.substr(0, 12) == std::string_view(k_mapped_prefix.data(), 12)) {
    return bytes.substr(12);
  }
  return bytes;
}

std::string messages(std::int64_t n) { return std::to_string(n) + (n == 1 ? " message" : " messages"); }

Diagnosis declared_failing(const SourceRow& row, const Authorization& a, std::int64_t failing) {
  const std::string& d = row.header_from;
  const std::string declared_for =
      a.declared_for == k_every_domain ? "every domain" : a.declared_for;
  Diagnosis found;
  found.key = k_declared_key;
  found.cause = a.declared_as + " is declared as authorized for " + declared_for + " (" + a.declared_at +
                "), but " + std::to_string(failing) + " of " + messages(row.messages) + " from " +
                row.source_ip + (failing == 1 ? " fails" : " fail") + " DMARC";
  if (row.sender != nullptr && !row.sender->fix.empty()) {
    found.fix = row.sender->fix;
  } else if (row.sender != nullptr) {
    found.fix = "Set up " + row.sender->name + " to authenticate as " + d + ": DKIM with d=" + d +
                " and a return path (MAIL FROM) under " + d + ".";
  } else {
    const bool v6 = a.declared_as.find(':') != std::string::npos;
    const std::string mechanism = (v6 ? "ip6:" : "ip4:") + a.declared_as;
    found.fix = "Add " + mechanism + " to the SPF record of " + d + " and DKIM-sign the mail sent from " +
                a.declared_as + " with d=" + d + ".";
  }
  return found;
}

Diagnosis undeclared(const SourceRow& row, const std::string& file, std::int64_t failing) {
  const std::string& d = row.header_from;
  const std::string who = row.service.empty() ? row.source_ip : row.service;
  Diagnosis found;
  found.key = k_undeclared_key;
  found.cause = row.source_ip + (row.service.empty() ? "" : " (" + row.service + ")") +
                " is not among the services and ranges declared for " + row.policy_domain + " (" +
                messages(failing) + (failing == 1 ? " fails" : " fail") + " DMARC)";
  found.fix = "If " + who + " sends for you, declare it in " + file + " and set up its SPF and DKIM for " +
              d + "; otherwise this mail is not yours: p=quarantine or p=reject stops it.";
  return found;
}

}  // namespace

Result<Declarations> Declarations::load_file(const std::string& path, const SenderCatalog& senders) {
  auto text = read_text_file(path);
  if (!text) return tl::unexpected(std::move(text.error()));
  return parse(*text, path, senders);
}

Result<Declarations> Declarations::parse(std::string_view text, std::string_view origin,
                                         const SenderCatalog& senders) {
  Declarations out;
  out.m_origin = origin;
  TextLines lines(text);
  for (std::string_view line; lines.next(line);) {
    // No domain, address or shipped catalog name holds '#', so a comment may
    // follow the list on the same line.
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;

    const std::string where = std::string(origin) + ":" + std::to_string(lines.number());
    const std::size_t gap = line.find_first_of(" \t");
    const std::string_view items = gap == std::string_view::npos ? std::string_view() : trim(line.substr(gap));
    if (items.empty()) {
      return fail(Errc::bad_input, where, "expected a domain, then services and ranges separated by commas");
    }
    std::string domain = lowered(line.substr(0, gap));
    if (domain.size() > 1 && domain.back() == '.') domain.pop_back();  // a fully qualified name
    if (domain != k_every_domain && !is_domain(domain)) {
      return fail(Errc::bad_input, where,
                  "\"" + std::string(line.substr(0, gap)) + "\" is not a domain name (or * for every domain)");
    }
    std::vector<Item>& declared = out.m_by_domain[domain];
    for (std::string_view rest = items;;) {
      const std::size_t comma = rest.find(',');
      const std::string_view item = trim(rest.substr(0, comma));
      if (item.empty()) {
        return fail(Errc::bad_input, where, "empty item in the list (two commas in a row, or a comma at an end)");
      }
      Item entry;
      entry.domain = domain;
      entry.where = where;
      if (looks_like_address(item)) {
        auto range = parse_range(item, where);
        if (!range) return tl::unexpected(std::move(range.error()));
        entry.network = range->network;
        entry.prefix = range->prefix;
        entry.text = std::move(range->text);
      } else if (const KnownSender* sender = find_ignoring_case(item, senders)) {
        entry.service = sender->name;
        entry.text = sender->name;
      } else {
        const std::string suggestion = did_you_mean(item, senders);
        return fail(Errc::bad_input, where,
                    "unknown service \"" + std::string(item) + "\" " +
                        (suggestion.empty() ? "(not in the sender catalog; add it with --senders FILE, "
                                              "or declare its IP ranges)"
                                            : "(did you mean \"" + suggestion + "\"?)"));
      }
      declared.push_back(std::move(entry));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return out;
}

std::optional<Authorization> Declarations::authorize(const SourceRow& row) const {
  if (row.policy_domain.empty() || row.source_ip.empty()) return std::nullopt;
  const auto own = m_by_domain.find(row.policy_domain);
  const auto every = m_by_domain.find(k_every_domain);
  if (own == m_by_domain.end() && every == m_by_domain.end()) return std::nullopt;

  const std::string_view address = row.address.bytes();
  const std::string_view v4 = as_ipv4_if_mapped(address);
  const Item* by_service = nullptr;
  const Item* by_range = nullptr;
  // The domain's own lines come first, so on a tie they name the match.
  for (const auto& found : {own, every}) {
    if (found == m_by_domain.end()) continue;
    for (const Item& item : found->second) {
      if (!item.service.empty()) {
        if (by_service == nullptr && !row.service.empty() && equal_ignoring_case(item.service, row.service)) {
          by_service = &item;
        }
        continue;
      }
      const std::string_view network = item.network.bytes();
      const bool holds = in_range(address, network, item.prefix) || in_range(v4, network, item.prefix);
      if (holds && (by_range == nullptr || item.prefix > by_range->prefix)) by_range = &item;
    }
  }
  // The service says more than a range: it has a fix in the catalog.
  const Item* match = by_service != nullptr ? by_service : by_range;
  if (match == nullptr) return Authorization{};
  return Authorization{true, match->text, match->domain, match->where};
}

void apply_declarations(SourceRow& row, const Declarations& declarations) {
  std::erase_if(row.diagnosis, [](const Diagnosis& d) { return d.key == k_declared_key || d.key == k_undeclared_key; });
  row.authorization = declarations.authorize(row);
  const std::int64_t failing = row.messages - row.dmarc_pass_messages;
  if (!row.authorization || failing <= 0) return;
  // The owner's own word comes before what the auth results suggest.
  if (row.authorization->declared) {
    row.diagnosis.insert(row.diagnosis.begin(), declared_failing(row, *row.authorization, failing));
  } else if (row.category != GroupClass::forwarded) {
    row.diagnosis.insert(row.diagnosis.begin(), undeclared(row, declarations.origin(), failing));
  }
}

}  // namespace dmarcsift::analysis
