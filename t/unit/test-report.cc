/*
 * test-report.cc - checkReportDates: units (seconds, milliseconds,
 * microseconds), ranges in the future and before 2000, what is left to the
 * store, each with a fixed "now"; and every report of the shared corpus.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/errors.hh"
#include "collector/intake/mime.hh"
#include "collector/intake/report-parser.hh"
#include "collector/intake/report.hh"
#include "collector/intake/unpack.hh"
#include "t/unit/test-util.hh"

#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace dmarcwatch::collector;
using dmarcwatch::test::readFile;

namespace
{

constexpr int64_t c_now = 1'709'294'400;       // 2024-03-01T12:00:00Z
constexpr int64_t c_dayBefore = 1'709'164'800; // 2024-02-29T00:00:00Z

struct Checked
{
  std::optional<std::string> refused;
  ReportMetadata metadata;
  Warnings warnings;
};

Checked check(int64_t begin, int64_t end, int64_t now = c_now)
{
  Checked out;
  out.metadata.begin = begin;
  out.metadata.end = end;
  out.refused = checkReportDates(out.metadata, now, out.warnings);
  return out;
}

std::string refusalOf(int64_t begin, int64_t end)
{
  auto got = check(begin, end);
  return got.refused ? *got.refused : "(accepted)";
}

//! Keeps every header, reads no record.
class HeaderSink : public ReportSink
{
public:
  bool onHeader(const ReportHeader& header) override
  {
    headers.push_back(header);
    return false;
  }
  void onRecord(const Record& /* record */) override {}

  std::vector<ReportHeader> headers;
};

//! Every report header in one corpus file (xml, gzip, zip or a mail), as ingest would find it.
std::vector<ReportHeader> corpusHeaders(const std::string& bytes)
{
  Limits limits;
  Warnings warnings;
  HeaderSink sink;
  auto visit = [&](ByteSource& xml, const std::string& /* label */) {
    try {
      parseReport(xml, limits, sink, warnings);
    }
    catch (const ParseError&) {
      // Not a usable report: the corpus tests of the parser and of ingest look at those.
    }
  };
  auto unpack = [&](std::string_view payload) {
    try {
      unpackPayload(std::span(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()), limits, warnings, visit);
    }
    catch (const ParseError&) {
    }
  };
  const InputKind kind = classify(bytes).kind;
  if (isPayloadKind(kind)) {
    unpack(bytes);
  }
  else if (kind == InputKind::Mail || kind == InputKind::Mbox) {
    for (const auto& part : extractPayloadParts(bytes, limits, warnings)) {
      unpack(part.body);
    }
  }
  return sink.headers;
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_report)

BOOST_AUTO_TEST_CASE(plain_range_is_accepted_unchanged)
{
  auto got = check(c_dayBefore, c_dayBefore + 86399);
  BOOST_TEST(!got.refused.has_value());
  BOOST_TEST(got.metadata.begin == c_dayBefore);
  BOOST_TEST(got.metadata.end == c_dayBefore + 86399);
  BOOST_TEST(got.warnings.empty());
}

