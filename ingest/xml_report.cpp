#include "ingest/xml_report.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pugixml.hpp>

#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace dmarcsift::ingest {
namespace {

constexpr std::string_view k_dmarc2_namespace = "urn:ietf:params:xml:ns:dmarc-2.0";

// parse_escapes: values carry &amp; &lt; ...; parse_cdata: CDATA is legal
// wherever text is; parse_eol: XML 1.0 §2.11 line-end normalisation;
// parse_doctype: a DOCTYPE that only appears once the repairs have run, or
// after the root element, becomes a node, so that it is refused like one in
// the prolog (pugixml never expands entities, but we refuse them outright).
// No PI, comment, declaration or whitespace-only pcdata nodes: the walk below
// never looks at them, and not building them is most of pugixml's speed.
// parse_embed_pcdata: an element's text is kept in the element, not in a
// node of its own; child_value() reads it either way, and a report, all
// leaf elements with text, needs about half the nodes.
constexpr unsigned k_parse_flags = pugi::parse_escapes | pugi::parse_cdata | pugi::parse_eol |
                                   pugi::parse_doctype | pugi::parse_embed_pcdata;

// Entity declarations can expand a few hundred bytes into gigabytes
// ("billion laughs") or pull in files and URLs (external entities), and no
// receiver sends a DOCTYPE with a report, so any DOCTYPE is refused.
constexpr std::string_view k_doctype_refused =
    "XML with a DOCTYPE declaration is refused (entity expansion, billion laughs)";

// ---------------------------------------------------------------- text helpers

bool is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view text) {
  std::size_t begin = 0;
  std::size_t end = text.size();
  while (begin < end && is_xml_space(text[begin])) ++begin;
  while (end > begin && is_xml_space(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool has_upper(std::string_view text) {
  for (char c : text) {
    if (c >= 'A' && c <= 'Z') return true;
  }
  return false;
}

// `lower` must already be lower-case.
bool equals_lower(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (ascii_lower(text[i]) != lower[i]) return false;
  }
  return true;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

void lower_in_place(std::string& text) {
  for (char& c : text) c = ascii_lower(c);
}

// Domains are compared case-insensitively and "example.com." is the same
// name as "example.com" (absolute form).
std::string normalize_domain(std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  std::string out(text);
  lower_in_place(out);
  return out;
}

// Keeps details short and printable: an offending value is quoted, cut at 40 bytes.
std::string quote(std::string_view text) {
  constexpr std::size_t k_max = 40;
  std::size_t length = text.size();
  if (length > k_max) {
    // Cut on a character boundary so the detail stays valid UTF-8.
    length = k_max;
    while (length > 0 && (static_cast<unsigned char>(text[length]) & 0xC0) == 0x80) --length;
  }
  std::string out = "'";
  out.append(text.substr(0, length));
  if (length < text.size()) out += "...";
  out += "'";
  return out;
}

// ------------------------------------------------------------------- numbers

enum class NumberStatus { ok, missing, not_numeric, negative, overflow };

struct Number {
  std::int64_t value = 0;
  NumberStatus status = NumberStatus::missing;
  bool fractional = false;  // "1790812800.000": digits after a '.' were ignored
};

// Whole decimal numbers only (an optional sign, then digits); with
// `allow_fraction`, a '.' and further digits are accepted and truncated,
// because some reporters write epoch seconds with milliseconds.
Number parse_number(std::string_view text, bool allow_fraction) {
  Number number;
  if (text.empty()) return number;
  std::string_view digits = text;
  if (digits.front() == '+') digits.remove_prefix(1);
  if (allow_fraction) {
    const std::size_t dot = digits.find('.');
    if (dot != std::string_view::npos) {
      const std::string_view fraction = digits.substr(dot + 1);
      for (char c : fraction) {
        if (c < '0' || c > '9') {
          number.status = NumberStatus::not_numeric;
          return number;
        }
      }
      digits = digits.substr(0, dot);
      number.fractional = true;
    }
  }
  const char* first = digits.data();
  const char* last = digits.data() + digits.size();
  if (first == last || (*first != '-' && (*first < '0' || *first > '9'))) {
    number.status = NumberStatus::not_numeric;
    return number;
  }
  const auto [end, ec] = std::from_chars(first, last, number.value);
  if (ec == std::errc::result_out_of_range) {
    number.status = NumberStatus::overflow;
  } else if (ec != std::errc() || end != last) {
    number.status = NumberStatus::not_numeric;
  } else {
    number.status = number.value < 0 ? NumberStatus::negative : NumberStatus::ok;
  }
  return number;
}

// ------------------------------------------------------------ byte-level work

enum class Encoding { utf8, windows_1252, latin1, other };

// The encoding named by the XML declaration, lower-cased ("" without one).
std::string declared_encoding(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && is_xml_space(text[i])) ++i;
  text.remove_prefix(i);
  if (!starts_with(text, "<?xml")) return {};
  const std::size_t close = text.find("?>");
  const std::string_view decl = text.substr(0, close);
  const std::size_t key = decl.find("encoding");
  if (key == std::string_view::npos) return {};
  std::size_t pos = decl.find_first_of("\"'", key);
  if (pos == std::string_view::npos) return {};
  const char quote_char = decl[pos];
  const std::size_t end = decl.find(quote_char, pos + 1);
  if (end == std::string_view::npos) return {};
  std::string name(trim(decl.substr(pos + 1, end - pos - 1)));
  lower_in_place(name);
  return name;
}

Encoding classify_encoding(std::string_view name) {
  if (name.empty() || name == "utf-8" || name == "utf8" || name == "us-ascii" || name == "ascii" ||
      name == "utf-16" || name == "utf16") {
    // A UTF-16 label on 8-bit bytes is a mislabel; the bytes decide.
    return Encoding::utf8;
  }
  if (name == "windows-1252" || name == "cp1252" || name == "x-cp1252") {
    return Encoding::windows_1252;
  }
  if (name == "iso-8859-1" || name == "iso8859-1" || name == "iso_8859-1" || name == "latin1" ||
      name == "latin-1" || name == "l1") {
    return Encoding::latin1;
  }
  return Encoding::other;
}

void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

// Windows-1252 differs from Latin-1 only in 0x80..0x9F; its five undefined
// bytes map to the C1 code points, as browsers do.
constexpr std::uint16_t k_cp1252_high[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

std::string decode_single_byte(std::string_view text, Encoding encoding) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x80) {
      out += c;
    } else if (encoding == Encoding::windows_1252 && byte < 0xA0) {
      append_utf8(out, k_cp1252_high[byte - 0x80]);
    } else {
      append_utf8(out, byte);
    }
  }
  return out;
}

std::string decode_utf16(std::string_view text, bool big_endian) {
  std::string out;
  out.reserve(text.size());
  auto unit = [&](std::size_t i) -> std::uint32_t {
    const auto a = static_cast<unsigned char>(text[i]);
    const auto b = static_cast<unsigned char>(text[i + 1]);
    return big_endian ? (a << 8 | b) : (b << 8 | a);
  };
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    std::uint32_t cp = unit(i);
    if (cp >= 0xD800 && cp < 0xDC00 && i + 3 < text.size()) {
      const std::uint32_t low = unit(i + 2);
      if (low >= 0xDC00 && low < 0xE000) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        i += 2;
      } else {
        cp = 0xFFFD;
      }
    } else if (cp >= 0xD800 && cp < 0xE000) {
      cp = 0xFFFD;
    }
    append_utf8(out, cp);
  }
  return out;
}

