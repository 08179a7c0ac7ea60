#include "analysis/public_suffix.hpp"

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include <sys/stat.h>

#include <idn2.h>
#include <libpsl.h>

namespace dmarcsift::analysis {
namespace {

// psl_free() ignores libpsl's static built-in context, so one deleter serves
// both what psl_latest()/psl_load_file() allocate and psl_builtin().
struct FreePsl {
  void operator()(psl_ctx_t* psl) const noexcept { psl_free(psl); }
};
struct FreeIdn {
  void operator()(char* text) const noexcept { idn2_free(text); }
};

// RFC 1035 §2.3.4: 255 octets on the wire are at most 253 characters of text
// without the trailing dot. Longer input is not a host name, and the limit lets
// the common (ASCII) path build libpsl's NUL-terminated copy on the stack.
constexpr std::size_t k_max_name = 253;

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const noexcept {
    return std::hash<std::string_view>{}(text);
  }
};

struct PublicSuffixList::Impl {
  std::unique_ptr<psl_ctx_t, FreePsl> m_psl;
  std::string m_identity;
  // Reports name the same few thousand domains over and over; a look-up
  // here costs a fraction of libpsl's search. Bounded: cleared when full.
  static constexpr std::size_t k_cache_limit = 1 << 16;
  std::mutex m_cache_mutex;
  std::unordered_map<std::string, std::string, TextHash, std::equal_to<>> m_cache;
};

namespace {

// Which list was loaded, precisely enough that results computed with one are
// recomputed after the system's list changes.
std::string describe(const psl_ctx_t* psl, std::string_view origin) {
  return std::string(origin) + " rules=" + std::to_string(psl_suffix_count(psl)) +
         " exceptions=" + std::to_string(psl_suffix_exception_count(psl)) +
         " wildcards=" + std::to_string(psl_suffix_wildcard_count(psl));
}

}  // namespace

PublicSuffixList::PublicSuffixList(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
PublicSuffixList::PublicSuffixList(PublicSuffixList&&) noexcept = default;
PublicSuffixList& PublicSuffixList::operator=(PublicSuffixList&&) noexcept = default;
PublicSuffixList::~PublicSuffixList() = default;

Result<PublicSuffixList> PublicSuffixList::load() {
  // libpsl's built-in copy is compiled from the system's text list, so that
  // file holds the newest list unless it is older than the copy. On a tie
  // psl_latest() would pick a DAFSA; the sorted table psl_load_file() builds
  // from the text answered 2.3-2.9 times faster (libpsl 0.21.2: 231 vs 515 ns
  // for "bounce.tansy-dental.com"), which counts over millions of records.
  psl_ctx_t* psl = nullptr;
  const char* text_list = psl_builtin_filename();
  struct stat status {};
  std::string origin;
  if (text_list != nullptr && *text_list != '\0' && ::stat(text_list, &status) == 0 &&
      status.st_mtime >= psl_builtin_file_time()) {
    psl = psl_load_file(text_list);
    origin = std::string(text_list) + " mtime=" + std::to_string(status.st_mtime) +
             " size=" + std::to_string(status.st_size);
  }
  if (psl == nullptr) origin = "libpsl built-in " + std::string(psl_builtin_sha1sum());
  // Otherwise the newest of the distribution's DAFSA and the built-in copy;
  // psl_builtin() covers a psl_latest() that returns nothing.
  if (psl == nullptr) psl = psl_latest(nullptr);
  if (psl == nullptr) psl = const_cast<psl_ctx_t*>(psl_builtin());
  if (psl == nullptr) {
    return fail(Errc::unsupported, psl_dist_filename(),
                "no Public Suffix List: the file is missing and libpsl has no built-in copy "
                "(install the publicsuffix package)");
  }
  auto impl = std::make_unique<Impl>();
  impl->m_psl.reset(psl);
  impl->m_identity = describe(psl, origin);
  return PublicSuffixList(std::move(impl));
}

Result<PublicSuffixList> PublicSuffixList::load_file(const std::string& path) {
  psl_ctx_t* psl = psl_load_file(path.c_str());
  if (psl == nullptr) {
    return fail(Errc::io, path, "cannot read the Public Suffix List");
  }
  auto impl = std::make_unique<Impl>();
  impl->m_psl.reset(psl);
  impl->m_identity = describe(psl, path);
  return PublicSuffixList(std::move(impl));
}

const std::string& PublicSuffixList::identity() const {
  static const std::string none;
  return m_impl ? m_impl->m_identity : none;
}

std::string PublicSuffixList::organizational_domain(std::string_view domain) const {
  if (!m_impl) return {};  // moved from
  {
    const std::lock_guard lock(m_impl->m_cache_mutex);
    if (auto it = m_impl->m_cache.find(domain); it != m_impl->m_cache.end()) return it->second;
  }
  std::string org = compute_organizational_domain(domain);
  const std::lock_guard lock(m_impl->m_cache_mutex);
  if (m_impl->m_cache.size() >= Impl::k_cache_limit) m_impl->m_cache.clear();
  m_impl->m_cache.emplace(domain, org);
  return org;
}

std::string PublicSuffixList::compute_organizational_domain(std::string_view domain) const {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty() || domain.size() > k_max_name) return {};

  // Lower-cased, NUL-terminated copy for libpsl, rejecting empty labels
  // (leading dot, "a..b", a second trailing dot) and embedded NULs, which
  // would silently cut the C string short.
  char name[k_max_name + 1];
  bool ascii = true;
  char previous = '.';
  for (std::size_t i = 0; i < domain.size(); ++i) {
    const char c = domain[i];
    if (c == '\0' || (c == '.' && previous == '.')) return {};
    if (static_cast<unsigned char>(c) >= 0x80) ascii = false;
    name[i] = ascii_lower(c);
    previous = c;
  }
  if (previous == '.') return {};
  name[domain.size()] = '\0';

  if (ascii) {
    // libpsl returns a pointer into its argument: the registrable domain is a
    // suffix of `name`, or null when `name` is itself a public suffix.
    const char* org = psl_registrable_domain(m_impl->m_psl.get(), name);
    return org != nullptr ? std::string(org) : std::string();
  }

  // U-labels: libpsl would answer in UTF-8, but alignment compares the
  // A-label form that DKIM and SPF domains normally carry. UTS #46
  // non-transitional processing also does the Unicode case folding and NFC.
  char* converted = nullptr;
  if (idn2_to_ascii_8z(name, &converted, IDN2_NONTRANSITIONAL) != IDN2_OK) return {};
  const std::unique_ptr<char, FreeIdn> a_labels(converted);
  const char* org = psl_registrable_domain(m_impl->m_psl.get(), a_labels.get());
  return org != nullptr ? std::string(org) : std::string();
}

}  // namespace dmarcsift::analysis
