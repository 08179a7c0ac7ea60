#include "ingest/mail.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

namespace dmarcsift::ingest {
namespace {

// Walking stops here: real report mails nest three or four levels
// (mixed > related > alternative, or a forwarded message/rfc822).
constexpr int k_max_depth = 32;

struct Unref {
  void operator()(gpointer object) const noexcept { g_object_unref(object); }
};
template <typename T>
using GPtr = std::unique_ptr<T, Unref>;

struct GFree {
  void operator()(void* p) const noexcept { g_free(p); }
};
using GChars = std::unique_ptr<char, GFree>;

void ensure_gmime_initialized() {
  // g_mime_init is not thread-safe and must run exactly once per process.
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (ascii_lower(text[i]) != prefix[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

// Header values keep their folding in GMime's raw form; a stored value is
// one line.
std::string unfold(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : trim(value)) {
    if (c != '\r' && c != '\n') out.push_back(c);
  }
  return out;
}

// True when the header line at `line` is the field `name` (lower-case),
// allowing white space before the colon.
bool is_field(std::string_view line, std::string_view name) {
  if (!iequals_prefix(line, name)) return false;
  std::size_t pos = name.size();
  while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
  return pos < line.size() && line[pos] == ':';
}

// Trustwave writes `ContentType:` for the top-level Content-Type. GMime
// would then read the body as text/plain and never see the attachment, so
// the field is renamed in the header block before parsing, and only when
// no real Content-Type exists.
std::optional<std::string> repair_content_type_typo(std::string_view bytes) {
  std::optional<std::size_t> typo;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const void* newline = std::memchr(bytes.data() + pos, '\n', bytes.size() - pos);
    const std::size_t end =
        newline != nullptr
            ? static_cast<std::size_t>(static_cast<const char*>(newline) - bytes.data())
            : bytes.size();
    std::string_view line = bytes.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    if (is_field(line, "content-type")) return std::nullopt;
    if (!typo && is_field(line, "contenttype")) typo = pos;
    pos = end + 1;
  }
  if (!typo) return std::nullopt;
  std::string fixed(bytes);
  fixed.replace(*typo, std::strlen("ContentType"), "Content-Type");
  return fixed;
}

// RFC 7489 §7.2.1.1 names gzip and zip; receivers also send the x- variants,
// text/xml and (Amazon SES) application/octet-stream.
bool is_report_type(std::string_view type) {
  static constexpr std::array<std::string_view, 8> k_types = {"application/gzip",
                                                              "application/x-gzip",
                                                              "application/zip",
                                                              "application/x-zip-compressed",
                                                              "text/xml",
                                                              "application/xml",
                                                              "application/octet-stream",
                                                              "application/x-zip"};
  return std::find(k_types.begin(), k_types.end(), type) != k_types.end();
}

bool is_report_name(std::string_view filename) {
  const std::string name = lower(filename);
  return name.ends_with(".xml") || name.ends_with(".gz") || name.ends_with(".zip");
}

// RFC 8460 §5.3: SMTP TLS reports travel as application/tlsrpt+json or
// +gzip, often named *.json.gz; they are never DMARC reports.
bool is_tlsrpt_type(std::string_view type) {
  return type == "application/tlsrpt+json" || type == "application/tlsrpt+gzip";
}

std::string content_type_of(GMimeObject* object) {
  GMimeContentType* type = g_mime_object_get_content_type(object);
  if (type == nullptr) return "text/plain";  // RFC 2045 §5.2 default
  GChars mime_type(g_mime_content_type_get_mime_type(type));
  return mime_type ? lower(mime_type.get()) : std::string("text/plain");
}

std::string decoded_content(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) return {};
  GPtr<GMimeStream> sink(g_mime_stream_mem_new());
  // Decodes the Content-Transfer-Encoding (base64, quoted-printable, uuencode);
  // the bytes stay in their charset, the XML parser reads the declaration.
  if (g_mime_data_wrapper_write_to_stream(content, sink.get()) < 0) return {};
  GByteArray* array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(sink.get()));
  if (array == nullptr || array->len == 0) return {};
  return std::string(reinterpret_cast<const char*>(array->data), array->len);
}

struct Walk {
  std::vector<MailPart> parts;
  bool feedback_report = false;
  bool tls_report = false;
  bool too_deep = false;
};

void walk(GMimeObject* object, int depth, Walk& walk_state) {
  if (object == nullptr) return;
  if (depth > k_max_depth) {
    walk_state.too_deep = true;
    return;
  }
  const std::string type = content_type_of(object);
  if (type == "message/feedback-report") walk_state.feedback_report = true;
  if (is_tlsrpt_type(type)) walk_state.tls_report = true;

  if (GMIME_IS_MULTIPART(object)) {
    GMimeMultipart* multipart = GMIME_MULTIPART(object);
    const int count = g_mime_multipart_get_count(multipart);
    for (int i = 0; i < count; ++i) {
      walk(g_mime_multipart_get_part(multipart, i), depth + 1, walk_state);
    }
    return;
  }
  if (GMIME_IS_MESSAGE_PART(object)) {
    // A forwarded report: the original message is walked like the outer one.
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
    if (inner != nullptr) walk(g_mime_message_get_mime_part(inner), depth + 1, walk_state);
    return;
  }
  if (!GMIME_IS_PART(object)) return;  // message/partial fragments cannot be read alone

  GMimePart* part = GMIME_PART(object);
  MailPart out;
  out.content_type = type;
  const char* filename = g_mime_part_get_filename(part);
  out.filename = filename != nullptr ? unfold(filename) : "";
  out.declared_attachment =
      !is_tlsrpt_type(type) && (is_report_type(type) || is_report_name(out.filename));
  out.bytes = decoded_content(part);
  walk_state.parts.push_back(std::move(out));
}

std::string header_value(GMimeObject* object, const char* name) {
  GMimeHeaderList* headers = g_mime_object_get_header_list(object);
  if (headers == nullptr) return {};
  GMimeHeader* header = g_mime_header_list_get_header(headers, name);
  if (header == nullptr) return {};
  const char* raw = g_mime_header_get_raw_value(header);
  return raw != nullptr ? unfold(raw) : std::string();
}

std::string message_id(GMimeMessage* message) {
  const char* parsed = g_mime_message_get_message_id(message);
  std::string id =
      parsed != nullptr ? std::string(parsed) : header_value(GMIME_OBJECT(message), "Message-ID");
  std::string_view view = trim(id);
  if (view.size() >= 2 && view.front() == '<' && view.back() == '>') {
    view = trim(view.substr(1, view.size() - 2));
  }
  return std::string(view);
}

// The From field as written (RFC 2047 words decoded), not GMime's
// re-serialised address list, which drops the quotes around display names.
std::string from_of(GMimeMessage* message) {
  const char* decoded = g_mime_object_get_header(GMIME_OBJECT(message), "From");
  return decoded != nullptr ? unfold(decoded) : std::string();
}

}  // namespace

