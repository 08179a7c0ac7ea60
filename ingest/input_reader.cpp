#include "ingest/input_reader.hpp"

#include <functional>
#include <utility>

#include "core/content_hash.hpp"
#include "ingest/archive.hpp"
#include "ingest/detect.hpp"
#include "ingest/mail.hpp"
#include "ingest/xml_report.hpp"

namespace dmarcsift::ingest {
namespace {

constexpr std::string_view k_separator = " > ";
std::string join_entry(std::string_view parent, std::string_view name) {
  if (parent.empty()) return std::string(name);
  std::string joined;
  joined.reserve(parent.size() + k_separator.size() + name.size());
  joined.append(parent).append(k_separator).append(name);
  return joined;
}

// The first bytes of an unrecognised payload, printable, for error messages.
std::string preview(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes.substr(0, 12)) {
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char k_hex[] = "0123456789abcdef";
      out.append("\\x");
      out.push_back(k_hex[c >> 4]);
      out.push_back(k_hex[c & 15]);
    }
  }
  return "'" + out + (bytes.size() > 12 ? "...'" : "'");
}

// macOS zips carry "__MACOSX/._name" AppleDouble resource forks beside the
// real members; they are metadata, never reports.
bool is_apple_double(std::string_view name, std::string_view bytes) {
  static constexpr char k_magic[] = {0x00, 0x05, 0x16, 0x07};
  return name.find("__MACOSX/") != std::string_view::npos ||
         bytes.substr(0, 4) == std::string_view(k_magic, 4);
}

// A text body (not declared as an attachment) is taken as a report only when
// its root element is <feedback>: HTML bodies of report mails talk about
// "DMARC aggregate feedback" too.
bool root_is_feedback(std::string_view bytes) {
  std::size_t i = 0;
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
  for (;;) {
    i = bytes.find('<', i);
    if (i == std::string_view::npos || i + 1 >= bytes.size()) return false;
    const char next = bytes[i + 1];
    if (next == '?' || next == '!') {  // declaration, comment, DOCTYPE
      i = bytes.find('>', i);
      if (i == std::string_view::npos) return false;
      continue;
    }
    std::size_t end = i + 1;
    while (end < bytes.size() && bytes[end] != '>' && bytes[end] != '/' &&
           bytes[end] != ' ' && bytes[end] != '\t' && bytes[end] != '\r' && bytes[end] != '\n') {
      ++end;
    }
    std::string_view name = bytes.substr(i + 1, end - i - 1);
    if (const auto colon = name.find(':'); colon != std::string_view::npos) name.remove_prefix(colon + 1);
    return name == "feedback";
  }
}

// Turns a parser error into the one-line reason shown for an entry: the
// element path the parser added after the origin, then the cause.
std::string reason_from(const Error& error, std::string_view origin) {
  std::string_view where = error.where;
  if (where.substr(0, origin.size()) == origin) {
    where.remove_prefix(origin.size());
    while (!where.empty() && (where.front() == ' ' || where.front() == '>' || where.front() == ':'))
      where.remove_prefix(1);
  }
  if (where.empty() || where == error.where) return error.what;
  return std::string(where) + ": " + error.what;
}


class InputReader {
 public:
  InputReader(ParsedInput& input, const Limits& limits) : m_input(input), m_limits(limits) {}

  // Bytes unpacked from a container, which are the reader's to consume: XML
  // is parsed where it lies, and `reread` unpacks it again in the rare case
  // that needs its text twice.
  struct Unpacked {
    std::string& bytes;
    std::function<std::string()> reread;
  };

