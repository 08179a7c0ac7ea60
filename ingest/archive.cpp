#include "ingest/archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <libdeflate.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>

#include "ingest/detect.hpp"

namespace dmarcsift::ingest {
namespace {

// Deflate cannot expand data by more than 1032:1 (RFC 1951 maximum block
// ratio), but declared sizes (gzip ISIZE, zip/tar headers) are untrusted.
// Report XML compresses 10-30:1, so trusting a declared size up to 64 times
// the input pre-sizes every real report in one allocation, while a header
// that lies costs no more than that before geometric growth takes over.
constexpr std::uint64_t k_trusted_ratio = 64;
constexpr std::uint64_t k_min_capacity = 64 * 1024;

std::uint64_t initial_capacity(std::uint64_t declared, std::uint64_t input_size,
                               std::uint64_t limit) {
  const std::uint64_t plausible = input_size * k_trusted_ratio + k_min_capacity;
  return std::min({declared, plausible, limit});
}

// First-touch page faults, not inflate, dominate the cost of a large output
// buffer in a VM: on the Firecracker test host, touching 306 MB page by page
// took 1.4-1.9 s while MADV_POPULATE_WRITE (Linux 5.14) mapped it in
// 0.28-0.34 s, and zlib itself inflated those 306 MB in about 0.25 s. On
// older kernels madvise fails and the pages fault in as usual.
void prefault(char* begin, std::size_t size) {
#if defined(MADV_POPULATE_WRITE)
  constexpr std::size_t k_worthwhile = 1 << 20;
  if (size < k_worthwhile) return;
  static const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto first = (reinterpret_cast<std::uintptr_t>(begin) + page - 1) & ~(page - 1);
  const auto last = (reinterpret_cast<std::uintptr_t>(begin) + size) & ~(page - 1);
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_POPULATE_WRITE);
#else
  (void)begin;
  (void)size;
#endif
}

// Resizes `out` to `size` bytes (size >= out.size()) with the new part of
// its buffer mapped in one system call.
void grow_to(std::string& out, std::size_t size) {
  const std::size_t old_size = out.size();
  out.reserve(size);
  prefault(out.data() + old_size, out.capacity() - old_size);
  out.resize(size);
}

std::string over_limit_message(const Limits& limits) {
  return "decompressed size exceeds " + std::to_string(limits.max_entry_bytes) +
         " bytes (limit max_entry_bytes)";
}

// zlib keeps its state in a z_stream the caller owns; this ends it on every
// path out of inflate_stream.
struct InflateStream {
  z_stream stream{};
  bool initialized = false;
  InflateStream() = default;
  InflateStream(const InflateStream&) = delete;
  InflateStream& operator=(const InflateStream&) = delete;
  ~InflateStream() {
    if (initialized) inflateEnd(&stream);
  }
};

std::uint32_t read_le32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

// The usual .xml.gz, inflated by libdeflate: one gzip member, no header CRC,
// nothing after it, and an ISIZE that is the size of its content, plausible
// for the input and within the limit. libdeflate checks the data's CRC and
// ISIZE as zlib does, and inflates a whole member into a buffer of its final
// size in about half the time: ingesting the 2M-record corpus spent 0.61
// CPU-s in libdeflate against 1.10 in zlib (perf samples). Anything else,
// from several members to corrupt data, gives nullopt and goes to zlib,
// which tells those cases apart and words their errors. A header CRC, which
// libdeflate skips and zlib checks, sends the file to zlib too.
std::optional<std::string> inflate_single_member(std::string_view bytes, std::uint64_t limit) {
  constexpr std::size_t k_header_and_trailer = 18;
  constexpr unsigned char k_header_crc_flag = 0x02;
  const auto* input = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < k_header_and_trailer || (input[3] & k_header_crc_flag) != 0) return std::nullopt;
  const std::uint64_t declared = read_le32(input + bytes.size() - 4);
  if (declared == 0 || initial_capacity(declared, bytes.size(), limit) != declared) return std::nullopt;
  struct FreeDecompressor {
    void operator()(libdeflate_decompressor* d) const noexcept { libdeflate_free_decompressor(d); }
  };
  thread_local const std::unique_ptr<libdeflate_decompressor, FreeDecompressor> decompressor(
      libdeflate_alloc_decompressor());
  if (!decompressor) return std::nullopt;
  std::string out;
  const auto size = static_cast<std::size_t>(declared);
  std::size_t in_used = 0;
  std::size_t out_used = 0;
  libdeflate_result rc = LIBDEFLATE_BAD_DATA;
  const auto inflate_into = [&](char* buffer, std::size_t capacity) {
    rc = libdeflate_gzip_decompress_ex(decompressor.get(), bytes.data(), bytes.size(), buffer,
                                       capacity, &in_used, &out_used);
    return rc == LIBDEFLATE_SUCCESS ? out_used : 0;
  };
#if __cpp_lib_string_resize_and_overwrite
  // Inflating straight into the string's buffer spares zeroing it first:
  // resize() did, and that memset drew 2.3 % of the CPU samples of a 2M-record
  // ingest.
  out.reserve(size);
  prefault(out.data(), out.capacity());
  out.resize_and_overwrite(size, inflate_into);
#else
  grow_to(out, size);
  out.resize(inflate_into(out.data(), out.size()));
#endif
  if (rc != LIBDEFLATE_SUCCESS || in_used != bytes.size() || out_used != size) return std::nullopt;
  return out;
}

