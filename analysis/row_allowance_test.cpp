#include "analysis/row_allowance.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

using dmarcsift::analysis::RowAllowance;

TEST_CASE("the grouping waits while its rows and the writer's exceed max_rows") {
  RowAllowance allowance(4);
  allowance.hold(3);
  allowance.wait_for_room(1);  // 1 + 3 fit: returns at once

  std::atomic<bool> grouped{false};
  std::thread grouping([&] {
    allowance.wait_for_room(2);
    grouped = true;
  });
  // Long enough for a grouping that did not wait to have gone on.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(grouped.load());
  allowance.release();
  grouping.join();
  CHECK(grouped.load());
}

TEST_CASE("the most rows held at once counts the writer's share") {
  RowAllowance allowance(10);
  allowance.hold(6);
  allowance.note(3);
  CHECK(allowance.most() == 9);
  allowance.release();
  allowance.note(7);
  CHECK(allowance.most() == 9);
  allowance.note(10);
  CHECK(allowance.most() == 10);
}