  // Unpacks or parses `bytes` (found at `entry` inside the input) and
  // collects the reports and problems it holds. `unpacked`, when given, owns
  // `bytes`.
  void process(std::string_view bytes, const std::string& entry, std::uint32_t depth,
               std::vector<Warning> container_warnings, int message,
               Unpacked* unpacked = nullptr) {
    if (depth > m_limits.max_depth) {
      problem(entry, "containers nested more than " + std::to_string(m_limits.max_depth) +
                         " deep (limit max_depth)");
      return;
    }
    const Container container = detect_container(bytes);
    switch (container) {
      case Container::empty:
        problem(entry, entry.empty() ? "empty file" : "empty entry");
        return;
      case Container::xml:
        if (unpacked != nullptr) {
          parse_owned_document(std::move(unpacked->bytes), entry, std::move(container_warnings),
                               message, unpacked->reread);
        } else {
          parse_document(bytes, entry, std::move(container_warnings), message);
        }
        return;
      case Container::gzip:
      case Container::zlib: {
        auto inflated = inflate_stream(bytes, origin_of(entry), m_limits, container_warnings);
        if (!inflated) {
          problem(entry, reason_from(inflated.error(), origin_of(entry)));
          return;
        }
        if (!charge(entry, inflated->size())) return;
        const Container inner = detect_container(*inflated);
        if (inner == Container::unknown || inner == Container::empty) {
          problem(entry, std::string(to_string(container)) + " content is not a report: " +
                             (inner == Container::empty ? std::string("it is empty")
                                                        : "starts with " + preview(*inflated)));
          return;
        }
        Unpacked owned{*inflated, [&] {
                         std::vector<Warning> ignored;
                         auto again = inflate_stream(bytes, origin_of(entry), m_limits, ignored);
                         return again ? std::move(*again) : std::string();
                       }};
        process(*inflated, entry, depth + 1, std::move(container_warnings), message, &owned);
        return;
      }
      case Container::zip:
      case Container::tar:
        process_archive(bytes, entry, depth, container_warnings, message);
        return;
      case Container::email:
        process_mail(bytes, entry, depth);
        return;
      case Container::mbox:
        problem(entry, "an mbox inside a container is not supported");
        return;
      case Container::unknown:
        break;
    }
    problem(entry, "not XML, gzip, zip, tar or e-mail: starts with " + preview(bytes));
  }

 private:
  void problem(std::string entry, std::string reason) {
    m_input.problems.push_back({m_input.path, std::move(entry), std::move(reason)});
  }

  std::string origin_of(std::string_view entry) const {
    return entry.empty() ? m_input.path
                         : m_input.path + std::string(k_separator) + std::string(entry);
  }

  bool charge(const std::string& entry, std::uint64_t bytes) {
    m_input.inflated_bytes += bytes;
    if (m_input.inflated_bytes <= m_limits.max_input_bytes) return true;
    problem(entry, "decompressed data exceeds " + std::to_string(m_limits.max_input_bytes) +
                       " bytes for one input (limit max_input_bytes)");
    return false;
  }

  void process_archive(std::string_view bytes, const std::string& entry, std::uint32_t depth,
                       const std::vector<Warning>& container_warnings, int message) {
    bool over_budget = false;
    std::size_t index = 0;
    auto opened = for_each_entry(bytes, origin_of(entry), m_limits, [&](ArchiveEntry&& member) {
      const std::size_t member_index = index++;
      if (over_budget) return;
      const std::string name = member.name.empty() ? "(unnamed entry)" : member.name;
      const std::string member_entry = join_entry(entry, name);
      if (!member.bytes) {
        problem(member_entry, reason_from(member.bytes.error(), origin_of(member_entry)));
        return;
      }
      if (is_apple_double(member.name, *member.bytes)) {
        add_warning(m_input.warnings, "macosx_appledouble_members", member_entry);
        return;
      }
      if (!charge(member_entry, member.bytes->size())) {
        over_budget = true;
        return;
      }
      Unpacked owned{*member.bytes, [&] { return extract_again(bytes, entry, member_index); }};
      process(*member.bytes, member_entry, depth + 1, container_warnings, message, &owned);
    });
    if (!opened) problem(entry, reason_from(opened.error(), origin_of(entry)));
  }

  // The bytes of the archive's member number `index` (counting as
  // for_each_entry does), or "" when it cannot be read.
  std::string extract_again(std::string_view archive, const std::string& entry, std::size_t index) {
    std::string bytes;
    std::size_t at = 0;
    (void)for_each_entry(archive, origin_of(entry), m_limits, [&](ArchiveEntry&& member) {
      if (at++ == index && member.bytes) bytes = std::move(*member.bytes);
    });
    return bytes;
  }

