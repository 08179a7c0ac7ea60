#include "core/ip_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string>

#include <doctest/doctest.h>

using dmarcsift::IpAddress;

TEST_CASE("IP addresses are stored as bytes and printed canonically") {
  struct Row { const char* input; const char* canonical; bool v6; };
  const Row rows[] = {
      {"192.0.2.1", "192.0.2.1", false},
      {"2001:db8::19", "2001:db8::19", true},
      {"2001:0DB8:0000:0000:0000:0000:0000:0019", "2001:db8::19", true},
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", true},
      {"::ffff:192.0.2.7", "::ffff:192.0.2.7", true},
      {"::", "::", true},
  };
  for (const Row& r : rows) {
    CAPTURE(r.input);
    auto ip = IpAddress::parse(r.input);
    REQUIRE(ip.has_value());
    CHECK(ip->to_string() == r.canonical);
    CHECK(ip->is_v6() == r.v6);
    auto back = IpAddress::from_bytes(ip->bytes());
    REQUIRE(back.has_value());
    CHECK(*back == *ip);
  }
}

TEST_CASE("invalid addresses are refused") {
  for (const char* bad : {"", "192.0.2", "192.0.2.256", " 192.0.2.1", "example.com",
                          "2001:db8:::1", "1.2.3.4.5"}) {
    CAPTURE(bad);
    CHECK_FALSE(IpAddress::parse(bad).has_value());
  }
  CHECK_FALSE(IpAddress::from_bytes("abc").has_value());
}

namespace {

std::string glibc_text(const std::array<std::uint8_t, 16>& bytes, bool v6) {
  char buffer[INET6_ADDRSTRLEN];
  REQUIRE(inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buffer, sizeof buffer) != nullptr);
  return buffer;
}

}  // namespace

TEST_CASE("to_string() writes what inet_ntop writes, zero runs and dotted tails included") {
  // Groups drawn mostly from {0, 1, 0xffff, random} so that zero runs of
  // every length and place, ties between runs, and both dotted-tail forms
  // come up often.
  std::mt19937 random(20261125);
  std::uniform_int_distribution<int> pick(0, 3);
  std::uniform_int_distribution<int> group(0, 0xffff);
  std::uniform_int_distribution<int> byte(0, 255);
  int v6_checked = 0;
  int v4_checked = 0;
  for (int n = 0; n < 200000; ++n) {
    std::array<std::uint8_t, 16> bytes{};
    for (int g = 0; g < 8; ++g) {
      const int kind = pick(random);
      const int value = kind == 0 ? 0 : kind == 1 ? 1 : kind == 2 ? 0xffff : group(random);
      // Mostly zeros, so that long runs are common.
      const int chosen = pick(random) < 2 ? 0 : value;
      bytes[2 * g] = static_cast<std::uint8_t>(chosen >> 8);
      bytes[2 * g + 1] = static_cast<std::uint8_t>(chosen & 0xff);
    }
    const auto v6 = IpAddress::from_bytes(std::string_view(reinterpret_cast<const char*>(bytes.data()), 16));
    REQUIRE(v6.has_value());
    const std::string expected = glibc_text(bytes, true);
    if (v6->to_string() != expected) {
      CAPTURE(expected);
      CHECK(v6->to_string() == expected);
      break;
    }
    ++v6_checked;
    std::array<std::uint8_t, 16> four{};
    for (int b = 0; b < 4; ++b) four[b] = static_cast<std::uint8_t>(byte(random));
    const auto v4 = IpAddress::from_bytes(std::string_view(reinterpret_cast<const char*>(four.data()), 4));
    REQUIRE(v4.has_value());
    if (v4->to_string() != glibc_text(four, false)) {
      CHECK(v4->to_string() == glibc_text(four, false));
      break;
    }
    ++v4_checked;
  }
  CHECK(v6_checked == 200000);
  CHECK(v4_checked == 200000);
  for (const char* text : {"::1", "1::", "::ffff:0.0.0.0", "::0.0.0.1", "::1.2.3.4", "1:0:0:1:0:0:0:1",
                           "1:0:0:1:0:0:1:1", "0:0:1::", "::ffff:1:2", "255.255.255.255", "0.0.0.0"}) {
    CAPTURE(text);
    const auto ip = IpAddress::parse(text);
    REQUIRE(ip.has_value());
    std::array<std::uint8_t, 16> bytes{};
    std::copy(ip->bytes().begin(), ip->bytes().end(), bytes.begin());
    CHECK(ip->to_string() == glibc_text(bytes, ip->is_v6()));
  }
}
