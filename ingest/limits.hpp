#pragma once
// Resource limits for untrusted input; each hit is an error naming the limit.
#include <cstdint>

namespace dmarcsift::ingest {

struct Limits {
  std::uint64_t max_entry_bytes = 1ull << 30;  // decompressed bytes of one entry / stream
  std::uint64_t max_input_bytes = 4ull << 30;  // decompressed bytes of one input in all
  std::uint32_t max_entries = 100000;          // entries in one archive
  std::uint32_t max_depth = 4;                 // containers nested in containers
};

}  // namespace dmarcsift::ingest