  void process_mail(std::string_view bytes, const std::string& entry, std::uint32_t depth) {
    auto mail = parse_mail(bytes, origin_of(entry));
    if (!mail) {
      problem(entry, reason_from(mail.error(), origin_of(entry)));
      return;
    }
    m_input.is_mail = true;
    const int message = static_cast<int>(m_input.messages.size());
    m_input.messages.push_back({mail->message_id, mail->from, mail->subject, mail->date});
    bool has_candidate = false;
    for (std::size_t i = 0; i < mail->parts.size(); ++i) {
      const MailPart& part = mail->parts[i];
      // SMTP TLS reports (RFC 8460) arrive gzipped at similar addresses;
      // they are not DMARC reports and not corrupt either.
      if (part.content_type.rfind("application/tlsrpt", 0) == 0) continue;
      const Container container = detect_container(part.bytes);
      const bool sniffed = container == Container::gzip || container == Container::zlib ||
                           container == Container::zip || container == Container::tar ||
                           (container == Container::xml && root_is_feedback(part.bytes));
      if (!part.declared_attachment && !sniffed) continue;
      has_candidate = true;
      const std::string name = !part.filename.empty()
                                   ? part.filename
                                   : "part " + std::to_string(i + 1) + " (" + part.content_type + ")";
      const std::string part_entry = join_entry(entry, name);
      if (container == Container::unknown) {
        problem(part_entry, "corrupt attachment: " + part.content_type +
                                " is not gzip, zip or XML (starts with " + preview(part.bytes) + ")");
        continue;
      }
      process(part.bytes, part_entry, depth + 1, {}, message);
    }
    if (has_candidate) {
      m_input.mail_has_candidate = true;
    } else {
      m_input.mail_kind_hint = mail->kind_hint.empty() ? "no attachment" : mail->kind_hint;
    }
  }

  void parse_document(std::string_view xml, const std::string& entry,
                      std::vector<Warning> container_warnings, int message) {
    const std::string origin = origin_of(entry);
    add_report(parse_xml_report(xml, origin, m_limits), content_hash(xml), entry,
               container_warnings, message);
  }

  void parse_owned_document(std::string&& xml, const std::string& entry,
                            std::vector<Warning> container_warnings, int message,
                            const std::function<std::string()>& reread) {
    const std::string origin = origin_of(entry);
    // Taken before the parse, which overwrites the text.
    std::string hash = content_hash(xml);
    add_report(parse_owned_xml_report(std::move(xml), origin, m_limits, reread), std::move(hash),
               entry, container_warnings, message);
  }

  void add_report(Result<AggregateReport>&& report, std::string hash,
                  const std::string& entry, const std::vector<Warning>& container_warnings,
                  int message) {
    if (!report) {
      problem(entry, reason_from(report.error(), origin_of(entry)));
      return;
    }
    for (const Warning& w : container_warnings) {
      for (int n = 0; n < w.count; ++n) add_warning(report->warnings, w.kind, w.detail);
    }
    m_input.reports.push_back({std::move(*report), std::move(hash), entry, message});
  }

  ParsedInput& m_input;
  const Limits& m_limits;
};

}  // namespace

std::vector<ParsedInput> read_input(const std::string& path, std::string_view bytes,
                                    const Limits& limits) {
  std::vector<ParsedInput> inputs;
  if (detect_container(bytes) == Container::mbox) {
    for_each_mbox_message(bytes, [&](std::size_t index, std::string&& message) {
      ParsedInput& input = inputs.emplace_back();
      input.path = path + "#" + std::to_string(index);
      input.content_hash = content_hash(message);
      InputReader(input, limits).process(message, "", 0, {}, -1);
    });
    if (inputs.empty()) inputs.push_back(unreadable_input(path, "mbox file holds no message"));
    return inputs;
  }
  ParsedInput& input = inputs.emplace_back();
  input.path = path;
  input.content_hash = content_hash(bytes);
  InputReader(input, limits).process(bytes, "", 0, {}, -1);
  return inputs;
}

ParsedInput unreadable_input(const std::string& path, std::string reason) {
  ParsedInput input;
  input.path = path;
  input.problems.push_back({path, "", std::move(reason)});
  return input;
}

}  // namespace dmarcsift::ingest
