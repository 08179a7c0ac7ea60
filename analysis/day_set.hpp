#pragma once
// The distinct UTC days a source was seen on.
#include <cstdint>
#include <cstddef>
#include <initializer_list>
#include <vector>

namespace dmarcsift::analysis {

// Days (epoch seconds / 86400) as ascending runs of consecutive days. A
// sender seen every day of a year is one 16-byte run, where a list of its
// days took 2,920 bytes and a search of them for every record.
class DaySet {
 public:
  DaySet() = default;
  DaySet(std::initializer_list<std::int64_t> days);

  void add(std::int64_t day);
  void add(const DaySet& other);
  void clear();

  std::size_t size() const { return m_days; }  // days, not runs
  bool empty() const { return m_days == 0; }
  std::vector<std::int64_t> days() const;      // ascending

  template <typename Visit>
  void for_each(Visit visit) const {
    for (const Run& run : m_runs) {
      for (std::int64_t day = run.first;; ++day) {
        visit(day);
        if (day == run.last) break;
      }
    }
  }

  friend bool operator==(const DaySet&, const DaySet&) = default;

 private:
  struct Run {
    std::int64_t first;
    std::int64_t last;
    friend bool operator==(const Run&, const Run&) = default;
  };
  std::vector<Run> m_runs;  // ascending, each at least a day apart from the next
  std::size_t m_days = 0;
};

}  // namespace dmarcsift::analysis