// Length of the well-formed UTF-8 sequence at `i`, or 0 when the byte there
// is not valid UTF-8 or is a control character XML 1.0 forbids (pugixml
// accepts both; a strict parser does not, and they make stored text unusable).
std::size_t valid_sequence(std::string_view text, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(text[i]);
  if (b0 < 0x80) {
    return (b0 >= 0x20 || b0 == '\t' || b0 == '\n' || b0 == '\r') ? 1 : 0;
  }
  auto cont = [&](std::size_t k) {
    return i + k < text.size() && (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
  };
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (b0 == 0xE0 && at(1) < 0xA0) return 0;   // overlong
    if (b0 == 0xED && at(1) >= 0xA0) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (b0 == 0xF0 && at(1) < 0x90) return 0;   // overlong
    if (b0 == 0xF4 && at(1) >= 0x90) return 0;  // beyond U+10FFFF
    return 4;
  }
  return 0;
}

// True when none of the 8 bytes of `word` is below 0x20 or above 0x7F.
constexpr bool all_printable_ascii(std::uint64_t word) {
  constexpr std::uint64_t k_ones = 0x0101010101010101;
  constexpr std::uint64_t k_high = 0x8080808080808080;
  // A byte below 0x20 borrows into its high bit when 0x20 is subtracted;
  // bytes with the high bit already set are caught by `word & k_high`.
  return ((word | ((word - 0x20 * k_ones) & ~word)) & k_high) == 0;
}

#if defined(__SSE2__)
// The length of the run of 16-byte blocks at `i` that hold only printable
// ASCII, tabs and line ends. The word-at-a-time check below stops at every
// line end: on the 200k-record corpus it ran 84 million times for 211 MB,
// 3.8 instructions a byte, 5 % of the ingest's instructions.
std::size_t plain_ascii_blocks(std::string_view text, std::size_t i) {
  const std::size_t start = i;
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i line_feed = _mm_set1_epi8('\n');
  const __m128i carriage_return = _mm_set1_epi8('\r');
  const __m128i tab = _mm_set1_epi8('\t');
  while (text.size() - i >= sizeof(__m128i)) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
    // Signed, so bytes of 0x80 and above compare below a space too.
    const __m128i below_space = _mm_cmplt_epi8(block, space);
    const __m128i white = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(block, line_feed),
                                                    _mm_cmpeq_epi8(block, carriage_return)),
                                       _mm_cmpeq_epi8(block, tab));
    if (_mm_movemask_epi8(_mm_andnot_si128(white, below_space)) != 0) break;
    i += sizeof(__m128i);
  }
  return i - start;
}
#endif

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
#if defined(__SSE2__)
    i += plain_ascii_blocks(text, i);
    if (i == text.size()) break;
