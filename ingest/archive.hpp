#pragma once
// Unpacking through libarchive: gzip/zlib streams and zip/tar archives.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/aggregate_report.hpp"
#include "core/result.hpp"
#include "ingest/limits.hpp"

namespace dmarcsift::ingest {

// Inflates a gzip stream (every concatenated member) or a zlib stream.
// Bytes after the last complete member are ignored with a warning
// "trailing_bytes_after_gzip" appended to `warnings`. A truncated or corrupt
// stream, or one inflating past `limits.max_entry_bytes`, is an error whose
// `where` is `origin`.
Result<std::string> inflate_stream(std::string_view bytes, std::string_view origin,
                                   const Limits& limits, std::vector<Warning>& warnings);

// About how many bytes `bytes` unpacks to, from what its framing declares,
// without unpacking it: a gzip stream's ISIZE (of its last member, modulo
// 2^32), the sizes a zip's central directory lists; never less than
// bytes.size(), which is all other inputs get. For scheduling only: the
// framing may lie, and members that are themselves compressed count at
// their compressed size.
std::uint64_t declared_unpacked_bytes(std::string_view bytes);

// One member of a zip or tar archive: `bytes` holds its content or the
// error that made it unreadable (bad CRC, over the size limit, ...).
struct ArchiveEntry {
  std::string name;  // as stored; "" when the archive gives none
  Result<std::string> bytes;
};

// Calls `on_entry` for every regular-file member of the zip or tar archive
// in `bytes`, in archive order (directories are skipped). Fails as a whole
// when the archive cannot be opened or its directory cannot be read, or when
// it has more than `limits.max_entries` members.
Result<void> for_each_entry(std::string_view bytes, std::string_view origin, const Limits& limits,
                            const std::function<void(ArchiveEntry&&)>& on_entry);

}  // namespace dmarcsift::ingest
