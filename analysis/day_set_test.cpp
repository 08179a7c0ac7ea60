#include "analysis/day_set.hpp"

#include <cstdint>
#include <limits>
#include <vector>

#include <doctest/doctest.h>

namespace dmarcsift::analysis {
namespace {

using Days = std::vector<std::int64_t>;

TEST_CASE("a day set keeps each day once, in order, whatever order they came in") {
  DaySet set;
  for (std::int64_t day : {20405, 20401, 20403, 20401, 20402, 20410, 20404, 20405, 20399}) {
    set.add(day);
  }
  CHECK(set.size() == 7);
  CHECK(set.days() == Days{20399, 20401, 20402, 20403, 20404, 20405, 20410});
}

TEST_CASE("a day between two runs joins them; one beside a run extends it") {
  DaySet set{10, 11, 13, 14};
  set.add(12);
  CHECK(set == DaySet{10, 11, 12, 13, 14});
  CHECK(set.days() == Days{10, 11, 12, 13, 14});
  set.add(9);
  set.add(15);
  set.add(17);
  CHECK(set.size() == 8);
  CHECK(set.days() == Days{9, 10, 11, 12, 13, 14, 15, 17});
  // The same days added in another order make an equal set.
  CHECK(set == DaySet{17, 15, 9, 12, 14, 10, 13, 11});
}

TEST_CASE("adding a day set adds its days") {
  DaySet set{1, 2, 3, 8};
  set.add(DaySet{3, 4, 6, 7, 20});
  CHECK(set.size() == 8);
  CHECK(set.days() == Days{1, 2, 3, 4, 6, 7, 8, 20});
  set.clear();
  CHECK(set.empty());
  CHECK(set.days().empty());
}

TEST_CASE("days at the ends of the range neither overflow nor join") {
  constexpr std::int64_t lowest = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t highest = std::numeric_limits<std::int64_t>::max();
  DaySet set{highest, lowest, 0, highest - 1, lowest + 1};
  CHECK(set.size() == 5);
  CHECK(set.days() == Days{lowest, lowest + 1, 0, highest - 1, highest});
}

}  // namespace
}  // namespace dmarcsift::analysis
