/*
 * test-enrichment-store.cc - the store's enrichment tables (enrichment.hh):
 * every value round-trips, absent means not enriched, a batch is one
 * transaction, snapshots read them, forEachSource visits the sources table,
 * the DNS cache keeps and prunes by expiry, verify decodes the tables and
 * names a corrupt entry, a live policy written before its SPF fields decodes
 * with them unknown (and new ones round-trip), and a store without the tables (as written before
 * them) opens read-only unchanged and gets them at its next read-write open.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/store/store.hh"
#include "t/unit/store-fixture.hh"
#include "t/unit/test-util.hh"

#include <lmdb.h>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

namespace
{

IpAddress address(const char* text)
{
  return *IpAddress::parse(text);
}

IpEnrichment sampleIp()
{
  IpEnrichment value;
  value.checkedAt = s_now;
  value.expiresAt = s_now + 3600;
  value.ptrState = PtrState::Confirmed;
  value.ptrName = "o1.ptr1234.sendgrid.net";
  value.asn = 11377;
  value.asOrg = "SendGrid, Inc.";
  value.country = "US";
  return value;
}

LivePolicy samplePolicy()
{
  LivePolicy value;
  value.checkedAt = s_now;
  value.expiresAt = s_now + 600;
  value.state = "found";
  value.record = "v=DMARC1; p=reject; pct=50; rua=mailto:a@example.com,mailto:b@example.net";
  value.p = "reject";
  value.np = "quarantine";
  value.testing = "y";
  value.pct = 50;
  value.rua = {"mailto:a@example.com", "mailto:b@example.net"};
  return value;
}

//! Run fn(txn) in a write transaction of plain LMDB on the store's environment (no Store).
template <typename Fn>
void withRawTxn(const std::string& dir, Fn&& fn)
{
  MDB_env* env = nullptr;
  BOOST_REQUIRE_EQUAL(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 32);
  BOOST_REQUIRE_EQUAL(mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0640), 0);
  MDB_txn* txn = nullptr;
  BOOST_REQUIRE_EQUAL(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  fn(txn);
  BOOST_REQUIRE_EQUAL(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

//! Drop the enrichment tables: the store as written before they existed.
void dropEnrichmentTables(const std::string& dir)
{
  withRawTxn(dir, [](MDB_txn* txn) {
    for (const char* name : {"ipinfo", "spfauth", "livepolicy", "dnscache"}) {
      MDB_dbi dbi = 0;
      BOOST_REQUIRE_EQUAL(mdb_dbi_open(txn, name, 0, &dbi), 0);
      BOOST_REQUIRE_EQUAL(mdb_drop(txn, dbi, 1), 0);
    }
  });
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_enrichment_store)

BOOST_AUTO_TEST_CASE(round_trips_and_absent)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const auto ip = address("192.0.2.10");
  BOOST_CHECK(!store.ipEnrichment(ip));
  BOOST_CHECK(!store.spfAuthorization("example.com", ip));
  BOOST_CHECK(!store.livePolicy("example.com"));

  store.putIpEnrichment(ip, sampleIp());
  auto got = store.ipEnrichment(ip);
  BOOST_REQUIRE(got);
  BOOST_CHECK(got->ptrState == PtrState::Confirmed);
  BOOST_CHECK_EQUAL(got->ptrName, "o1.ptr1234.sendgrid.net");
  BOOST_CHECK_EQUAL(got->checkedAt, s_now);
  BOOST_CHECK_EQUAL(got->expiresAt, s_now + 3600);
  BOOST_CHECK_EQUAL(got->asn, 11377U);
  BOOST_CHECK_EQUAL(got->asOrg, "SendGrid, Inc.");
  BOOST_CHECK_EQUAL(got->country, "US");
  BOOST_CHECK(!store.ipEnrichment(address("192.0.2.11")));

  store.putSpfAuthorization("Example.COM", ip, SpfAuthorization{s_now, s_now + 300, "pass", "sendgrid.net"});
  auto spf = store.spfAuthorization("example.com", ip);
  BOOST_REQUIRE(spf);
  BOOST_CHECK_EQUAL(spf->result, "pass");
  BOOST_CHECK_EQUAL(spf->include, "sendgrid.net");
  BOOST_CHECK(!store.spfAuthorization("example.net", ip));
  BOOST_CHECK(!store.spfAuthorization("example.com", address("2001:db8::1")));

  store.putLivePolicy("example.com", samplePolicy());
  auto policy = store.livePolicy("EXAMPLE.com");
  BOOST_REQUIRE(policy);
  BOOST_CHECK_EQUAL(policy->state, "found");
  BOOST_CHECK_EQUAL(policy->p, "reject");
  BOOST_CHECK(policy->sp.empty());
  BOOST_CHECK_EQUAL(policy->np, "quarantine");
  BOOST_CHECK_EQUAL(policy->testing, "y");
  BOOST_REQUIRE(policy->pct);
  BOOST_CHECK_EQUAL(*policy->pct, 50U);
  BOOST_CHECK_EQUAL(policy->rua.size(), 2U);
  BOOST_CHECK_EQUAL(policy->record, samplePolicy().record);

  // Without pct the record keeps "no pct", not 0 or 100.
  LivePolicy none;
  none.state = "none";
  store.putLivePolicy("example.net", none);
  BOOST_CHECK(!store.livePolicy("example.net")->pct);
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_CASE(live_policy_spf_fields_round_trip)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  LivePolicy value = samplePolicy();
  value.recordDomain = "example.com";
  value.spfRecord = "v=spf1 include:_spf.example.net redirect=example.org";
  value.spfLookups = 12;
  value.spfError = "too many look-ups";
  store.putLivePolicy("mail.example.com", value);
  auto got = store.livePolicy("mail.example.com");
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(got->recordDomain, "example.com");
  BOOST_CHECK_EQUAL(got->spfRecord, value.spfRecord);
  BOOST_REQUIRE(got->spfLookups);
  BOOST_CHECK_EQUAL(*got->spfLookups, 12U);
  BOOST_CHECK_EQUAL(got->spfError, "too many look-ups");
  BOOST_CHECK_EQUAL(got->rua.size(), 2U); // the fields before them are intact

  // No count (unknown) and no error ("") stay that, not 0 or "unknown".
  LivePolicy noCount;
  noCount.state = "found";
  noCount.spfError = "";
  store.putLivePolicy("example.org", noCount);
  auto none = store.livePolicy("example.org");
  BOOST_REQUIRE(none);
  BOOST_CHECK(!none->spfLookups);
  BOOST_CHECK_EQUAL(none->spfError, "");
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_CASE(live_policy_written_before_the_spf_fields_decodes)
{
  TempDir tmp;
  const std::string dir = tmp.path().string();
  {
    Store store(dir, testOptions());
    LivePolicy value = samplePolicy();
    value.spfError = "";
    value.spfLookups = 3;
    store.putLivePolicy("cut.example", value);
  }
  // The bytes of the previous version: [01] times, six strings, has pct + pct, rua; nothing after.
  std::string old("\x01", 1);
  old += std::string("\x02\x04", 2); // zigzag 1, 2
  old += std::string("\x05" "found", 6);
  old += std::string("\x12" "v=DMARC1; p=reject", 19);
  old += std::string("\x06" "reject", 7);
  old += std::string("\x00\x00\x00", 3); // sp np t
  old += std::string("\x01\x19", 2);     // pct 25
  old += std::string("\x01\x14" "mailto:d@example.com", 22);
  withRawTxn(dir, [&old](MDB_txn* txn) {
    MDB_dbi dbi = 0;
    BOOST_REQUIRE_EQUAL(mdb_dbi_open(txn, "livepolicy", 0, &dbi), 0);
    std::string name = "old.example";
    MDB_val key{name.size(), name.data()};
    MDB_val value{old.size(), old.data()};
    BOOST_REQUIRE_EQUAL(mdb_put(txn, dbi, &key, &value, 0), 0);
    // A new value cut inside its trailing fields (no error string, no count) is corrupt.
    name = "cut.example";
    key = MDB_val{name.size(), name.data()};
    MDB_val found{};
    BOOST_REQUIRE_EQUAL(mdb_get(txn, dbi, &key, &found), 0);
    std::string bytes(static_cast<const char*>(found.mv_data), found.mv_size - 2);
    MDB_val cut{bytes.size(), bytes.data()};
    BOOST_REQUIRE_EQUAL(mdb_put(txn, dbi, &key, &cut, 0), 0);
  });
  Store store(dir, testOptions());
  auto got = store.livePolicy("old.example");
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(got->checkedAt, 1);
  BOOST_CHECK_EQUAL(got->expiresAt, 2);
  BOOST_CHECK_EQUAL(got->state, "found");
  BOOST_CHECK_EQUAL(got->record, "v=DMARC1; p=reject");
  BOOST_CHECK_EQUAL(got->p, "reject");
  BOOST_CHECK_EQUAL(got->pct.value_or(0), 25U);
  BOOST_REQUIRE_EQUAL(got->rua.size(), 1U);
  BOOST_CHECK_EQUAL(got->rua[0], "mailto:d@example.com");
  // The fields it does not have are unknown.
  BOOST_CHECK_EQUAL(got->recordDomain, "");
  BOOST_CHECK_EQUAL(got->spfRecord, "");
  BOOST_CHECK(!got->spfLookups);
  BOOST_CHECK_EQUAL(got->spfError, "unknown");
  // verify decodes the old value and names only the cut one.
  auto problems = store.verify();
  BOOST_REQUIRE_EQUAL(problems.size(), 1U);
  BOOST_CHECK_MESSAGE(problems[0].find("livepolicy") != std::string::npos, problems[0]);
  BOOST_CHECK_THROW(store.livePolicy("cut.example"), StoreError);
}

BOOST_AUTO_TEST_CASE(batch_snapshot_and_scans)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  Store::EnrichmentBatch batch;
  for (int i = 1; i <= 300; ++i) {
    IpEnrichment value = sampleIp();
    value.ptrState = i % 2 == 0 ? PtrState::Unconfirmed : PtrState::None;
    value.ptrName = "h" + std::to_string(i) + ".example.net";
    IpAddress ip = address("198.51.100.0");
    ip.bytes[14] = static_cast<uint8_t>(i >> 8);
    ip.bytes[15] = static_cast<uint8_t>(i & 0xff);
    batch.ips.emplace_back(ip, value);
    batch.spf.push_back({"example.com", ip, SpfAuthorization{s_now, s_now + 60, "softfail", ""}});
  }
  batch.policies.emplace_back("example.com", samplePolicy());
  batch.dns.push_back(DnsCacheRecord{16, "example.com", 0, 0, 300, {"\x05hello"}, s_now + 300});
  batch.dns.push_back(DnsCacheRecord{1, "gone.example.com", 3, 2, 60, {}, s_now - 1});
  BOOST_CHECK_EQUAL(batch.size(), 603U);
  store.putEnrichment(batch);

  StoreSnapshot snapshot(store);
  auto one = snapshot.ipEnrichment(batch.ips[0].first.bytes);
  BOOST_REQUIRE(one);
  BOOST_CHECK_EQUAL(one->ptrName, "h1.example.net");
  BOOST_CHECK(snapshot.ipEnrichment(batch.ips[1].first.bytes)->ptrState == PtrState::Unconfirmed);
  BOOST_CHECK_EQUAL(snapshot.spfAuthorization("example.com", batch.ips[5].first.bytes)->result, "softfail");
  BOOST_CHECK_EQUAL(snapshot.livePolicy("example.com")->p, "reject");
  BOOST_CHECK(!snapshot.livePolicy("example.org"));

  size_t ips = 0;
  store.forEachIpEnrichment([&](const IpAddress&, const IpEnrichment&) { ++ips; });
  BOOST_CHECK_EQUAL(ips, 300U);
  size_t spf = 0;
  store.forEachSpfAuthorization([&](const std::string& domain, const IpAddress& ip, const SpfAuthorization&) {
    spf += domain == "example.com" && ip.isV4() ? 1 : 0;
  });
  BOOST_CHECK_EQUAL(spf, 300U);

  // The DNS cache: only unexpired entries come back; pruning drops the expired one.
  auto cached = store.dnsCache(s_now);
  BOOST_REQUIRE_EQUAL(cached.size(), 1U);
  BOOST_CHECK_EQUAL(cached[0].type, 16U);
  BOOST_CHECK_EQUAL(cached[0].name, "example.com");
  BOOST_CHECK_EQUAL(cached[0].ttl, 300U);
  BOOST_REQUIRE_EQUAL(cached[0].rdata.size(), 1U);
  BOOST_CHECK_EQUAL(cached[0].rdata[0], "\x05hello");
  BOOST_CHECK_EQUAL(store.pruneDnsCache(s_now), 1U);
  BOOST_CHECK_EQUAL(store.dnsCache(0).size(), 1U);
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_CASE(for_each_source)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  storeReport(store, "r1", "example.com", s_today - 1,
              {makeRecord(v4(192, 0, 2, 1), 3, true), makeRecord(v4(192, 0, 2, 2), 1, false)});
  storeReport(store, "r2", "example.org", s_today - 1, {makeRecord(v4(192, 0, 2, 1), 3, true)});
  std::vector<std::pair<std::string, std::string>> seen;
  store.forEachSource([&](const Store::Source& source) {
    seen.emplace_back(source.domain, source.ip ? source.ip->toString() : "-");
  });
  BOOST_REQUIRE_EQUAL(seen.size(), 3U);
  std::sort(seen.begin(), seen.end());
  BOOST_CHECK_EQUAL(seen[0].first, "example.com");
  BOOST_CHECK_EQUAL(seen[0].second, "192.0.2.1");
  BOOST_CHECK_EQUAL(seen[1].second, "192.0.2.2");
  BOOST_CHECK_EQUAL(seen[2].first, "example.org");
}

BOOST_AUTO_TEST_CASE(verify_names_a_corrupt_entry)
{
  TempDir tmp;
  const std::string dir = tmp.path().string();
  {
    Store store(dir, testOptions());
    store.putIpEnrichment(address("192.0.2.10"), sampleIp());
  }
  {
    // Overwrite the value with a PTR state that does not exist.
    withRawTxn(dir, [](MDB_txn* txn) {
      MDB_dbi dbi = 0;
      BOOST_REQUIRE_EQUAL(mdb_dbi_open(txn, "ipinfo", 0, &dbi), 0);
      auto ip = address("192.0.2.10");
      MDB_val key{16, ip.bytes.data()};
      std::string bad("\x01\x00\x00\x09\x00\x00\x00\x00", 8);
      MDB_val value{bad.size(), bad.data()};
      BOOST_REQUIRE_EQUAL(mdb_put(txn, dbi, &key, &value, 0), 0);
    });
  }
  Store store(dir, testOptions());
  auto problems = store.verify();
  BOOST_REQUIRE_EQUAL(problems.size(), 1U);
  BOOST_CHECK_MESSAGE(problems[0].find("ipinfo") != std::string::npos, problems[0]);
}

BOOST_AUTO_TEST_CASE(store_without_tables_opens_unchanged)
{
  TempDir tmp;
  const std::string dir = tmp.path().string();
  {
    Store store(dir, testOptions());
    storeReport(store, "r1", "example.com", s_today - 1, {makeRecord(v4(192, 0, 2, 1), 3, true)});
  }
  dropEnrichmentTables(dir);
  {
    auto options = testOptions();
    options.readOnly = true;
    Store store(dir, options);
    BOOST_CHECK_EQUAL(store.schemaVersion(), Store::s_currentSchema);
    BOOST_CHECK(!store.ipEnrichment(address("192.0.2.1")));
    BOOST_CHECK(!store.livePolicy("example.com"));
    BOOST_CHECK(store.dnsCache(0).empty());
    BOOST_CHECK(!StoreSnapshot(store).ipEnrichment(address("192.0.2.1").bytes));
    BOOST_CHECK(store.verify().empty());
    BOOST_CHECK_THROW(store.putIpEnrichment(address("192.0.2.1"), sampleIp()), StoreError);
  }
  Store store(dir, testOptions());
  store.putIpEnrichment(address("192.0.2.1"), sampleIp());
  BOOST_CHECK(store.ipEnrichment(address("192.0.2.1")));
  BOOST_CHECK_EQUAL(store.listReports().size(), 1U);
}

BOOST_AUTO_TEST_SUITE_END()
