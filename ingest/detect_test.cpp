#include "ingest/detect.hpp"

#include <doctest/doctest.h>

#include <string>

namespace dmarcsift::ingest {

TEST_CASE("detect_container sniffs the container from the leading bytes") {
  struct Row {
    const char* label;
    std::string bytes;
    Container expected;
  };
  std::string tar(512, '\0');
  tar.replace(0, 5, "a.xml");
  tar.replace(257, 6, std::string("ustar\0", 6));
  std::string gnu_tar = tar;
  gnu_tar.replace(257, 8, "ustar  \0");

  const Row rows[] = {
      {"zero bytes", "", Container::empty},
      {"only whitespace", " \r\n\t\n", Container::empty},
      {"xml declaration", "<?xml version=\"1.0\"?><feedback/>", Container::xml},
      {"xml with BOM and blank lines", "\xEF\xBB\xBF\r\n  <feedback/>", Container::xml},
      {"xml after a space", " <?xml version=\"1.0\"?>", Container::xml},
      {"gzip", std::string("\x1f\x8b\x08\x00", 4), Container::gzip},
      {"zlib default", std::string("\x78\x9c\x01\x02", 4), Container::zlib},
      {"zlib fastest", std::string("\x78\x01", 2), Container::zlib},
      {"zlib best", std::string("\x78\xda", 2), Container::zlib},
      {"zlib level 2-5", std::string("\x78\x5e", 2), Container::zlib},
      {"zip", std::string("PK\x03\x04\x14\x00", 6), Container::zip},
      {"empty zip", std::string("PK\x05\x06", 4) + std::string(18, '\0'), Container::zip},
      {"ustar", tar, Container::tar},
      {"gnu tar", gnu_tar, Container::tar},
      {"mbox", "From MAILER-DAEMON Fri Jul  8 12:08:34 2011\nSubject: x\n\nbody\n",
       Container::mbox},
      {"e-mail", "From: a@example.com\r\nSubject: Report\r\n\r\nbody", Container::email},
      {"e-mail trace fields",
       "Return-Path: <a@b>\nReceived: from x\n\tby y; Mon, 1 Jan 2024\n"
       "Delivered-To: c@d\nX-Spam: no\n\n",
       Container::email},
      {"Trustwave typo", "ContentType: application/zip\nSubject: r\n\nUEsDBA==\n",
       Container::email},
      {"obsolete space before colon", "Subject : x\n\n", Container::email},
      {"headers without the blank line", "Subject: x\nFrom: y\n", Container::unknown},
      {"continuation first", " folded: x\n\n", Container::unknown},
      {"word unused", "unused", Container::unknown},
      {"word unused with newline", "unused\n", Container::unknown},
      {"text sentence", "this is a file\n", Container::unknown},
      {"text line with colon late", "hello world: x\n\n", Container::unknown},
      {"pdf", "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", Container::unknown},
      {"AppleDouble", std::string("\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ", 24),
       Container::unknown},
      {"x then space is text, not zlib", "x y", Container::unknown},
      {"0x78 with FDICT", std::string("\x78\xbb", 2), Container::unknown},
      {"json", "{\"organization-name\":\"x\"}", Container::unknown},
      {"one gzip byte", "\x1f", Container::unknown},
  };
  for (const Row& row : rows) {
    CAPTURE(row.label);
    CHECK(detect_container(row.bytes) == row.expected);
  }
}

TEST_CASE("to_string names every container") {
  CHECK(std::string(to_string(Container::empty)) == "empty");
  CHECK(std::string(to_string(Container::xml)) == "xml");
  CHECK(std::string(to_string(Container::gzip)) == "gzip");
  CHECK(std::string(to_string(Container::zlib)) == "zlib");
  CHECK(std::string(to_string(Container::zip)) == "zip");
  CHECK(std::string(to_string(Container::tar)) == "tar");
  CHECK(std::string(to_string(Container::email)) == "email");
  CHECK(std::string(to_string(Container::mbox)) == "mbox");
  CHECK(std::string(to_string(Container::unknown)) == "unknown");
}

}  // namespace dmarcsift::ingest
