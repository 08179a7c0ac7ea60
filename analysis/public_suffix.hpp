#pragma once
// Organizational domains from the Public Suffix List, through libpsl.
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace dmarcsift::analysis {

class PublicSuffixList {
 public:
  // The system's list (Debian package publicsuffix), or libpsl's built-in
  // copy when the file is missing; whichever is newer.
  static Result<PublicSuffixList> load();
  // A list read from `path` (public_suffix_list.dat format), for tests.
  static Result<PublicSuffixList> load_file(const std::string& path);

  PublicSuffixList(PublicSuffixList&&) noexcept;
  PublicSuffixList& operator=(PublicSuffixList&&) noexcept;
  ~PublicSuffixList();

  // The registrable (organizational) domain of `domain`: lower-cased, one
  // trailing dot removed, U-labels converted to A-labels; "" when `domain`
  // is empty, malformed or itself a public suffix (RFC 7489 §3.2).
  std::string organizational_domain(std::string_view domain) const;

  // Names the list loaded (file, date, rule counts): results stored with one
  // identity are recomputed when it changes.
  const std::string& identity() const;

 private:
  struct Impl;
  std::string compute_organizational_domain(std::string_view domain) const;
  explicit PublicSuffixList(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace dmarcsift::analysis
