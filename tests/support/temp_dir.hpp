#pragma once
// A fresh directory under $TMPDIR for one test case, removed with its contents.
#include <filesystem>
#include <string>
#include <string_view>

namespace dmarcsift::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return m_path; }
  // Writes `bytes` to `name` (relative to the directory, parents created).
  std::filesystem::path write(std::string_view name, std::string_view bytes) const;

 private:
  std::filesystem::path m_path;
};

// Reads a whole file; fails the current test if it cannot.
std::string read_file(const std::filesystem::path& path);

}  // namespace dmarcsift::testing
