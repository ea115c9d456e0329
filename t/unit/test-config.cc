#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/config.hh"
#include "collector/common/errors.hh"
#include "t/unit/test-util.hh"

#include <regex>
#include <set>

using namespace dmarcwatch::collector;

BOOST_AUTO_TEST_SUITE(test_config)

BOOST_AUTO_TEST_CASE(defaults_round_trip_through_dump)
{
  // Parsing the dumped defaults must give the compiled-in defaults: the table and the structs agree.
  auto parsed = parseConfig(dumpDefaultConfig(), "dump");
  Config want;
  BOOST_CHECK_EQUAL(parsed->socket, want.socket);
  BOOST_CHECK_EQUAL(parsed->socketMode, want.socketMode);
  BOOST_CHECK_EQUAL(parsed->database, want.database);
  BOOST_CHECK_EQUAL(parsed->mapSize, want.mapSize);
  BOOST_CHECK_EQUAL(parsed->maxDatabaseSize, want.maxDatabaseSize);
  BOOST_CHECK_EQUAL(parsed->memoryBufferBytes, want.memoryBufferBytes);
  BOOST_CHECK_EQUAL(parsed->commandTimeout.count(), want.commandTimeout.count());
  BOOST_CHECK_EQUAL(parsed->progressInterval.count(), want.progressInterval.count());
  BOOST_CHECK_EQUAL(parsed->syslogTarget, want.syslogTarget);
  BOOST_CHECK(parsed->reportAction == want.reportAction);
  BOOST_CHECK(parsed->onStoreError == want.onStoreError);
  BOOST_CHECK(parsed->onParseError == want.onParseError);
  BOOST_CHECK_EQUAL(parsed->limits.maxMessageBytes, want.limits.maxMessageBytes);
  BOOST_CHECK_EQUAL(parsed->limits.maxDecompressedBytes, want.limits.maxDecompressedBytes);
  BOOST_CHECK_EQUAL(parsed->limits.maxCompressionRatio, want.limits.maxCompressionRatio);
  BOOST_CHECK_EQUAL(parsed->limits.maxArchiveMembers, want.limits.maxArchiveMembers);
  BOOST_CHECK_EQUAL(parsed->limits.maxNesting, want.limits.maxNesting);
  BOOST_CHECK_EQUAL(parsed->limits.maxMimeParts, want.limits.maxMimeParts);
  BOOST_CHECK_EQUAL(parsed->limits.maxMimeDepth, want.limits.maxMimeDepth);
  BOOST_CHECK_EQUAL(parsed->limits.maxRecords, want.limits.maxRecords);
  BOOST_CHECK_EQUAL(parsed->limits.maxXmlDepth, want.limits.maxXmlDepth);
  BOOST_CHECK_EQUAL(parsed->limits.maxTextLength, want.limits.maxTextLength);
  BOOST_CHECK_EQUAL(parsed->limits.maxAuthResults, want.limits.maxAuthResults);
  BOOST_CHECK_EQUAL(parsed->limits.maxWarnings, want.limits.maxWarnings);
  BOOST_CHECK_EQUAL(parsed->limits.maxRawArchiveBytes, want.limits.maxRawArchiveBytes);
  BOOST_CHECK_EQUAL(parsed->limits.maxReportDays, want.limits.maxReportDays);
}

BOOST_AUTO_TEST_CASE(sample_file_documents_every_key)
{
  // conf/dmarcwatch.conf must mention every key of the table (as "Key" or "#Key"), and no other key.
  std::string sample = dmarcwatch::test::readFile(dmarcwatch::test::srcDir() / "conf" / "dmarcwatch.conf");
  std::set<std::string> known;
  for (const auto& name : configKeyNames()) {
    known.insert(name);
    std::regex line("(^|\\n)#? ?" + name + "( |\\n)");
    BOOST_CHECK_MESSAGE(std::regex_search(sample, line), "conf/dmarcwatch.conf does not document " << name);
  }
  // And the sample, with its commented example lines, parses.
  BOOST_CHECK_NO_THROW(parseConfig(sample, "conf/dmarcwatch.conf"));
}

