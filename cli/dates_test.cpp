#include "cli/dates.hpp"

#include <doctest/doctest.h>

using dmarcsift::cli::parse_time_arg;

TEST_CASE("time arguments: dates, epoch seconds and ages") {
  const std::int64_t now = 1790812800;  // 2026-10-01 00:00 UTC
  struct Row { const char* text; std::optional<std::int64_t> value; };
  const Row rows[] = {
      {"2026-10-01", 1790812800},
      {"2026-10-01T06:30", 1790812800 + 6 * 3600 + 30 * 60},
      {"2026-10-01 06:30:15", 1790812800 + 6 * 3600 + 30 * 60 + 15},
      {"1970-01-01", 0},
      {"2000-02-29", 951782400},
      {"1790812800", 1790812800},
      {"30d", now - 30 * 86400},
      {"12h", now - 12 * 3600},
      {"2w", now - 14 * 86400},
      {"", std::nullopt},
      {"yesterday", std::nullopt},
      {"2026-13-01", std::nullopt},
      {"2026-10-01T25:00", std::nullopt},
      {"-5d", std::nullopt},
  };
  for (const Row& r : rows) {
    CAPTURE(r.text);
    CHECK(parse_time_arg(r.text, now) == r.value);
  }
}