#endif
    // Reports are ASCII but for the line ends: eight bytes at a time.
    std::uint64_t word = 0;
    if (text.size() - i >= sizeof word) {
      std::memcpy(&word, text.data() + i, sizeof word);
      if (all_printable_ascii(word)) {
        i += sizeof word;
        continue;
      }
    }
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x80) {
      ++i;
      continue;
    }
    const std::size_t length = valid_sequence(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

bool is_name_start(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || byte >= 0x80;
}

bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

// Where text beginning with `<!--`, `<![CDATA[`, `<?` or `<!DOCTYPE` at `i`
// ends, or npos when `i` starts none of them.
std::size_t skip_special(std::string_view text, std::size_t i) {
  auto past = [&](std::string_view terminator) {
    const std::size_t end = text.find(terminator, i);
    return end == std::string_view::npos ? text.size() : end + terminator.size();
  };
  const std::string_view rest = text.substr(i);
  if (starts_with(rest, "<!--")) return past("-->");
  if (starts_with(rest, "<![CDATA[")) return past("]]>");
  if (starts_with(rest, "<?")) return past("?>");
  if (starts_with(rest, "<!DOCTYPE")) {
    int brackets = 0;
    for (std::size_t k = i; k < text.size(); ++k) {
      if (text[k] == '[') ++brackets;
      if (text[k] == ']') --brackets;
      if (text[k] == '>' && brackets <= 0) return k + 1;
    }
    return text.size();
  }
  return std::string_view::npos;
}

// XML 1.0 §2.8: the DOCTYPE comes in the prolog, after the XML declaration,
// comments and processing instructions, before the root element. Checked
// before parsing so that a DOCTYPE gets this reason even when the document
// is not well-formed, and case-insensitively: `<!doctype` is no XML markup,
// but whoever writes it into a report means no good either.
bool has_doctype_in_prolog(std::string_view text) {
  constexpr std::string_view k_doctype = "<!doctype";
  std::size_t i = 0;
  for (;;) {
    i = text.find('<', i);
    if (i == std::string_view::npos) return false;
    const std::string_view rest = text.substr(i);
    if (equals_lower(rest.substr(0, k_doctype.size()), k_doctype)) return true;
    if (!starts_with(rest, "<?") && !starts_with(rest, "<!--")) return false;
    i = skip_special(text, i);
  }
}

// True when the `<` at `i` opens a well-formed start tag, end tag or empty
// element tag (names, attributes with quoted values, closing `>`).
bool is_well_formed_tag(std::string_view text, std::size_t i) {
  std::size_t k = i + 1;
  const bool end_tag = k < text.size() && text[k] == '/';
  if (end_tag) ++k;
  if (k >= text.size() || !is_name_start(text[k])) return false;
  while (k < text.size() && is_name_char(text[k])) ++k;
  for (;;) {
    const std::size_t before_space = k;
    while (k < text.size() && is_xml_space(text[k])) ++k;
    if (k >= text.size()) return false;
    if (text[k] == '>') return true;
    if (end_tag) return false;
    if (text[k] == '/') return k + 1 < text.size() && text[k + 1] == '>';
    if (k == before_space || !is_name_start(text[k])) return false;
    while (k < text.size() && is_name_char(text[k])) ++k;
    while (k < text.size() && is_xml_space(text[k])) ++k;
    if (k >= text.size() || text[k] != '=') return false;
    ++k;
    while (k < text.size() && is_xml_space(text[k])) ++k;
    if (k >= text.size() || (text[k] != '"' && text[k] != '\'')) return false;
    const char quote_char = text[k];
    const std::size_t close = text.find(quote_char, k + 1);
    if (close == std::string_view::npos) return false;
    if (text.substr(k + 1, close - k - 1).find('<') != std::string_view::npos) return false;
    k = close + 1;
  }
}

bool is_entity_reference(std::string_view text, std::size_t i) {
  std::size_t k = i + 1;
  if (k < text.size() && text[k] == '#') {
    ++k;
    const bool hex = k < text.size() && text[k] == 'x';
    if (hex) ++k;
    const std::size_t digits = k;
    auto is_digit = [&](char c) {
      return (c >= '0' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
    };
    while (k < text.size() && is_digit(text[k])) ++k;
    return k > digits && k < text.size() && text[k] == ';';
  }
  if (k >= text.size() || !is_name_start(text[k])) return false;
  while (k < text.size() && is_name_char(text[k])) ++k;
  return k < text.size() && text[k] == ';';
}

// Offset of the first `&` at or after `from` that starts no entity
// reference, outside comments and CDATA sections; npos when there is none.
std::size_t next_stray_amp(std::string_view text, std::size_t from) {
  std::size_t i = from;
  while (i < text.size()) {
    const std::size_t special = text.find_first_of("<&", i);
    if (special == std::string_view::npos) return special;
    if (text[special] == '&') {
      if (!is_entity_reference(text, special)) return special;
      i = special + 1;
      continue;
    }
    const std::size_t next = skip_special(text, special);
    i = next == std::string_view::npos ? special + 1 : next;
  }
  return std::string_view::npos;
}

bool has_stray_amp(std::string_view text) {
  // Most reports hold no '&' at all; memchr settles that without the walk.
  return text.find('&') != std::string_view::npos &&
         next_stray_amp(text, 0) != std::string_view::npos;
}

// The text before the first `<` that a strict parser refuses: anything but
// whitespace, or whitespace in front of the XML declaration.
std::size_t leading_junk_length(std::string_view text) {
  const std::size_t first = text.find('<');
  if (first == 0 || first == std::string_view::npos) return 0;
  if (!trim(text.substr(0, first)).empty()) return first;
  return starts_with(text.substr(first), "<?xml") ? first : 0;
}

// ------------------------------------------------------------------- repairs

// Each repair returns the offset of its first change, or npos when it found
// nothing to change.
std::size_t strip_leading_junk(std::string& text) {
  const std::size_t length = leading_junk_length(text);
  if (length == 0) return std::string::npos;
  text.erase(0, length);
  return 0;
}

// ikea.com's reports put an unclosed `<xs:schema ...>` start tag before <feedback>.
std::size_t strip_xs_schema(std::string& text) {
  for (const std::string_view prefix : {std::string_view("xs"), std::string_view("xsd")}) {
    const std::string open = "<" + std::string(prefix) + ":schema";
    const std::size_t start = text.find(open);
    if (start == std::string::npos) continue;
    const std::size_t after = start + open.size();
    if (after < text.size() && is_name_char(text[after])) continue;
    if (text.find("</" + std::string(prefix) + ":schema", after) != std::string::npos) continue;
    const std::size_t close = text.find('>', after);
    if (close == std::string::npos || text[close - 1] == '/') continue;
    text.erase(start, close + 1 - start);
    return start;
  }
  return std::string::npos;
}

// `<email><a@b></email>`: a `<` that opens no well-formed markup is data.
std::size_t escape_stray_lt(std::string& text) {
  std::string out;
  std::size_t first_change = std::string::npos;
  std::size_t copied = 0;
  std::size_t i = text.find('<');
  while (i != std::string::npos) {
    std::size_t next = skip_special(text, i);
    if (next == std::string_view::npos) {
      if (!is_well_formed_tag(text, i)) {
        if (first_change == std::string::npos) {
          first_change = i;
          out.reserve(text.size() + 64);
        }
        out.append(text, copied, i - copied);
        out += "&lt;";
        copied = i + 1;
      }
      next = i + 1;
    }
    i = text.find('<', next);
  }
  if (first_change == std::string::npos) return first_change;
  out.append(text, copied, std::string::npos);
  text = std::move(out);
  return first_change;
}

std::size_t escape_stray_amp(std::string& text) {
  const std::size_t first_change = next_stray_amp(text, 0);
  if (first_change == std::string::npos) return first_change;
  std::string out;
  out.reserve(text.size() + 64);
  std::size_t copied = 0;
  for (std::size_t i = first_change; i != std::string::npos; i = next_stray_amp(text, i + 1)) {
    out.append(text, copied, i - copied);
    out += "&amp;";
    copied = i + 1;
  }
  out.append(text, copied, std::string::npos);
  text = std::move(out);
  return first_change;
}

std::size_t drop_invalid_utf8(std::string& text) {
  std::string out;
  std::size_t first_change = std::string::npos;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t length = valid_sequence(text, i);
    if (length == 0) {
      if (first_change == std::string::npos) {
        first_change = i;
        out.reserve(text.size());
        out.append(text, 0, i);
      }
      ++i;
      continue;
    }
    if (first_change != std::string::npos) out.append(text, i, length);
    i += length;
  }
  if (first_change == std::string::npos) return first_change;
  text = std::move(out);
  return first_change;
}

struct Repair {
  std::string_view name;
  std::string_view warning;  // corpus glossary name of the deviation it fixes
  std::size_t (*apply)(std::string&);
};

// NOTES §6 and corpus README step 2: applied in this order, cumulatively.
constexpr Repair k_repairs[] = {
    {"strip_leading_junk", "junk_before_xml_declaration", strip_leading_junk},
    {"strip_xs_schema", "stray_xs_schema_tag", strip_xs_schema},
    {"escape_stray_lt", "unescaped_lt_in_value", escape_stray_lt},
    {"escape_stray_amp", "unescaped_amp_in_value", escape_stray_amp},
    {"drop_invalid_utf8", "invalid_utf8_bytes", drop_invalid_utf8},
};

// pugixml is more lenient than the XML spec in three ways that change what
// we would store; these checks make the first parse as strict as expat.
bool passes_strict_checks(std::string_view text) {
  return leading_junk_length(text) == 0 && !has_stray_amp(text) && is_valid_utf8(text);
}

// -------------------------------------------------------------- element walk

// One pass over the (short) name; strrchr through libc showed up at 5% of
// the parse profile.
std::string_view local_name(pugi::xml_node node) {
  const char* name = node.name();
  const char* local = name;
  const char* end = name;
  for (; *end != '\0'; ++end) {
    if (*end == ':') local = end + 1;
  }
  return std::string_view(local, static_cast<std::size_t>(end - local));
}

pugi::xml_node first_element(pugi::xml_node parent, std::string_view name) {
  for (pugi::xml_node child = parent.first_child(); child; child = child.next_sibling()) {
    if (child.type() == pugi::node_element && local_name(child) == name) return child;
  }
  return {};
}

template <typename Fn>
void for_each_element(pugi::xml_node parent, Fn&& fn) {
  for (pugi::xml_node child = parent.first_child(); child; child = child.next_sibling()) {
    if (child.type() == pugi::node_element) fn(child, local_name(child));
  }
}

// first_element() for each of `names`, in one pass over the children.
template <std::size_t N>
std::array<pugi::xml_node, N> first_elements(pugi::xml_node parent,
                                             const std::string_view (&names)[N]) {
  std::array<pugi::xml_node, N> found;
  for_each_element(parent, [&](pugi::xml_node child, std::string_view name) {
    for (std::size_t i = 0; i < N; ++i) {
      if (name == names[i]) {
        if (!found[i]) found[i] = child;
        return;
      }
    }
  });
  return found;
}

// pugixml parses without recursion and frees a document page by page, and
// nothing here recurses either (checked with 200,000 levels), but no report
// nests deeper than 5 elements, and any later code that walks a tree
// recursively would overflow its stack on such a document. pugixml's own
// traverse() walks without recursion, and with the node structs at hand it
// took 25-30 ms on a 100,000-record report where a walk through the public
// node accessors took 62-71 ms (parsing it: 260 ms).
class DepthWalker : public pugi::xml_tree_walker {
 public:
  explicit DepthWalker(std::uint32_t limit) : m_limit(limit) {}
  bool too_deep() const { return m_too_deep; }

  bool for_each(pugi::xml_node& node) override {
    // depth() is 0 for the children of the root element, which is at depth 1.
    if (static_cast<std::uint64_t>(depth()) + 2 > m_limit && node.type() == pugi::node_element) {
      m_too_deep = true;
      return false;
    }
    return true;
  }

 private:
  std::uint32_t m_limit;
  bool m_too_deep = false;
};

bool nested_deeper_than(pugi::xml_node root, std::uint32_t limit) {
  if (limit == 0) return true;
  DepthWalker walker(limit);
  root.traverse(walker);
  return walker.too_deep();
}

template <typename E>
struct Word {
  std::string_view text;  // lower-case
  E value;
};

constexpr Word<Alignment> k_alignments[] = {{"r", Alignment::relaxed}, {"s", Alignment::strict}};
constexpr Word<PolicyAction> k_actions[] = {{"none", PolicyAction::none},
                                            {"quarantine", PolicyAction::quarantine},
                                            {"reject", PolicyAction::reject}};
constexpr Word<Disposition> k_dispositions[] = {{"none", Disposition::none},
                                                {"quarantine", Disposition::quarantine},
                                                {"reject", Disposition::reject},
                                                {"pass", Disposition::pass}};
constexpr Word<Verdict> k_verdicts[] = {{"pass", Verdict::pass}, {"fail", Verdict::fail}};
constexpr Word<OverrideType> k_override_types[] = {
    {"forwarded", OverrideType::forwarded},
    {"sampled_out", OverrideType::sampled_out},
    {"trusted_forwarder", OverrideType::trusted_forwarder},
    {"mailing_list", OverrideType::mailing_list},
    {"local_policy", OverrideType::local_policy},
    {"other", OverrideType::other},
    {"policy_test_mode", OverrideType::policy_test_mode}};
constexpr Word<DkimResult> k_dkim_results[] = {
    {"none", DkimResult::none},          {"pass", DkimResult::pass},
    {"fail", DkimResult::fail},          {"policy", DkimResult::policy},
    {"neutral", DkimResult::neutral},    {"temperror", DkimResult::temperror},
    {"permerror", DkimResult::permerror}};
constexpr Word<SpfResult> k_spf_results[] = {
    {"none", SpfResult::none},           {"neutral", SpfResult::neutral},
    {"pass", SpfResult::pass},           {"fail", SpfResult::fail},
    {"softfail", SpfResult::softfail},   {"temperror", SpfResult::temperror},
    {"permerror", SpfResult::permerror}, {"policy", SpfResult::policy}};
constexpr Word<SpfScope> k_spf_scopes[] = {{"mfrom", SpfScope::mfrom}, {"helo", SpfScope::helo}};
constexpr Word<bool> k_testing[] = {{"n", false}, {"y", true}};
constexpr Word<std::string_view> k_discovery_methods[] = {{"psl", "psl"}, {"treewalk", "treewalk"}};

// A count above 2^32 (4.3 billion messages from one IP in one report) is no
// receiver's report but a forged or corrupt one. The cap keeps every sum of
// counts, per report, per run and over the database (SQLite's sum() fails
// on overflow), below 2^63 until a database holds 2^31 records at the cap.
constexpr std::int64_t k_max_record_count = std::int64_t{1} << 32;

class ReportReader {
 public:
  ReportReader(AggregateReport& report, std::string_view origin, std::uint32_t max_records)
      : m_report(report), m_origin(origin), m_max_records(max_records) {}

  Result<void> read(pugi::xml_node feedback) {
    if (auto ok = read_head(feedback); !ok) return ok;
    std::size_t total = 0;
    for_each_element(feedback, [&](pugi::xml_node, std::string_view name) {
      if (name == "record") ++total;
    });
    if (auto ok = begin_records(total); !ok) return ok;
    add_records(feedback);
    return end_records();
  }

  // read() in steps, for records that are not children of `feedback`: the
  // head, then begin_records() with how many there are, add_records() for
  // each element whose children they are, in document order, and
  // end_records().
  Result<void> read_head(pugi::xml_node feedback) {
    detect_schema(feedback);
    if (auto ok = read_metadata(feedback); !ok) return ok;
    return read_policy(feedback);
  }

  Result<void> begin_records(std::size_t total) {
    // Checked before any record is read: every record costs memory until
    // the report is stored.
    if (total > m_max_records) {
      return fail(Errc::bad_input, std::string(m_origin),
                  "report has more than " + std::to_string(m_max_records) +
                      " records (limit max_records)");
    }
    m_report.records.reserve(total);
    return {};
  }

  void add_records(pugi::xml_node parent) {
    for_each_element(parent, [&](pugi::xml_node child, std::string_view name) {
      if (name != "record" || m_overflow) return;
      m_record = ++m_records_seen;
      Record record;
      if (!read_record(child, record)) return;
      m_overflow = __builtin_add_overflow(m_messages, record.count, &m_messages);
      m_report.records.push_back(std::move(record));
    });
    m_record = 0;
  }

  Result<void> end_records() {
    if (m_overflow) {
      return fail(Errc::bad_input, std::string(m_origin),
                  "the record counts add up to more than 2^63 - 1 messages");
    }
    return {};
  }

  int records_seen() const { return m_records_seen; }

 private:
  // The detail names the first occurrence; building it costs an allocation,
  // so it is built only for a kind not seen yet.
  template <typename DetailFn>
  void warn(std::string_view kind, DetailFn&& detail) {
    for (Warning& warning : m_report.warnings) {
      if (warning.kind == kind) {
        ++warning.count;
        return;
      }
    }
    add_warning(m_report.warnings, kind, detail());
  }

  std::string where(std::string_view field) const {
    if (m_record > 0) return "record " + std::to_string(m_record) + ": " + std::string(field);
    return std::string(field);
  }

  void warn_at(std::string_view kind, std::string_view field) {
    warn(kind, [&] { return where(field); });
  }

  // NOTES §1: RFC 7489 requires elements that RFC 9990 made optional, so
  // their absence is a deviation only in older documents.
  void warn_missing(std::string_view kind, std::string_view field) {
    if (m_report.schema != SchemaFlavour::rfc9990) warn_at(kind, field);
  }

  Result<void> reject(std::string_view path, std::string what) const {
    std::string place(m_origin);
    if (!path.empty()) place += (place.empty() ? "" : " > ") + std::string(path);
    return fail(Errc::bad_input, std::move(place), std::move(what));
  }

  // The element's trimmed text; padding is a tolerated deviation.
  std::string_view text_of(pugi::xml_node node, std::string_view field) {
    const char* value = node.child_value();
    const std::string_view raw(value, std::strlen(value));
    const std::string_view trimmed = trim(raw);
    if (trimmed.size() != raw.size()) warn_at("whitespace_padding", field);
    return trimmed;
  }

  // Matches an enumeration word case-insensitively. An unknown word keeps
  // the record: the caller's neutral value is used and the word reported.
  template <typename E, std::size_t N>
  std::optional<E> word_of(std::string_view text, const Word<E> (&words)[N],
                           std::string_view field) {
    for (const Word<E>& word : words) {
      if (equals_lower(text, word.text)) {
        if (has_upper(text)) warn_at("upper_case_values", field);
        return word.value;
      }
    }
    warn("unknown_value", [&] { return where(field) + " " + quote(text); });
    return std::nullopt;
  }

  void detect_schema(pugi::xml_node feedback) {
    const std::string_view qualified = feedback.name();
    const std::size_t colon = qualified.rfind(':');
    const std::string ns_attribute = colon == std::string_view::npos
                                         ? "xmlns"
                                         : "xmlns:" + std::string(qualified.substr(0, colon));
    bool rfc9990 = trim(feedback.attribute(ns_attribute.c_str()).value()) == k_dmarc2_namespace;
    bool has_version = false;
    auto scan_markers = [&](pugi::xml_node, std::string_view name) {
      if (name == "generator" || name == "np" || name == "testing" || name == "discovery_method") {
        rfc9990 = true;
      }
    };
    for_each_element(feedback, [&](pugi::xml_node child, std::string_view name) {
      if (name == "version") has_version = true;
      if (name == "report_metadata" || name == "policy_published") {
        for_each_element(child, scan_markers);
      }
      scan_markers(child, name);
    });
    m_report.schema = rfc9990       ? SchemaFlavour::rfc9990
                      : has_version ? SchemaFlavour::rfc7489
                                    : SchemaFlavour::draft;
  }

  Result<void> read_metadata(pugi::xml_node feedback) {
    ReportMetadata& meta = m_report.metadata;
    pugi::xml_node metadata;
    int metadata_blocks = 0;
    pugi::xml_node version;
    for_each_element(feedback, [&](pugi::xml_node child, std::string_view name) {
      if (name == "report_metadata" && metadata_blocks++ == 0) metadata = child;
      if (name == "version" && !version) version = child;
    });
    if (version) {
      meta.version = text_of(version, "version");
    } else {
      warn_missing("missing_version", "version");
    }
    if (!metadata) {
      return reject("/feedback", "not a DMARC aggregate report: no report_metadata");
    }
    if (metadata_blocks > 1) {
      warn("two_report_metadata",
           [&] { return std::to_string(metadata_blocks) + " report_metadata blocks: first used"; });
    }

    bool has_begin = false;
    bool has_end = false;
    for_each_element(metadata, [&](pugi::xml_node child, std::string_view name) {
      if (name == "org_name") {
        meta.org_name = text_of(child, "org_name");
      } else if (name == "email") {
        meta.email = text_of(child, "email");
      } else if (name == "extra_contact_info") {
        meta.extra_contact_info = text_of(child, "extra_contact_info");
      } else if (name == "report_id") {
        meta.report_id = text_of(child, "report_id");
      } else if (name == "generator") {
        meta.generator = text_of(child, "generator");
      } else if (name == "error") {
        const std::string_view error = text_of(child, "error");
        if (!error.empty()) meta.errors.emplace_back(error);
      } else if (name == "date_range") {
        for_each_element(child, [&](pugi::xml_node bound, std::string_view bound_name) {
          if (bound_name == "begin") {
            has_begin = read_timestamp(bound, "date_range/begin", meta.date_range.begin);
          } else if (bound_name == "end") {
            has_end = read_timestamp(bound, "date_range/end", meta.date_range.end);
          }
        });
      }
    });

    if (meta.org_name.empty()) {
      // The email's domain is the best name for a reporter that left
      // org_name empty (accurateplastics.com's reports do).
      std::string_view email = meta.email;
      const std::size_t at = email.rfind('@');
      std::string_view domain = at == std::string_view::npos ? email : email.substr(at + 1);
      while (!domain.empty() && (domain.back() == '>' || is_xml_space(domain.back()))) {
        domain.remove_suffix(1);
      }
      if (!domain.empty()) {
        meta.org_name = normalize_domain(domain);
        warn("empty_org_name", [&] { return "org_name empty: using " + meta.org_name; });
      }
    } else if (meta.org_name.find_first_of("\"<>") != std::string::npos) {
      warn_at("odd_chars_in_org_name", "org_name");
    }
    if (meta.org_name.empty()) {
      return reject("/feedback/report_metadata", "no reporter (org_name and email empty)");
    }
    if (meta.report_id.empty()) {
      return reject("/feedback/report_metadata", "report_metadata has no report_id");
    }
    if (!has_begin || !has_end) {
      return reject("/feedback/report_metadata/date_range",
                    "no usable date_range (begin/end missing or not numeric)");
    }
    const DateRange& range = meta.date_range;
    if (range.begin == range.end) {
      warn_at("begin_equals_end", "date_range");
    } else if (range.begin > range.end) {
      warn_at("begin_after_end", "date_range");
    } else if (static_cast<std::uint64_t>(range.end) - static_cast<std::uint64_t>(range.begin) >
               86400 + 60) {
      // A day plus a little clock skew (IronPort reports span 86401 s) is still a day.
      warn_at("period_over_24h", "date_range");
    }
    return {};
  }

  bool read_timestamp(pugi::xml_node node, std::string_view field, std::int64_t& out) {
    const Number number = parse_number(text_of(node, field), /*allow_fraction=*/true);
    if (number.status != NumberStatus::ok && number.status != NumberStatus::negative) return false;
    if (number.fractional) warn_at("fractional_timestamps", field);
    out = number.value;
    return true;
  }

  Result<void> read_policy(pugi::xml_node feedback) {
    PolicyPublished& policy = m_report.policy;
    pugi::xml_node block;
    int blocks = 0;
    for_each_element(feedback, [&](pugi::xml_node child, std::string_view name) {
      if (name == "policy_published" && blocks++ == 0) block = child;
    });
    if (!block) return reject("/feedback", "not a DMARC aggregate report: no policy_published");
    if (blocks > 1) {
      warn("two_policy_published",
           [&] { return std::to_string(blocks) + " policy_published blocks: first used"; });
    }

    bool has_domain = false;
    bool has_p = false;
    bool has_sp = false;
    bool has_pct = false;
    bool has_fo = false;
    for_each_element(block, [&](pugi::xml_node child, std::string_view name) {
      if (name == "domain") {
        policy.domain = normalize_domain(text_of(child, "policy_published/domain"));
        has_domain = !policy.domain.empty();
      } else if (name == "adkim") {
        policy.adkim_present = read_alignment(child, "adkim", policy.adkim);
      } else if (name == "aspf") {
        policy.aspf_present = read_alignment(child, "aspf", policy.aspf);
      } else if (name == "p") {
        has_p = true;
        const std::string_view value = text_of(child, "p");
        if (value.empty()) {
          warn_at("empty_p", "p");
        } else {
          policy.p = word_of(value, k_actions, "p").value_or(PolicyAction::none);
        }
      } else if (name == "sp" || name == "np") {
        if (name == "sp") has_sp = true;
        const std::string field = std::string(name);
        const std::string_view value = text_of(child, field);
        std::optional<PolicyAction>& target = name == "sp" ? policy.sp : policy.np;
        if (value.empty()) {
          // Cisco IronPort writes <sp/>: no subdomain policy, so p applies (RFC 7489 §6.3).
          warn_at(name == "sp" ? "empty_sp" : "empty_np", field);
        } else {
          target = word_of(value, k_actions, field);
        }
      } else if (name == "pct") {
        has_pct = true;
        const std::string_view value = text_of(child, "pct");
        const Number number = parse_number(value, /*allow_fraction=*/false);
        if (value.empty()) {
          warn_at("empty_pct", "pct");
        } else if (number.status == NumberStatus::ok && number.value <= 100) {
          policy.pct = static_cast<int>(number.value);
        } else {
          warn("unknown_value", [&] { return "pct " + quote(value); });
        }
      } else if (name == "fo") {
        has_fo = true;
        policy.fo = text_of(child, "fo");
        lower_in_place(policy.fo);
      } else if (name == "testing") {
        const std::string_view value = text_of(child, "testing");
        if (!value.empty()) policy.testing = word_of(value, k_testing, "testing");
      } else if (name == "discovery_method") {
        const std::string_view value = text_of(child, "discovery_method");
        if (!value.empty()) {
          policy.discovery_method =
              word_of(value, k_discovery_methods, "discovery_method").value_or("");
        }
      }
    });
    if (!has_domain) {
      return reject("/feedback/policy_published", "policy_published has no domain");
    }
    if (!has_p) warn_at("missing_p", "p");
    if (!policy.adkim_present) warn_missing("missing_adkim", "adkim");
    if (!policy.aspf_present) warn_missing("missing_aspf", "aspf");
    if (!has_sp) warn_missing("missing_sp", "sp");
    if (!has_pct) warn_missing("missing_pct", "pct");
    if (!has_fo) warn_missing("missing_fo", "fo");
    return {};
  }

  // Returns whether a usable value was present; absent or unknown means relaxed.
  bool read_alignment(pugi::xml_node node, std::string_view field, Alignment& out) {
    const std::string_view value = text_of(node, field);
    if (value.empty()) return false;
    const std::optional<Alignment> alignment = word_of(value, k_alignments, field);
    if (!alignment) return false;
    out = *alignment;
    return true;
  }

  bool drop_record(std::string reason) {
    warn("record_dropped", [&] { return where(reason); });
    return false;
  }

  bool read_record(pugi::xml_node node, Record& record) {
    pugi::xml_node row;
    pugi::xml_node identifiers;
    pugi::xml_node auth_results;
    for_each_element(node, [&](pugi::xml_node child, std::string_view name) {
      if (name == "row" && !row) {
        row = child;
      } else if (name == "identifiers" && !identifiers) {
        identifiers = child;
      } else if (name == "identities" && !identifiers) {
        warn_at("identities_element", "identities");
        identifiers = child;
      } else if (name == "auth_results" && !auth_results) {
        auth_results = child;
      }
    });

    const auto [source_ip, count_node, policy_evaluated] =
        first_elements(row, {"source_ip", "count", "policy_evaluated"});
    const std::string_view ip_text = text_of(source_ip, "source_ip");
    if (ip_text.empty()) {
      // o2.pl sends a record whose every value is empty.
      if (trim(first_element(identifiers, "header_from").child_value()).empty() &&
          trim(first_element(policy_evaluated, "disposition").child_value()).empty()) {
        warn_at("empty_record", "all values empty");
      }
      return drop_record("source_ip missing");
    }
    const std::optional<IpAddress> ip = IpAddress::parse(ip_text);
    if (!ip) return drop_record("source_ip " + quote(ip_text) + " is not an IP address");
    if (ip->is_v6() && ip->to_string() != ip_text) {
      warn("non_canonical_ipv6",
           [&] { return where("source_ip ") + quote(ip_text); });
    }
    record.source_ip = *ip;

    const std::string_view count_text = text_of(count_node, "count");
    const Number count = parse_number(count_text, /*allow_fraction=*/false);
    switch (count.status) {
      case NumberStatus::ok:
        break;
      case NumberStatus::missing:
        return drop_record("count missing");
      case NumberStatus::not_numeric:
        return drop_record("count " + quote(count_text) + " is not a whole number");
      case NumberStatus::negative:
        return drop_record("count " + quote(count_text) + " is negative");
      case NumberStatus::overflow:
        return drop_record("count " + quote(count_text) + " exceeds the 64-bit range");
    }
    if (count.value > k_max_record_count) {
      return drop_record("count " + quote(count_text) + " is more than " +
                         std::to_string(k_max_record_count) + " messages, more than any receiver sees");
    }
    record.count = count.value;

    read_policy_evaluated(policy_evaluated, record);
    read_identifiers(identifiers, record);
    read_auth_results(auth_results, record);
    return true;
  }

  void read_policy_evaluated(pugi::xml_node node, Record& record) {
    bool has_disposition = false;
    for_each_element(node, [&](pugi::xml_node child, std::string_view name) {
      if (name == "disposition") {
        const std::string_view value = text_of(child, "disposition");
        has_disposition = !value.empty();
        if (has_disposition) {
          record.disposition =
              word_of(value, k_dispositions, "disposition").value_or(Disposition::none);
        }
      } else if (name == "dkim" || name == "spf") {
        const char* field = name == "dkim" ? "policy_evaluated/dkim" : "policy_evaluated/spf";
        const std::string_view value = text_of(child, field);
        if (!value.empty()) {
          (name == "dkim" ? record.dkim : record.spf) =
              word_of(value, k_verdicts, field).value_or(Verdict::absent);
        }
      } else if (name == "reason") {
        read_reason(child, record);
      }
    });
    if (!has_disposition) warn_at("missing_disposition", "disposition");
  }

  void read_reason(pugi::xml_node node, Record& record) {
    std::string_view type;
    std::string_view comment;
    for_each_element(node, [&](pugi::xml_node child, std::string_view name) {
      if (name == "type") type = text_of(child, "reason/type");
      if (name == "comment") comment = text_of(child, "reason/comment");
    });
    if (type.empty()) {
      warn_at("empty_reason", "reason");
      if (comment.empty()) return;
    }
    PolicyOverride reason;
    if (!type.empty()) {
      reason.type = word_of(type, k_override_types, "reason/type").value_or(OverrideType::other);
    }
    reason.comment = comment;
    record.reasons.push_back(std::move(reason));
  }

  void read_identifiers(pugi::xml_node node, Record& record) {
    bool has_header_from = false;
    bool has_envelope_from = false;
    for_each_element(node, [&](pugi::xml_node child, std::string_view name) {
      if (name == "header_from") {
        has_header_from = true;
        record.header_from = normalize_domain(text_of(child, "header_from"));
      } else if (name == "envelope_from") {
        has_envelope_from = true;
        record.envelope_from = normalize_domain(text_of(child, "envelope_from"));
      } else if (name == "envelope_to") {
        record.envelope_to = normalize_domain(text_of(child, "envelope_to"));
      }
    });
    if (!has_header_from) warn_at("missing_header_from", "header_from");
    if (!has_envelope_from) warn_missing("missing_envelope_from", "envelope_from");
  }

  void read_auth_results(pugi::xml_node node, Record& record) {
    for_each_element(node, [&](pugi::xml_node child, std::string_view name) {
      if (name == "dkim") read_dkim(child, record);
      if (name == "spf") read_spf(child, record);
    });
    if (record.spf_results.empty()) warn_missing("missing_spf_result", "auth_results/spf");
  }

  void read_dkim(pugi::xml_node node, Record& record) {
    DkimAuth& dkim = record.dkim_results.emplace_back();
    bool has_selector = false;
    bool has_result = false;
    for_each_element(node, [&](pugi::xml_node child, std::string_view name) {
      if (name == "domain") {
        dkim.domain = normalize_domain(text_of(child, "dkim/domain"));
        if (dkim.domain.empty()) warn_at("empty_dkim_domain", "dkim/domain");
      } else if (name == "selector") {
        dkim.selector = text_of(child, "dkim/selector");
        has_selector = true;
        if (dkim.selector.empty()) warn_at("empty_dkim_selector", "dkim/selector");
      } else if (name == "result") {
        const std::string_view value = text_of(child, "dkim/result");
        has_result = !value.empty();
        if (!has_result) return;
        if (equals_lower(value, "unknown")) {
          // Pre-RFC reporters' word for a transient verification failure.
          warn_at("result_unknown", "dkim/result");
          dkim.result = DkimResult::temperror;
        } else {
          dkim.result = word_of(value, k_dkim_results, "dkim/result").value_or(DkimResult::none);
        }
      } else if (name == "human_result") {
        dkim.human_result = text_of(child, "dkim/human_result");
        if (dkim.human_result.empty()) warn_at("empty_human_result", "dkim/human_result");
      }
    });
    // RFC 9990 made the selector mandatory, so its absence is a deviation in every flavour.
    if (!has_selector) warn_at("missing_dkim_selector", "dkim/selector");
    if (!has_result) warn_at("missing_dkim_result", "dkim/result");
  }

  void read_spf(pugi::xml_node node, Record& record) {
    SpfAuth& spf = record.spf_results.emplace_back();
    bool has_scope = false;
    bool has_result = false;
    for_each_element(node, [&](pugi::xml_node child, std::string_view name) {
      if (name == "domain") {
        spf.domain = normalize_domain(text_of(child, "spf/domain"));
        if (spf.domain.empty()) warn_at("empty_spf_domain", "spf/domain");
      } else if (name == "scope") {
        const std::string_view value = text_of(child, "spf/scope");
        has_scope = !value.empty();
        if (has_scope)
          spf.scope = word_of(value, k_spf_scopes, "spf/scope").value_or(SpfScope::absent);
      } else if (name == "result") {
        const std::string_view value = text_of(child, "spf/result");
        has_result = !value.empty();
        if (has_result) spf.result = spf_result(value);
      } else if (name == "human_result") {
        spf.human_result = text_of(child, "spf/human_result");
        if (spf.human_result.empty()) warn_at("empty_human_result", "spf/human_result");
      }
    });
    // A missing scope counts as mfrom when aligning (NOTES §2).
    if (!has_scope) warn_missing("missing_spf_scope", "spf/scope");
    if (!has_result) warn_at("missing_spf_result_value", "spf/result");
  }

  // RFC 4408-era words some reporters still use (NOTES §6).
  SpfResult spf_result(std::string_view value) {
    if (equals_lower(value, "hardfail")) {
      warn_at("spf_result_hardfail", "spf/result");
      return SpfResult::fail;
    }
    if (equals_lower(value, "unknown")) {
      warn_at("result_unknown", "spf/result");
      return SpfResult::temperror;
    }
    if (equals_lower(value, "error")) {
      warn_at("spf_result_error", "spf/result");
      return SpfResult::permerror;
    }
    return word_of(value, k_spf_results, "spf/result").value_or(SpfResult::none);
  }

  AggregateReport& m_report;
  std::string_view m_origin;
  std::uint32_t m_max_records;
  int m_record = 0;  // 1-based index of the record being read, 0 outside records
  int m_records_seen = 0;
  // Every total of the report's counts must fit in 64 bits, in storage and
  // in every query; per-record counts are capped, and so is their sum.
  std::int64_t m_messages = 0;
  bool m_overflow = false;
};

// UTF-8 as it stands, with nothing for prepare_text() to remove or decode.
bool is_plain_utf8(std::string_view xml) {
  return !starts_with(xml, "\xEF\xBB\xBF") && !starts_with(xml, "\xFF\xFE") &&
         !starts_with(xml, "\xFE\xFF") &&
         classify_encoding(declared_encoding(xml.substr(0, 512))) == Encoding::utf8;
}

// Turns the input into UTF-8 text for the parser: BOM removed, a declared
// single-byte encoding or a UTF-16 BOM decoded.
std::string prepare_text(std::string_view xml, std::vector<Warning>& warnings) {
  if (is_plain_utf8(xml)) return std::string(xml);
  if (starts_with(xml, "\xEF\xBB\xBF")) {
    add_warning(warnings, "utf8_bom", "byte order mark skipped");
    xml.remove_prefix(3);
  } else if (starts_with(xml, "\xFF\xFE") || starts_with(xml, "\xFE\xFF")) {
    add_warning(warnings, "encoding_utf-16", "UTF-16 byte order mark: decoded");
    return decode_utf16(xml.substr(2), xml[0] == '\xFE');
  }
  const std::string name = declared_encoding(xml.substr(0, 512));
  const Encoding encoding = classify_encoding(name);
  if (encoding == Encoding::utf8) return std::string(xml);
  if (encoding == Encoding::other) {
    // Nothing to decode it with: read it as UTF-8 and let drop_invalid_utf8
    // remove what does not fit.
    add_warning(warnings, "unsupported_encoding", name);
    return std::string(xml);
  }
  add_warning(warnings, "encoding_" + name, "declared " + name + ": decoded to UTF-8");
  for (char c : xml) {
    if (static_cast<unsigned char>(c) >= 0x80) return decode_single_byte(xml, encoding);
  }
  return std::string(xml);
}

// pugixml keeps further top-level elements; a strict parser would refuse them.
void warn_content_after_root(pugi::xml_node root, AggregateReport& report) {
  for (pugi::xml_node sibling = root.next_sibling(); sibling; sibling = sibling.next_sibling()) {
    if (sibling.type() == pugi::node_element) {
      add_warning(report.warnings, "content_after_root",
                  "<" + std::string(sibling.name()) + "> after </" + root.name() + "> ignored");
      break;
    }
  }
}

// The number of records in `records`, the text from the first <record> to
// the last </record>, in one pass over its tags: nullopt unless the
// <record> and </record> tags pair up (one with attributes does not count)
// and nothing among them is a comment, CDATA section or processing
// instruction ("<!", "<?"), whose text the slicing could not tell from tags.
std::optional<std::size_t> count_plain_records(std::string_view records) {
  constexpr std::string_view open = "record>";
  constexpr std::string_view close = "/record>";
  std::size_t opens = 0;
  std::size_t closes = 0;
  for (std::size_t at = records.find('<'); at != std::string_view::npos;
       at = records.find('<', at + 1)) {
    const std::string_view tag = records.substr(at + 1);
    if (tag.starts_with('!') || tag.starts_with('?')) return std::nullopt;
    if (tag.starts_with(open)) ++opens;
    if (tag.starts_with(close)) ++closes;
  }
  if (opens != closes) return std::nullopt;
  return closes;
}

// Records read from one slice of a large document at a time.
constexpr std::size_t k_records_per_slice = 1024;

// A document's text for its sliced parse, which gives the pages it has read
// back to the system as it goes on: the text of a large report and its
// parsed records are then never held whole together. The text must be a
// buffer of the caller's; reading it afterwards finds zeros where pages
// were given back.
class ReadPages {
 public:
  explicit ReadPages(std::string_view text) : m_text(text) {}
  std::string_view text() const { return m_text; }
  // Gives back the whole pages before text offset `end`.
  void release_before(std::size_t end) {
#ifdef __linux__
    static const std::uintptr_t page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto start = reinterpret_cast<std::uintptr_t>(m_text.data());
    const std::uintptr_t from = std::max((start + page - 1) / page * page, m_released_to);
    const std::uintptr_t to = (start + end) / page * page;
    if (to <= from) return;
    // On failure the pages merely stay; nothing depends on their going.
    if (madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED) == 0) {
      m_released_to = to;
    }
#else
    (void)end;
#endif
  }
  bool any() const { return m_released_to != 0; }

 private:
  std::string_view m_text;
  std::uintptr_t m_released_to = 0;  // address; 0 while none is
};

