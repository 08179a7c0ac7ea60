#pragma once
// The small text files users give the analysis (--senders, --authorized):
// read whole, taken apart line by line as editors write them.
#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace dmarcsift::analysis {

// The file's bytes; the error names the file and says why it failed.
Result<std::string> read_text_file(const std::string& path);

// The lines of `text`: a leading UTF-8 byte order mark (some editors add
// one) is skipped, and LF or CRLF ends a line.
class TextLines {
 public:
  explicit TextLines(std::string_view text);
  // Sets `line` to the next line, without its ending; false at the end.
  bool next(std::string_view& line);
  // 1-based number of the line next() gave last.
  std::size_t number() const { return m_number; }

 private:
  std::string_view m_rest;
  std::size_t m_number = 0;
};

// Without the spaces and tabs at either end.
std::string_view trim(std::string_view text);
// ASCII letters in lower case; other bytes as they are.
inline char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace dmarcsift::analysis
