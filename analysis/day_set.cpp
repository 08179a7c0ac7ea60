#include "analysis/day_set.hpp"

#include <algorithm>

namespace dmarcsift::analysis {
namespace {

// Whether `later` is the day after `earlier`, without overflowing on days
// decoded from a damaged database.
bool next_day(std::int64_t earlier, std::int64_t later) {
  return earlier < later &&
         static_cast<std::uint64_t>(later) - static_cast<std::uint64_t>(earlier) == 1;
}

}  // namespace

DaySet::DaySet(std::initializer_list<std::int64_t> days) {
  for (std::int64_t day : days) add(day);
}

void DaySet::add(std::int64_t day) {
  // The first run starting after `day`; the one before it may hold it.
  auto after = std::upper_bound(m_runs.begin(), m_runs.end(), day,
                                [](std::int64_t d, const Run& run) { return d < run.first; });
  if (after != m_runs.begin()) {
    Run& before = *(after - 1);
    if (day <= before.last) return;
    if (next_day(before.last, day)) {
      before.last = day;
      ++m_days;
      if (after != m_runs.end() && next_day(day, after->first)) {
        before.last = after->last;
        m_runs.erase(after);
      }
      return;
    }
  }
  ++m_days;
  if (after != m_runs.end() && next_day(day, after->first)) {
    after->first = day;
    return;
  }
  m_runs.insert(after, Run{day, day});
}

void DaySet::add(const DaySet& other) {
  other.for_each([this](std::int64_t day) { add(day); });
}

void DaySet::clear() {
  m_runs.clear();
  m_days = 0;
}

std::vector<std::int64_t> DaySet::days() const {
  std::vector<std::int64_t> days;
  days.reserve(m_days);
  for_each([&](std::int64_t day) { days.push_back(day); });
  return days;
}

}  // namespace dmarcsift::analysis
