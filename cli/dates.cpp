#include "cli/dates.hpp"

#include <charconv>

namespace dmarcsift::cli {
namespace {

std::optional<std::int64_t> to_number(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil), so that no time-zone state is involved.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

std::optional<std::int64_t> parse_time_arg(std::string_view text, std::int64_t now) {
  if (text.empty()) return std::nullopt;
  const char unit = text.back();
  if (unit == 'd' || unit == 'h' || unit == 'w') {
    auto amount = to_number(text.substr(0, text.size() - 1));
    if (!amount || *amount < 0) return std::nullopt;
    const std::int64_t seconds = unit == 'h' ? 3600 : unit == 'd' ? 86400 : 7 * 86400;
    return now - *amount * seconds;
  }
  if (text.size() >= 10 && text[4] == '-' && text[7] == '-') {
    auto year = to_number(text.substr(0, 4));
    auto month = to_number(text.substr(5, 2));
    auto day = to_number(text.substr(8, 2));
    if (!year || !month || !day || *month < 1 || *month > 12 || *day < 1 || *day > 31) {
      return std::nullopt;
    }
    std::int64_t seconds = days_from_civil(*year, static_cast<unsigned>(*month),
                                           static_cast<unsigned>(*day)) * 86400;
    std::string_view rest = text.substr(10);
    if (rest.empty()) return seconds;
    if ((rest[0] != 'T' && rest[0] != ' ') || (rest.size() != 6 && rest.size() != 9)) {
      return std::nullopt;
    }
    auto hour = to_number(rest.substr(1, 2));
    auto minute = to_number(rest.substr(4, 2));
    auto second = rest.size() == 9 ? to_number(rest.substr(7, 2)) : std::optional<std::int64_t>(0);
    if (!hour || !minute || !second || rest[3] != ':' || (rest.size() == 9 && rest[6] != ':') ||
        *hour > 23 || *minute > 59 || *second > 60) {
      return std::nullopt;
    }
    return seconds + *hour * 3600 + *minute * 60 + *second;
  }
  return to_number(text);
}

}  // namespace dmarcsift::cli
