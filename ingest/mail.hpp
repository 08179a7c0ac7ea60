#pragma once
// Report e-mails, parsed with GMime: headers plus every leaf part that may
// carry a report, transfer encoding decoded.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace dmarcsift::ingest {

struct MailPart {
  std::string content_type;  // lower-case "type/subtype"
  std::string filename;      // from Content-Disposition or Content-Type name, may be ""
  // True when the part is declared as a report: a gzip/zip/xml/octet-stream
  // type, or a file name ending .xml/.gz/.zip. Such a part that cannot be
  // read is a corrupt attachment; other parts (text bodies) are just skipped.
  bool declared_attachment = false;
  std::string bytes;  // decoded content
};

struct ParsedMail {
  std::string message_id;  // without angle brackets
  std::string from;
  std::string subject;
  std::string date;
  std::vector<MailPart> parts;  // every leaf, nested multiparts and message/rfc822 walked
  // For a message with no report: what it looks like instead ("failure
  // report (message/feedback-report)", "SMTP TLS report", "no attachment").
  std::string kind_hint;
};

Result<ParsedMail> parse_mail(std::string_view bytes, std::string_view origin);

// Splits an mbox file into messages (mboxrd/mboxo ">From " quoting undone)
// and calls `on_message(index, bytes)` with 1-based indexes.
void for_each_mbox_message(std::string_view bytes,
                           const std::function<void(std::size_t, std::string&&)>& on_message);

}  // namespace dmarcsift::ingest
