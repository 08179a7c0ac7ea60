#pragma once
// Output for people (tables) and programs (JSON, CSV, NDJSON). Every string
// that came from a report is untrusted: tables neutralise control
// characters, CSV guards against formula injection, JSON stays valid UTF-8.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcsift::cli {

// Appends `text` as a JSON string literal (quotes included); bytes that are
// not valid UTF-8 become U+FFFD.
void append_json_string(std::string& out, std::string_view text);

// A minimal streaming JSON writer producing compact output.
class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);
  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(std::int64_t number);
  JsonWriter& value(bool flag);
  JsonWriter& null();
  const std::string& str() const { return m_out; }

 private:
  void separate();
  std::string m_out;
  std::vector<bool> m_first;  // per open container: nothing written yet
  bool m_after_key = false;
};

// One CSV cell (RFC 4180 quoting); a cell starting with = + - @ tab or CR
// gets a leading apostrophe so spreadsheets do not evaluate it.
std::string csv_cell(std::string_view text);

// Replaces control characters and escape sequences with visible \xNN text
// and invalid UTF-8 with U+FFFD, so a report cannot drive the terminal.
std::string terminal_safe(std::string_view text);

// A plain text table: header row, then rows; columns padded to the widest
// cell (counting UTF-8 characters); numeric columns right-aligned.
struct Table {
  std::vector<std::string> headers;
  std::vector<bool> right_aligned;  // per column; missing = left
  std::vector<std::vector<std::string>> rows;
  // When non-zero, the widest left-aligned (text) columns are narrowed, down
  // to 8 characters, and their cells cut with "…", until a line fits;
  // columns marked in `keep_whole` (addresses, keys) are never cut.
  std::size_t max_width = 0;
  std::vector<bool> keep_whole;
  void print(std::ostream& out) const;
  void print_csv(std::ostream& out) const;

 private:
  void fit_widths(std::vector<std::size_t>& widths) const;
};

// The width to fit tables to: the terminal's columns when stdout is one,
// else 0 (no limit: pipes and files get every character).
std::size_t output_columns();

// "1,234,567"
std::string with_thousands(std::int64_t value);
// "2026-10-01 00:00" in UTC.
std::string format_utc(std::int64_t epoch_seconds);

}  // namespace dmarcsift::cli
