#include "analysis/text_file.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace dmarcsift::analysis {

Result<std::string> read_text_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return fail(Errc::io, path, std::string("cannot open: ") + std::strerror(errno));
  std::string text;
  std::array<char, 65536> chunk;
  while (const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), file.get())) text.append(chunk.data(), n);
  if (std::ferror(file.get())) return fail(Errc::io, path, std::string("cannot read: ") + std::strerror(errno));
  return text;
}

TextLines::TextLines(std::string_view text) : m_rest(text) {
  if (m_rest.starts_with("\xEF\xBB\xBF")) m_rest.remove_prefix(3);
}

bool TextLines::next(std::string_view& line) {
  if (m_rest.empty()) return false;
  ++m_number;
  const std::size_t end = m_rest.find('\n');
  line = m_rest.substr(0, end);
  m_rest.remove_prefix(end == std::string_view::npos ? m_rest.size() : end + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace dmarcsift::analysis
