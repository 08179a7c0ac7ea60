#include "core/ip_address.hpp"

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
