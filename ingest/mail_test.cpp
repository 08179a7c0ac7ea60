#include "ingest/mail.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

namespace dmarcsift::ingest {
namespace {

// RFC 4648 base64 in 76-column lines, as mailers write attachments.
std::string base64(std::string_view data) {
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t column = 0;
  for (std::size_t i = 0; i < data.size(); i += 3) {
    std::uint32_t chunk = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (i + 1 < data.size())
      chunk |= static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    if (i + 2 < data.size()) chunk |= static_cast<unsigned char>(data[i + 2]);
    out += k_alphabet[(chunk >> 18) & 63];
    out += k_alphabet[(chunk >> 12) & 63];
    out += i + 1 < data.size() ? k_alphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < data.size() ? k_alphabet[chunk & 63] : '=';
    if ((column += 4) == 76) {
      out += "\r\n";
      column = 0;
    }
  }
  return out + "\r\n";
}

// Binary bytes that survive only an exact base64 round trip.
const std::string k_gzip_bytes("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\x00\x0d\x0a\x80 tail",
                               21);
const std::string k_zip_bytes("PK\x03\x04\x14\x00\x00\x00\x08\x00\xfe\xed", 12);

std::vector<std::string> types_of(const ParsedMail& mail) {
  std::vector<std::string> types;
  for (const MailPart& part : mail.parts) types.push_back(part.content_type);
  return types;
}

}  // namespace

TEST_CASE("parse_mail reads headers and a base64 gzip attachment of multipart/mixed") {
  const std::string eml =
      "Return-Path: <noreply-dmarc-support@google.com>\r\n"
      "Received: from mail.example.net by mx.example.com;\r\n"
      "\tTue, 12 Oct 2021 16:59:59 -0700\r\n"
      "Message-ID: <13488712042596170873@google.com>\r\n"
      "From: \"DMARC Aggregate Report\" <noreply-dmarc-support@google.com>\r\n"
      "Subject: =?UTF-8?B?UmVwb3J0IGRvbWFpbjogZXhhbXBsZS5jb20=?=\r\n"
      "Date: Tue, 12 Oct 2021 16:59:59 -0700\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
      "\r\n"
      "--b1\r\n"
      "Content-Type: text/plain; charset=us-ascii\r\n"
      "\r\n"
      "This is an aggregate report.\r\n"
      "--b1\r\n"
      "Content-Type: application/gzip; "
      "name=\"google.com!example.com!1633996800!1634083199.xml.gz\"\r\n"
      "Content-Disposition: attachment;\r\n"
      "\tfilename=\"google.com!example.com!1633996800!1634083199.xml.gz\"\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n" +
      base64(k_gzip_bytes) + "--b1--\r\n";
  auto mail = parse_mail(eml, "google.eml");
  REQUIRE(mail);
  CHECK(mail->message_id == "13488712042596170873@google.com");
  CHECK(mail->from == "\"DMARC Aggregate Report\" <noreply-dmarc-support@google.com>");
  CHECK(mail->subject == "Report domain: example.com");
  CHECK(mail->date == "Tue, 12 Oct 2021 16:59:59 -0700");
  CHECK(mail->kind_hint == "");
  REQUIRE(mail->parts.size() == 2);
  CHECK(mail->parts[0].content_type == "text/plain");
  CHECK(mail->parts[0].filename == "");
  CHECK_FALSE(mail->parts[0].declared_attachment);
  CHECK(mail->parts[0].bytes == "This is an aggregate report.");
  CHECK(mail->parts[1].content_type == "application/gzip");
  CHECK(mail->parts[1].filename == "google.com!example.com!1633996800!1634083199.xml.gz");
  CHECK(mail->parts[1].declared_attachment);
  CHECK(mail->parts[1].bytes == k_gzip_bytes);
}

TEST_CASE("parse_mail decodes a quoted-printable text/xml attachment") {
  const std::string eml =
      "From: dmarc@example.net\n"
      "Subject: Report Domain: example.com Submitter: example.net Report-ID: 42\n"
      "MIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=\"=_b\"\n"
      "\n"
      "--=_b\n"
      "Content-Type: text/xml\n"
      "Content-Transfer-Encoding: quoted-printable\n"
      "\n"
      "<?xml version=3D\"1.0\"?>\n"
      "<feedback><org_name>Caf=C3=A9 ex=\n"
      "ample</org_name></feedback>\n"
      "--=_b--\n";
  auto mail = parse_mail(eml, "qp.eml");
  REQUIRE(mail);
  CHECK(mail->message_id == "");
  CHECK(mail->date == "");
  REQUIRE(mail->parts.size() == 1);
  CHECK(mail->parts[0].content_type == "text/xml");
  CHECK(mail->parts[0].declared_attachment);
  CHECK(mail->parts[0].bytes ==
        "<?xml version=\"1.0\"?>\n<feedback><org_name>Caf\xC3\xA9 example</org_name></feedback>");
}

TEST_CASE("parse_mail walks a forwarded message/rfc822 and nested multiparts") {
  const std::string eml =
      "From: postmaster@example.com\n"
      "Subject: Fwd: Report Domain: example.com\n"
      "Content-Type: multipart/mixed; boundary=outer\n"
      "\n"
      "--outer\n"
      "Content-Type: text/plain\n"
      "\n"
      "See the forwarded report.\n"
      "--outer\n"
      "Content-Type: message/rfc822\n"
      "\n"
      "From: noreply@example.net\n"
      "Subject: Report Domain: example.com\n"
      "Content-Type: multipart/mixed; boundary=inner\n"
      "\n"
      "--inner\n"
      "Content-Type: multipart/alternative; boundary=alt\n"
      "\n"
      "--alt\n"
      "Content-Type: text/plain\n"
      "\n"
      "plain\n"
      "--alt\n"
      "Content-Type: text/html\n"
      "\n"
      "<p>html</p>\n"
      "--alt--\n"
      "--inner\n"
      "Content-Type: application/x-zip-compressed; name=report.zip\n"
      "Content-Transfer-Encoding: base64\n"
      "\n" +
      base64(k_zip_bytes) +
      "--inner--\n"
      "--outer--\n";
  auto mail = parse_mail(eml, "fwd.eml");
  REQUIRE(mail);
  CHECK(mail->subject == "Fwd: Report Domain: example.com");
  CHECK(types_of(*mail) == std::vector<std::string>{"text/plain", "text/plain", "text/html",
                                                    "application/x-zip-compressed"});
  CHECK(mail->parts[1].bytes == "plain");
  CHECK(mail->parts[2].bytes == "<p>html</p>");
  CHECK_FALSE(mail->parts[2].declared_attachment);
  CHECK(mail->parts[3].filename == "report.zip");
  CHECK(mail->parts[3].declared_attachment);
  CHECK(mail->parts[3].bytes == k_zip_bytes);
  CHECK(mail->kind_hint == "");
}

TEST_CASE("parse_mail returns the body of a single-part application/gzip message") {
  const std::string eml =
      "From: no-reply@au-1.mimecastreport.com\n"
      "Subject: Report domain: ab.id.au Submitter: mimecast.org Report-ID: \n"
      "Content-Type: application/gzip\n"
      "Content-Disposition: attachment; "
      "filename=\"mimecast.org!ab.id.au!1693353600!1693439999.xml.gz\"\n"
      "Content-Transfer-Encoding: base64\n"
      "\n" +
      base64(k_gzip_bytes);
  auto mail = parse_mail(eml, "mimecast.eml");
  REQUIRE(mail);
  CHECK(mail->subject == "Report domain: ab.id.au Submitter: mimecast.org Report-ID:");
  REQUIRE(mail->parts.size() == 1);
  CHECK(mail->parts[0].content_type == "application/gzip");
  CHECK(mail->parts[0].filename == "mimecast.org!ab.id.au!1693353600!1693439999.xml.gz");
  CHECK(mail->parts[0].declared_attachment);
  CHECK(mail->parts[0].bytes == k_gzip_bytes);
}

TEST_CASE("parse_mail reads multipart/alternative and multipart/related bodies beside the report") {
  const std::string eml =
      "From: \"DMARC Aggregate Report\" <dmarcreport@microsoft.com>\n"
      "Subject: Report Domain: example.com\n"
      "Content-Type: multipart/mixed; boundary=m\n"
      "\n"
      "--m\n"
      "Content-Type: multipart/related; boundary=r\n"
      "\n"
      "--r\n"
      "Content-Type: multipart/alternative; boundary=a\n"
      "\n"
      "--a\n"
      "Content-Type: text/plain; charset=us-ascii\n"
      "\n"
      "\n"
      "--a\n"
      "Content-Type: text/html; charset=us-ascii\n"
      "Content-Transfer-Encoding: base64\n"
      "\n" +
      base64("<html>report</html>") +
      "--a--\n"
      "--r--\n"
      "--m\n"
      "Content-Type: application/octet-stream; "
      "name=\"amazonses.com!example.com!1663545600!1663632000.xml.gz\"\n"
      "Content-Transfer-Encoding: base64\n"
      "\n" +
      base64(k_gzip_bytes) + "--m--\n";
  auto mail = parse_mail(eml, "outlook.eml");
  REQUIRE(mail);
  CHECK(types_of(*mail) ==
        std::vector<std::string>{"text/plain", "text/html", "application/octet-stream"});
  CHECK(mail->parts[0].bytes == "");
  CHECK(mail->parts[1].bytes == "<html>report</html>");
  CHECK(mail->parts[2].declared_attachment);
  CHECK(mail->parts[2].bytes == k_gzip_bytes);
}

TEST_CASE("parse_mail declares parts by type or by file name") {
  struct Row {
    const char* content_type;
    bool declared;
  };
  const Row rows[] = {
      {"application/gzip", true},
      {"application/x-gzip", true},
      {"application/zip", true},
      {"application/x-zip-compressed", true},
      {"text/xml", true},
      {"application/xml", true},
      {"application/octet-stream", true},
      {"Application/GZIP", true},
      {"text/plain", false},
      {"text/html", false},
      {"text/plain; name=\"example.com!x!1!2.XML\"", true},
      {"text/plain; name=report.xml.gz", true},
      {"application/pdf; name=report.zip", true},
      {"application/pdf; name=report.pdf", false},
      {"application/tlsrpt+gzip; name=report.json.gz", false},
  };
  for (const Row& row : rows) {
    CAPTURE(row.content_type);
    const std::string eml =
        std::string("From: a@example.com\nContent-Type: ") + row.content_type + "\n\nbody\n";
    auto mail = parse_mail(eml, "m.eml");
    REQUIRE(mail);
    REQUIRE(mail->parts.size() == 1);
    CHECK(mail->parts[0].declared_attachment == row.declared);
  }
}

TEST_CASE("parse_mail uses Trustwave's ContentType header when Content-Type is missing") {
  const std::string eml =
      "From: dmarc@trustwave.example\n"
      "Subject: Report Domain: example.com\n"
      "MIME-Version: 1.0\n"
      "ContentType: multipart/mixed; boundary=\"tw\"\n"
      "\n"
      "--tw\n"
      "Content-Type: application/zip; name=report.zip\n"
      "Content-Transfer-Encoding: base64\n"
      "\n" +
      base64(k_zip_bytes) + "--tw--\n";
  auto mail = parse_mail(eml, "trustwave.eml");
  REQUIRE(mail);
  REQUIRE(mail->parts.size() == 1);
  CHECK(mail->parts[0].content_type == "application/zip");
  CHECK(mail->parts[0].bytes == k_zip_bytes);

  // A real Content-Type wins over the typo.
  const std::string both =
      "From: a@example.com\nContent-Type: text/plain\nContentType: application/zip\n\nhello\n";
  mail = parse_mail(both, "both.eml");
  REQUIRE(mail);
  REQUIRE(mail->parts.size() == 1);
  CHECK(mail->parts[0].content_type == "text/plain");
  CHECK(mail->kind_hint == "no attachment");
}

TEST_CASE("parse_mail hints at what a message without a report is") {
  const std::string failure_report =
      "From dmarc-noreply@linkedin.com Tue Apr 30 02:09:16 2019\n"
      "From: dmarc-noreply@linkedin.com\n"
      "Message-ID: <BB.91@mail516.prod.linkedin.com>\n"
      "Subject: DMARC Failure report for example.com\n"
      "Content-Type: multipart/report; report-type=feedback-report; boundary=\"fb\"\n"
      "\n"
      "--fb\n"
      "Content-Type: text/plain\n"
      "\n"
      "This is an email abuse report.\n"
      "--fb\n"
      "Content-Type: message/feedback-report\n"
      "\n"
      "Feedback-Type: auth-failure\n"
      "Auth-Failure: dmarc\n"
      "--fb\n"
      "Content-Type: text/rfc822-headers\n"
      "\n"
      "From: someone@example.com\n"
      "--fb--\n";
  auto mail = parse_mail(failure_report, "ruf.eml");
  REQUIRE(mail);
  CHECK(mail->message_id == "BB.91@mail516.prod.linkedin.com");
  CHECK(mail->from == "dmarc-noreply@linkedin.com");
  CHECK(mail->kind_hint == "failure report (message/feedback-report)");
  CHECK(types_of(*mail) ==
        std::vector<std::string>{"text/plain", "message/feedback-report", "text/rfc822-headers"});

  const std::string tls_report =
      "From: tlsrpt@example.net\n"
      "Subject: Report Domain: example.com\n"
      "Content-Type: multipart/report; report-type=tlsrpt; boundary=t\n"
      "\n"
      "--t\n"
      "Content-Type: text/plain\n"
      "\n"
      "TLS report\n"
      "--t\n"
      "Content-Type: application/tlsrpt+gzip; name=\"example.net!example.com!1!2.json.gz\"\n"
      "Content-Transfer-Encoding: base64\n"
      "\n" +
      base64(k_gzip_bytes) + "--t--\n";
  mail = parse_mail(tls_report, "tls.eml");
  REQUIRE(mail);
  CHECK(mail->kind_hint == "SMTP TLS report");
  REQUIRE(mail->parts.size() == 2);
  CHECK_FALSE(mail->parts[1].declared_attachment);
  CHECK(mail->parts[1].bytes == k_gzip_bytes);

  mail = parse_mail("From: a@example.com\nSubject: report too large\n\nThe report was too large.\n",
                    "n.eml");
  REQUIRE(mail);
  CHECK(mail->kind_hint == "no attachment");
  REQUIRE(mail->parts.size() == 1);
  CHECK(mail->parts[0].content_type == "text/plain");
  CHECK(mail->parts[0].bytes == "The report was too large.\n");
}

TEST_CASE("parse_mail rejects bytes that are not a message") {
  for (const std::string_view bytes :
       {std::string_view(""), std::string_view("unused"), std::string_view("%PDF-1.7\n\x80\x81"),
        std::string_view("\x00\x05\x16\x07\x00\x02", 6)}) {
    CAPTURE(bytes);
    auto mail = parse_mail(bytes, "bad.eml");
    REQUIRE_FALSE(mail);
    CHECK(mail.error().code == Errc::bad_input);
    CHECK(mail.error().where == "bad.eml");
    CHECK(mail.error().what == "not a parseable e-mail message: no header block");
  }
}

TEST_CASE("parse_mail refuses parts nested beyond 32 levels without crashing") {
  std::string eml = "From: a@example.com\nContent-Type: multipart/mixed; boundary=b0\n\n";
  for (int i = 1; i <= 40; ++i) {
    eml += "--b" + std::to_string(i - 1) + "\nContent-Type: multipart/mixed; boundary=b" +
           std::to_string(i) + "\n\n";
  }
  eml += "--b40\nContent-Type: text/xml\n\n<feedback/>\n";
  auto mail = parse_mail(eml, "deep.eml");
  REQUIRE_FALSE(mail);
  CHECK(mail.error().what == "not a parseable e-mail message: MIME parts nested more than 32 deep");
}

namespace {
std::vector<std::pair<std::size_t, std::string>> split(std::string_view mbox) {
  std::vector<std::pair<std::size_t, std::string>> messages;
  for_each_mbox_message(mbox, [&](std::size_t index, std::string&& message) {
    messages.emplace_back(index, std::move(message));
  });
  return messages;
}
}  // namespace

TEST_CASE("for_each_mbox_message splits on From lines and undoes >From quoting") {
  const std::string mbox =
      "From a@example.com Mon Jan  1 00:00:00 2024\n"
      "Subject: one\n"
      "\n"
      "body one\n"
      ">From the desk of a\n"
      ">>From quoted twice\n"
      "> From is not quoting\n"
      "\n"
      "From b@example.com Mon Jan  1 00:00:01 2024\n"
      ">From first line\n"
      "Subject: two\n"
      "\n"
      "\n"
      "From c@example.com Mon Jan  1 00:00:02 2024\n"
      "Subject: three\n"
      "\n"
      "From: is a header name, not a separator\n"
      "last line\n"
      "\n";
  const auto messages = split(mbox);
  REQUIRE(messages.size() == 3);
  CHECK(messages[0].first == 1);
  CHECK(
      messages[0].second ==
      "Subject: one\n\nbody one\nFrom the desk of a\n>From quoted twice\n> From is not quoting\n");
  CHECK(messages[1].first == 2);
  CHECK(messages[1].second == "From first line\nSubject: two\n\n");
  CHECK(messages[2].first == 3);
  CHECK(messages[2].second ==
        "Subject: three\n\nFrom: is a header name, not a separator\nlast line\n");
}

TEST_CASE("for_each_mbox_message handles CRLF line ends") {
  const std::string mbox =
      "From a@example.com Mon Jan  1 00:00:00 2024\r\n"
      "Subject: one\r\n\r\nbody\r\n>From x\r\n\r\n"
      "From b@example.com Mon Jan  1 00:00:01 2024\r\n"
      "Subject: two\r\n\r\nbody two\r\n";
  const auto messages = split(mbox);
  REQUIRE(messages.size() == 2);
  CHECK(messages[0].second == "Subject: one\r\n\r\nbody\r\nFrom x\r\n");
  CHECK(messages[1].second == "Subject: two\r\n\r\nbody two\r\n");
}

TEST_CASE("for_each_mbox_message skips empty messages and keeps text before the first separator") {
  CHECK(split("").empty());
  CHECK(split("From a Mon Jan  1 00:00:00 2024\n\nFrom b Mon Jan  1 00:00:00 2024\n").empty());
  const auto messages =
      split("Subject: stray\n\nx\nFrom a Mon Jan  1 00:00:00 2024\nSubject: y\n\nz");
  REQUIRE(messages.size() == 2);
  CHECK(messages[0] == std::make_pair(std::size_t{1}, std::string("Subject: stray\n\nx\n")));
  CHECK(messages[1] == std::make_pair(std::size_t{2}, std::string("Subject: y\n\nz")));
}

TEST_CASE("for_each_mbox_message keeps every byte of many messages") {
  std::string message = "Subject: report\n\n";
  for (int i = 0; i < 2000; ++i) message += "<record><count>1</count></record>\n";
  std::string mbox;
  const int count = 300;
  for (int i = 0; i < count; ++i)
    mbox += "From a@example.com Mon Jan  1 00:00:00 2024\n" + message + "\n";
  std::size_t seen = 0;
  std::size_t bytes = 0;
  for_each_mbox_message(mbox, [&](std::size_t index, std::string&& m) {
    seen = index;
    bytes += m.size();
  });
  CHECK(seen == count);
  CHECK(bytes == message.size() * count);
}

}  // namespace dmarcsift::ingest
