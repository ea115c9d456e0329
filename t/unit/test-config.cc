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
  BOOST_CHECK_EQUAL(parsed->serviceCatalog, want.serviceCatalog);
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
  BOOST_CHECK(parsed->trust.forged == want.trust.forged);
  BOOST_CHECK(parsed->trust.unauthenticated == want.trust.unauthenticated);
  BOOST_CHECK_EQUAL(parsed->trust.authTimeout.count(), want.trust.authTimeout.count());
  BOOST_CHECK_EQUAL(parsed->trust.reporterCatalog, want.trust.reporterCatalog);
  BOOST_CHECK_EQUAL(parsed->trust.maxDkimSignatures, want.trust.maxDkimSignatures);
  BOOST_CHECK_EQUAL(parsed->trust.minDkimKeyBits, want.trust.minDkimKeyBits);
  BOOST_CHECK_EQUAL(parsed->trust.limits.reporterReports, want.trust.limits.reporterReports);
  BOOST_CHECK_EQUAL(parsed->trust.limits.reporterRecords, want.trust.limits.reporterRecords);
  BOOST_CHECK_EQUAL(parsed->trust.limits.reporterBytes, want.trust.limits.reporterBytes);
  BOOST_CHECK_EQUAL(parsed->trust.limits.domainReports, want.trust.limits.domainReports);
  BOOST_CHECK_EQUAL(parsed->trust.limits.domainRecords, want.trust.limits.domainRecords);
  BOOST_CHECK_EQUAL(parsed->trust.limits.domainBytes, want.trust.limits.domainBytes);
  BOOST_CHECK(parsed->trust.limits.action == want.trust.limits.action);
}

BOOST_AUTO_TEST_CASE(dump_shows_the_configuration_in_effect)
{
  // What the file set (with its line), an option (recorded by the caller), the default for the rest;
  // and the dump parses back to the same values.
  auto read = parseConfig("# x\nDatabase /srv/dw\nReportAddress a@example.com\nReportAddress @example.org\n", "f.conf");
  Config config(*read);
  config.mapSize = 128ULL << 20;
  recordOverride(config, "MapSize", "128M", "--map");
  const std::string dump = dumpConfig(config);
  BOOST_CHECK(dump.starts_with("# dmarcwatch configuration as read from f.conf"));
  BOOST_CHECK(dump.find("\nDatabase /srv/dw  # f.conf line 2\n") != std::string::npos);
  BOOST_CHECK(dump.find("\nReportAddress a@example.com  # f.conf line 3\nReportAddress @example.org  # f.conf line 4\n") !=
              std::string::npos);
  BOOST_CHECK(dump.find("\nMapSize 128M  # --map\n") != std::string::npos);
  BOOST_CHECK(dump.find("\nSocket inet:8895@127.0.0.1\n") != std::string::npos);
  auto again = parseConfig(dump, "dump");
  BOOST_CHECK_EQUAL(again->database, "/srv/dw");
  BOOST_CHECK_EQUAL(again->mapSize, 128ULL << 20);
  BOOST_CHECK_EQUAL(again->reportAddresses.size(), 2U);
  BOOST_CHECK_EQUAL(originOf(config, "database"), "f.conf line 2");
  BOOST_CHECK_EQUAL(originOf(config, "Socket"), "default");
  BOOST_CHECK(dumpDefaultConfig().starts_with("# dmarcwatch configuration: no configuration file read"));
}

BOOST_AUTO_TEST_CASE(missing_database_names_key_and_origin)
{
  auto config = parseConfig("\nDatabase /nonexistent/dmarcwatch-test\n", "f.conf");
  try {
    checkDatabaseDirectory(*config);
    BOOST_FAIL("no error for a missing Database");
  }
  catch (const ConfigError& e) {
    BOOST_CHECK_EQUAL(std::string(e.what()), "Database /nonexistent/dmarcwatch-test (f.conf line 2): no such directory");
  }
  Config here;
  here.database = "/";
  BOOST_CHECK_NO_THROW(checkDatabaseDirectory(here));
}

