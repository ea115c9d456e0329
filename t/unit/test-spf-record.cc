/*
 * test-spf-record.cc - the live SPF record and its look-up count
 * (dns/spf-record.hh): countSpfLookups on answers made here (what counts and
 * what does not, qualifiers and case, a name reached twice counted twice, the
 * cap of 99 meaning "at least", an unanswered include), and fetchSpfRecord
 * through the Resolver on the test zones, a black hole and offline (temperror,
 * done called once, in bounded time).
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/dns/spf-record.hh"
#include "t/unit/dns-zones.hh"

#include <chrono>
#include <map>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

namespace
{

//! Answers by name: one SPF record each, or a status without records.
struct Zone
{
  std::map<std::string, SpfTxt> answers;
  void spf(const std::string& name, const std::string& record)
  {
    answers[name] = SpfTxt{DnsStatus::Answer, {record}, 300};
  }
  [[nodiscard]] std::string count(const char* domain) const
  {
    const SpfRecordInfo info = countSpfLookups(domain, [this](const std::string& name) -> const SpfTxt* {
      auto found = answers.find(name);
      return found == answers.end() ? nullptr : &found->second;
    });
    return (info.lookups ? std::to_string(*info.lookups) : std::string("?")) + "/" + info.error;
  }
};

//! fetchSpfRecord, run to the end: "look-ups/error", and how often done ran.
std::pair<std::string, int> fetch(Resolver& resolver, const char* domain, const SpfFetchOptions& options = {})
{
  SpfRecordInfo got;
  int calls = 0;
  fetchSpfRecord(
    resolver, domain,
    [&got, &calls](const SpfRecordInfo& info) {
      got = info;
      ++calls;
    },
    options);
  resolver.run();
  return {(got.lookups ? std::to_string(*got.lookups) : std::string("?")) + "/" + got.error, calls};
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_spf_record)

BOOST_AUTO_TEST_CASE(is_spf_record)
{
  BOOST_CHECK(isSpfRecord("v=spf1"));
  BOOST_CHECK(isSpfRecord("V=SPF1 -all"));
  BOOST_CHECK(!isSpfRecord("v=spf10 -all"));
  BOOST_CHECK(!isSpfRecord("v=spf1x"));
  BOOST_CHECK(!isSpfRecord("v=DMARC1; p=none"));
  BOOST_CHECK(!isSpfRecord(""));
}

BOOST_AUTO_TEST_CASE(what_counts)
{
  Zone zone;
  // Qualifiers and case do not matter; ip4 ip6 all exp= and unknown modifiers count nothing.
  zone.spf("a.test", "v=spf1 ?INCLUDE:B.test -MX ~a:x.test +ptr ip4:192.0.2.1 ip6:2001:db8::/32 exp=e.test foo=bar -all");
  zone.spf("b.test", "v=spf1 exists:%{i}.b.test -all");
  BOOST_CHECK_EQUAL(zone.count("a.test"), "5/");
  BOOST_CHECK_EQUAL(zone.count("A.TEST"), "5/");
  // A name reached by two paths counts twice, as an evaluation would (no loop).
  zone.spf("top.test", "v=spf1 include:left.test include:right.test -all");
  zone.spf("left.test", "v=spf1 include:leaf.test -all");
  zone.spf("right.test", "v=spf1 include:leaf.test -all");
  zone.spf("leaf.test", "v=spf1 a mx -all");
  BOOST_CHECK_EQUAL(zone.count("top.test"), "8/");
  // Exactly 10 is allowed, 11 is not.
  zone.spf("ten.test", "v=spf1 a a a a a mx mx mx mx include:leaf.test");
  BOOST_CHECK_EQUAL(zone.count("ten.test"), "12/too many look-ups");
  zone.spf("ten2.test", "v=spf1 a a a a a mx mx mx mx mx");
  BOOST_CHECK_EQUAL(zone.count("ten2.test"), "10/");
  // A redirect to a name without a record; an include whose answer was unknown.
  zone.spf("r.test", "v=spf1 redirect=gone.test");
  zone.answers["gone.test"] = SpfTxt{DnsStatus::NxDomain, {}, 300};
  BOOST_CHECK_EQUAL(zone.count("r.test"), "1/include without SPF record");
  zone.spf("t.test", "v=spf1 include:slow.test -all");
  zone.answers["slow.test"] = SpfTxt{DnsStatus::Unknown, {}, 0};
  BOOST_CHECK_EQUAL(zone.count("t.test"), "?/temperror");
  BOOST_CHECK_EQUAL(zone.count("unasked.test"), "?/temperror");
}

BOOST_AUTO_TEST_CASE(cap_means_at_least)
{
  Zone zone;
  // A chain of 150 includes: the count stops at 99.
  for (int i = 0; i < 150; ++i) {
    zone.spf("n" + std::to_string(i) + ".test", "v=spf1 include:n" + std::to_string(i + 1) + ".test -all");
  }
  zone.spf("n150.test", "v=spf1 -all");
  BOOST_CHECK_EQUAL(zone.count("n0.test"), std::to_string(s_spfLookupsCap) + "/too many look-ups");
  BOOST_CHECK_EQUAL(zone.count("n140.test"), "10/");
  // A target that was not fetched (the name cap) also means at least the cap.
  zone.spf("cut.test", "v=spf1 include:notfetched.test -all");
  BOOST_CHECK_EQUAL(zone.count("cut.test"), std::to_string(s_spfLookupsCap) + "/too many look-ups");
}

BOOST_AUTO_TEST_CASE(fetch_on_test_zones)
{
  REQUIRE_DNS_SERVER();
  Resolver resolver(testResolverOptions(dnsServer()->spec()));
  BOOST_CHECK_EQUAL(fetch(resolver, "deep.test").first, "12/too many look-ups");
  BOOST_CHECK_EQUAL(fetch(resolver, "loop2.test").first, "2/loop");
  BOOST_CHECK_EQUAL(fetch(resolver, "redirect.test").first, "1/");
  BOOST_CHECK_EQUAL(fetch(resolver, "missing.test").first, "?/none");
  const auto [result, calls] = fetch(resolver, "corp.test");
  BOOST_CHECK_EQUAL(result, "2/");
  BOOST_CHECK_EQUAL(calls, 1);
  // A spent budget asks for no more names: temperror, done still called once.
  Resolver fresh(testResolverOptions(dnsServer()->spec()));
  SpfFetchOptions none;
  none.budget = std::chrono::milliseconds(-1);
  const auto [spent, spentCalls] = fetch(fresh, "deep.test", none);
  BOOST_CHECK_EQUAL(spent, "?/temperror");
  BOOST_CHECK_EQUAL(spentCalls, 1);
}

BOOST_AUTO_TEST_CASE(fetch_without_answers_is_temperror)
{
  BlackHole hole;
  auto options = testResolverOptions(hole.spec());
  options.timeout = std::chrono::milliseconds(200);
  Resolver resolver(options);
  const auto start = std::chrono::steady_clock::now();
  const auto [result, calls] = fetch(resolver, "corp.test");
  BOOST_CHECK_EQUAL(result, "?/temperror");
  BOOST_CHECK_EQUAL(calls, 1);
  BOOST_CHECK_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  Resolver offline(testResolverOptions("none"));
  const auto [offlineResult, offlineCalls] = fetch(offline, "corp.test");
  BOOST_CHECK_EQUAL(offlineResult, "?/temperror");
  BOOST_CHECK_EQUAL(offlineCalls, 1);
}

BOOST_AUTO_TEST_SUITE_END()
