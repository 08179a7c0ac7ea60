// Container detection and unpacking on arbitrary bytes: detect_container,
// then whichever of inflate_stream, for_each_entry, parse_mail and
// for_each_mbox_message the detected kind calls for, with small limits.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "fuzz/fuzz_limits.hpp"
#include "ingest/archive.hpp"
#include "ingest/detect.hpp"
#include "ingest/mail.hpp"

namespace {

using dmarcsift::fuzz::check;
namespace ingest = dmarcsift::ingest;

void parse_one_mail(std::string_view bytes) {
  auto mail = ingest::parse_mail(bytes, "fuzz.eml");
  if (!mail) return;
  for (const ingest::MailPart& part : mail->parts) {
    // What read_input does next with each part.
    check(ingest::to_string(ingest::detect_container(part.bytes)) != nullptr, "to_string");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = dmarcsift::fuzz::as_chars(data, size);
  const ingest::Limits limits = dmarcsift::fuzz::small_limits();
  const ingest::Container container = ingest::detect_container(bytes);
  check(ingest::to_string(container) != nullptr, "every container has a name");
  switch (container) {
    case ingest::Container::gzip:
    case ingest::Container::zlib: {
      std::vector<dmarcsift::Warning> warnings;
      auto inflated = ingest::inflate_stream(bytes, "fuzz.gz", limits, warnings);
      if (inflated) {
        check(inflated->size() <= limits.max_entry_bytes, "inflate_stream keeps max_entry_bytes");
      } else {
        check(inflated.error().where == "fuzz.gz", "an inflate error names the origin",
              inflated.error().where);
      }
      break;
    }
    case ingest::Container::zip:
    case ingest::Container::tar: {
      std::uint64_t entries = 0;
      auto listed = ingest::for_each_entry(bytes, "fuzz.zip", limits, [&](ingest::ArchiveEntry&& entry) {
        ++entries;
        check(entries <= limits.max_entries, "for_each_entry keeps max_entries");
        if (entry.bytes) {
          check(entry.bytes->size() <= limits.max_entry_bytes, "an entry keeps max_entry_bytes");
        }
      });
      (void)listed;
      break;
    }
    case ingest::Container::email:
      parse_one_mail(bytes);
      break;
    case ingest::Container::mbox: {
      std::size_t expected = 1;
      ingest::for_each_mbox_message(bytes, [&](std::size_t index, std::string&& message) {
        check(index == expected++, "mbox messages are numbered 1, 2, 3...");
        parse_one_mail(message);
      });
      break;
    }
    case ingest::Container::empty:
    case ingest::Container::xml:
    case ingest::Container::unknown:
      break;
  }
  return 0;
}
