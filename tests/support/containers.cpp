#include "tests/support/containers.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>
#include <zlib.h>

#include <memory>

namespace dmarcsift::testing {
namespace {
struct FreeWriter {
  void operator()(archive* a) const noexcept { archive_write_free(a); }
};

}  // namespace

std::string compress(std::string_view data, int window_bits) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// An archive written by libarchive: "zip" (deflate unless `options` says
// otherwise) or "ustar".
std::string write_archive(const std::vector<Member>& members, const char* format,
                          const char* options) {
  std::unique_ptr<archive, FreeWriter> writer(archive_write_new());
  archive* a = writer.get();
  REQUIRE(archive_write_set_format_by_name(a, format) == ARCHIVE_OK);
  if (options != nullptr) REQUIRE(archive_write_set_options(a, options) == ARCHIVE_OK);
  std::string buffer(1 << 20, '\0');
  std::size_t used = 0;
  REQUIRE(archive_write_open_memory(a, buffer.data(), buffer.size(), &used) == ARCHIVE_OK);
  for (const Member& m : members) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, m.name.c_str());
    archive_entry_set_filetype(entry, m.directory ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_entry_set_size(entry, static_cast<la_int64_t>(m.content.size()));
    REQUIRE(archive_write_header(a, entry) == ARCHIVE_OK);
    if (!m.content.empty()) {
      REQUIRE(archive_write_data(a, m.content.data(), m.content.size()) ==
              static_cast<la_ssize_t>(m.content.size()));
    }
    archive_entry_free(entry);
  }
  REQUIRE(archive_write_close(a) == ARCHIVE_OK);
  buffer.resize(used);
  return buffer;
}

}  // namespace dmarcsift::testing
