#include "cli/output.hpp"

#include <doctest/doctest.h>

#include <sstream>

using namespace dmarcsift::cli;

TEST_CASE("JSON strings are escaped and stay valid UTF-8") {
  struct Row { std::string input; std::string json; };
  const Row rows[] = {
      {"plain", "\"plain\""},
      {"a\"b\\c", "\"a\\\"b\\\\c\""},
      {"line\nbreak\ttab", "\"line\\nbreak\\ttab\""},
      {"\x1b[31mred", "\"\\u001b[31mred\""},
      {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
      {"bad\xff byte", "\"bad\xef\xbf\xbd byte\""},
      {"overlong\xc0\xaf", "\"overlong\xef\xbf\xbd\xef\xbf\xbd\""},
      {"<script>alert(1)</script>", "\"<script>alert(1)</script>\""},
  };
  for (const Row& r : rows) {
    CAPTURE(r.input);
    std::string out;
    append_json_string(out, r.input);
    CHECK(out == r.json);
  }
}

TEST_CASE("JsonWriter separates members and nests") {
  JsonWriter json;
  json.begin_object().key("a").value(std::int64_t{1}).key("b").begin_array().value("x").null()
      .value(true).end_array().key("c").begin_object().end_object().end_object();
  CHECK(json.str() == "{\"a\":1,\"b\":[\"x\",null,true],\"c\":{}}");
}

TEST_CASE("CSV cells are quoted and guarded against formulas") {
  CHECK(csv_cell("example.com") == "example.com");
  CHECK(csv_cell("a,b") == "\"a,b\"");
  CHECK(csv_cell("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_cell("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"");
  CHECK(csv_cell("+1") == "'+1");
  CHECK(csv_cell("@SUM(A1)") == "'@SUM(A1)");
  CHECK(csv_cell("-12") == "-12");
  CHECK(csv_cell("-cmd") == "'-cmd");
}

TEST_CASE("terminal output neutralises control characters") {
  CHECK(terminal_safe("Evil\x1b]0;pwned\x07 Corp") == "Evil\\x1b]0;pwned\\x07 Corp");
  CHECK(terminal_safe("tab\there") == "tab\\x09here");
  CHECK(terminal_safe("ok \xc3\xa9") == "ok \xc3\xa9");
  CHECK(terminal_safe("c1 \xc2\x9b") == "c1 ?");
  CHECK(terminal_safe("bad \xff") == "bad \xef\xbf\xbd");
}

TEST_CASE("tables pad columns and right-align numbers") {
  Table table;
  table.headers = {"name", "n"};
  table.right_aligned = {false, true};
  table.rows = {{"alpha", "1"}, {"b", "1,000"}};
  std::ostringstream out;
  table.print(out);
  CHECK(out.str() == "name       n\nalpha      1\nb      1,000\n");
  std::ostringstream csv;
  table.print_csv(csv);
  CHECK(csv.str() == "name,n\r\nalpha,1\r\nb,\"1,000\"\r\n");
}

TEST_CASE("numbers and times print for people") {
  CHECK(with_thousands(0) == "0");
  CHECK(with_thousands(1234567) == "1,234,567");
  CHECK(with_thousands(-1000) == "-1,000");
  CHECK(format_utc(1790812800) == "2026-10-01 00:00");
}

TEST_CASE("tables narrow their widest text columns to fit a terminal") {
  Table table;
  table.headers = {"source", "from", "messages"};
  table.right_aligned = {false, false, true};
  table.rows = {{"2001:db8:bad:2::13", "billing-portal.harbor-dental.example", "5"},
                {"192.0.2.1", "example.com", "1,234"}};
  table.keep_whole = {true, false, false};
  table.max_width = 40;
  std::ostringstream out;
  table.print(out);
  CHECK(out.str() ==
        "source              from        messages\n"
        "2001:db8:bad:2::13  billing-p\xE2\x80\xA6         5\n"
        "192.0.2.1           example.c\xE2\x80\xA6     1,234\n");
}
