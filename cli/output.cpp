#include "cli/output.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <ctime>
#include <ostream>

namespace dmarcsift::cli {
namespace {

// Length of the valid UTF-8 sequence starting at `s[i]`, or 0 if invalid
// (overlong forms, surrogates and code points past U+10FFFF included).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t length = 0;
  std::uint32_t code = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
    code = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    code = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    code = c & 0x07;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  if ((length == 3 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) ||
      (length == 4 && (code < 0x10000 || code > 0x10FFFF))) {
    return 0;
  }
  return length;
}

constexpr std::string_view k_replacement = "\xEF\xBF\xBD";
constexpr char k_hex[] = "0123456789abcdef";

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const std::size_t length = utf8_sequence_length(text, i);
      if (length == 0) {
        out.append(k_replacement);
        ++i;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out.append("\\u00");
          out.push_back(k_hex[c >> 4]);
          out.push_back(k_hex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

void JsonWriter::separate() {
  if (m_after_key) {
    m_after_key = false;
    return;
  }
  if (!m_first.empty()) {
    if (!m_first.back()) m_out.push_back(',');
    m_first.back() = false;
  }
}

JsonWriter& JsonWriter::begin_object() {
  separate();
  m_out.push_back('{');
  m_first.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::end_object() {
  m_out.push_back('}');
  m_first.pop_back();
  return *this;
}
JsonWriter& JsonWriter::begin_array() {
  separate();
  m_out.push_back('[');
  m_first.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::end_array() {
  m_out.push_back(']');
  m_first.pop_back();
  return *this;
}
JsonWriter& JsonWriter::key(std::string_view name) {
  separate();
  append_json_string(m_out, name);
  m_out.push_back(':');
  m_after_key = true;
  return *this;
}
JsonWriter& JsonWriter::value(std::string_view text) {
  separate();
  append_json_string(m_out, text);
  return *this;
}
JsonWriter& JsonWriter::value(std::int64_t number) {
  separate();
  m_out.append(std::to_string(number));
  return *this;
}
JsonWriter& JsonWriter::value(bool flag) {
  separate();
  m_out.append(flag ? "true" : "false");
  return *this;
}
JsonWriter& JsonWriter::null() {
  separate();
  m_out.append("null");
  return *this;
}

std::string csv_cell(std::string_view text) {
  std::string cell;
  const bool formula = !text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' ||
                                         text[0] == '@' || text[0] == '\t' || text[0] == '\r');
  // A negative number is data, not a formula.
  const bool number = text.size() > 1 && text[0] == '-' &&
                      text.find_first_not_of("0123456789.", 1) == std::string_view::npos;
  if (formula && !number) cell.push_back('\'');
  cell.append(text);
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (char c : cell) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

std::string terminal_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const std::size_t length = utf8_sequence_length(text, i);
      // C1 controls (U+0080..U+009F) act like ESC on some terminals.
      const bool c1 = length == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0;
      if (length == 0 || c1) {
        out.append(length == 0 ? k_replacement : std::string_view("?"));
        i += length == 0 ? 1 : length;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    if (c < 0x20 || c == 0x7f) {
      out.append("\\x");
      out.push_back(k_hex[c >> 4]);
      out.push_back(k_hex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
    ++i;
  }
  return out;
}

namespace {
std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (unsigned char c : text) width += (c & 0xC0) != 0x80;
  return width;
}

// `text` cut to `width` display columns, ending in "…" when cut.
std::string cut_to(const std::string& text, std::size_t width) {
  if (display_width(text) <= width) return text;
  std::string out;
  std::size_t used = 0;
  for (std::size_t i = 0; i < text.size() && used + 1 < width;) {
    std::size_t length = 1;
    while (i + length < text.size() && (static_cast<unsigned char>(text[i + length]) & 0xC0) == 0x80) ++length;
    out.append(text, i, length);
    i += length;
    ++used;
  }
  return out + "\xE2\x80\xA6";
}
}  // namespace

void Table::fit_widths(std::vector<std::size_t>& widths) const {
  constexpr std::size_t k_min_width = 8;
  if (max_width == 0 || widths.empty()) return;
  const auto total = [&] {
    std::size_t sum = 2 * (widths.size() - 1);
    for (std::size_t w : widths) sum += w;
    return sum;
  };
  while (total() > max_width) {
    std::size_t widest = widths.size();
    for (std::size_t c = 0; c < widths.size(); ++c) {
      const bool right = c < right_aligned.size() && right_aligned[c];
      const bool whole = c < keep_whole.size() && keep_whole[c];
      if (right || whole || widths[c] <= k_min_width) continue;
      if (widest == widths.size() || widths[c] > widths[widest]) widest = c;
    }
    if (widest == widths.size()) return;  // nothing left to narrow
    --widths[widest];
  }
}

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> widths(headers.size(), 0);
  std::vector<std::vector<std::string>> safe_rows;
  safe_rows.reserve(rows.size());
  for (std::size_t c = 0; c < headers.size(); ++c) widths[c] = display_width(headers[c]);
  for (const auto& row : rows) {
    auto& safe = safe_rows.emplace_back();
    for (std::size_t c = 0; c < row.size() && c < headers.size(); ++c) {
      safe.push_back(terminal_safe(row[c]));
      widths[c] = std::max(widths[c], display_width(safe.back()));
    }
  }
  fit_widths(widths);
  const auto print_row = [&](const std::vector<std::string>& unfitted) {
    std::vector<std::string> cells;
    for (std::size_t c = 0; c < unfitted.size(); ++c) cells.push_back(cut_to(unfitted[c], widths[c]));
    std::string line;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::size_t pad = widths[c] - display_width(cells[c]);
      const bool right = c < right_aligned.size() && right_aligned[c];
      if (c > 0) line.append("  ");
      if (right) line.append(pad, ' ');
      line.append(cells[c]);
      if (!right && c + 1 < cells.size()) line.append(pad, ' ');
    }
    // Empty trailing cells would leave padding at the end of the line.
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << '\n';
  };
  print_row(headers);
  for (const auto& row : safe_rows) print_row(row);
}

void Table::print_csv(std::ostream& out) const {
  const auto print_row = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      if (c > 0) out << ',';
      out << csv_cell(cells[c]);
    }
    out << "\r\n";
  };
  print_row(headers);
  for (const auto& row : rows) print_row(row);
}

std::size_t output_columns() {
  if (!isatty(STDOUT_FILENO)) return 0;
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

std::string with_thousands(std::int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return value < 0 ? "-" + out : out;
}

std::string format_utc(std::int64_t epoch_seconds) {
  const std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(epoch_seconds);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M", &tm);
  return buffer;
}

}  // namespace dmarcsift::cli
