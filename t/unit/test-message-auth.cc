/*
 * test-message-auth.cc - MessageAuthenticator (collector/auth/message-auth.hh) end
 * to end: mail signed at test time with a key openssl makes, its record, SPF and
 * DMARC records served by a private unbound on loopback (unbound-fixture.hh);
 * a DNS server that never answers for the timeout case; `Resolver none`.
 * Also measures check() (median of many, printed with --log_level=message).
 */
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/auth/message-auth.hh"
#include "t/unit/dkim-signer.hh"
#include "t/unit/dns-zones.hh"
#include "t/unit/psl-fixture.hh"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

namespace
{

//! A TXT local-data line with the text split into character-strings of at most 255 bytes.
std::string txtData(const std::string& name, const std::string& text)
{
  std::string strings;
  for (size_t pos = 0; pos < text.size(); pos += 255) {
    strings += " \"" + text.substr(pos, 255) + "\"";
  }
  return "local-data: '" + name + " 300 IN TXT" + strings + "'";
}

//! The key and the zone, made once per runner; server nullptr without an unbound binary.
struct World
{
  TempDir dir;
  DkimKey key = makeDkimKey(dir.path(), 2048);
  std::unique_ptr<UnboundServer> server;
  World()
  {
    if (unboundBinary().empty()) {
      return;
    }
    server = std::make_unique<UnboundServer>(
      std::vector<std::string>{"auth.test.", "relay.test."},
      std::vector<std::string>{
        txtData("test2026._domainkey.auth.test.", key.record),
        R"(local-data: 'auth.test. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"')",
        R"(local-data: '_dmarc.auth.test. 300 IN TXT "v=DMARC1; p=reject"')",
        R"(local-data: 'relay.test. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"')",
      });
  }
};
World& world()
{
  static World s_world;
  return s_world;
}

std::string signedMail(const std::string& mail = c_testMail)
{
  return dkimSigned(mail, world().key.pem, "test2026", "auth.test");
}

MailEnvelope envelope(const char* client, const std::string& mailFrom, const std::string& helo = "mx.auth.test")
{
  MailEnvelope out;
  if (client != nullptr) {
    out.client = testIp(client);
  }
  out.mailFrom = mailFrom;
  out.helo = helo;
  return out;
}

double medianMs(std::vector<double> samples)
{
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

#define REQUIRE_AUTH_ZONE()                                                                                           \
  if (!world().server) {                                                                                              \
    BOOST_TEST_MESSAGE("no unbound binary: skipped");                                                                \
    return;                                                                                                           \
  }

} // namespace

BOOST_AUTO_TEST_SUITE(test_message_auth)

BOOST_AUTO_TEST_CASE(authenticated_mail)
{
  REQUIRE_AUTH_ZONE();
  TrustSettings settings;
  MessageAuthenticator auth(settings, world().server->spec(), testPsl());
  const MessageAuth got = auth.check(signedMail(), envelope("192.0.2.5", "dmarc@auth.test"));
  BOOST_TEST(got.fromDomain == "auth.test");
  BOOST_TEST(got.spf == "pass");
  BOOST_TEST(got.spfDomain == "auth.test");
  BOOST_TEST(got.dkim == "pass");
  BOOST_REQUIRE_EQUAL(got.signatures.size(), 1U);
  BOOST_TEST(got.signatures[0].bits == 2048U);
  BOOST_TEST(got.dmarc == "pass");
  BOOST_TEST(got.dmarcPolicy == "reject");
  BOOST_TEST(got.spfAligned);
  BOOST_TEST(got.dkimAligned);
  BOOST_TEST(!got.timedOut);
  BOOST_TEST(got.provenDomains == std::vector<std::string>{"auth.test"});
  BOOST_TEST(got.summary() == "spf=pass (auth.test); dkim=pass (d=auth.test s=test2026); dmarc=pass (p=reject)");
}

BOOST_AUTO_TEST_CASE(forged_mail)
{
  REQUIRE_AUTH_ZONE();
  TrustSettings settings;
  MessageAuthenticator auth(settings, world().server->spec(), testPsl());
  const MessageAuth got = auth.check(signedMail() + "forged row\r\n", envelope("203.0.113.9", "dmarc@auth.test"));
  BOOST_TEST(got.spf == "fail");
  BOOST_TEST(got.dkim == "fail");
  BOOST_TEST(got.dmarc == "fail");
  BOOST_TEST(!got.timedOut);
  BOOST_TEST(got.provenDomains.empty());
}

BOOST_AUTO_TEST_CASE(unsigned_mail_without_client)
{
  REQUIRE_AUTH_ZONE();
  TrustSettings settings;
  MessageAuthenticator auth(settings, world().server->spec(), testPsl());
  const MessageAuth got = auth.check(c_testMail, MailEnvelope{});
  BOOST_TEST(got.spf == "none");
  BOOST_TEST(got.dkim == "none");
  BOOST_TEST(got.dmarc == "fail");
  BOOST_TEST(got.dmarcPolicy == "reject");
  BOOST_TEST(!got.timedOut);
}

BOOST_AUTO_TEST_CASE(null_sender_checks_helo_and_other_envelope_domains)
{
  REQUIRE_AUTH_ZONE();
  TrustSettings settings;
  MessageAuthenticator auth(settings, world().server->spec(), testPsl());
  const MessageAuth helo = auth.check(c_testMail, envelope("192.0.2.5", "", "auth.test"));
  BOOST_TEST(helo.spf == "pass");
  BOOST_TEST(helo.spfDomain == "auth.test");
  BOOST_TEST(helo.dmarc == "pass");
  // A relay's envelope: SPF passes for relay.test, not aligned; the signature carries DMARC.
  const MessageAuth relay = auth.check(signedMail(), envelope("198.51.100.7", "bounce@relay.test"));
  BOOST_TEST(relay.spf == "pass");
  BOOST_TEST(relay.spfDomain == "relay.test");
  BOOST_TEST(!relay.spfAligned);
  BOOST_TEST(relay.dkimAligned);
  BOOST_TEST(relay.dmarc == "pass");
  BOOST_TEST(relay.provenDomains == (std::vector<std::string>{"auth.test", "relay.test"}));
}

BOOST_AUTO_TEST_CASE(a_loopback_client_is_not_spf_checked)
{
  // libspf2 passes localhost for any domain: behind a local re-injection that would let any
  // forged MAIL FROM align.  A loopback client is a local hop, its sender unknown.
  REQUIRE_AUTH_ZONE();
  TrustSettings settings;
  MessageAuthenticator auth(settings, world().server->spec(), testPsl());
  for (const char* client : {"127.0.0.1", "127.0.0.66", "::1"}) {
    BOOST_TEST_CONTEXT(client)
    {
      const MessageAuth got = auth.check(c_testMail, envelope(client, "dmarc@auth.test"));
      BOOST_TEST(got.spf == "none");
      BOOST_TEST(got.spfDomain == "");
      BOOST_TEST(!got.spfAligned);
      BOOST_TEST(got.dmarc == "fail"); // unsigned: nothing aligned passed
    }
  }
}

BOOST_AUTO_TEST_CASE(two_from_addresses_or_fields)
{
  REQUIRE_AUTH_ZONE();
  TrustSettings settings;
  MessageAuthenticator auth(settings, world().server->spec(), testPsl());
  std::string two = c_testMail;
  two.replace(0, two.find("\r\n"), "From: noreply-dmarc@auth.test, boss@victim.test");
  const MessageAuth got = auth.check(signedMail(two), envelope("192.0.2.5", "dmarc@auth.test"));
  BOOST_TEST(got.fromDomain == "");
  BOOST_TEST(got.dmarc == "permerror");
  BOOST_TEST(got.dkim == "pass"); // the signature is good; it proves auth.test, not the From
  BOOST_TEST(got.provenDomains == (std::vector<std::string>{"auth.test"}));
  const MessageAuth fields = auth.check("From: a@auth.test\r\n" + c_testMail, envelope("192.0.2.5", "dmarc@auth.test"));
  BOOST_TEST(fields.fromDomain == "");
  BOOST_TEST(fields.dmarc == "permerror");
}

BOOST_AUTO_TEST_CASE(resolver_none_is_unknown_at_once)
{
  TrustSettings settings;
  MessageAuthenticator auth(settings, "none", testPsl());
  const auto start = std::chrono::steady_clock::now();
  const MessageAuth got = auth.check(signedMail(), envelope("192.0.2.5", "dmarc@auth.test"));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  BOOST_TEST(got.spf == "temperror");
  BOOST_TEST(got.dkim == "temperror");
  BOOST_TEST(got.dmarc == "temperror");
  BOOST_TEST(got.timedOut);
  BOOST_TEST(got.provenDomains.empty());
  // Not the AuthTimeout (5 s) waited out: well under half of it, even on a loaded machine (the
  // first check of the process also sets up libopendkim and libopendmarc).
  BOOST_TEST(elapsed < settings.authTimeout / 2);
}

BOOST_AUTO_TEST_CASE(dns_timeout_ends_within_auth_timeout)
{
  BlackHole hole;
  TrustSettings settings;
  settings.authTimeout = std::chrono::seconds(2);
  MessageAuthenticator auth(settings, hole.spec(), testPsl());
  const auto start = std::chrono::steady_clock::now();
  const MessageAuth got = auth.check(signedMail(), envelope("192.0.2.5", "dmarc@auth.test"));
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE("check() with a DNS server that never answers, AuthTimeout 2s: " << ms << " ms");
  // One deadline for the mail: 2 s and the CPU of the rest.  Each question waiting its own
  // timeout (SPF, then the DKIM key) would take 4 s or more; the slack is for a loaded machine.
  BOOST_TEST(ms >= 1900.0);
  BOOST_TEST(ms < 3500.0);
  BOOST_TEST(got.timedOut);
  BOOST_TEST(got.spf == "temperror");
  BOOST_TEST(got.dkim == "temperror");
  BOOST_TEST(got.dmarc == "temperror");
  BOOST_TEST(got.summary().find("dns timeout") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_input_never_throws)
{
  TrustSettings settings;
  MessageAuthenticator auth(settings, "none", testPsl());
  for (const std::string& junk : {std::string(), std::string("\r\n"), std::string("From:\r\n\r\n"), std::string(10000, ':'),
                                  std::string("From: <@>\r\nDKIM-Signature: junk\r\n\r\n"), std::string("\0\0\n\n", 4)}) {
    MessageAuth got;
    BOOST_CHECK_NO_THROW(got = auth.check(junk, MailEnvelope{}));
    BOOST_TEST(got.fromDomain.empty());
    BOOST_TEST(got.dmarc == "permerror");
  }
}

BOOST_AUTO_TEST_CASE(check_time_against_loopback_unbound)
{
  REQUIRE_AUTH_ZONE();
  TrustSettings settings;
  const std::string mail = signedMail();
  const MailEnvelope env = envelope("192.0.2.5", "dmarc@auth.test");
  constexpr int s_rounds = 100;
  // Cold: a new authenticator (and Resolver, empty cache) per mail, made outside the timing.
  std::vector<double> cold;
  std::vector<double> warm;
  MessageAuthenticator cached(settings, world().server->spec(), testPsl());
  for (int i = 0; i < s_rounds; ++i) {
    MessageAuthenticator fresh(settings, world().server->spec(), testPsl());
    auto start = std::chrono::steady_clock::now();
    const MessageAuth got = fresh.check(mail, env);
    cold.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    BOOST_REQUIRE(got.dmarc == "pass");
    start = std::chrono::steady_clock::now();
    const MessageAuth again = cached.check(mail, env);
    warm.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    BOOST_REQUIRE(again.dmarc == "pass");
  }
  BOOST_TEST_MESSAGE("check() of one signed mail, loopback unbound, median of " << s_rounds << ": " << medianMs(cold)
                                                                                << " ms with an empty DNS cache, "
                                                                                << medianMs(warm) << " ms cached");
  BOOST_TEST(medianMs(cold) < 250.0);
}

BOOST_AUTO_TEST_SUITE_END()
