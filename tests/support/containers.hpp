#pragma once
// Builds gzip, zlib, zip and tar bytes in memory for tests.
#include <string>
#include <string_view>
#include <vector>

namespace dmarcsift::testing {

// zlib's deflate with the gzip (31) or zlib (15) wrapper, or none (-15).
std::string compress(std::string_view data, int window_bits);
inline std::string gzip(std::string_view data) { return compress(data, 31); }
inline std::string zlib_wrap(std::string_view data) { return compress(data, 15); }

struct Member {
  std::string name;
  std::string content;
  bool directory = false;
};

// An archive written by libarchive: "zip" (deflate unless `options` says
// otherwise) or "ustar".
std::string write_archive(const std::vector<Member>& members, const char* format,
                          const char* options = nullptr);

}  // namespace dmarcsift::testing
