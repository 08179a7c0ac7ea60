#pragma once
// Limits small enough that decompression bombs and archives of many members
// cost a fuzz iteration milliseconds, not seconds, and that XML documents hit
// the XML limits: hitting a limit must be a clean error, which is what the
// targets check.
#include "ingest/limits.hpp"

namespace dmarcsift::fuzz {

inline ingest::Limits small_limits() {
  ingest::Limits limits;
  limits.max_entry_bytes = 1 << 20;
  limits.max_input_bytes = 4 << 20;
  limits.max_entries = 64;
  limits.max_depth = 4;
  // Inputs are at most 64 KiB (-max_len in scripts/fuzz.sh): XML limits this
  // small are what make the fuzzer reach both sides of each of them.
  limits.max_xml_bytes = 60 << 10;
  limits.max_xml_depth = 16;
  limits.max_records = 100;
  return limits;
}

}  // namespace dmarcsift::fuzz
