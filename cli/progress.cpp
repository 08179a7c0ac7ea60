#include "cli/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "cli/output.hpp"

namespace dmarcsift::cli {
namespace {

bool progress_wanted(bool quiet) {
  const char* term = std::getenv("TERM");
  return !quiet && isatty(STDERR_FILENO) && term != nullptr && std::string_view(term) != "dumb";
}

std::size_t terminal_columns() {
  winsize size{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

}  // namespace

ProgressLine::ProgressLine(bool quiet) : m_enabled(progress_wanted(quiet)) {}

ProgressLine::~ProgressLine() { clear(); }

void ProgressLine::update(const ingest::IngestProgress& progress) {
  if (!m_enabled) return;
  const auto now = std::chrono::steady_clock::now();
  if (m_drawn && now - m_last < std::chrono::milliseconds(100)) return;
  m_last = now;
  std::string line = with_thousands(progress.inputs) + " inputs, " +
                     with_thousands(progress.reports_stored) + " reports, " +
                     with_thousands(progress.records_stored) + " records  " +
                     terminal_safe(progress.current);
  const std::size_t width = terminal_columns() - 1;
  if (line.size() > width) line.resize(width);
  std::fprintf(stderr, "\r%s\x1b[K", line.c_str());
  std::fflush(stderr);
  m_drawn = true;
}

void ProgressLine::clear() {
  if (!m_drawn) return;
  std::fputs("\r\x1b[K", stderr);
  std::fflush(stderr);
  m_drawn = false;
}

}  // namespace dmarcsift::cli
