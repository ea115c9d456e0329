/*
 * test-recorded-spf.cc - the SPF result the milter records in its header and
 * `dmarcwatch ingest --milter-spf` reads back (collector/auth/recorded-spf.hh)
 * with the store's header key (header-key.hh): what is written, what is read
 * and what is refused (a header without the key's MAC above all), then end to end against
 * the private unbound: ReportMailCheck gives the milter the text for a
 * client it checked (none for a loopback one), and a mail file whose recorded
 * SPF aligns passes DMARC.
 */
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/auth/header-key.hh"
#include "collector/auth/message-auth.hh"
#include "collector/auth/recorded-spf.hh"
#include "collector/auth/report-check.hh"
#include "t/unit/dkim-signer.hh"
#include "t/unit/dns-zones.hh"
#include "t/unit/psl-fixture.hh"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <sys/stat.h>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

namespace
{

//! c_testMail with header lines put first, as the MTA delivers the milter's header.
std::string withHeaders(const std::string& lines)
{
  return lines + c_testMail;
}

const std::string c_key(32, 'k');

//! The milter's header with the spf= text signed for c_testMail (its Message-ID) under key.
std::string ours(const std::string& text = "spf=pass smtp.mailfrom=auth.test", const std::string& key = c_key)
{
  return "X-DMARCwatch: stored; reports=1; records=2; messages=7; auth=unauthenticated; " +
         signedSpfText(text, key, c_testMail) + "; auth-reason=\"no signature [spf=none; dkim=none]\"\r\n";
}

MessageAuth checked(const std::string& spf, const std::string& domain)
{
  MessageAuth auth;
  auth.spf = spf;
  auth.spfDomain = domain;
  auth.spfChecked = true;
  return auth;
}

//! The zone of the other auth tests' kind: auth.test's SPF allows 192.0.2.0/24, p=reject.
struct Zone
{
  std::unique_ptr<UnboundServer> server;
  Zone()
  {
    if (!unboundBinary().empty()) {
      server = std::make_unique<UnboundServer>(
        std::vector<std::string>{"auth.test."},
        std::vector<std::string>{R"(local-data: 'auth.test. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"')",
                                 R"(local-data: '_dmarc.auth.test. 300 IN TXT "v=DMARC1; p=reject"')"});
    }
  }
};

Zone& sharedZone()
{
  static Zone s_zone;
  return s_zone;
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_recorded_spf)

BOOST_AUTO_TEST_CASE(written_only_when_checked_from_a_client_with_a_plain_domain)
{
  MailEnvelope envelope;
  envelope.mailFrom = "bounce@Bounce.Example.NET";
  BOOST_TEST(recordedSpfText(checked("pass", "Bounce.Example.NET"), envelope) ==
             "spf=pass smtp.mailfrom=bounce.example.net");
  envelope.mailFrom.clear(); // the null sender: the HELO name was checked
  BOOST_TEST(recordedSpfText(checked("softfail", "mx.example.net"), envelope) == "spf=softfail smtp.helo=mx.example.net");
  MessageAuth notChecked = checked("pass", "example.net");
  notChecked.spfChecked = false; // no client, a loopback one, or itself read back
  BOOST_TEST(recordedSpfText(notChecked, envelope) == "");
  BOOST_TEST(recordedSpfText(checked("pass", "evil.test; spf=pass"), envelope) == "");
  BOOST_TEST(recordedSpfText(checked("pass", ""), envelope) == "");
  BOOST_TEST(recordedSpfText(checked("weird", "example.net"), envelope) == "");
}

BOOST_AUTO_TEST_CASE(read_back_from_the_one_header_of_ours)
{
  const auto got = recordedSpf(withHeaders(ours()), c_key);
  BOOST_REQUIRE(got.has_value());
  BOOST_TEST(got->result == "pass");
  BOOST_TEST(got->domain == "auth.test");
  // Case of the name, a fold, the helo form.
  const std::string signedFail = signedSpfText("spf=fail smtp.helo=MX.Auth.Test", c_key, c_testMail);
  const auto folded = recordedSpf(withHeaders("x-dmarcwatch: stored; reports=1;\r\n\t" + signedFail + "\r\n"), c_key);
  BOOST_REQUIRE(folded.has_value());
  BOOST_TEST(folded->result == "fail");
  BOOST_TEST(folded->domain == "mx.auth.test");
  // LF line ends, no Message-ID (the MAC then covers an empty one).
  const std::string bare = "From: x@a.test\n\nbody\n";
  const auto lf = recordedSpf(
    "X-DMARCwatch: stored; " + signedSpfText("spf=none smtp.mailfrom=a.test", c_key, bare) + "\n" + bare, c_key);
  BOOST_REQUIRE(lf.has_value());
  BOOST_TEST(lf->result == "none");
}

BOOST_AUTO_TEST_CASE(anything_doubtful_reads_as_not_recorded)
{
  // "X-DMARCwatch: stored; " + text signed under the key, for c_testMail.
  const auto field = [](const std::string& text) {
    return "X-DMARCwatch: stored; " + signedSpfText(text, c_key, c_testMail) + "\r\n";
  };
  std::string otherId = c_testMail;
  otherId.replace(otherId.find("1234567890@auth.test"), 20, "9999999999@auth.test");
  for (const std::string& mail : std::vector<std::string>{
         c_testMail,                                                                               // none
         withHeaders(ours() + ours()),                                                             // two of ours
         withHeaders("X-DMARCwatch: stored; spf=pass smtp.mailfrom=auth.test\r\n"),               // no MAC: anyone's
         withHeaders(ours("spf=pass smtp.mailfrom=auth.test", std::string(32, 'x'))),               // another key
         ours() + otherId,                                                                         // another mail
         withHeaders("X-DMARCwatch: stored; " + signedSpfText("spf=fail smtp.mailfrom=auth.test", c_key, c_testMail)
                       .replace(4, 4, "pass") + "\r\n"),                                           // result changed
         withHeaders(field("spf=pass smtp.mailfrom=a.test; spf=fail smtp.mailfrom=a.test")),
         withHeaders("X-DMARCwatch: stored; auth-reason=\"x; spf=pass smtp.mailfrom=a.test\"\r\n"), // quoted
         withHeaders(field("spf=great smtp.mailfrom=a.test")),
         withHeaders(field("spf=pass")),
         withHeaders(field("spf=pass smtp.mailfrom=a.test extra")),
         withHeaders(field("spf=pass smtp.mailfrom=bad_-.domain!")),
         withHeaders(field("spf=pass header.from=a.test")),
         withHeaders("X-DMARCwatch2: stored; " + signedSpfText("spf=pass smtp.mailfrom=a.test", c_key, c_testMail) + "\r\n"),
         c_testMail + field("spf=pass smtp.mailfrom=a.test"), // in the body
       }) {
    BOOST_TEST_CONTEXT(mail.substr(0, 160)) { BOOST_TEST(!recordedSpf(mail, c_key).has_value()); }
  }
  // No key (the milter never recorded SPF in this store): nothing is proven.
  BOOST_TEST(!recordedSpf(withHeaders(ours()), "").has_value());
}

BOOST_AUTO_TEST_CASE(the_header_key_is_made_once_group_readable_and_checked)
{
  TempDir dir;
  const std::string database = dir.path();
  BOOST_TEST(!readHeaderKey(database).has_value());
  ::umask(077); // the group reads it whatever the umask
  const std::string key = makeHeaderKey(database);
  ::umask(022);
  BOOST_TEST(key.size() == 32U);
  BOOST_TEST(makeHeaderKey(database) == key); // made once
  BOOST_TEST(readHeaderKey(database).value_or("") == key);
  struct stat st {};
  BOOST_REQUIRE(::stat(headerKeyPath(database).c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0640U);
  BOOST_TEST(std::distance(std::filesystem::directory_iterator(database), {}) == 1); // no temporary left
  std::ofstream(headerKeyPath(database), std::ios::trunc) << "short";
  BOOST_CHECK_THROW(readHeaderKey(database), std::runtime_error);
  BOOST_TEST(headerMac(key, "a") != headerMac(key, "b"));
  BOOST_TEST(headerMac(key, "a").size() == 32U);
}

BOOST_AUTO_TEST_CASE(a_file_with_recorded_aligned_spf_passes_dmarc)
{
  Zone& zone = sharedZone();
  if (!zone.server) {
    BOOST_TEST_MESSAGE("no unbound binary: skipped");
    return;
  }
  TrustSettings settings;
  MessageAuthenticator auth(settings, zone.server->spec(), testPsl());
  // The milter's check (a client in auth.test's SPF) writes the header...
  MailEnvelope smtp;
  smtp.client = testIp("192.0.2.5");
  smtp.mailFrom = "dmarc@auth.test";
  smtp.helo = "mx.auth.test";
  const MessageAuth atMilter = auth.check(c_testMail, smtp);
  BOOST_TEST(atMilter.spfChecked);
  BOOST_TEST(atMilter.dmarc == "pass");
  const std::string header = recordedSpfText(atMilter, smtp);
  BOOST_TEST(header == "spf=pass smtp.mailfrom=auth.test");
  // ... and the mail file read back with it passes the same way, without a client.
  const std::string file =
    withHeaders("X-DMARCwatch: stored; reports=1; auth=unauthenticated; " + signedSpfText(header, c_key, c_testMail) + "\r\n");
  MailEnvelope cli;
  cli.recordedSpf = recordedSpf(file, c_key);
  BOOST_REQUIRE(cli.recordedSpf.has_value());
  const MessageAuth fromFile = auth.check(file, cli);
  BOOST_TEST(fromFile.spf == "pass");
  BOOST_TEST(fromFile.spfDomain == "auth.test");
  BOOST_TEST(!fromFile.spfChecked); // never written again as checked here
  BOOST_TEST(fromFile.spfAligned);
  BOOST_TEST(fromFile.dmarc == "pass");
  BOOST_TEST(fromFile.provenDomains == std::vector<std::string>{"auth.test"});
  // Without it (no --milter-spf), the same file: SPF none, DMARC fails (unsigned).
  const MessageAuth plain = auth.check(file, MailEnvelope{});
  BOOST_TEST(plain.spf == "none");
  BOOST_TEST(plain.dmarc == "fail");
  BOOST_TEST(plain.provenDomains.empty());
}

BOOST_AUTO_TEST_CASE(the_milter_gets_the_text_only_for_a_client_it_checked)
{
  Zone& zone = sharedZone();
  if (!zone.server) {
    BOOST_TEST_MESSAGE("no unbound binary: skipped");
    return;
  }
  TempDir store;
  Config config;
  config.resolver = zone.server->spec();
  config.trust.reporterCatalog = "none";
  config.database = store.path();
  ReportMailCheck check(config);
  ReportHeader report;
  report.metadata.orgName = "auth.test";
  report.metadata.email = "noreply-dmarc@auth.test";
  MailEnvelope smtp;
  smtp.client = testIp("192.0.2.5");
  smtp.mailFrom = "dmarc@auth.test";
  const ReportVerdict verdict = check.check(c_testMail, smtp, false)(report);
  // Signed with the key the check made in the store; the CLI reads it back with that key.
  const auto key = readHeaderKey(store.path());
  BOOST_REQUIRE(key.has_value());
  BOOST_TEST(verdict.spf == signedSpfText("spf=pass smtp.mailfrom=auth.test", *key, c_testMail));
  BOOST_TEST((verdict.authenticity == Authenticity::Authenticated), verdict.reason);
  const auto back = recordedSpf(withHeaders("X-DMARCwatch: stored; auth=authenticated; " + verdict.spf + "\r\n"), *key);
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->domain == "auth.test");
  smtp.client = testIp("127.0.0.1");
  BOOST_TEST(check.check(c_testMail, smtp, false)(report).spf == "");
}

BOOST_AUTO_TEST_SUITE_END()