BOOST_AUTO_TEST_CASE(keys_are_case_insensitive_and_values_parse)
{
  auto c = parseConfig("socket unix:/run/dw.sock\n"
                       "REPORTADDRESS dmarc@Example.COM, @reports.example.net\n"
                       "ReportAddress rua@other.test\n"
                       "ReportAction discard   # trailing comment\n"
                       "MaxMessageSize 32M\n"
                       "MaxCompressionRatio 50\n"
                       "AddHeader no\n"
                       "SocketMode 0600\n",
                       "t.conf");
  BOOST_CHECK_EQUAL(c->socket, "unix:/run/dw.sock");
  BOOST_REQUIRE_EQUAL(c->reportAddresses.size(), 3U);
  BOOST_CHECK(c->reportAction == ReportAction::Discard);
  BOOST_CHECK_EQUAL(c->limits.maxMessageBytes, 32ULL << 20);
  BOOST_CHECK_EQUAL(c->limits.maxCompressionRatio, 50U);
  BOOST_CHECK(!c->addHeader);
  BOOST_CHECK_EQUAL(c->socketMode, 0600U);
  BOOST_CHECK(c->isReportRecipient("<dmarc@example.com>"));
  BOOST_CHECK(c->isReportRecipient("DMARC@EXAMPLE.com"));
  BOOST_CHECK(c->isReportRecipient("<anything@reports.example.net>"));
  BOOST_CHECK(c->isReportRecipient("rua@OTHER.test"));
  BOOST_CHECK(!c->isReportRecipient("<dmarc@example.org>"));
  BOOST_CHECK(!c->isReportRecipient("<other@example.com>"));
  BOOST_CHECK(!c->isReportRecipient("<x@sub.reports.example.net>"));
  BOOST_CHECK(!c->isReportRecipient("no-at-sign"));
}

void checkError(const std::string& text, const std::string& wantPrefix)
{
  try {
    parseConfig(text, "bad.conf");
    BOOST_ERROR("no error for: " << text);
  }
  catch (const ConfigError& e) {
    std::string got = e.what();
    BOOST_CHECK_MESSAGE(got.starts_with(wantPrefix), "got '" << got << "', want prefix '" << wantPrefix << "'");
  }
}

BOOST_AUTO_TEST_CASE(errors_name_file_and_line)
{
  checkError("# comment\n\nNoSuchKey 1\n", "bad.conf:3: unknown key 'NoSuchKey'");
  checkError("ReportAction bounce\n", "bad.conf:1: ReportAction: 'bounce' must be one of keep|discard");
  checkError("MaxMessageSize lots\n", "bad.conf:1: MaxMessageSize: 'lots' is not a size");
  checkError("MaxXmlDepth 1\n", "bad.conf:1: MaxXmlDepth: 1 is outside");
  checkError("Socket 8895\n", "bad.conf:1: Socket: '8895': a unix socket needs an absolute path");
  checkError("Socket tcp:8895@127.0.0.1\n", "bad.conf:1: Socket: 'tcp:8895@127.0.0.1': unknown kind 'tcp'");
  checkError("Socket inet:smtp@127.0.0.1\n", "bad.conf:1: Socket: 'inet:smtp@127.0.0.1': the port must be a number");
  checkError("Socket inet6:70000@::1\n", "bad.conf:1: Socket: 'inet6:70000@::1': the port must be a number");
  checkError("Socket unix:run/milter.sock\n", "bad.conf:1: Socket: 'unix:run/milter.sock': a unix socket needs");
  checkError("SocketMode 0999\n", "bad.conf:1: SocketMode: '0999' is not an octal mode");
  checkError("SocketMode 01777\n", "bad.conf:1: SocketMode: 01777 is outside 0..0777");
  checkError("Database /a\nDatabase /b\n", "bad.conf:2: Database: given twice");
  checkError("ReportAddress nobody\n", "bad.conf:1: ReportAddress: 'nobody' is not an address");
  checkError("Database\n", "bad.conf:1: Database: missing value");
  checkError("SyslogTarget syslog.example:514\n", "bad.conf:1: SyslogTarget:");
  checkError("CommandTimeout soon\n", "bad.conf:1: CommandTimeout: 'soon' is not a time (like 30s, 10m, 2h)");
  checkError("CommandTimeout 0\n", "bad.conf:1: CommandTimeout: 0s is outside 1s..86400s");
  checkError("ProgressInterval 2h\n", "bad.conf:1: ProgressInterval: 7200s is outside 1s..3600s");
  // The map starts at MapSize and grows up to MaxDatabaseSize: named at the later line.
  checkError("MapSize 16G\n", "bad.conf:1: MapSize 17179869184 exceeds MaxDatabaseSize 8589934592");
  checkError("MaxDatabaseSize 1G\n# the map\nMapSize 2G\n", "bad.conf:3: MapSize 2147483648 exceeds MaxDatabaseSize");
  checkError("MapSize 2G\nMaxDatabaseSize 1G\n", "bad.conf:2: MapSize 2147483648 exceeds MaxDatabaseSize 1073741824");
  auto grows = parseConfig("MapSize 64M\nMaxDatabaseSize 1T\n", "ok.conf");
  BOOST_CHECK_EQUAL(grows->mapSize, 64ULL << 20);
  BOOST_CHECK_EQUAL(grows->maxDatabaseSize, 1ULL << 40);
}