Result<ParsedMail> parse_mail(std::string_view bytes, std::string_view origin) {
  ensure_gmime_initialized();
  // A single message saved from an mbox keeps its "From " separator line,
  // which is not a header field (corpus dmarc_ruf_report_linkedin.eml).
  if (bytes.substr(0, 5) == "From ") {
    const std::size_t newline = bytes.find('\n');
    bytes = newline == std::string_view::npos ? std::string_view() : bytes.substr(newline + 1);
  }
  const std::optional<std::string> repaired = repair_content_type_typo(bytes);
  if (repaired) bytes = *repaired;

  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  GPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!message) {
    return fail(Errc::bad_input, std::string(origin),
                "not a parseable e-mail message: no header block");
  }
  GMimeHeaderList* headers = g_mime_object_get_header_list(GMIME_OBJECT(message.get()));
  if (headers == nullptr || g_mime_header_list_get_count(headers) == 0) {
    return fail(Errc::bad_input, std::string(origin),
                "not a parseable e-mail message: no header fields");
  }

  ParsedMail mail;
  mail.message_id = message_id(message.get());
  mail.from = from_of(message.get());
  const char* subject = g_mime_message_get_subject(message.get());
  mail.subject = subject != nullptr ? unfold(subject) : "";
  mail.date = header_value(GMIME_OBJECT(message.get()), "Date");

  Walk state;
  // For a single-part message (Mimecast's top-level application/gzip) the
  // message's own body is the one leaf.
  walk(g_mime_message_get_mime_part(message.get()), 0, state);
  if (state.too_deep) {
    return fail(Errc::bad_input, std::string(origin),
                "not a parseable e-mail message: MIME parts nested more than " +
                    std::to_string(k_max_depth) + " deep");
  }
  mail.parts = std::move(state.parts);
  const bool declared = std::any_of(mail.parts.begin(), mail.parts.end(),
                                    [](const MailPart& p) { return p.declared_attachment; });
  if (!declared) {
    mail.kind_hint = state.feedback_report ? "failure report (message/feedback-report)"
                     : state.tls_report    ? "SMTP TLS report"
                                           : "no attachment";
  }
  return mail;
}

