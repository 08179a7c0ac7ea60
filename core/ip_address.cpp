#include "core/ip_address.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace dmarcsift {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; the longest IPv6 text
  // (with an embedded IPv4 tail) is 45 characters.
  char buffer[64];
  if (text.empty() || text.size() >= sizeof buffer) return std::nullopt;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  IpAddress address;
  if (inet_pton(AF_INET, buffer, address.m_bytes.data()) == 1) {
    address.m_size = 4;
    return address;
  }
  if (inet_pton(AF_INET6, buffer, address.m_bytes.data()) == 1) {
    address.m_size = 16;
    return address;
  }
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::from_bytes(std::string_view bytes) {
  if (bytes.size() != 4 && bytes.size() != 16) return std::nullopt;
  IpAddress address;
  std::memcpy(address.m_bytes.data(), bytes.data(), bytes.size());
  address.m_size = static_cast<std::uint8_t>(bytes.size());
  return address;
}

std::string IpAddress::to_string() const {
  if (m_size == 0) return {};
  // glibc's inet_ntop follows RFC 5952 (longest zero run compressed,
  // lower-case hex, ::ffff:a.b.c.d for mapped addresses).
  char buffer[INET6_ADDRSTRLEN];
  const int family = m_size == 4 ? AF_INET : AF_INET6;
  if (inet_ntop(family, m_bytes.data(), buffer, sizeof buffer) == nullptr) return {};
  return buffer;
}

}  // namespace dmarcsift
