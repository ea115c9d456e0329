/*
 * test-spf.cc - libspf2 through our Resolver (spf-check.hh) on the test zones
 * of dns-zones.hh: nested includes, ~all and -all, redirect, a look-up
 * mechanism (a:), an include loop and too many look-ups (permerror), no SPF
 * record (none), a timeout (unknown), and which catalog include authorizes
 * an address.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/dns/resolver.hh"
#include "collector/dns/spf-check.hh"
#include "t/unit/dns-zones.hh"

#include <chrono>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

BOOST_AUTO_TEST_SUITE(test_spf)

BOOST_AUTO_TEST_CASE(results_on_test_zones)
{
  REQUIRE_DNS_SERVER();
  Resolver resolver(testResolverOptions(dnsServer()->spec()));
  SpfChecker spf(resolver);
  struct Case
  {
    const char* ip;
    const char* domain;
    const char* want;
  };
  const Case cases[] = {
    {"192.0.2.10", "corp.test", "pass"},        // two includes deep
    {"203.0.113.7", "corp.test", "pass"},       // its own ip4:
    {"198.51.100.7", "corp.test", "softfail"},  // ~all
    {"192.0.2.200", "corp.test", "softfail"},   // outside the include's /25
    {"198.51.100.7", "strict.test", "fail"},    // -all
    {"203.0.113.5", "redirect.test", "pass"},   // redirect=
    {"198.51.100.7", "redirect.test", "fail"},
    {"198.51.100.20", "amech.test", "pass"},    // a:name
    {"198.51.100.21", "amech.test", "fail"},
    {"198.51.100.7", "loop1.test", "permerror"},
    {"198.51.100.7", "many.test", "permerror"},
    {"198.51.100.7", "neutral.test", "neutral"},
    {"192.0.2.10", "qualified.test", "neutral"},  // ?include: that matches
    {"198.51.100.7", "qualified.test", "fail"},
    {"198.51.100.7", "nospf.test", "none"},
    {"198.51.100.7", "missing.test", "none"},
    {"2001:db8::1", "strict.test", "fail"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.ip << " for " << c.domain)
    {
      BOOST_CHECK_EQUAL(spf.check(testIp(c.ip), c.domain), c.want);
    }
  }
}

BOOST_AUTO_TEST_CASE(authorizing_include)
{
  REQUIRE_DNS_SERVER();
  Resolver resolver(testResolverOptions(dnsServer()->spec()));
  SpfChecker spf(resolver);
  const std::vector<std::string> includes = {"_spf.other.test", "strict.test", "_spf.esp.test"};
  BOOST_CHECK_EQUAL(spf.authorizingInclude(testIp("192.0.2.10"), includes), "_spf.esp.test");
  BOOST_CHECK_EQUAL(spf.authorizingInclude(testIp("203.0.113.5"), includes), "strict.test");
  BOOST_CHECK_EQUAL(spf.authorizingInclude(testIp("198.51.100.7"), includes), "");
  BOOST_CHECK_EQUAL(spf.authorizingInclude(testIp("192.0.2.10"), {}), "");
}

BOOST_AUTO_TEST_CASE(include_tree)
{
  REQUIRE_DNS_SERVER();
  Resolver resolver(testResolverOptions(dnsServer()->spec()));
  SpfChecker spf(resolver);
  const std::vector<std::string> corp = {"_spf.esp.test", "_net1.esp.test"};
  BOOST_CHECK(spf.includeTree("corp.test") == corp);
  BOOST_CHECK(spf.includeTree("redirect.test") == std::vector<std::string>{"strict.test"});
  BOOST_CHECK(spf.includeTree("strict.test").empty());
  // A qualifier on the include does not hide it.
  BOOST_CHECK(spf.includeTree("qualified.test") == std::vector<std::string>{"_net1.esp.test"});
  // A loop ends: each name once.
  const std::vector<std::string> loop = {"loop2.test", "loop1.test"};
  BOOST_CHECK(spf.includeTree("loop1.test") == loop);
}

BOOST_AUTO_TEST_CASE(timeout_is_unknown)
{
  // A port that swallows every question: the look-up times out, the result is unknown.
  BlackHole hole;
  auto options = testResolverOptions(hole.spec());
  options.timeout = std::chrono::milliseconds(250);
  Resolver resolver(options);
  SpfChecker spf(resolver);
  const auto start = std::chrono::steady_clock::now();
  BOOST_CHECK_EQUAL(spf.check(testIp("192.0.2.10"), "corp.test"), "unknown");
  BOOST_CHECK_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  BOOST_CHECK_GE(resolver.stats().timeouts, 1U);
}

BOOST_AUTO_TEST_CASE(offline_is_unknown)
{
  Resolver resolver(testResolverOptions("none"));
  SpfChecker spf(resolver);
  BOOST_CHECK_EQUAL(spf.check(testIp("192.0.2.10"), "corp.test"), "unknown");
}

BOOST_AUTO_TEST_CASE(envelope_identity)
{
  REQUIRE_DNS_SERVER();
  Resolver resolver(testResolverOptions(dnsServer()->spec()));
  SpfChecker spf(resolver);
  struct Case
  {
    const char* ip;
    const char* mailFrom;
    const char* helo;
    const char* want;
    const char* domain;
  };
  const Case cases[] = {
    {"203.0.113.7", "dmarc@Corp.Test", "mx.other.test", "pass", "corp.test"}, // MAIL FROM, not HELO
    {"198.51.100.7", "bounce@strict.test", "corp.test", "fail", "strict.test"},
    {"203.0.113.5", "", "strict.test", "pass", "strict.test"},              // null sender: postmaster@HELO
    {"198.51.100.7", "", "strict.test.", "fail", "strict.test"},
    {"203.0.113.5", "", "[203.0.113.5]", "none", "[203.0.113.5]"},          // an address literal
    {"203.0.113.5", "", "", "none", ""},
    {"203.0.113.5", "strict.test", "", "pass", "strict.test"},              // no local part
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.ip << " MAIL FROM " << c.mailFrom << " HELO " << c.helo)
    {
      const SpfEnvelopeResult got = spf.checkEnvelope(testIp(c.ip), c.mailFrom, c.helo);
      BOOST_CHECK_EQUAL(got.result, c.want);
      BOOST_CHECK_EQUAL(got.domain, c.domain);
      BOOST_CHECK(!got.timedOut);
    }
  }
  // Resolver none: temperror at once, never fail.
  Resolver offline(testResolverOptions("none"));
  SpfChecker none(offline);
  const SpfEnvelopeResult got = none.checkEnvelope(testIp("203.0.113.5"), "a@strict.test", "");
  BOOST_CHECK_EQUAL(got.result, "temperror");
  BOOST_CHECK(got.timedOut);
}

BOOST_AUTO_TEST_SUITE_END()