BOOST_AUTO_TEST_CASE(missing_file_is_named)
{
  try {
    loadConfig("/nonexistent/dmarcwatch.conf");
    BOOST_ERROR("no error");
  }
  catch (const ConfigError& e) {
    BOOST_CHECK_EQUAL(std::string(e.what()), "/nonexistent/dmarcwatch.conf: cannot open configuration file");
  }
}

BOOST_AUTO_TEST_CASE(sizes)
{
  uint64_t got = 0;
  BOOST_CHECK(parseSize("512k", got));
  BOOST_CHECK_EQUAL(got, 512U * 1024);
  BOOST_CHECK(parseSize("2G", got));
  BOOST_CHECK_EQUAL(got, 2ULL << 30);
  BOOST_CHECK(parseSize("1000", got));
  BOOST_CHECK_EQUAL(got, 1000U);
  BOOST_CHECK(!parseSize("", got));
  BOOST_CHECK(!parseSize("M", got));
  BOOST_CHECK(!parseSize("-1", got));
  BOOST_CHECK(!parseSize("1.5G", got));
  BOOST_CHECK(!parseSize("99999999999999999999", got));
  BOOST_CHECK(!parseSize("99999999999T", got));
}

BOOST_AUTO_TEST_CASE(durations)
{
  uint64_t got = 0;
  BOOST_CHECK(parseDuration("90", got));
  BOOST_CHECK_EQUAL(got, 90U);
  BOOST_CHECK(parseDuration("90s", got));
  BOOST_CHECK_EQUAL(got, 90U);
  BOOST_CHECK(parseDuration("10m", got));
  BOOST_CHECK_EQUAL(got, 600U);
  BOOST_CHECK(parseDuration("2H", got));
  BOOST_CHECK_EQUAL(got, 7200U);
  BOOST_CHECK(parseDuration("1d", got));
  BOOST_CHECK_EQUAL(got, 86400U);
  BOOST_CHECK(!parseDuration("", got));
  BOOST_CHECK(!parseDuration("s", got));
  BOOST_CHECK(!parseDuration("1w", got));
  BOOST_CHECK(!parseDuration("-5s", got));
  BOOST_CHECK(!parseDuration("999999999999999999d", got));
  auto c = parseConfig("CommandTimeout 5m\nProgressInterval 10\n", "t.conf");
  BOOST_CHECK_EQUAL(c->commandTimeout.count(), 300);
  BOOST_CHECK_EQUAL(c->progressInterval.count(), 10);
}

BOOST_AUTO_TEST_SUITE_END()
