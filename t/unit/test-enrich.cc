/*
 * test-enrich.cc - one enrichment pass (collector/enrich) over a store with
 * reports, against the private unbound of dns-zones.hh: PTR states, SPF
 * results and the authorizing catalog include (only one the domain's record
 * reaches), the live DMARC record, the GeoIP hook (and a hook that throws),
 * expiry (nothing due in a second pass, everything again with force or after
 * the expiry), and DNS trouble: a resolver that times out or is offline gives
 * Unknown results retried soon, never an exception.  A stop ends a pass
 * waiting on DNS at once and writes nothing half done; a pass over given
 * sources checks those only.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/enrich/enrich-pass.hh"
#include "t/unit/dns-zones.hh"
#include "t/unit/log-capture.hh"
#include "t/unit/store-fixture.hh"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

namespace
{

//! A store with the sources of the test zones: four IPs for corp.test, one of them for strict.test.
void addSources(Store& store)
{
  storeReport(store, "r1", "corp.test", s_today - 1,
              {makeRecord(testIp("192.0.2.10"), 3, true), makeRecord(testIp("198.51.100.7"), 2, false),
               makeRecord(testIp("192.0.2.99"), 1, true), makeRecord(testIp("203.0.113.5"), 1, true)});
  storeReport(store, "r2", "strict.test", s_today - 1, {makeRecord(testIp("198.51.100.7"), 4, false)});
}

ResolverOptions fixedClock(ResolverOptions options, const int64_t& now)
{
  options.clock = [&now] { return now; };
  return options;
}

EnrichOptions catalogOptions()
{
  EnrichOptions options;
  // _spf.esp.test is reached from corp.test; strict.test would pass 203.0.113.5 but is not.
  options.spfIncludes = {"_spf.esp.test", "strict.test", "_spf.unused.test"};
  return options;
}

//! A fresh store holding the sources of addSources, and the clock the resolvers use.
struct SourcesFixture
{
  SourcesFixture() { addSources(store); }
  TempDir tmp;
  Store store{tmp.path().string(), testOptions()};
  int64_t now = s_now;
};

} // namespace

BOOST_AUTO_TEST_SUITE(test_enrich)

BOOST_FIXTURE_TEST_CASE(pass_records_ptr_spf_policy_and_geo, SourcesFixture)
{
  REQUIRE_DNS_SERVER();
  Resolver resolver(fixedClock(testResolverOptions(dnsServer()->spec()), now));
  EnrichOptions options = catalogOptions();
  int geoCalls = 0;
  options.geo = [&geoCalls](const IpAddress& ip, IpEnrichment& value) {
    ++geoCalls;
    if (ip == testIp("192.0.2.99")) {
      throw std::runtime_error("no such MMDB record");
    }
    value.asn = 64500;
    value.country = "ZZ";
  };
  LogCapture log;
  const EnrichSummary summary = runEnrichmentPass(store, resolver, options);
  BOOST_CHECK_EQUAL(log.count({"geoip lookup failed", "ip=192.0.2.99", "no such MMDB record"}), 1U);
  BOOST_CHECK_EQUAL(summary.sources, 5U);
  BOOST_CHECK_EQUAL(summary.ipsChecked, 4U);
  BOOST_CHECK_EQUAL(summary.ptrConfirmed, 1U);
  BOOST_CHECK_EQUAL(summary.spfChecked, 5U);
  BOOST_CHECK_EQUAL(summary.policiesChecked, 2U);
  BOOST_CHECK_EQUAL(summary.enriched, 5U);
  BOOST_CHECK_EQUAL(summary.unknown, 0U);
  BOOST_CHECK_EQUAL(geoCalls, 4);

  auto confirmed = store.ipEnrichment(testIp("192.0.2.10"));
  BOOST_REQUIRE(confirmed);
  BOOST_CHECK(confirmed->ptrState == PtrState::Confirmed);
  BOOST_CHECK_EQUAL(confirmed->ptrName, "o1.ptr1234.esp.test");
  BOOST_CHECK_EQUAL(confirmed->checkedAt, s_now);
  BOOST_CHECK_EQUAL(confirmed->expiresAt, s_now + options.minRecheck); // TTL 300, kept an hour
  BOOST_CHECK_EQUAL(confirmed->asn, 64500U);
  BOOST_CHECK_EQUAL(confirmed->country, "ZZ");
  auto spoof = store.ipEnrichment(testIp("198.51.100.7"));
  BOOST_CHECK(spoof->ptrState == PtrState::Unconfirmed);
  BOOST_CHECK_EQUAL(spoof->ptrName, "mail.spoof.test");
  auto bare = store.ipEnrichment(testIp("192.0.2.99"));
  BOOST_CHECK(bare->ptrState == PtrState::None);
  BOOST_CHECK_EQUAL(bare->asn, 0U); // the hook threw: stored without GeoIP data
  BOOST_TEST_MESSAGE("no PTR: kept for " << bare->expiresAt - s_now << " s");
  BOOST_CHECK_GE(bare->expiresAt, s_now + options.minRecheck);
  BOOST_CHECK_LE(bare->expiresAt, s_now + 86400);

  auto spf = [this](const char* domain, const char* ip) {
    auto value = store.spfAuthorization(domain, testIp(ip));
    return value ? value->result + "/" + value->include : std::string("absent");
  };
  BOOST_CHECK_EQUAL(spf("corp.test", "192.0.2.10"), "pass/_spf.esp.test");
  BOOST_CHECK_EQUAL(spf("corp.test", "192.0.2.99"), "pass/_spf.esp.test");
  BOOST_CHECK_EQUAL(spf("corp.test", "203.0.113.5"), "pass/"); // its own ip4:, strict.test not reached
  BOOST_CHECK_EQUAL(spf("corp.test", "198.51.100.7"), "softfail/");
  BOOST_CHECK_EQUAL(spf("strict.test", "198.51.100.7"), "fail/");
  BOOST_CHECK_EQUAL(spf("strict.test", "192.0.2.10"), "absent"); // not a source of strict.test

  auto corp = store.livePolicy("corp.test");
  BOOST_REQUIRE(corp);
  BOOST_CHECK_EQUAL(corp->state, "found");
  BOOST_CHECK_EQUAL(corp->p, "reject");
  BOOST_CHECK_EQUAL(corp->pct.value_or(0), 50U);
  BOOST_CHECK_EQUAL(store.livePolicy("strict.test")->p, "none");
  BOOST_CHECK(store.verify().empty());
  // The answers went to the store's DNS cache with their expiry.
  BOOST_CHECK_GE(store.dnsCache(s_now).size(), 8U);
}

BOOST_FIXTURE_TEST_CASE(expiry_force_and_cache, SourcesFixture)
{
  REQUIRE_DNS_SERVER();
  {
    Resolver resolver(fixedClock(testResolverOptions(dnsServer()->spec()), now));
    BOOST_CHECK_EQUAL(runEnrichmentPass(store, resolver, catalogOptions()).enriched, 5U);
    // Nothing is due a minute later.
    now += 60;
    auto again = runEnrichmentPass(store, resolver, catalogOptions());
    BOOST_CHECK_EQUAL(again.enriched, 0U);
    BOOST_CHECK_EQUAL(again.ipsChecked, 0U);
    BOOST_CHECK_EQUAL(again.policiesChecked, 0U);
  }
  // A new resolver (a restarted daemon) answers from the store's DNS cache: nothing is sent.
  Resolver fresh(fixedClock(testResolverOptions(dnsServer()->spec()), now));
  EnrichOptions force = catalogOptions();
  force.force = true;
  auto forced = runEnrichmentPass(store, fresh, force);
  BOOST_CHECK_EQUAL(forced.enriched, 5U);
  BOOST_CHECK_EQUAL(fresh.stats().sent, 0U);
  // Past an hour the IPs whose PTR answers had a TTL of 300 s are due again (a negative
  // answer may carry a longer TTL), and the cached answers have expired.
  now += 3600;
  auto later = runEnrichmentPass(store, fresh, catalogOptions());
  BOOST_CHECK_GE(later.ipsChecked, 3U);
  BOOST_CHECK_EQUAL(store.ipEnrichment(testIp("192.0.2.10"))->checkedAt, now);
  BOOST_CHECK_EQUAL(store.ipEnrichment(testIp("198.51.100.7"))->checkedAt, now);
  BOOST_CHECK_EQUAL(store.ipEnrichment(testIp("203.0.113.5"))->checkedAt, now);
  BOOST_CHECK_GT(fresh.stats().sent, 0U);
}

BOOST_FIXTURE_TEST_CASE(dns_trouble_is_unknown, SourcesFixture)
{
  BlackHole hole;
  auto resolverOptions = fixedClock(testResolverOptions(hole.spec()), now);
  resolverOptions.timeout = std::chrono::milliseconds(200);
  Resolver resolver(resolverOptions);
  EnrichOptions options = catalogOptions();
  EnrichSummary summary;
  BOOST_CHECK_NO_THROW(summary = runEnrichmentPass(store, resolver, options));
  BOOST_CHECK_EQUAL(summary.enriched, 5U);
  BOOST_CHECK_EQUAL(summary.unknown, 5U);
  BOOST_CHECK_EQUAL(summary.ptrUnknown, 4U);
  BOOST_CHECK_EQUAL(summary.spfUnknown, 5U);
  auto ip = store.ipEnrichment(testIp("192.0.2.10"));
  BOOST_REQUIRE(ip);
  BOOST_CHECK(ip->ptrState == PtrState::Unknown);
  BOOST_CHECK_EQUAL(ip->expiresAt, s_now + options.unknownRetry);
  BOOST_CHECK_EQUAL(store.spfAuthorization("corp.test", testIp("192.0.2.10"))->result, "unknown");
  BOOST_CHECK_EQUAL(store.livePolicy("corp.test")->state, "unknown");
  BOOST_CHECK(store.dnsCache(s_now).empty()); // nothing unknown is cached

  // Offline: the same outcome at once.
  TempDir other;
  Store offlineStore(other.path().string(), testOptions());
  addSources(offlineStore);
  Resolver offline(fixedClock(testResolverOptions("none"), now));
  const auto start = std::chrono::steady_clock::now();
  auto offlineSummary = runEnrichmentPass(offlineStore, offline, options);
  BOOST_CHECK_EQUAL(offlineSummary.unknown, 5U);
  BOOST_CHECK_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

BOOST_FIXTURE_TEST_CASE(stop_ends_a_pass_waiting_on_dns, SourcesFixture)
{
  // Every question waits for its 5 s deadline; the stop comes after 300 ms.
  BlackHole hole;
  Resolver resolver(fixedClock(testResolverOptions(hole.spec()), now));
  std::atomic<bool> stop{false};
  EnrichOptions options = catalogOptions();
  options.stop = &stop;
  std::thread stopper([&stop] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
  });
  const auto start = std::chrono::steady_clock::now();
  EnrichSummary summary;
  BOOST_CHECK_NO_THROW(summary = runEnrichmentPass(store, resolver, options));
  const auto took = std::chrono::steady_clock::now() - start;
  stopper.join();
  BOOST_CHECK(summary.stopped);
  BOOST_CHECK_LT(took, std::chrono::milliseconds(800));
  // Nothing half done was written: no PTR, SPF or DMARC result of a cancelled question.
  BOOST_CHECK(!store.ipEnrichment(testIp("192.0.2.10")));
  BOOST_CHECK(!store.spfAuthorization("corp.test", testIp("192.0.2.10")));
  BOOST_CHECK(!store.livePolicy("corp.test"));
}

BOOST_FIXTURE_TEST_CASE(only_given_sources, SourcesFixture)
{
  Resolver offline(fixedClock(testResolverOptions("none"), now));
  EnrichOptions options = catalogOptions();
  options.only = std::vector<EnrichTarget>{{"strict.test", testIp("198.51.100.7")},
                                           {"strict.test", testIp("198.51.100.7")}};
  const EnrichSummary summary = runEnrichmentPass(store, offline, options);
  BOOST_CHECK(!summary.stopped);
  BOOST_CHECK_EQUAL(summary.sources, 1U); // the duplicate counted once
  BOOST_CHECK_EQUAL(summary.spfChecked, 1U);
  BOOST_CHECK(store.ipEnrichment(testIp("198.51.100.7")));
  BOOST_CHECK(store.spfAuthorization("strict.test", testIp("198.51.100.7")));
  BOOST_CHECK(store.livePolicy("strict.test"));
  // The other sources were not looked at.
  BOOST_CHECK(!store.ipEnrichment(testIp("192.0.2.10")));
  BOOST_CHECK(!store.spfAuthorization("corp.test", testIp("198.51.100.7")));
  BOOST_CHECK(!store.livePolicy("corp.test"));

  // A full pass afterwards does the rest.
  options.only.reset();
  const EnrichSummary rest = runEnrichmentPass(store, offline, options);
  BOOST_CHECK_EQUAL(rest.sources, 5U);
  BOOST_CHECK(store.ipEnrichment(testIp("192.0.2.10")));
}

BOOST_AUTO_TEST_SUITE_END()
