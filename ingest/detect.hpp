#pragma once
// Container detection from the bytes alone (never the name or MIME type).
#include <string_view>

namespace dmarcsift::ingest {

enum class Container {
  empty,    // zero bytes (or only whitespace)
  xml,      // optional UTF-8 BOM / whitespace, then '<'
  gzip,     // 1f 8b
  zlib,     // a zlib header (78 01/5e/9c/da), as some gateways send
  zip,      // PK\3\4 (or an empty archive's PK\5\6)
  tar,      // "ustar" magic at offset 257
  email,    // RFC 5322 header lines, then a blank line
  mbox,     // starts with a "From " separator line
  unknown,
};

Container detect_container(std::string_view bytes);
const char* to_string(Container container);  // "xml", "gzip", ...

}  // namespace dmarcsift::ingest
