#pragma once
// Resource limits for untrusted input; each hit is an error naming the limit.
#include <cstdint>

namespace dmarcsift::ingest {

struct Limits {
  std::uint64_t max_entry_bytes = 1ull << 30;  // decompressed bytes of one entry / stream
  std::uint64_t max_input_bytes = 4ull << 30;  // decompressed bytes of one input in all
  std::uint32_t max_entries = 100000;          // entries in one archive
  std::uint32_t max_depth = 4;                 // containers nested in containers
  // The largest real reports hold about 100,000 records in a few hundred MB
  // of XML, nested 5 elements deep; these limits are ten times that or more.
  std::uint64_t max_xml_bytes = 1ull << 30;  // bytes of one XML document
  std::uint32_t max_xml_depth = 256;         // elements nested in elements
  std::uint32_t max_records = 1000000;       // records in one report
  // Not a limit but a threshold: a document this large is parsed a slice of
  // records at a time, so that its parse tree is never held whole. Ingesting
  // one 53 MB report alone peaked at 104 MB that way against 196 MB, one of
  // 12 MB at 39 MB against 52 MB, and both took less time (95 MB for the
  // first since the slices give back the pages of text they have read).
  std::uint64_t sliced_xml_bytes = 4ull << 20;
};

}  // namespace dmarcsift::ingest