// Reads a large document without holding its whole tree: pugixml's tree
// takes about twice the text (97 MB for a 53 MB report of 79,482 records).
// The text around the records is parsed as one document with a marker where
// the records were, and the records a slice at a time, each slice copied
// and parsed as a fragment. The pages of the text behind the slices are
// given back as they go (ReadPages): on that report the text and its
// parsed records together took 91 MB of heap. Only the plain
// layout is read this way: unprefixed <record> elements, children of the
// root element, with nothing but whitespace between them and no comment,
// CDATA section or processing instruction among them. nullopt for anything
// else, or anything the slices do not parse or read cleanly, and the caller
// parses the document whole, which then decides what is wrong with it.
std::optional<AggregateReport> parse_in_slices(ReadPages& read_pages, const AggregateReport& prepared,
                                               std::string_view origin, const Limits& limits) {
  const std::string_view text = read_pages.text();
  constexpr std::string_view open = "<record>";
  constexpr std::string_view close = "</record>";
  constexpr std::string_view marker = "<dmarcsift-records/>";
  // Records sit 2 deep; their depth is checked against the limit less one.
  if (limits.max_xml_depth < 3) return std::nullopt;
  const std::size_t begin = text.find(open);
  const std::size_t last_close = text.rfind(close);
  if (begin == std::string_view::npos || last_close == std::string_view::npos || last_close < begin) {
    return std::nullopt;
  }
  const std::size_t end = last_close + close.size();
  const std::string_view records = text.substr(begin, end - begin);
  const std::string_view before = text.substr(0, begin);
  const std::string_view after = text.substr(end);
  for (const std::string_view outside : {before, after}) {
    if (outside.find("<record") != std::string_view::npos ||
        outside.find(":record") != std::string_view::npos) {
      return std::nullopt;
    }
  }
  const std::optional<std::size_t> counted = count_plain_records(records);
  if (!counted) return std::nullopt;
  const std::size_t total = *counted;

  std::string head_text;
  head_text.reserve(before.size() + marker.size() + after.size());
  head_text.append(before).append(marker).append(after);
  pugi::xml_document head;
  if (!head.load_buffer_inplace(head_text.data(), head_text.size(), k_parse_flags,
                                pugi::encoding_utf8)) {
    return std::nullopt;
  }
  for (pugi::xml_node node = head.first_child(); node; node = node.next_sibling()) {
    if (node.type() == pugi::node_doctype) return std::nullopt;
  }
  pugi::xml_node root = head.document_element();
  if (!root || local_name(root) != "feedback" || nested_deeper_than(root, limits.max_xml_depth)) {
    return std::nullopt;
  }
  const pugi::xml_node records_were_here = first_element(root, "dmarcsift-records");
  if (!records_were_here) return std::nullopt;  // the records were nested deeper
  root.remove_child(records_were_here);

  AggregateReport report = prepared;
  warn_content_after_root(root, report);
  ReportReader reader(report, origin, limits.max_records);
  if (!reader.read_head(root) || !reader.begin_records(total)) return std::nullopt;

  std::string slice_text;
  pugi::xml_document slice;
  for (std::size_t from = 0; from < records.size();) {
    std::size_t to = from;
    for (std::size_t n = 0; n < k_records_per_slice && to < records.size(); ++n) {
      to = records.find(close, to);
      if (to == std::string_view::npos) return std::nullopt;
      to += close.size();
    }
    slice_text.assign(records.substr(from, to - from));
    from = to;
    read_pages.release_before(begin + from);
    if (!slice.load_buffer_inplace(slice_text.data(), slice_text.size(),
                                   k_parse_flags | pugi::parse_fragment, pugi::encoding_utf8)) {
      return std::nullopt;
    }
    for (pugi::xml_node node = slice.first_child(); node; node = node.next_sibling()) {
      if (node.type() != pugi::node_element || std::string_view(node.name()) != "record" ||
          nested_deeper_than(node, limits.max_xml_depth - 1)) {
        return std::nullopt;
      }
    }
    reader.add_records(slice);
  }
  if (static_cast<std::size_t>(reader.records_seen()) != total || !reader.end_records()) {
    return std::nullopt;
  }
  return report;
}

