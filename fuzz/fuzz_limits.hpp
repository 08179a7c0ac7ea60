#pragma once
// Limits small enough that decompression bombs and archives of many members
// cost a fuzz iteration milliseconds, not seconds: hitting a limit must be a
// clean error, which is what the targets check.
#include "ingest/limits.hpp"

namespace dmarcsift::fuzz {

inline ingest::Limits small_limits() {
  ingest::Limits limits;
  limits.max_entry_bytes = 1 << 20;
  limits.max_input_bytes = 4 << 20;
  limits.max_entries = 64;
  limits.max_depth = 4;
  return limits;
}

}  // namespace dmarcsift::fuzz
