#include "analysis/sources.hpp"

#include <doctest/doctest.h>

#include "analysis/summary_index.hpp"

namespace dmarcsift::analysis {
namespace {

SourceRow group(std::string ip, std::string from, std::string service, GroupClass category,
                std::int64_t messages, std::int64_t passing) {
  SourceRow row;
  row.source_ip = std::move(ip);
  row.address = *IpAddress::parse(row.source_ip);
  row.header_from = std::move(from);
  row.policy_domain = "example.com";
  row.service = std::move(service);
  row.category = category;
  row.messages = messages;
  row.records = 1;
  row.dmarc_pass_messages = passing;
  row.evidence.header_from = row.header_from;
  row.evidence.failing = messages - passing;
  return row;
}

TEST_CASE("a roll-up takes the category holding most of its groups' messages") {
  // SendGrid is set up for example.com (aligned) but not for news.example.com
  // (misaligned): the service reads aligned, with the split beside it.
  const std::vector<SourceRow> groups = {
      group("192.0.2.1", "example.com", "SendGrid", GroupClass::aligned, 100, 100),
      group("192.0.2.2", "news.example.com", "SendGrid", GroupClass::misaligned, 60, 0),
      group("192.0.2.3", "example.com", "", GroupClass::unauthorized, 7, 0),
  };
  const std::vector<SourceRow> services = roll_up(groups, SourceGrouping::service);
  REQUIRE(services.size() == 2);
  CHECK(services[0].service == "SendGrid");
  CHECK(services[0].category == GroupClass::aligned);
  CHECK(services[0].messages == 160);
  CHECK(services[0].dmarc_pass_messages == 100);
  CHECK(services[0].messages_by_category ==
        std::array<std::int64_t, 5>{100, 0, 60, 0, 0});
  CHECK(services[0].source_ip.empty());
  CHECK(services[1].service.empty());
  CHECK(services[1].category == GroupClass::unauthorized);

  const std::vector<SourceRow> domains = roll_up(groups, SourceGrouping::domain);
  REQUIRE(domains.size() == 1);
  CHECK(domains[0].policy_domain == "example.com");
  CHECK(domains[0].messages == 167);
  CHECK(domains[0].category == GroupClass::aligned);
}

TEST_CASE("a tie between categories goes to the one listed first") {
  const std::vector<SourceRow> groups = {
      group("192.0.2.1", "example.com", "Mailgun", GroupClass::misaligned, 50, 0),
      group("192.0.2.2", "example.com", "Mailgun", GroupClass::forwarded, 50, 50),
  };
  const std::vector<SourceRow> services = roll_up(groups, SourceGrouping::service);
  REQUIRE(services.size() == 1);
  CHECK(services[0].category == GroupClass::forwarded);
}

TEST_CASE("stored totals decode to the totals encoded") {
  SourceRow row = group("2001:db8::1", "example.com", "SendGrid", GroupClass::misaligned, 1234567,
                        34567);
  row.records = 89;
  row.spf_aligned_messages = 11;
  row.dkim_aligned_messages = 22;
  row.messages_by_disposition = {1, 2, 3, 4};
  row.tally.messages_by_row_class[2] = 1200000;
  row.tally.dmarc_pass_rows = 5;
  row.tally.misaligned_or_unauthorized_rows = 84;
  row.evidence.foreign_pass = 1200000;
  row.evidence.foreign_domain = "sendgrid.net";
  row.evidence.failed_selector = "s1";
  row.sample_auth_count = 900;
  row.sample_record = 987654321;
  row.reporter_ids = {7, 3, 12};
  row.days = {20400, 20390, 20401};
  row.first_seen = 1762560000;
  row.last_seen = 1763251199;

  SourceRow decoded;
  decoded.header_from = row.header_from;
  REQUIRE(decode_totals(encode_totals(row), decoded));
  CHECK(decoded.messages == 1234567);
  CHECK(decoded.records == 89);
  CHECK(decoded.dmarc_pass_messages == 34567);
  CHECK(decoded.spf_aligned_messages == 11);
  CHECK(decoded.dkim_aligned_messages == 22);
  CHECK(decoded.messages_by_disposition == storage::DispositionCounts{1, 2, 3, 4});
  CHECK(decoded.tally.messages_by_row_class[2] == 1200000);
  CHECK(decoded.tally.dmarc_pass_rows == 5);
  CHECK(decoded.tally.misaligned_or_unauthorized_rows == 84);
  CHECK(decoded.evidence.failing == row.evidence.failing);
  CHECK(decoded.evidence.foreign_pass == 1200000);
  CHECK(decoded.evidence.foreign_domain == "sendgrid.net");
  CHECK(decoded.evidence.failed_selector == "s1");
  CHECK(decoded.evidence.header_from == "example.com");
  CHECK(decoded.sample_auth_count == 900);
  CHECK(decoded.sample_record == 987654321);
  CHECK(decoded.reporter_ids == std::vector<std::int64_t>{7, 3, 12});
  CHECK(decoded.days.days() == std::vector<std::int64_t>{20390, 20400, 20401});  // sorted
  CHECK(decoded.first_seen == 1762560000);
  CHECK(decoded.last_seen == 1763251199);
}

TEST_CASE("malformed stored totals are refused, not read past their end") {
  const std::string encoded = encode_totals(group("192.0.2.1", "example.com", "", GroupClass::aligned, 5, 5));
  SourceRow decoded;
  for (std::size_t cut = 0; cut < encoded.size(); ++cut) {
    CAPTURE(cut);
    CHECK(!decode_totals(encoded.substr(0, cut), decoded));
  }
  CHECK(!decode_totals(encoded + "x", decoded));
  CHECK(!decode_totals(std::string("\x02") + encoded.substr(1), decoded));  // another encoding
  CHECK(decode_totals(encoded, decoded));
}

}  // namespace
}  // namespace dmarcsift::analysis
