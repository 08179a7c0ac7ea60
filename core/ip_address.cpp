#include "core/ip_address.hpp"

#include <arpa/inet.h>

#include <cstdint>
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

namespace {

char* append_decimal(char* out, unsigned value) {
  if (value >= 100) *out++ = static_cast<char>('0' + value / 100);
  if (value >= 10) *out++ = static_cast<char>('0' + value / 10 % 10);
  *out++ = static_cast<char>('0' + value % 10);
  return out;
}

char* append_v4(char* out, const std::uint8_t* bytes) {
  for (int i = 0; i < 4; ++i) {
    if (i > 0) *out++ = '.';
    out = append_decimal(out, bytes[i]);
  }
  return out;
}

char* append_hex_group(char* out, unsigned group) {
  constexpr char k_digits[] = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const unsigned digit = (group >> shift) & 0xf;
    started = started || digit != 0 || shift == 0;
    if (started) *out++ = k_digits[digit];
  }
  return out;
}

}  // namespace

// The text glibc's inet_ntop gives, which follows RFC 5952: lower-case hex
// without leading zeros, the first longest run of two or more zero groups
// as "::", and ::ffff:a.b.c.d (and the old ::a.b.c.d) with a dotted tail.
// Written out here because inet_ntop formats through sprintf: 2,400
// instructions an IPv4 address and 5,100 an IPv6 one, paid for every IPv6
// record ingested and every source row a fold writes.
std::string IpAddress::to_string() const {
  if (m_size == 0) return {};
  char buffer[64];
  char* out = buffer;
  if (m_size == 4) {
    out = append_v4(out, m_bytes.data());
    return std::string(buffer, out);
  }
  unsigned groups[8];
  for (int i = 0; i < 8; ++i) groups[i] = (unsigned{m_bytes[2 * i]} << 8) | m_bytes[2 * i + 1];
  int best_start = -1;
  int best_length = 0;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int end = i;
    while (end < 8 && groups[end] == 0) ++end;
    if (end - i > best_length) {
      best_start = i;
      best_length = end - i;
    }
    i = end;
  }
  if (best_length < 2) best_start = -1;
  for (int i = 0; i < 8; ++i) {
    if (best_start >= 0 && i >= best_start && i < best_start + best_length) {
      if (i == best_start) *out++ = ':';
      continue;
    }
    if (i > 0) *out++ = ':';
    if (i == 6 && best_start == 0 && (best_length == 6 || (best_length == 5 && groups[5] == 0xffff))) {
      out = append_v4(out, m_bytes.data() + 12);
      return std::string(buffer, out);
    }
    out = append_hex_group(out, groups[i]);
  }
  if (best_start >= 0 && best_start + best_length == 8) *out++ = ':';
  return std::string(buffer, out);
}

}  // namespace dmarcsift
