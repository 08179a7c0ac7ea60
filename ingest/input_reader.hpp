#pragma once
// Turns the bytes of one input into parsed reports and problems without
// touching the database, so that inputs can be read on worker threads while
// one thread stores.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/aggregate_report.hpp"
#include "ingest/ingester.hpp"
#include "ingest/limits.hpp"
#include "storage/store.hpp"

namespace dmarcsift::ingest {

struct ParsedReport {
  AggregateReport report;     // container warnings already merged in
  std::string content_hash;   // of the XML document
  std::string entry;          // where inside the input ("" for a plain file)
  int message = -1;           // index into ParsedInput::messages, or -1
};

struct ParsedInput {
  std::string path;          // file, "file#N" for the Nth message of an mbox, "(stdin)"
  std::string content_hash;  // of the input's bytes
  std::vector<ParsedReport> reports;
  std::vector<storage::MailMessage> messages;  // e-mails that carried reports
  std::vector<InputProblem> problems;          // rejected input or entries
  std::vector<Warning> warnings;               // about members that are not reports
  bool is_mail = false;
  bool mail_has_candidate = false;  // some part looked like a report
  std::string mail_kind_hint;       // what a mail without a report is instead
  std::uint64_t inflated_bytes = 0;
};

// Reads the input `bytes` named `path`: an mbox gives one ParsedInput per
// message (named "path#N"), anything else exactly one.
std::vector<ParsedInput> read_input(const std::string& path, std::string_view bytes,
                                    const Limits& limits);

// An input that could not even be read (missing file, permission denied).
ParsedInput unreadable_input(const std::string& path, std::string reason);

}  // namespace dmarcsift::ingest