// zlib (not libarchive) does the inflating: libarchive's raw+gzip reader
// inflated a 306 MB report (14 MB gzip) at 68-79 MB/s where this function
// reaches about 770 MB/s into one pre-sized buffer; it silently drops bytes after the last member,
// so no "trailing_bytes_after_gzip" warning could be recorded; and it has no reader for bare zlib
// streams.
enum class Wrapper { gzip, zlib };

Result<std::string> inflate_impl(std::string_view bytes, std::string_view origin,
                                 const Limits& limits, std::vector<Warning>& warnings,
                                 Wrapper wrapper) {
  const bool gzip = wrapper == Wrapper::gzip;
  if (gzip) {
    if (auto whole = inflate_single_member(bytes, limits.max_entry_bytes)) return std::move(*whole);
  }
  const char* kind = gzip ? "gzip" : "zlib";
  InflateStream z;
  // 16 + MAX_WBITS: gzip wrapper only; MAX_WBITS: zlib wrapper only. Each
  // gzip member is inflated on its own (inflateReset) because zlib stops at
  // the end of a member and we must see what follows it.
  if (inflateInit2(&z.stream, gzip ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK) {
    return fail(Errc::internal, std::string(origin), "cannot initialise zlib");
  }
  z.initialized = true;

  const auto* input = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::uint64_t limit = limits.max_entry_bytes;
  // One byte past the limit tells "exactly at the limit" from "over it".
  const std::uint64_t hard_cap = limit == UINT64_MAX ? limit : limit + 1;
  // ISIZE (RFC 1952 §2.3.1) is the size modulo 2^32 of the last member: right
  // for the usual single-member file, and only a hint otherwise.
  std::uint64_t declared = bytes.size() * 4;
  if (gzip && bytes.size() >= 18) declared = read_le32(input + bytes.size() - 4);
  std::string out;
  grow_to(out, static_cast<std::size_t>(
                   std::max<std::uint64_t>(1, initial_capacity(declared, bytes.size(), hard_cap))));
  std::size_t used = 0;
  std::size_t consumed = 0;

  for (;;) {
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      if (used == out.size()) {
        if (out.size() >= hard_cap) {
          return fail(Errc::bad_input, std::string(origin), over_limit_message(limits));
        }
        grow_to(out, static_cast<std::size_t>(std::min<std::uint64_t>(
                         hard_cap, std::max<std::uint64_t>(out.size() * 2, k_min_capacity))));
      }
      z.stream.next_in = const_cast<unsigned char*>(input + consumed);
      z.stream.avail_in =
          static_cast<uInt>(std::min<std::size_t>(bytes.size() - consumed, UINT_MAX));
      z.stream.next_out = reinterpret_cast<unsigned char*>(out.data() + used);
      z.stream.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size() - used, UINT_MAX));
      const uInt in_before = z.stream.avail_in;
      const uInt out_before = z.stream.avail_out;
      rc = inflate(&z.stream, Z_NO_FLUSH);
      consumed += in_before - z.stream.avail_in;
      used += out_before - z.stream.avail_out;
      if (rc == Z_OK || rc == Z_STREAM_END) continue;
      if (rc == Z_BUF_ERROR) {
        // No progress: either the output is full (grown above) or the input
        // ended inside the stream.
        if (z.stream.avail_out == 0) continue;
        return fail(Errc::bad_input, std::string(origin),
                    std::string("truncated ") + kind + " stream");
      }
      if (rc == Z_NEED_DICT) {
        return fail(Errc::bad_input, std::string(origin),
                    std::string("corrupt ") + kind + " data: needs a preset dictionary");
      }
      if (rc == Z_MEM_ERROR) {
        return fail(Errc::internal, std::string(origin), "out of memory while inflating");
      }
      return fail(Errc::bad_input, std::string(origin),
                  std::string("corrupt ") + kind + " data: " +
                      (z.stream.msg != nullptr ? z.stream.msg : "invalid compressed data"));
    }
    if (used > limit) return fail(Errc::bad_input, std::string(origin), over_limit_message(limits));
    const std::size_t rest = bytes.size() - consumed;
    if (rest == 0) break;
    // RFC 1952 §2.2: a gzip file is a series of members; gzip(1) reads on
    // while the next bytes start another member and ignores the rest.
    if (gzip && rest >= 2 && input[consumed] == 0x1f && input[consumed + 1] == 0x8b) {
      inflateReset(&z.stream);
      continue;
    }
    // Mimecast appends CR LF after the stream (corpus mimecast-weird-gzip.eml).
    add_warning(
        warnings, "trailing_bytes_after_gzip",
        std::string(origin) + ": " + std::to_string(rest) + " bytes after the " + kind + " stream");
    break;
  }
  out.resize(used);
  return out;
}

