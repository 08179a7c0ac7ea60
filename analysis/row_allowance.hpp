#pragma once
// Shared by a rebuild's writer and the thread grouping its next share of
// source rows, so that the two together stay within max_rows.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace dmarcsift::analysis {

// The rows a rebuild's writer holds while the read-ahead groups the next
// share: both count against max_rows, so that a rebuild holds at most
// max_rows rows at once. Grouping a share while the previous one was
// written held up to twice that: on the 10M-record corpus a share of 65,000
// rows was written while the next domain grew to 100,000 before it was
// found to need two shares.
class RowAllowance {
 public:
  explicit RowAllowance(std::size_t max_rows) : m_max_rows(max_rows) {}

  // The writer took a share of `rows` rows; until it releases them.
  void hold(std::size_t rows) {
    std::lock_guard lock(m_mutex);
    m_held.store(rows, std::memory_order_relaxed);
  }
  void release() {
    {
      std::lock_guard lock(m_mutex);
      m_held.store(0, std::memory_order_relaxed);
    }
    m_released.notify_all();
  }
  // Waits until the grouping may hold `rows` rows beside the writer's.
  void wait_for_room(std::size_t rows) {
    if (rows + m_held.load(std::memory_order_relaxed) <= m_max_rows) return;
    std::unique_lock lock(m_mutex);
    m_released.wait(lock, [&] { return rows + m_held.load(std::memory_order_relaxed) <= m_max_rows; });
  }
  // The grouping holds `rows` rows. Called by one grouping thread at a time.
  void note(std::size_t rows) {
    const std::size_t both = rows + m_held.load(std::memory_order_relaxed);
    if (both > m_most.load(std::memory_order_relaxed)) m_most.store(both, std::memory_order_relaxed);
  }
  // The most rows the grouping and the writer held at once.
  std::size_t most() const { return m_most.load(std::memory_order_relaxed); }

 private:
  const std::size_t m_max_rows;
  std::mutex m_mutex;
  std::condition_variable m_released;
  std::atomic<std::size_t> m_held{0};
  std::atomic<std::size_t> m_most{0};
};

}  // namespace dmarcsift::analysis
