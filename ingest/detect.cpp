#include "ingest/detect.hpp"

#include <cstddef>
#include <cstring>

namespace dmarcsift::ingest {
namespace {

bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

bool starts_with(std::string_view bytes, std::string_view prefix) {
  return bytes.size() >= prefix.size() && bytes.compare(0, prefix.size(), prefix) == 0;
}

std::size_t skip_space(std::string_view bytes, std::size_t pos) {
  while (pos < bytes.size() && is_space(static_cast<unsigned char>(bytes[pos]))) ++pos;
  return pos;
}

bool is_xml(std::string_view bytes) {
  std::size_t pos = starts_with(bytes, "\xEF\xBB\xBF") ? 3 : 0;
  pos = skip_space(bytes, pos);
  return pos < bytes.size() && bytes[pos] == '<';
}

// RFC 1950 §2.2: CM = 8 and the 16-bit header is a multiple of 31. With a
// first byte of 0x78 that also matches text such as "x " or "x}", so
// FDICT (bit 5 of FLG) must be clear as well: a preset dictionary is never
// used for mail attachments and we could not inflate it anyway. What remains
// are exactly the four headers zlib writes: 78 01, 78 5e, 78 9c, 78 da.
bool is_zlib(std::string_view bytes) {
  if (bytes.size() < 2) return false;
  const auto b0 = static_cast<unsigned char>(bytes[0]);
  const auto b1 = static_cast<unsigned char>(bytes[1]);
  return b0 == 0x78 && (b0 * 256 + b1) % 31 == 0 && (b1 & 0x20) == 0;
}

// RFC 5322 §2.2 field name: printable US-ASCII except ':', at least one.
bool is_field_name_char(unsigned char c) { return c >= 33 && c <= 126 && c != ':'; }

// The header block of an RFC 5322 message: every line is `Name: value` or a
// folded continuation (leading space or tab), up to an empty line. Field
// names are not checked against a list because real reports carry typos
// (Trustwave's `ContentType:`) and any number of X- and trace fields.
bool is_email(std::string_view bytes) {
  std::size_t pos = 0;
  bool seen_field = false;
  while (pos < bytes.size()) {
    const char* start = bytes.data() + pos;
    const void* newline = std::memchr(start, '\n', bytes.size() - pos);
    // A header block that never ends is not a message we can read.
    if (newline == nullptr) return false;
    std::size_t end = static_cast<std::size_t>(static_cast<const char*>(newline) - bytes.data());
    std::string_view line = bytes.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    if (line.empty()) return seen_field;
    const auto first = static_cast<unsigned char>(line.front());
    if (first == ' ' || first == '\t') {
      if (!seen_field) return false;
      continue;
    }
    std::size_t name_end = 0;
    while (name_end < line.size() &&
           is_field_name_char(static_cast<unsigned char>(line[name_end]))) {
      ++name_end;
    }
    std::size_t colon = name_end;
    // RFC 5322 §4.5.3 (obsolete syntax) allows white space before the colon.
    while (colon < line.size() && (line[colon] == ' ' || line[colon] == '\t')) ++colon;
    if (name_end == 0 || colon == line.size() || line[colon] != ':') return false;
    seen_field = true;
  }
  return false;
}

}  // namespace

Container detect_container(std::string_view bytes) {
  if (skip_space(bytes, 0) == bytes.size()) return Container::empty;
  if (starts_with(bytes, "\x1f\x8b")) return Container::gzip;
  if (starts_with(bytes, "PK\x03\x04") || starts_with(bytes, "PK\x05\x06")) return Container::zip;
  if (is_zlib(bytes)) return Container::zlib;
  // POSIX ustar and GNU tar both put "ustar" at offset 257 of the first header.
  if (bytes.size() >= 262 && bytes.compare(257, 5, "ustar") == 0) return Container::tar;
  if (is_xml(bytes)) return Container::xml;
  if (starts_with(bytes, "From ")) return Container::mbox;
  if (is_email(bytes)) return Container::email;
  return Container::unknown;
}

const char* to_string(Container container) {
  switch (container) {
    case Container::empty:
      return "empty";
    case Container::xml:
      return "xml";
    case Container::gzip:
      return "gzip";
    case Container::zlib:
      return "zlib";
    case Container::zip:
      return "zip";
    case Container::tar:
      return "tar";
    case Container::email:
      return "email";
    case Container::mbox:
      return "mbox";
    case Container::unknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace dmarcsift::ingest