BOOST_AUTO_TEST_CASE(trust_keys_parse)
{
  auto c = parseConfig("UntrustedReports reject\nUnauthenticatedReports quarantine\nAuthTimeout 2s\n"
                       "ReporterCatalog none\nDomainReportsPerDay 0\nOverLimitAction tempfail\n", "t.conf");
  BOOST_CHECK(c->trust.forged == UntrustedAction::Reject);
  BOOST_CHECK(c->trust.unauthenticated == UntrustedAction::Quarantine);
  BOOST_CHECK_EQUAL(c->trust.authTimeout.count(), 2);
  BOOST_CHECK_EQUAL(c->trust.reporterCatalog, "none");
  BOOST_CHECK_EQUAL(c->trust.limits.domainReports, 0U);
  BOOST_CHECK(c->trust.limits.action == OverLimitAction::Tempfail);
  // A DNS timeout must never block mail: unauthenticated reports are never rejected.
  BOOST_CHECK_THROW(parseConfig("UnauthenticatedReports reject\n", "t.conf"), ConfigError);
  BOOST_CHECK_THROW(parseConfig("AuthTimeout 0\n", "t.conf"), ConfigError);
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
  checkError("Resolver dns.example.net\n", "bad.conf:1: Resolver: 'dns.example.net' must be none, system, or the address");
  checkError("Resolver 127.0.0.1@0\n", "bad.conf:1: Resolver: bad port '0' (1-65535)");
  BOOST_CHECK_EQUAL(parseConfig("Resolver 127.0.0.1@5353\n", "ok.conf")->resolver, "127.0.0.1@5353");
  BOOST_CHECK_EQUAL(parseConfig("Resolver system\n", "ok.conf")->resolver, "system");
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

namespace
{

//! Each text must fail to parse with a message that starts with its want.
void checkErrors(const std::vector<std::pair<std::string, std::string>>& cases)
{
  for (const auto& [text, want] : cases) {
    std::string got;
    try {
      parseConfig(text, "t.conf");
    }
    catch (const ConfigError& e) {
      got = e.what();
    }
    BOOST_TEST(got.find(want) == 0, "text '" << text << "': got '" << got << "', want prefix '" << want << "'");
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(own_networks_parse_and_match_most_specific)
{
  auto c = parseConfig("Network 192.0.2.0/24 = Head office MX\n"
                       "Network 192.0.2.128/25 = DMZ relay\n"
                       "Network 2001:DB8::/32 =  IPv6 office \n"
                       "Network 198.51.100.7 = One host\n",
                       "t.conf");
  BOOST_REQUIRE_EQUAL(c->ownNetworks.size(), 4U);
  BOOST_CHECK_EQUAL(c->ownNetworks[0].toString(), "192.0.2.0/24");
  BOOST_CHECK_EQUAL(c->ownNetworks[0].name, "Head office MX");
  BOOST_CHECK_EQUAL(c->ownNetworks[2].toString(), "2001:db8::/32");
  BOOST_CHECK_EQUAL(c->ownNetworks[2].name, "IPv6 office");
  BOOST_CHECK_EQUAL(c->ownNetworks[3].toString(), "198.51.100.7/32");
  auto name = [&](const char* ip) {
    const auto* n = c->ownNetwork(*IpAddress::parse(ip));
    return n == nullptr ? std::string("-") : n->name;
  };
  BOOST_CHECK_EQUAL(name("192.0.2.1"), "Head office MX");
  BOOST_CHECK_EQUAL(name("192.0.2.200"), "DMZ relay");
  BOOST_CHECK_EQUAL(name("192.0.3.1"), "-");
  BOOST_CHECK_EQUAL(name("2001:db8:ffff::1"), "IPv6 office");
  BOOST_CHECK_EQUAL(name("2001:db9::1"), "-");
  BOOST_CHECK_EQUAL(name("198.51.100.7"), "One host");
  BOOST_CHECK_EQUAL(name("198.51.100.8"), "-");
}

BOOST_AUTO_TEST_CASE(bad_networks_name_file_and_line)
{
  const std::vector<std::pair<std::string, std::string>> cases{
    {"Network 192.0.2.0/24\n", "t.conf:1: Network: write ADDRESS/PREFIX = NAME"},
    {"Network 192.0.2.0/24 =\n", "t.conf:1: Network: write ADDRESS/PREFIX = NAME"},
    {"Network 192.0.2.300/24 = X\n", "t.conf:1: Network: '192.0.2.300/24' is not an IPv4 or IPv6 network"},
    {"Network 192.0.2.0/33 = X\n", "t.conf:1: Network: bad prefix length in '192.0.2.0/33' (0 to 32)"},
    {"Network 192.0.2.0/ = X\n", "t.conf:1: Network: bad prefix length"},
    {"Network 192.0.2.1/24 = X\n", "t.conf:1: Network: '192.0.2.1/24' has host bits set"},
    {"Network 2001:db8::1/32 = X\n", "t.conf:1: Network: '2001:db8::1/32' has host bits set"},
    {"\nNetwork 192.0.2.0/24 = A\nNetwork 192.0.2.0/24 = B\n", "t.conf:3: Network: 192.0.2.0/24 already given at line 2"},
  };
  checkErrors(cases);
}

BOOST_AUTO_TEST_CASE(authorize_lines_parse_and_check_syntax)
{
  auto c = parseConfig("Authorize Example.COM google-workspace SendGrid\nAuthorize example.com mailchimp\n"
                       "ServiceFile /etc/a.services\nServiceFile /etc/b.services\nServiceCatalog none\n",
                       "t.conf");
  BOOST_REQUIRE_EQUAL(c->authorizations.size(), 2U);
  BOOST_CHECK_EQUAL(c->authorizations[0].domain, "example.com");
  BOOST_CHECK(c->authorizations[0].services == (std::vector<std::string>{"google-workspace", "sendgrid"}));
  BOOST_CHECK_EQUAL(c->authorizations[1].line, 2U);
  BOOST_CHECK(c->serviceFiles == (std::vector<std::string>{"/etc/a.services", "/etc/b.services"}));
  BOOST_CHECK_EQUAL(c->serviceCatalog, "none");

  const std::vector<std::pair<std::string, std::string>> cases{
    {"Authorize example.com\n", "t.conf:1: Authorize: write DOMAIN SERVICE..."},
    {"Authorize com sendgrid\n", "t.conf:1: Authorize: 'com' is not a domain name"},
    {"Authorize example.com send_grid\n", "t.conf:1: Authorize: 'send_grid' is not a service id"},
    {"ServiceCatalog a\nServiceCatalog b\n", "t.conf:2: ServiceCatalog: given twice"},
  };
  checkErrors(cases);
}

BOOST_AUTO_TEST_CASE(alert_keys_parse_and_check_their_values)
{
  auto defaults = parseConfig("", "t.conf");
  BOOST_CHECK_EQUAL(defaults->alerts.rules.size(), std::size(s_alertRuleNames));
  BOOST_CHECK(defaults->alerts.enabled("report-gap"));
  auto c = parseConfig("AlertRules spoofing Report-Gap spoofing\nAlertRepeat 2h\nReadyDays 3d\n"
                       "AlertEnterpriseNumber 99\nAlertAppName dw-alerts\nPollInterval 5s\n",
                       "t.conf");
  BOOST_CHECK(c->alerts.rules == (std::vector<std::string>{"spoofing", "report-gap"}));
  BOOST_CHECK(!c->alerts.enabled("new-sender"));
  BOOST_CHECK_EQUAL(c->alerts.repeat.count(), 7200);
  BOOST_CHECK_EQUAL(c->alerts.readyDays.count(), 3 * 86400);
  BOOST_CHECK_EQUAL(c->alerts.enterpriseNumber, 99U);
  BOOST_CHECK_EQUAL(c->alerts.appName, "dw-alerts");
  BOOST_CHECK_EQUAL(c->pollInterval.count(), 5);
  BOOST_CHECK(parseConfig("AlertRules none\n", "t.conf")->alerts.rules.empty());

  const std::vector<std::pair<std::string, std::string>> cases{
    {"AlertRules spoofing phishing\n", "t.conf:1: AlertRules: unknown rule 'phishing' (all, none or: new-sender"},
    {"AlertRules all\nAlertRules none\n", "t.conf:2: AlertRules: given twice"},
    {"AlertAppName has space\n", "t.conf:1: AlertAppName: 'has space' must be 1 to 48 printable characters"},
    {"ReadyPassRate 101\n", "t.conf:1: ReadyPassRate: 101 is outside 1..100"},
    {"AlertWindow 1h\n", "t.conf:1: AlertWindow: 3600s is outside 86400s.."},
  };
  checkErrors(cases);
}

BOOST_AUTO_TEST_SUITE_END()
