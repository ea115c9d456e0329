/*
 * test-enrich.cc - one enrichment pass (collector/enrich) over a store with
 * reports, against the private unbound of dns-zones.hh: PTR states, SPF
 * results and the authorizing catalog include (only one the domain's record
 * reaches), the live DMARC record, the GeoIP hook (and a hook that throws),
 * expiry (nothing due in a second pass, everything again with force or after
 * the expiry), and DNS trouble: a resolver that times out or is offline gives
 * Unknown results retried soon, never an exception.  Per policy domain the
 * live records (dns/spf-record.hh, live-dmarc.hh): the DMARC text and whose
 * record it is (a subdomain without one gets its organizational domain's),
 * the SPF text, its look-up count through includes and redirect, and its
 * error (too many look-ups, loop, multiple records, none ...); a record changed
 * in DNS is the new text after the next forced pass.  A stop ends a
 * pass waiting on DNS at once and writes nothing half done; a pass over given
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
#include "t/unit/psl-fixture.hh"
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

//! "look-ups/error" of a domain's stored live policy ("?" for an unknown count, "absent").
std::string spfOfStore(const Store& store, const char* domain)
{
  auto policy = store.livePolicy(domain);
  if (!policy) {
    return "absent";
  }
  return (policy->spfLookups ? std::to_string(*policy->spfLookups) : std::string("?")) + "/" + policy->spfError;
}

//! The text corp.test publishes at _dmarc in the test zones.
constexpr const char* c_corpDmarc =
  "v=DMARC1; p=reject; sp=quarantine; np=reject; pct=50; t=y; rua=mailto:rua@corp.test,mailto:agg@esp.test";

//! A store with one source for each policy domain of the SPF-count zones (dns-zones.hh).
struct LiveRecordsFixture
{
  LiveRecordsFixture()
  {
    int n = 0;
    for (const char* domain : {"corp.test", "sub.corp.test", "two.corp.test", "missing.test", "deep.test", "redir2.test",
                               "redirall.test", "loop1.test", "multi.test", "nospf.test", "macro.test", "badinclude.test",
                               "many.test", "long.test"}) {
      storeReport(store, "live-" + std::to_string(++n), domain, s_today - 1, {makeRecord(testIp("192.0.2.10"), 1, true)});
    }
  }
  //! Options whose organizational domains come from the test list (.test: the implicit rule).
  static EnrichOptions withPsl()
  {
    EnrichOptions options;
    options.organizationalDomain = [](std::string_view domain) { return testPsl().organizationalDomain(domain); };
    return options;
  }
  [[nodiscard]] std::string spfOf(const char* domain) const { return spfOfStore(store, domain); }
  TempDir tmp;
  Store store{tmp.path().string(), testOptions()};
  int64_t now = s_now;
};

} // namespace

BOOST_AUTO_TEST_SUITE(test_enrich)

BOOST_FIXTURE_TEST_CASE(live_spf_counts_and_dmarc_records, LiveRecordsFixture)
{
  REQUIRE_DNS_SERVER();
  Resolver resolver(fixedClock(testResolverOptions(dnsServer()->spec()), now));
  const EnrichSummary summary = runEnrichmentPass(store, resolver, withPsl());
  BOOST_CHECK_EQUAL(summary.policiesChecked, 14U);

  // The DMARC record as published, and whose it is.
  auto corp = store.livePolicy("corp.test");
  BOOST_REQUIRE(corp);
  BOOST_CHECK_EQUAL(corp->record, c_corpDmarc);
  BOOST_CHECK_EQUAL(corp->recordDomain, "corp.test");
  BOOST_CHECK_EQUAL(corp->spfRecord, "v=spf1 ip4:203.0.113.0/24 include:_spf.esp.test ~all");
  BOOST_CHECK_EQUAL(spfOf("corp.test"), "2/"); // include:_spf.esp.test, its include:_net1.esp.test
  // No _dmarc.sub.corp.test: the organizational domain's record (RFC 7489 6.6.3).
  auto sub = store.livePolicy("sub.corp.test");
  BOOST_REQUIRE(sub);
  BOOST_CHECK_EQUAL(sub->state, "found");
  BOOST_CHECK_EQUAL(sub->recordDomain, "corp.test");
  BOOST_CHECK_EQUAL(sub->record, c_corpDmarc);
  BOOST_CHECK_EQUAL(sub->p, "reject");
  BOOST_CHECK_EQUAL(sub->spfRecord, "");
  BOOST_CHECK_EQUAL(spfOf("sub.corp.test"), "?/none");
  // Two records at the subdomain end the discovery there: none, no fallback.
  auto two = store.livePolicy("two.corp.test");
  BOOST_REQUIRE(two);
  BOOST_CHECK_EQUAL(two->state, "none");
  BOOST_CHECK_EQUAL(two->recordDomain, "");
  // Records longer than the cap are kept capped.
  auto longer = store.livePolicy("long.test");
  BOOST_REQUIRE(longer);
  BOOST_CHECK_EQUAL(longer->record.size(), s_maxRecordText);
  BOOST_CHECK(longer->record.starts_with("v=DMARC1; p=none; rua=mailto:a@long.test" + std::string(10, 'x')));
  BOOST_CHECK_EQUAL(longer->spfRecord.size(), s_maxRecordText);
  BOOST_CHECK(longer->spfRecord.starts_with("v=spf1 a " + std::string(10, 'y')));
  BOOST_CHECK_EQUAL(spfOf("long.test"), "1/");
  // An organizational domain without a record has none, from nowhere.
  auto missing = store.livePolicy("missing.test");
  BOOST_REQUIRE(missing);
  BOOST_CHECK_EQUAL(missing->state, "none");
  BOOST_CHECK_EQUAL(missing->recordDomain, "");
  BOOST_CHECK_EQUAL(missing->record, "");

  // SPF look-ups (RFC 7208 4.6.4) through nested includes and redirects.
  BOOST_CHECK_EQUAL(store.livePolicy("deep.test")->spfRecord, "v=spf1 include:d1.deep.test a mx -all");
  BOOST_CHECK_EQUAL(spfOf("deep.test"), "12/too many look-ups");
  BOOST_CHECK_EQUAL(spfOf("redir2.test"), "4/");   // mx, redirect, then corp.test's 2
  BOOST_CHECK_EQUAL(spfOf("redirall.test"), "1/"); // the redirect beside -all is void: not followed
  BOOST_CHECK_EQUAL(spfOf("macro.test"), "2/");    // counted, not followed
  BOOST_CHECK_EQUAL(spfOf("many.test"), "11/too many look-ups");
  BOOST_CHECK_EQUAL(spfOf("loop1.test"), "2/loop");
  BOOST_CHECK_EQUAL(spfOf("badinclude.test"), "1/include without SPF record");
  BOOST_CHECK_EQUAL(spfOf("multi.test"), "?/multiple SPF records");
  BOOST_CHECK_EQUAL(store.livePolicy("multi.test")->spfRecord, "");
  BOOST_CHECK_EQUAL(spfOf("nospf.test"), "?/none");
  BOOST_CHECK(store.verify().empty());

  // Without organizational domains there is no fallback: the subdomain has no record.
  Resolver again(fixedClock(testResolverOptions(dnsServer()->spec()), now));
  EnrichOptions noPsl;
  noPsl.force = true;
  runEnrichmentPass(store, again, noPsl);
  BOOST_CHECK_EQUAL(store.livePolicy("sub.corp.test")->state, "none");
  BOOST_CHECK_EQUAL(store.livePolicy("sub.corp.test")->recordDomain, "");
  BOOST_CHECK_EQUAL(store.livePolicy("corp.test")->recordDomain, "corp.test");
}

BOOST_FIXTURE_TEST_CASE(changed_record_after_forced_pass, SourcesFixture)
{
  REQUIRE_DNS_SERVER();
  {
    Resolver resolver(fixedClock(testResolverOptions(dnsServer()->spec()), now));
    runEnrichmentPass(store, resolver, catalogOptions());
  }
  BOOST_CHECK_EQUAL(store.livePolicy("corp.test")->record, c_corpDmarc);
  BOOST_CHECK_EQUAL(spfOfStore(store, "corp.test"), "2/");

  // The zone changes: a server of its own with corp.test's two records replaced.
  std::vector<std::string> data;
  for (const auto& line : testZoneData()) {
    if (line.find("'corp.test. ") == std::string::npos && line.find("'_dmarc.corp.test. ") == std::string::npos) {
      data.push_back(line);
    }
  }
  data.emplace_back(R"(local-data: '_dmarc.corp.test. 300 IN TXT "v=DMARC1; p=none; rua=mailto:new@corp.test"')");
  data.emplace_back(R"(local-data: 'corp.test. 300 IN TXT "v=spf1 mx include:_spf.esp.test include:strict.test -all"')");
  UnboundServer changed(testZoneNames(), data);
  // Past the answers' TTLs (the store's DNS cache), within the policy's hour: not due.
  now += 601;
  Resolver resolver(fixedClock(testResolverOptions(changed.spec()), now));
  BOOST_CHECK_EQUAL(runEnrichmentPass(store, resolver, catalogOptions()).policiesChecked, 0U);
  BOOST_CHECK_EQUAL(store.livePolicy("corp.test")->record, c_corpDmarc);
  EnrichOptions force = catalogOptions();
  force.force = true;
  BOOST_CHECK_EQUAL(runEnrichmentPass(store, resolver, force).policiesChecked, 2U);
  auto corp = store.livePolicy("corp.test");
  BOOST_REQUIRE(corp);
  BOOST_CHECK_EQUAL(corp->record, "v=DMARC1; p=none; rua=mailto:new@corp.test");
  BOOST_CHECK_EQUAL(corp->p, "none");
  BOOST_CHECK_EQUAL(corp->checkedAt, now);
  BOOST_CHECK_EQUAL(corp->spfRecord, "v=spf1 mx include:_spf.esp.test include:strict.test -all");
  BOOST_CHECK_EQUAL(spfOfStore(store, "corp.test"), "4/");
}

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
  auto policy = store.livePolicy("corp.test");
  BOOST_REQUIRE(policy);
  BOOST_CHECK_EQUAL(policy->state, "unknown");
  BOOST_CHECK_EQUAL(policy->spfError, "temperror");
  BOOST_CHECK(!policy->spfLookups);
  BOOST_CHECK_EQUAL(policy->expiresAt, s_now + options.unknownRetry);
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
