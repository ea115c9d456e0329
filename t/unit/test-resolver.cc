/*
 * test-resolver.cc - the Resolver against a private unbound on loopback
 * (dns-zones.hh): answers, NXDOMAIN, NODATA, offline, the TTL cache, the bound
 * on questions in flight, the per-question timeout (a UDP port that swallows
 * every question), the setting's syntax, and the wire-format decoders.
 * Forward-confirmed PTR and live DMARC records are here too (their own small
 * modules, the same server).
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <algorithm>
#include <boost/test/unit_test.hpp>

#include "collector/common/errors.hh"
#include "collector/dns/live-dmarc.hh"
#include "collector/dns/ptr-check.hh"
#include "collector/dns/resolver.hh"
#include "t/unit/dns-zones.hh"

#include <chrono>
#include <map>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

BOOST_AUTO_TEST_SUITE(test_resolver)

BOOST_AUTO_TEST_CASE(spec_syntax)
{
  BOOST_CHECK(ResolverSpec::parse("none").kind == ResolverSpec::Kind::None);
  BOOST_CHECK(ResolverSpec::parse("System").kind == ResolverSpec::Kind::System);
  auto forward = ResolverSpec::parse("127.0.0.1@5353");
  BOOST_CHECK(forward.kind == ResolverSpec::Kind::Forward);
  BOOST_CHECK_EQUAL(forward.forwarder, "127.0.0.1@5353");
  BOOST_CHECK(forward.loopback);
  auto plain = ResolverSpec::parse("192.0.2.53");
  BOOST_CHECK_EQUAL(plain.forwarder, "192.0.2.53");
  BOOST_CHECK(!plain.loopback);
  BOOST_CHECK(ResolverSpec::parse("::1@53").loopback);
  BOOST_CHECK_THROW(ResolverSpec::parse("dns.example.net"), ConfigError);
  BOOST_CHECK_THROW(ResolverSpec::parse("127.0.0.1@0"), ConfigError);
  BOOST_CHECK_THROW(ResolverSpec::parse("127.0.0.1@70000"), ConfigError);
  BOOST_CHECK_THROW(ResolverSpec::parse("127.0.0.1@"), ConfigError);
}

BOOST_AUTO_TEST_CASE(wire_decoders)
{
  const std::string name("\x02o1\x07ptr1234\x03" "Esp\x04test\x00", 21);
  BOOST_CHECK_EQUAL(dnsNameFromWire(name).value_or("?"), "o1.ptr1234.esp.test");
  BOOST_CHECK(!dnsNameFromWire(std::string("\x05" "ab", 3)));
  BOOST_CHECK(!dnsNameFromWire("\x02o1")); // no root label
  // A NUL or a dot inside a label would make another name than DNS holds (a spoofed
  // "x.attacker.test\0.sendgrid.net" checked as x.attacker.test): refused.
  auto wire = []<size_t N>(const char (&bytes)[N]) { return std::string(bytes, N - 1); };
  BOOST_CHECK(!dnsNameFromWire(wire("\x01" "x" "\x08" "attacker" "\x05" "test\0" "\x08" "sendgrid" "\x03" "net" "\0")));
  BOOST_CHECK(!dnsNameFromWire(wire("\x03" "a.b" "\x04" "test" "\0")));
  BOOST_CHECK_EQUAL(dnsNameFromWire(wire("\x04" "_spf" "\x04" "test" "\0")).value_or("?"), "_spf.test");
  std::string longName;
  for (int i = 0; i < 5; ++i) {
    longName += '\x3f' + std::string(63, 'a');
  }
  BOOST_CHECK(!dnsNameFromWire(longName + '\0')); // 319 characters
  BOOST_CHECK_EQUAL(txtFromWire(std::string("\x03" "abc\x02" "de", 7)).value_or("?"), "abcde");
  BOOST_CHECK(!txtFromWire(std::string("\x09" "abc", 4)));
  BOOST_CHECK(addressFromWire(std::string("\xc0\x00\x02\x0a", 4)) == testIp("192.0.2.10"));
  BOOST_CHECK(!addressFromWire("abc"));
  BOOST_CHECK_EQUAL(reverseName(testIp("192.0.2.10")), "10.2.0.192.in-addr.arpa");
  BOOST_CHECK_EQUAL(reverseName(testIp("2001:db8::1")),
                    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}

BOOST_AUTO_TEST_CASE(system_reads_resolv_conf)
{
  // Nothing is asked here (no network in the tests): the set-up alone must work.
  Resolver resolver(testResolverOptions("system"));
  BOOST_CHECK(!resolver.offline());
}

BOOST_AUTO_TEST_CASE(offline_answers_unknown_at_once)
{
  Resolver resolver(testResolverOptions("none"));
  BOOST_CHECK(resolver.offline());
  const auto start = std::chrono::steady_clock::now();
  auto answer = resolver.resolve("corp.test", dnstype::txt);
  BOOST_CHECK(answer.status == DnsStatus::Unknown);
  BOOST_CHECK_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  BOOST_CHECK_EQUAL(resolver.stats().sent, 0U);
}

BOOST_AUTO_TEST_CASE(answer_nxdomain_nodata)
{
  REQUIRE_DNS_SERVER();
  Resolver resolver(testResolverOptions(dnsServer()->spec()));
  auto txt = resolver.resolve("corp.test.", dnstype::txt);
  BOOST_REQUIRE(txt.status == DnsStatus::Answer);
  BOOST_REQUIRE_EQUAL(txt.rdata.size(), 1U);
  BOOST_CHECK_EQUAL(txtFromWire(txt.rdata[0]).value_or("?"), "v=spf1 ip4:203.0.113.0/24 include:_spf.esp.test ~all");
  BOOST_CHECK_EQUAL(txt.rcode, 0);
  BOOST_CHECK(txt.ttl > 0 && txt.ttl <= 300);
  auto missing = resolver.resolve("nothing.corp.test", dnstype::txt);
  BOOST_CHECK(missing.status == DnsStatus::NxDomain);
  BOOST_CHECK_EQUAL(missing.rcode, 3);
  auto nodata = resolver.resolve("corp.test", dnstype::a);
  BOOST_CHECK(nodata.status == DnsStatus::NoData);
  // "." is refused by the server: nothing is known, and that is no error.
  auto refused = resolver.resolve("www.example.com", dnstype::a);
  BOOST_CHECK(refused.status == DnsStatus::Unknown);
}

BOOST_AUTO_TEST_CASE(cache_is_bounded)
{
  // Names chosen by whoever mails the rua address (DKIM selectors, SPF includes): the cache of a
  // long-lived milter worker must not grow without end.  100k distinct answers, and one too big.
  int64_t now = 1000000;
  auto options = testResolverOptions("none");
  options.clock = [&now] { return now; };
  Resolver resolver(options);
  std::vector<DnsCacheEntry> entries;
  for (int i = 0; i < 100000; ++i) {
    DnsCacheEntry entry;
    entry.type = dnstype::txt;
    entry.name = "s" + std::to_string(i) + "._domainkey.attacker.test";
    entry.answer.status = DnsStatus::Answer;
    entry.answer.ttl = 3600;
    entry.answer.rdata = {std::string(100, 'k')};
    entry.expiresAt = now + 3600;
    entries.push_back(std::move(entry));
  }
  DnsCacheEntry big = entries.back();
  big.name = "big.attacker.test";
  big.answer.rdata = {std::string(64 << 10, 'x')};
  entries.push_back(big);
  resolver.preload(entries);
  const auto kept = resolver.cacheEntries();
  BOOST_CHECK_GT(kept.size(), 0U);
  BOOST_CHECK_LE(kept.size(), 20000U);
  BOOST_CHECK(std::none_of(kept.begin(), kept.end(), [](const DnsCacheEntry& e) { return e.name == "big.attacker.test"; }));
  // The newest are kept (the cache empties when full, then fills again).
  BOOST_CHECK(std::any_of(kept.begin(), kept.end(),
                          [](const DnsCacheEntry& e) { return e.name == "s99999._domainkey.attacker.test"; }));
}

BOOST_AUTO_TEST_CASE(cache_with_ttl)
{
  REQUIRE_DNS_SERVER();
  int64_t now = 1000000;
  auto options = testResolverOptions(dnsServer()->spec());
  options.clock = [&now] { return now; };
  Resolver resolver(options);
  BOOST_REQUIRE(resolver.resolve("corp.test", dnstype::txt).status == DnsStatus::Answer);
  BOOST_REQUIRE(resolver.resolve("nothing.corp.test", dnstype::txt).status == DnsStatus::NxDomain);
  const auto sent = resolver.stats().sent;
  BOOST_CHECK(resolver.resolve("CORP.test", dnstype::txt).status == DnsStatus::Answer);
  BOOST_CHECK(resolver.resolve("nothing.corp.test", dnstype::txt).status == DnsStatus::NxDomain);
  BOOST_CHECK_EQUAL(resolver.stats().sent, sent);
  BOOST_CHECK_EQUAL(resolver.stats().cacheHits, 2U);
  // Saved and loaded again: a fresh resolver answers from it without asking.
  auto saved = resolver.cacheEntries();
  BOOST_CHECK_EQUAL(saved.size(), 2U);
  Resolver other(options);
  other.preload(saved);
  BOOST_CHECK(other.resolve("corp.test", dnstype::txt).status == DnsStatus::Answer);
  BOOST_CHECK_EQUAL(other.stats().sent, 0U);
  // Past the TTL it asks again.
  now += 301;
  BOOST_CHECK(resolver.resolve("corp.test", dnstype::txt).status == DnsStatus::Answer);
  BOOST_CHECK_EQUAL(resolver.stats().sent, sent + 1);
}

BOOST_AUTO_TEST_CASE(bounded_concurrency)
{
  REQUIRE_DNS_SERVER();
  auto options = testResolverOptions(dnsServer()->spec());
  options.maxInFlight = 4;
  Resolver resolver(options);
  int answered = 0;
  int nxdomain = 0;
  for (int i = 0; i < 200; ++i) {
    resolver.submit("n" + std::to_string(i) + ".corp.test", dnstype::a, [&](const DnsAnswer& answer) {
      ++answered;
      nxdomain += answer.status == DnsStatus::NxDomain ? 1 : 0;
    });
  }
  resolver.run();
  BOOST_CHECK_EQUAL(answered, 200);
  BOOST_CHECK_EQUAL(nxdomain, 200);
  BOOST_CHECK_EQUAL(resolver.stats().sent, 200U);
  BOOST_CHECK_EQUAL(resolver.stats().peakInFlight, 4U);
}

BOOST_AUTO_TEST_CASE(timeout_is_unknown)
{
  BlackHole hole;
  auto options = testResolverOptions(hole.spec());
  options.timeout = std::chrono::milliseconds(300);
  Resolver resolver(options);
  const auto start = std::chrono::steady_clock::now();
  int unknown = 0;
  for (int i = 0; i < 3; ++i) {
    resolver.submit("q" + std::to_string(i) + ".corp.test", dnstype::txt,
                    [&](const DnsAnswer& answer) { unknown += answer.status == DnsStatus::Unknown ? 1 : 0; });
  }
  resolver.run();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  BOOST_CHECK_EQUAL(unknown, 3);
  BOOST_CHECK_EQUAL(resolver.stats().timeouts, 3U);
  BOOST_CHECK_GE(elapsed, std::chrono::milliseconds(290));
  BOOST_CHECK_LT(elapsed, std::chrono::milliseconds(2000));
}

BOOST_AUTO_TEST_CASE(deadline_cuts_every_question_short)
{
  BlackHole hole;
  auto options = testResolverOptions(hole.spec()); // 2 s per question
  Resolver resolver(options);
  resolver.setDeadline(std::chrono::steady_clock::now() + std::chrono::milliseconds(300));
  auto start = std::chrono::steady_clock::now();
  BOOST_CHECK(resolver.resolve("a.corp.test", dnstype::txt).status == DnsStatus::Unknown);
  auto elapsed = std::chrono::steady_clock::now() - start;
  BOOST_CHECK_GE(elapsed, std::chrono::milliseconds(250));
  BOOST_CHECK_LT(elapsed, std::chrono::milliseconds(1000));
  // Past the deadline nothing is sent: answered at once.
  const uint64_t sent = resolver.stats().sent;
  start = std::chrono::steady_clock::now();
  BOOST_CHECK(resolver.resolve("b.corp.test", dnstype::txt).status == DnsStatus::Unknown);
  BOOST_CHECK_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  BOOST_CHECK_EQUAL(resolver.stats().sent, sent);
  BOOST_CHECK_EQUAL(resolver.stats().timeouts, 2U);
  // Cleared: the question's own timeout again.
  resolver.setDeadline(std::nullopt);
  start = std::chrono::steady_clock::now();
  BOOST_CHECK(resolver.resolve("c.corp.test", dnstype::txt).status == DnsStatus::Unknown);
  BOOST_CHECK_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1900));
}

BOOST_AUTO_TEST_CASE(ptr_forward_confirmation)
{
  REQUIRE_DNS_SERVER();
  Resolver resolver(testResolverOptions(dnsServer()->spec()));
  std::map<std::string, PtrCheck> got;
  for (const char* address : {"192.0.2.10", "198.51.100.7", "192.0.2.99"}) {
    checkPtr(resolver, testIp(address), [&got, address](const PtrCheck& check) { got[address] = check; });
  }
  resolver.run();
  BOOST_REQUIRE_EQUAL(got.size(), 3U);
  BOOST_CHECK(got["192.0.2.10"].outcome == PtrState::Confirmed);
  BOOST_CHECK_EQUAL(got["192.0.2.10"].name, "o1.ptr1234.esp.test");
  BOOST_CHECK(got["198.51.100.7"].outcome == PtrState::Unconfirmed);
  BOOST_CHECK_EQUAL(got["198.51.100.7"].name, "mail.spoof.test");
  BOOST_CHECK(got["192.0.2.99"].outcome == PtrState::None);
  BOOST_CHECK(got["192.0.2.99"].name.empty());
}

BOOST_AUTO_TEST_CASE(ptr_unknown_on_timeout)
{
  BlackHole hole;
  auto options = testResolverOptions(hole.spec());
  options.timeout = std::chrono::milliseconds(200);
  Resolver resolver(options);
  std::optional<PtrCheck> got;
  checkPtr(resolver, testIp("192.0.2.10"), [&got](const PtrCheck& check) { got = check; });
  resolver.run();
  BOOST_REQUIRE(got);
  BOOST_CHECK(got->outcome == PtrState::Unknown);
}

BOOST_AUTO_TEST_CASE(live_dmarc_record)
{
  REQUIRE_DNS_SERVER();
  Resolver resolver(testResolverOptions(dnsServer()->spec()));
  std::map<std::string, DmarcRecord> got;
  for (const char* domain : {"corp.test", "strict.test", "missing.test", "redirect.test"}) {
    fetchDmarcRecord(resolver, domain, [&got, domain](const DmarcRecord& record) { got[domain] = record; });
  }
  resolver.run();
  BOOST_REQUIRE_EQUAL(got.size(), 4U);
  const auto& corp = got["corp.test"];
  BOOST_CHECK_EQUAL(corp.state, "found");
  BOOST_CHECK_EQUAL(corp.p, "reject");
  BOOST_CHECK_EQUAL(corp.sp, "quarantine");
  BOOST_CHECK_EQUAL(corp.np, "reject");
  BOOST_CHECK_EQUAL(corp.testing, "y");
  BOOST_REQUIRE(corp.pct);
  BOOST_CHECK_EQUAL(*corp.pct, 50U);
  BOOST_REQUIRE_EQUAL(corp.rua.size(), 2U);
  BOOST_CHECK_EQUAL(corp.rua[0], "mailto:rua@corp.test");
  BOOST_CHECK_EQUAL(corp.rua[1], "mailto:agg@esp.test");
  BOOST_CHECK(corp.ttl > 300 && corp.ttl <= 600);
  const auto& strict = got["strict.test"];
  BOOST_CHECK_EQUAL(strict.state, "found");
  BOOST_CHECK_EQUAL(strict.p, "none");
  BOOST_CHECK(strict.sp.empty());
  BOOST_CHECK(!strict.pct);
  BOOST_CHECK(strict.rua.empty());
  BOOST_CHECK_EQUAL(got["missing.test"].state, "none");
  // p=bogus: libopendmarc refuses the record; it is kept, and no policy is found.
  BOOST_CHECK_EQUAL(got["redirect.test"].state, "none");
  BOOST_CHECK_EQUAL(got["redirect.test"].record, "v=DMARC1; p=bogus");
}

BOOST_AUTO_TEST_CASE(live_dmarc_offline)
{
  Resolver resolver(testResolverOptions("none"));
  std::optional<DmarcRecord> got;
  fetchDmarcRecord(resolver, "corp.test", [&got](const DmarcRecord& record) { got = record; });
  resolver.run();
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(got->state, "unknown");
}

BOOST_AUTO_TEST_SUITE_END()
