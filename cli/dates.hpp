#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace dmarcsift::cli {

// Parses a --since/--until value: "YYYY-MM-DD" (UTC midnight), an ISO date
// with time "YYYY-MM-DDTHH:MM[:SS]" (UTC), epoch seconds, or a relative age
// "30d", "12h", "2w" counted back from `now`. nullopt when malformed.
std::optional<std::int64_t> parse_time_arg(std::string_view text, std::int64_t now);

}  // namespace dmarcsift::cli