// How a libarchive ARCHIVE_WARN is taken. It is harmless for headers (an
// unknown extra field, a name in an unexpected charset), but the zip reader
// reports a member whose CRC does not match as ARCHIVE_WARN after handing
// out all of its data, so for member data it means corrupt content.
enum class WarnIs { fine, error };

// Every libarchive return code is checked here: nothing when the call
// succeeded, else the message of archive_error_string.
std::optional<std::string> archive_failure(archive* a, int rc, WarnIs warn = WarnIs::fine) {
  if (rc == ARCHIVE_OK || rc == ARCHIVE_EOF || (rc == ARCHIVE_WARN && warn == WarnIs::fine)) {
    return std::nullopt;
  }
  const char* message = archive_error_string(a);
  return std::string(message != nullptr && *message != '\0' ? message : "unreadable data");
}

struct FreeReader {
  void operator()(archive* a) const noexcept { archive_read_free(a); }
};
using ReaderPtr = std::unique_ptr<archive, FreeReader>;

// Reads the data of the member whose header was just read; `where` names it
// in errors.
Result<std::string> read_member(archive* a, archive_entry* entry, std::string_view input,
                                const std::string& where, const char* kind, const Limits& limits) {
  const std::uint64_t limit = limits.max_entry_bytes;
  if (archive_entry_size_is_set(entry) != 0 && archive_entry_size(entry) > 0 &&
      static_cast<std::uint64_t>(archive_entry_size(entry)) > limit) {
    // The declared size alone is enough to refuse it; nothing is inflated.
    return fail(Errc::bad_input, where, over_limit_message(limits));
  }
  std::string data;
  if (archive_entry_size_is_set(entry) != 0 && archive_entry_size(entry) > 0) {
    data.reserve(static_cast<std::size_t>(initial_capacity(
        static_cast<std::uint64_t>(archive_entry_size(entry)), input.size(), limit)));
    prefault(data.data(), data.capacity());
  }
  for (;;) {
    const void* block = nullptr;
    std::size_t size = 0;
    la_int64_t offset = 0;
    const int rc = archive_read_data_block(a, &block, &size, &offset);
    if (rc == ARCHIVE_EOF) break;
    if (auto failure = archive_failure(a, rc, WarnIs::error)) {
      return fail(Errc::bad_input, where, std::string("corrupt ") + kind + " member: " + *failure);
    }
    // A sparse tar member gives its holes as jumps in `offset`.
    if (offset < 0 || static_cast<std::uint64_t>(offset) > limit ||
        size > limit - static_cast<std::uint64_t>(offset)) {
      return fail(Errc::bad_input, where, over_limit_message(limits));
    }
    const auto at = static_cast<std::size_t>(offset);
    if (at > data.size()) data.resize(at, '\0');
    if (at < data.size()) data.resize(at);
    data.append(static_cast<const char*>(block), size);
  }
  return data;
}

// The uncompressed sizes a zip's central directory lists, added up, or
// nullopt when no directory is found where its end record says.
std::optional<std::uint64_t> zip_directory_bytes(std::string_view bytes) {
  constexpr std::size_t k_end_record = 22;
  constexpr std::size_t k_max_comment = 0xFFFF;
  constexpr std::size_t k_directory_entry = 46;
  if (bytes.size() < k_end_record) return std::nullopt;
  const auto* input = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto le16 = [&](std::size_t at) {
    return static_cast<std::uint32_t>(input[at]) | static_cast<std::uint32_t>(input[at + 1]) << 8;
  };
  // The end record is last, followed only by its comment.
  const std::size_t lowest =
      bytes.size() - k_end_record > k_max_comment ? bytes.size() - k_end_record - k_max_comment : 0;
  for (std::size_t end = bytes.size() - k_end_record + 1; end-- > lowest;) {
    if (read_le32(input + end) != 0x06054b50) continue;
    const std::uint64_t directory_size = read_le32(input + end + 12);
    const std::uint64_t directory_at = read_le32(input + end + 16);
    if (directory_at + directory_size > end) continue;
    std::uint64_t total = 0;
    std::size_t at = static_cast<std::size_t>(directory_at);
    const std::size_t directory_end = static_cast<std::size_t>(directory_at + directory_size);
    while (at + k_directory_entry <= directory_end && read_le32(input + at) == 0x02014b50) {
      total += read_le32(input + at + 24);
      at += k_directory_entry + le16(at + 28) + le16(at + 30) + le16(at + 32);
    }
    return total;
  }
  return std::nullopt;
}

}  // namespace