// Parses the prepared `text`, in place. pugixml overwrites the buffer as it
// parses, so when it refuses text that passed the strict checks, the repairs
// start from `reprepare`, which gives the prepared text again.
Result<AggregateReport> parse_prepared(std::string& text, AggregateReport report,
                                       std::string_view origin, const Limits& limits,
                                       const std::function<std::string()>& reprepare) {
  if (trim(text).empty()) {
    return fail(Errc::bad_input, std::string(origin), "not well-formed XML: document is empty");
  }
  if (has_doctype_in_prolog(text)) {
    return fail(Errc::bad_input, std::string(origin), std::string(k_doctype_refused));
  }

  // Fast path: one strict parse in place.
  pugi::xml_document document;
  pugi::xml_parse_result parsed;
  bool ok = false;
  const bool strict = passes_strict_checks(text);
  if (strict && text.size() >= limits.sliced_xml_bytes) {
    ReadPages read_pages(text);
    if (auto sliced = parse_in_slices(read_pages, report, origin, limits)) {
      return std::move(*sliced);
    }
    if (read_pages.any()) text = reprepare();
  }
  if (strict) {
    parsed =
        document.load_buffer_inplace(text.data(), text.size(), k_parse_flags, pugi::encoding_utf8);
    ok = static_cast<bool>(parsed);
  }
  std::string repaired_buffer;  // backs `document` when repairs were needed
  if (!ok) {
    if (strict) text = reprepare();
    std::string applied;
    for (const Repair& repair : k_repairs) {
      const std::size_t offset = repair.apply(text);
      if (offset == std::string::npos) continue;
      add_warning(report.warnings, repair.warning,
                  "repair " + std::string(repair.name) + " at offset " + std::to_string(offset));
      applied += applied.empty() ? "" : ", ";
      applied += repair.name;
      if (!passes_strict_checks(text)) continue;
      repaired_buffer = text;
      parsed = document.load_buffer_inplace(repaired_buffer.data(), repaired_buffer.size(),
                                            k_parse_flags, pugi::encoding_utf8);
      ok = static_cast<bool>(parsed);
      if (ok) break;
    }
    if (!ok) {
      // The strict checks only emulate a strict parser; when no repair
      // satisfies them, pugixml's own verdict on the repaired text decides.
      repaired_buffer = text;
      parsed = document.load_buffer_inplace(repaired_buffer.data(), repaired_buffer.size(),
                                            k_parse_flags, pugi::encoding_utf8);
      ok = static_cast<bool>(parsed);
    }
    if (!ok) {
      std::string what = "not well-formed XML: " + std::string(parsed.description()) +
                         " at offset " + std::to_string(parsed.offset);
      if (!applied.empty()) what += " (offset in the text after repairs: " + applied + ")";
      return fail(Errc::bad_input, std::string(origin), std::move(what));
    }
  }

  for (pugi::xml_node node = document.first_child(); node; node = node.next_sibling()) {
    if (node.type() == pugi::node_doctype) {
      return fail(Errc::bad_input, std::string(origin), std::string(k_doctype_refused));
    }
  }
  pugi::xml_node root = document.document_element();
  if (root && nested_deeper_than(root, limits.max_xml_depth)) {
    return fail(Errc::bad_input, std::string(origin),
                "XML elements nested more than " + std::to_string(limits.max_xml_depth) +
                    " deep (limit max_xml_depth)");
  }
  if (local_name(root) != "feedback") {
    return fail(Errc::bad_input, std::string(origin),
                "not a DMARC aggregate report: root element is <" + std::string(root.name()) + ">");
  }
  warn_content_after_root(root, report);

  ReportReader reader(report, origin, limits.max_records);
  if (auto read = reader.read(root); !read) return tl::unexpected(std::move(read.error()));
  return report;
}

