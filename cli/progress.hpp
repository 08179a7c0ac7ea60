#pragma once
// Progress on a terminal: one line on stderr, redrawn in place at most every
// 100 ms; nothing at all when stderr is not a terminal or --quiet is given.
#include <chrono>
#include <string>

#include "ingest/ingester.hpp"

namespace dmarcsift::cli {

class ProgressLine {
 public:
  explicit ProgressLine(bool quiet);
  ~ProgressLine();  // clears the line
  bool enabled() const { return m_enabled; }
  void update(const ingest::IngestProgress& progress);
  void clear();

 private:
  bool m_enabled;
  bool m_drawn = false;
  std::chrono::steady_clock::time_point m_last{};
};

}  // namespace dmarcsift::cli