std::uint64_t declared_unpacked_bytes(std::string_view bytes) {
  std::uint64_t declared = 0;
  const auto* input = reinterpret_cast<const unsigned char*>(bytes.data());
  switch (detect_container(bytes)) {
    case Container::gzip:
      if (bytes.size() >= 18) declared = read_le32(input + bytes.size() - 4);
      break;
    case Container::zip:
      declared = zip_directory_bytes(bytes).value_or(0);
      break;
    default:
      break;
  }
  return std::max<std::uint64_t>(declared, bytes.size());
}

Result<std::string> inflate_stream(std::string_view bytes, std::string_view origin,
                                   const Limits& limits, std::vector<Warning>& warnings) {
  switch (detect_container(bytes)) {
    case Container::gzip:
      return inflate_impl(bytes, origin, limits, warnings, Wrapper::gzip);
    case Container::zlib:
      return inflate_impl(bytes, origin, limits, warnings, Wrapper::zlib);
    default:
      return fail(Errc::bad_input, std::string(origin), "not a gzip or zlib stream");
  }
}

Result<void> for_each_entry(std::string_view bytes, std::string_view origin, const Limits& limits,
                            const std::function<void(ArchiveEntry&&)>& on_entry) {
  const char* kind = detect_container(bytes) == Container::tar ? "tar" : "zip";
  const auto archive_error = [&](const std::string& why) {
    return fail(Errc::bad_input, std::string(origin),
                std::string("corrupt ") + kind + " archive: " + why);
  };
  ReaderPtr reader(archive_read_new());
  if (!reader) return fail(Errc::internal, std::string(origin), "cannot create an archive reader");
  archive* a = reader.get();
  // The caller gunzips a .tar.gz itself and hands us the tar, so no filter
  // is registered beyond "none": every input is read as exactly these bytes.
  // archive_read_open_memory can seek, so libarchive picks its seekable zip
  // reader, which works from the central directory: it finds stored members
  // written with a data descriptor (sizes left 0 in the local header), and
  // after a member with invalid deflate data it still reads the next one,
  // where the streaming reader gives up (checked on every corpus zip: both
  // read them alike otherwise).
  if (auto failure = archive_failure(a, archive_read_support_format_zip(a)))
    return archive_error(*failure);
  if (auto failure = archive_failure(a, archive_read_support_format_tar(a)))
    return archive_error(*failure);
  if (auto failure = archive_failure(a, archive_read_open_memory(a, bytes.data(), bytes.size()))) {
    return archive_error(*failure);
  }

  std::uint32_t members = 0;
  std::uint64_t total = 0;
  std::string failed_member;  // the last member whose data could not be read
  for (;;) {
    archive_entry* entry = nullptr;
    const int rc = archive_read_next_header(a, &entry);
    if (rc == ARCHIVE_EOF) break;
    if (auto failure = archive_failure(a, rc)) {
      // The seekable zip reader goes on from the central directory after a
      // member with invalid deflate data; the streaming readers cannot.
      return archive_error(failed_member.empty()
                               ? *failure
                               : "cannot read past the member " + failed_member + ": " + *failure);
    }
    if (++members > limits.max_entries) {
      return fail(Errc::bad_input, std::string(origin),
                  std::string(kind) + " archive has more than " +
                      std::to_string(limits.max_entries) + " entries (limit max_entries)");
    }
    // Type 0 is what a member without mode bits (MS-DOS zips) may report.
    const auto type = archive_entry_filetype(entry);
    if (type != AE_IFREG && type != 0) {
      if (auto failure = archive_failure(a, archive_read_data_skip(a)))
        return archive_error(*failure);
      continue;
    }
    const char* path = archive_entry_pathname(entry);
    if (path == nullptr) path = archive_entry_pathname_utf8(entry);
    std::string name = path != nullptr ? path : "";
    const std::string label = name.empty() ? "entry " + std::to_string(members) : name;
    Result<std::string> data =
        read_member(a, entry, bytes, std::string(origin) + " > " + label, kind, limits);
    if (data) {
      failed_member.clear();
      total += data->size();
      if (total > limits.max_input_bytes) {
        return fail(Errc::bad_input, std::string(origin),
                    "decompressed data exceeds " + std::to_string(limits.max_input_bytes) +
                        " bytes for one input (limit max_input_bytes)");
      }
    } else {
      failed_member = label;
    }
    on_entry(ArchiveEntry{std::move(name), std::move(data)});
  }
  return {};
}

}  // namespace dmarcsift::ingest