std::optional<Error> too_big(std::string_view xml, std::string_view origin, const Limits& limits) {
  if (xml.size() <= limits.max_xml_bytes) return std::nullopt;
  return Error{Errc::bad_input, std::string(origin),
               "XML document is " + std::to_string(xml.size()) + " bytes, more than " +
                   std::to_string(limits.max_xml_bytes) + " (limit max_xml_bytes)"};
}

}  // namespace

std::optional<AggregateReport> detail::parse_in_slices(std::string_view xml, std::string_view origin,
                                                       const Limits& limits) {
  AggregateReport prepared;
  std::string text = prepare_text(xml, prepared.warnings);
  if (!passes_strict_checks(text)) return std::nullopt;
  ReadPages read_pages(text);
  return ingest::parse_in_slices(read_pages, prepared, origin, limits);
}

Result<AggregateReport> parse_xml_report(std::string_view xml, std::string_view origin,
                                         const Limits& limits) {
  if (auto error = too_big(xml, origin, limits)) return tl::unexpected(std::move(*error));
  AggregateReport report;
  std::string text = prepare_text(xml, report.warnings);
  return parse_prepared(text, std::move(report), origin, limits, [&] {
    std::vector<Warning> ignored;
    return prepare_text(xml, ignored);
  });
}

Result<AggregateReport> parse_owned_xml_report(std::string&& xml, std::string_view origin,
                                               const Limits& limits,
                                               const std::function<std::string()>& reread) {
  if (auto error = too_big(xml, origin, limits)) return tl::unexpected(std::move(*error));
  // Text with a byte order mark or another declared encoding is decoded
  // into a new buffer anyway.
  if (!is_plain_utf8(xml)) return parse_xml_report(xml, origin, limits);
  return parse_prepared(xml, AggregateReport{}, origin, limits, reread);
}

}  // namespace dmarcsift::ingest
