#pragma once
// A 128-bit content hash (XXH3-128) used to recognise the same bytes again:
// input files in the ingest log, report documents for deduplication.
#include <string>
#include <string_view>

namespace dmarcsift {

// 16 raw bytes, big-endian (high half first).
std::string content_hash(std::string_view bytes);
// 32 lower-case hex digits of a content_hash() value.
std::string hash_to_hex(std::string_view hash);

}  // namespace dmarcsift
