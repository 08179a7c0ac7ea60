#pragma once
// IPv4/IPv6 addresses as stored: 4 or 16 network-order bytes.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dmarcsift {

class IpAddress {
 public:
  IpAddress() = default;
  // Accepts dotted-quad IPv4 and any RFC 4291 textual IPv6 form (compressed,
  // exploded, upper case, IPv4-mapped). Surrounding whitespace is not accepted.
  static std::optional<IpAddress> parse(std::string_view text);
  // Rebuilds an address from the bytes `bytes()` returned (4 or 16 of them).
  static std::optional<IpAddress> from_bytes(std::string_view bytes);

  bool is_v6() const { return m_size == 16; }
  // Canonical text: dotted quad, or RFC 5952 compressed lower-case IPv6.
  std::string to_string() const;
  std::string_view bytes() const {
    return {reinterpret_cast<const char*>(m_bytes.data()), m_size};
  }
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    return a.bytes() == b.bytes();
  }

 private:
  std::array<std::uint8_t, 16> m_bytes{};
  std::uint8_t m_size = 0;  // 0 = no address, 4 or 16
};

}  // namespace dmarcsift