BOOST_AUTO_TEST_CASE(milliseconds_are_read_as_seconds)
{
  auto got = check(1'709'164'800'000, 1'709'251'199'999);
  BOOST_TEST(!got.refused.has_value());
  BOOST_TEST(got.metadata.begin == 1'709'164'800);
  BOOST_TEST(got.metadata.end == 1'709'251'199); // the fraction of a second dropped
  BOOST_REQUIRE(got.warnings.items().size() == 2U);
  BOOST_TEST(got.warnings.items()[0] == "date_range begin 1709164800000 looks like milliseconds: read as 1709164800");
  BOOST_TEST(got.warnings.items()[1] == "date_range end 1709251199999 looks like milliseconds: read as 1709251199");

  // Each value on its own: seconds stay seconds next to milliseconds.
  auto mixed = check(c_dayBefore, 1'709'251'199'000);
  BOOST_TEST(!mixed.refused.has_value());
  BOOST_TEST(mixed.metadata.begin == c_dayBefore);
  BOOST_TEST(mixed.metadata.end == 1'709'251'199);
  BOOST_TEST(mixed.warnings.items().size() == 1U);
}

BOOST_AUTO_TEST_CASE(milliseconds_in_the_future_are_refused_after_conversion)
{
  auto got = check((c_now + 86400) * 1000, 0);
  BOOST_TEST(got.refused.value_or("(accepted)") ==
             "date_range 2024-03-02T12:00:00Z .. (none) is in the future (now 2024-03-01T12:00:00Z)");
  BOOST_TEST(got.warnings.items().size() == 1U);
}

BOOST_AUTO_TEST_CASE(microseconds_and_other_huge_values_are_refused)
{
  BOOST_TEST(refusalOf(1'709'164'800'000'000, 1'709'251'199'000'000) ==
             "date_range begin 1709164800000000 looks like microseconds: refused");
  BOOST_TEST(refusalOf(c_dayBefore, 1'709'251'199'000'000) ==
             "date_range end 1709251199000000 looks like microseconds: refused");
  // Too big for seconds, and as milliseconds it would be 1985.
  BOOST_TEST(refusalOf(c_dayBefore, 500'000'000'000) ==
             "date_range end 500000000000 is not a time in seconds or milliseconds");
  BOOST_TEST(refusalOf(INT64_MAX, INT64_MAX) ==
             "date_range begin 9223372036854775807 is not a time in seconds or milliseconds");
  // The largest value read as seconds is left alone: only an end, so the store clamps it to tomorrow.
  auto edge = check(c_dayBefore, s_maxReportSeconds);
  BOOST_TEST(!edge.refused.has_value());
  BOOST_TEST(edge.metadata.end == s_maxReportSeconds);
  BOOST_TEST(edge.warnings.empty());
}

BOOST_AUTO_TEST_CASE(range_in_the_future_is_refused)
{
  BOOST_TEST(refusalOf(c_now + s_futureAllowance + 1, c_now + s_futureAllowance + 1 + 86400) ==
             "date_range 2024-03-01T13:00:01Z .. 2024-03-02T13:00:01Z is in the future (now 2024-03-01T12:00:00Z)");
  // No begin: the end is where the store would count it.
  BOOST_TEST(refusalOf(0, 1'709'596'800) ==
             "date_range (none) .. 2024-03-05T00:00:00Z is in the future (now 2024-03-01T12:00:00Z)");
  // Reversed: the store counts it on its begin day.
  BOOST_TEST(refusalOf(1'709'596'800, c_dayBefore) ==
             "date_range 2024-03-05T00:00:00Z .. 2024-02-29T00:00:00Z is in the future (now 2024-03-01T12:00:00Z)");

  // Within the clock-skew allowance, and a range that is still running (today's report), are accepted.
  BOOST_TEST(refusalOf(c_now + s_futureAllowance, c_now + s_futureAllowance + 86400) == "(accepted)");
  BOOST_TEST(refusalOf(c_now - 3600, c_now + 86400) == "(accepted)");
}

BOOST_AUTO_TEST_CASE(range_before_2000_is_refused)
{
  BOOST_TEST(refusalOf(946'598'400, 946'684'799) ==
             "date_range 1999-12-31T00:00:00Z .. 1999-12-31T23:59:59Z ends before 2000-01-01T00:00:00Z");
  // No end: the begin is where the store would count it.
  BOOST_TEST(refusalOf(915'148'800, 0) == "date_range 1999-01-01T00:00:00Z .. (none) ends before 2000-01-01T00:00:00Z");
  // Ending at 2000-01-01 exactly, or reaching past it from before, is accepted (the store caps the length).
  BOOST_TEST(refusalOf(946'598'400, s_minReportTime) == "(accepted)");
  BOOST_TEST(refusalOf(915'148'800, c_dayBefore) == "(accepted)");
  // Reversed with an end of a few seconds: the store counts it on its begin day, which is fine.
  BOOST_TEST(refusalOf(c_dayBefore, 5) == "(accepted)");
}

BOOST_AUTO_TEST_CASE(missing_empty_and_reversed_ranges_are_left_to_the_store)
{
  // reportDaySpan counts these on one day with its own warning; nothing to refuse or say here.
  for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, 0}, {-1, 0}, {c_dayBefore, c_dayBefore},
                            {c_dayBefore + 86399, c_dayBefore}, {c_dayBefore, 0}, {0, c_dayBefore}, {-1, c_dayBefore}}) {
    auto got = check(begin, end);
    BOOST_TEST(!got.refused.has_value(), begin << ".." << end << ": " << got.refused.value_or(""));
    BOOST_TEST(got.metadata.begin == begin);
    BOOST_TEST(got.metadata.end == end);
    BOOST_TEST(got.warnings.empty(), begin << ".." << end);
  }
}

BOOST_AUTO_TEST_CASE(corpus_reports_are_accepted_today)
{
  // The shared corpus is optional; make check passes CORPUS.  Its reports are all in the past, so the
  // real clock asks exactly what ingest would do with them today.
  const char* corpus = std::getenv("CORPUS");
  if (corpus == nullptr || !std::filesystem::exists(std::filesystem::path(corpus) / "MANIFEST.tsv")) {
    BOOST_TEST_MESSAGE("corpus not available, skipped");
    return;
  }
  // The sample reports of RFC 9990 and of its draft are dated 1979 and 1975: refused, and nothing else.
  const std::map<std::string, std::string> expectedRefusals = {
    {"domainaware__parsedmarc/rfc9990-sample.xml", "ends before 2000"},
    {"ietf-wg-dmarc__draft-ietf-dmarc-aggregate-reporting/dmarc-xmlalt-0.2.xml", "ends before 2000"},
  };
  const int64_t now = std::time(nullptr);
  std::ifstream manifest(std::filesystem::path(corpus) / "MANIFEST.tsv");
  std::string line;
  std::getline(manifest, line);
  int reports = 0;
  int refused = 0;
  while (std::getline(manifest, line)) {
    const std::string file = line.substr(0, line.find('\t'));
    for (auto header : corpusHeaders(readFile(std::filesystem::path(corpus) / "files" / file))) {
      Warnings warnings;
      auto got = checkReportDates(header.metadata, now, warnings);
      auto want = expectedRefusals.find(file);
      if (want == expectedRefusals.end()) {
        BOOST_TEST(!got.has_value(), file << ": " << got.value_or(""));
      }
      else {
        BOOST_TEST(got.value_or("(accepted)").find(want->second) != std::string::npos,
                   file << ": " << got.value_or("(accepted)"));
      }
      BOOST_TEST(warnings.empty(), file);
      refused += got.has_value() ? 1 : 0;
      ++reports;
    }
  }
  BOOST_TEST_MESSAGE(reports << " corpus reports, " << refused << " refused for their dates");
  BOOST_TEST(reports > 100);
}

BOOST_AUTO_TEST_SUITE_END()