void for_each_mbox_message(std::string_view bytes,
                           const std::function<void(std::size_t, std::string&&)>& on_message) {
  static constexpr std::string_view k_separator = "\nFrom ";
  // Searches bytes[from, to) only: an unbounded search per message would
  // make splitting quadratic in the size of the mbox.
  const auto find = [&](std::string_view needle, std::size_t from, std::size_t to) -> std::size_t {
    if (from >= to) return std::string_view::npos;
    const void* hit = memmem(bytes.data() + from, to - from, needle.data(), needle.size());
    return hit != nullptr ? static_cast<std::size_t>(static_cast<const char*>(hit) - bytes.data())
                          : std::string_view::npos;
  };
  // Appends bytes[begin, end) with one '>' removed from every line that
  // matches ^>+From (mboxrd, RFC 4155 §A); regions without such lines are
  // copied in one piece.
  const auto unquote = [&](std::size_t begin, std::size_t end) {
    std::string message;
    message.reserve(end - begin);
    std::size_t copied = begin;
    std::size_t line = begin;
    while (line < end) {
      if (bytes[line] == '>') {
        std::size_t p = line;
        while (p < end && bytes[p] == '>') ++p;
        if (end - p >= 5 && bytes.compare(p, 5, "From ") == 0) {
          message.append(bytes.data() + copied, line - copied);
          copied = line + 1;
        }
      }
      const std::size_t next = find("\n>", line, end);
      if (next == std::string_view::npos) break;
      line = next + 1;
    }
    message.append(bytes.data() + copied, end - copied);
    return message;
  };

  std::size_t index = 0;
  const auto deliver = [&](std::size_t begin, std::size_t end) {
    // mbox writers add one empty line after each message (RFC 4155 §2).
    if (end - begin >= 2 && bytes[end - 1] == '\n' && bytes[end - 2] == '\n') {
      --end;
    } else if (end - begin >= 4 && bytes.compare(end - 4, 4, "\r\n\r\n") == 0) {
      end -= 2;
    }
    if (trim(bytes.substr(begin, end - begin)).empty()) return;
    on_message(++index, unquote(begin, end));
  };

  std::size_t start = 0;  // start of the current message's first line
  if (bytes.substr(0, 5) != "From ") {
    const std::size_t first = find(k_separator, 0, bytes.size());
    if (first == std::string_view::npos) {
      deliver(0, bytes.size());
      return;
    }
    deliver(0, first + 1);
    start = first + 1;
  }
  while (start < bytes.size()) {
    // `start` is at a "From " separator line, which is dropped.
    const std::size_t newline = find("\n", start, bytes.size());
    if (newline == std::string_view::npos) return;
    const std::size_t body = newline + 1;
    const std::size_t next = find(k_separator, newline, bytes.size());
    const std::size_t end = next == std::string_view::npos ? bytes.size() : next + 1;
    deliver(body, end);
    start = end;
  }
}

}  // namespace dmarcsift::ingest
