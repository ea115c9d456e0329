/*
 * test-store.cc - the LMDB store: layout, dedup, day split, raw cap, aborts,
 * read-only opens, concurrency, the read snapshot, and the previous-version dump.
 * (status-view's numbers: test-status-view.cc.)
 *
 * Every test works in its own TempDir with a fixed clock.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/errors.hh"
#include "collector/store/lmdb.hh"
#include "collector/store/row-reader.hh"
#include "collector/store/store-format.hh"
#include "collector/store/store.hh"

#include "t/unit/store-fixture.hh"
#include "t/unit/test-util.hh"

#include <lmdb.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <thread>
#include <tuple>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

namespace
{

uint64_t factMessages(const Store& store, const std::string& domain, uint32_t from, uint32_t to)
{
  uint64_t total = 0;
  store.forEachFact(domain, from, to, [&](const Fact& fact) { total += fact.messages; });
  return total;
}

//! Load an mdb_dump -a text file (format=bytevalue) into a new environment in dir.
void loadDump(const std::filesystem::path& dump, const std::filesystem::path& dir)
{
  std::ifstream in(dump);
  BOOST_REQUIRE(in);
  MDB_env* env = nullptr;
  BOOST_REQUIRE_EQUAL(mdb_env_create(&env), 0);
  std::unique_ptr<MDB_env, void (*)(MDB_env*)> envGuard(env, mdb_env_close);
  mdb_env_set_maxdbs(env, 16);
  mdb_env_set_mapsize(env, 64ULL << 20);
  BOOST_REQUIRE_EQUAL(mdb_env_open(env, dir.c_str(), 0, 0640), 0);
  MDB_txn* txn = nullptr;
  BOOST_REQUIRE_EQUAL(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  auto unhex = [](const std::string& line) {
    std::string out;
    for (size_t i = 1; i + 1 < line.size(); i += 2) {
      out.push_back(static_cast<char>(std::stoi(line.substr(i, 2), nullptr, 16)));
    }
    return out;
  };
  std::string line;
  std::string name;
  MDB_dbi dbi = 0;
  bool inData = false;
  while (std::getline(in, line)) {
    if (!inData) {
      if (line.rfind("database=", 0) == 0) {
        name = line.substr(9);
      }
      else if (line == "HEADER=END") {
        BOOST_REQUIRE_EQUAL(mdb_dbi_open(txn, name.empty() ? nullptr : name.c_str(), MDB_CREATE, &dbi), 0);
        inData = true;
      }
      continue;
    }
    if (line == "DATA=END") {
      inData = false;
      name.clear();
      continue;
    }
    std::string valueLine;
    BOOST_REQUIRE(std::getline(in, valueLine));
    std::string key = unhex(line);
    std::string value = unhex(valueLine);
    MDB_val k{key.size(), key.data()};
    MDB_val v{value.size(), value.data()};
    BOOST_REQUIRE_EQUAL(mdb_put(txn, dbi, &k, &v, 0), 0);
  }
  BOOST_REQUIRE_EQUAL(mdb_txn_commit(txn), 0);
}

constexpr uint64_t s_mib = 1ULL << 20;

//! A raw environment for the map tests: no fsync, map sizes in MiB.
std::shared_ptr<lmdb::Env> openMapEnv(const std::string& dir, uint64_t mapMiB, uint64_t maxMiB)
{
  lmdb::Env::Options options;
  options.mapSize = mapMiB * s_mib;
  options.maxMapSize = maxMiB * s_mib;
  options.sync = false;
  return lmdb::Env::open(dir, options);
}

std::string batchKey(int batch, int i)
{
  char key[32];
  std::snprintf(key, sizeof key, "b%05d-%03d", batch, i);
  return key;
}

/*!
 * One write transaction of count values of size bytes under batch's keys.  On MDB_MAP_FULL
 * the map grows and the whole transaction runs again: the retry store.cc is to make.
 * \return how often the map grew.  \throw StoreError (grow() at the maximum: MDB_MAP_FULL)
 */
int putBatchGrowing(const std::shared_ptr<lmdb::Env>& env, MDB_dbi dbi, int batch, int count, size_t size)
{
  constexpr int s_maxGrowths = 8;
  for (int grown = 0;; ++grown) {
    try {
      lmdb::WriteTxn txn(env);
      for (int i = 0; i < count; ++i) {
        txn.put(dbi, batchKey(batch, i), std::string(size, static_cast<char>('a' + batch % 26)));
      }
      txn.commit();
      return grown;
    }
    catch (const StoreError& e) {
      if (e.rc() != MDB_MAP_FULL || grown == s_maxGrowths) {
        throw;
      }
    }
    env->grow(); // the failed transaction has ended (left the try block)
  }
}

long peakRssKiB()
{
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_store)

BOOST_AUTO_TEST_CASE(format_round_trips)
{
  namespace fmt = storeformat;
  Outcome want;
  want.disposition = "quarantine";
  want.dkim = "fail";
  want.spf = "pass";
  want.dkimResults.push_back(DkimResult{"a.example", "sel", "pass", "ok"});
  want.spfResults.push_back(SpfResult{"b.example", "mfrom", "pass", ""});
  want.envelopeFrom = "b.example";
  want.reasons = {"forwarded", "local_policy"};
  Outcome got = fmt::decodeOutcome(fmt::encodeOutcome(want));
  BOOST_CHECK_EQUAL(got.disposition, want.disposition);
  BOOST_CHECK_EQUAL(got.spf, want.spf);
  BOOST_REQUIRE_EQUAL(got.dkimResults.size(), 1U);
  BOOST_CHECK_EQUAL(got.dkimResults[0].selector, "sel");
  BOOST_CHECK_EQUAL(got.spfResults[0].scope, "mfrom");
  BOOST_CHECK_EQUAL(got.envelopeFrom, want.envelopeFrom);
  BOOST_CHECK(got.reasons == want.reasons);

  // The writer encodes a record's outcome straight from the Record: the very same bytes.
  Record record;
  record.disposition = want.disposition;
  record.dkim = want.dkim;
  record.spf = want.spf;
  record.dkimResults = want.dkimResults;
  record.dkimResults.push_back(DkimResult{std::string(300, 'd'), "", "fail", std::string(130, 'h')});
  record.spfResults = want.spfResults;
  record.envelopeFrom = std::string(200, 'e');
  record.reasons = {PolicyOverride{"forwarded", "a comment, not part of the outcome"}, PolicyOverride{"local_policy", ""}};
  Outcome same;
  same.disposition = record.disposition;
  same.dkim = record.dkim;
  same.spf = record.spf;
  same.dkimResults = record.dkimResults;
  same.spfResults = record.spfResults;
  same.envelopeFrom = record.envelopeFrom;
  same.reasons = {"forwarded", "local_policy"};
  std::string encoded = "stale bytes from an earlier record";
  fmt::encodeRecordOutcome(record, encoded);
  BOOST_CHECK(encoded == fmt::encodeOutcome(same));
  fmt::encodeRecordOutcome(Record{}, encoded);
  BOOST_CHECK(encoded == fmt::encodeOutcome(Outcome{}));

  // Keys sort numerically, negative times included.
  std::string low;
  std::string high;
  fmt::putI64Key(low, -5);
  fmt::putI64Key(high, 3);
  BOOST_CHECK(low < high);
  fmt::FactKey key;
  key.domainId = 7;
  key.day = 19000;
  key.ip = v4(192, 0, 2, 1).bytes;
  key.headerFromId = 3;
  key.outcomeId = 0x01020304;
  auto bytes = fmt::encodeFactKey(key);
  auto back = fmt::decodeFactKey(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  BOOST_CHECK_EQUAL(back.domainId, 7U);
  BOOST_CHECK_EQUAL(back.day, 19000U);
  BOOST_CHECK(back.ip == key.ip);
  BOOST_CHECK_EQUAL(back.outcomeId, 0x01020304U);
  BOOST_CHECK_EQUAL(bytes[0], 0);
  BOOST_CHECK_EQUAL(bytes[3], 7);

  // A truncated value is a StoreError, not a crash.
  std::string value = fmt::encodeOutcome(want);
  BOOST_CHECK_THROW(fmt::decodeOutcome(std::string_view(value).substr(0, value.size() / 2)), StoreError);
  BOOST_CHECK_THROW(fmt::decodeStoredReport("\x02"), StoreError);
}

BOOST_AUTO_TEST_CASE(store_and_reopen)
{
  TempDir tmp;
  const std::string dir = (tmp.path() / "db").string();
  const uint32_t day = s_today - 2;
  {
    Store store(dir, testOptions());
    BOOST_CHECK_EQUAL(store.schemaVersion(), Store::s_currentSchema);
    auto header = makeHeader("Google.com", "<123>", "Example.COM", dayStart(day), dayStart(day) + s_day - 1);
    auto writer = store.beginReport(header);
    BOOST_CHECK(!writer->probablyDuplicate());
    writer->addRecord(makeRecord(v4(192, 0, 2, 1), 10, true));
    writer->addRecord(makeRecord(v4(192, 0, 2, 2), 5, false, "evil.example", "EXAMPLE.com"));
    writer->addRecord(makeRecord(std::nullopt, 2, false));
    Warnings warnings;
    warnings.add("something odd");
    auto got = commitWith(*writer, 3, 17, "mail <m1@x>", nullptr, true, &warnings);
    BOOST_CHECK(got.status == StoreStatus::Stored);
    BOOST_CHECK_EQUAL(got.sequence, 1U);
  }
  auto mode = std::filesystem::status(dir).permissions();
  BOOST_CHECK((mode & std::filesystem::perms::others_all) == std::filesystem::perms::none);

  for (bool readOnly : {false, true}) {
    auto options = testOptions();
    options.readOnly = readOnly;
    Store store(dir, options);
    auto reports = store.listReports();
    BOOST_REQUIRE_EQUAL(reports.size(), 1U);
    const auto& got = reports[0];
    BOOST_CHECK_EQUAL(got.sequence, 1U);
    BOOST_CHECK_EQUAL(got.header.metadata.orgName, "Google.com");
    BOOST_CHECK_EQUAL(got.header.metadata.reportId, "<123>");
    BOOST_CHECK_EQUAL(got.header.policy.domain, "Example.COM");
    BOOST_CHECK(got.header.policy.pct == std::optional<uint32_t>(100));
    BOOST_CHECK_EQUAL(got.records, 3U);
    BOOST_CHECK_EQUAL(got.messages, 17U);
    BOOST_CHECK_EQUAL(got.storedAt, s_now);
    BOOST_CHECK_EQUAL(got.source, "mail <m1@x>");
    BOOST_CHECK(got.recovered);
    BOOST_REQUIRE_EQUAL(got.warnings.size(), 1U);
    BOOST_CHECK_EQUAL(got.warnings[0], "something odd");

    BOOST_CHECK(store.listDomains() == std::vector<std::string>{"example.com"});
    BOOST_CHECK_EQUAL(store.listReports("EXAMPLE.com").size(), 1U);
    BOOST_CHECK_EQUAL(store.listReports("other.example").size(), 0U);

    auto totals = store.dayTotals("example.com", day - 5, day + 5);
    BOOST_REQUIRE_EQUAL(totals.size(), 1U);
    BOOST_CHECK_EQUAL(totals[0].day, day);
    BOOST_CHECK_EQUAL(totals[0].messages, 17U);
    BOOST_CHECK_EQUAL(totals[0].dmarcPass, 10U);
    BOOST_CHECK_EQUAL(totals[0].records, 3U);

    std::vector<Fact> facts;
    store.forEachFact("example.com", day, day, [&](const Fact& fact) { facts.push_back(fact); });
    BOOST_REQUIRE_EQUAL(facts.size(), 3U);
    // Key order: the all-zero "no source IP" first.
    BOOST_CHECK(!facts[0].sourceIp);
    BOOST_CHECK_EQUAL(facts[0].messages, 2U);
    BOOST_CHECK(facts[1].sourceIp == v4(192, 0, 2, 1));
    BOOST_CHECK_EQUAL(facts[1].messages, 10U);
    BOOST_CHECK_EQUAL(facts[1].outcome.dkim, "pass");
    BOOST_CHECK_EQUAL(facts[2].headerFrom, "example.com");
    BOOST_CHECK_EQUAL(facts[2].outcome.dkimResults.at(0).domain, "evil.example");
    BOOST_CHECK_EQUAL(factMessages(store, "example.com", day + 1, day + 3), 0U);
  }
}

BOOST_AUTO_TEST_CASE(facts_add_up_across_reports)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  storeReport(store, "r1", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 3, true)});
  storeReport(store, "r2", "example.com", day,
              {makeRecord(v4(192, 0, 2, 1), 4, true), makeRecord(v4(192, 0, 2, 1), 5, true)}, "yahoo.com");
  std::vector<Fact> facts;
  store.forEachFact("example.com", day, day, [&](const Fact& fact) { facts.push_back(fact); });
  BOOST_REQUIRE_EQUAL(facts.size(), 1U);
  BOOST_CHECK_EQUAL(facts[0].messages, 12U);
  auto totals = store.dayTotals("example.com", day, day);
  BOOST_REQUIRE_EQUAL(totals.size(), 1U);
  BOOST_CHECK_EQUAL(totals[0].messages, 12U);
  BOOST_CHECK_EQUAL(totals[0].records, 3U);
}

BOOST_AUTO_TEST_CASE(newest_reports_of_a_domain)
{
  // listReports(domain, n): the n reports of the domain that begin last (stored in any order),
  // in sequence order; the domains around it do not leak in.
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 10;
  storeReport(store, "a1", "a.example", day + 9, {makeRecord(v4(192, 0, 2, 1), 1, true)});
  for (uint32_t d : {3U, 7U, 1U, 5U, 2U}) {
    storeReport(store, "m" + std::to_string(d), "m.example", day + d, {makeRecord(v4(192, 0, 2, 1), 1, true)});
  }
  storeReport(store, "z1", "z.example", day, {makeRecord(v4(192, 0, 2, 1), 1, true)});
  auto ids = [](const std::vector<StoredReport>& reports) {
    std::vector<std::string> out;
    for (const auto& r : reports) {
      out.push_back(r.header.metadata.reportId);
    }
    return out;
  };
  BOOST_CHECK(ids(store.listReports("m.example", 2)) == (std::vector<std::string>{"m7", "m5"}));
  BOOST_CHECK(ids(store.listReports("m.example", 3)) == (std::vector<std::string>{"m3", "m7", "m5"}));
  BOOST_CHECK_EQUAL(store.listReports("m.example", 100).size(), 5U);
  BOOST_CHECK_EQUAL(store.listReports("m.example").size(), 5U);
  BOOST_CHECK(ids(store.listReports("z.example", 2)) == (std::vector<std::string>{"z1"}));
  BOOST_CHECK(ids(store.listReports("a.example", 1)) == (std::vector<std::string>{"a1"}));
  BOOST_CHECK(store.listReports("m.example", 0).empty());
  BOOST_CHECK(store.listReports("none.example", 3).empty());
}

BOOST_AUTO_TEST_CASE(judged_verdict_counts_but_is_not_content)
{
  // A record whose reporter left policy_evaluated dkim/spf out: stored as read, it fails DMARC.
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  Record unjudged = makeRecord(v4(192, 0, 2, 1), 7, true);
  unjudged.dkim.clear();
  unjudged.spf.clear();
  uint64_t first = storeReport(store, "abc", "example.com", day, {unjudged});
  auto totals = store.dayTotals("example.com", day, day);
  BOOST_REQUIRE_EQUAL(totals.size(), 1U);
  BOOST_CHECK_EQUAL(totals[0].dmarcPass, 0U);

  // With our verdict filled in (ingest, collector/judge) it passes, and the outcome says so ...
  Record judged = unjudged;
  judged.judgedDkim = "pass";
  judged.judgedSpf = "fail";
  uint64_t other = storeReport(store, "def", "example.com", day, {judged});
  totals = store.dayTotals("example.com", day, day);
  BOOST_REQUIRE_EQUAL(totals.size(), 1U);
  BOOST_CHECK_EQUAL(totals[0].dmarcPass, 7U);
  BOOST_CHECK(store.verify().empty());

  // ... yet it is the same content as the copy stored unjudged: a duplicate, not a conflict.
  auto got = storeReportResult(store, "abc", "example.com", day, {judged});
  BOOST_CHECK(got.status == StoreStatus::Duplicate);
  BOOST_CHECK_EQUAL(got.sequence, first);
  BOOST_CHECK_NE(other, first);
}

BOOST_AUTO_TEST_CASE(duplicate_writes_nothing)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  uint64_t first = storeReport(store, "abc", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 7, true)});

  // The same report again: org case and <> around the id do not matter.
  auto writer = store.beginReport(makeHeader("GOOGLE.COM", "<abc>", "example.com", dayStart(day),
                                             dayStart(day) + s_day - 1));
  BOOST_CHECK(writer->probablyDuplicate());
  writer->addRecord(makeRecord(v4(192, 0, 2, 1), 7, true));
  const std::string bytes = "xx";
  auto payload = payloadOf("gzip", bytes);
  auto got = commitWith(*writer, 1, 7, "again", &payload);
  BOOST_CHECK(got.status == StoreStatus::Duplicate);
  BOOST_CHECK_EQUAL(got.sequence, first);
  BOOST_CHECK_EQUAL(got.existing.messages, 7U);
  BOOST_CHECK_EQUAL(payload.id, 0U); // a duplicate archives nothing
  BOOST_CHECK_THROW(commitWith(*writer, 1, 7, "again"), StoreError);

  // A writer holds no write lock between calls: another writer can start while it lives.
  uint64_t second = storeReport(store, "def", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 1, true)});
  BOOST_CHECK_EQUAL(second, first + 1);
  BOOST_CHECK_EQUAL(store.listReports().size(), 2U);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), 8U);
}

BOOST_AUTO_TEST_CASE(raw_payload_and_cap)
{
  TempDir tmp;
  auto options = testOptions();
  options.maxRawArchiveBytes = 100;
  Store store(tmp.path().string(), options);
  const uint32_t day = s_today - 1;
  auto header = makeHeader("google.com", "small", "example.com", dayStart(day), dayStart(day) + s_day);
  auto writer = store.beginReport(header);
  const std::string small(100, 'z');
  auto smallPayload = payloadOf("gzip", small);
  uint64_t smallSeq = commitWith(*writer, 0, 0, "t", &smallPayload).sequence;
  BOOST_CHECK_NE(smallPayload.id, 0U);

  writer = store.beginReport(makeHeader("google.com", "big", "example.com", dayStart(day), dayStart(day) + s_day));
  const std::string tooBig(101, 'y');
  auto bigPayload = payloadOf("zip", tooBig);
  uint64_t bigSeq = commitWith(*writer, 0, 0, "t", &bigPayload).sequence;
  BOOST_CHECK_EQUAL(bigPayload.id, 0U);

  auto got = store.rawPayload(smallSeq);
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(got->first, "gzip");
  BOOST_CHECK(got->second == small);
  BOOST_CHECK(!store.rawPayload(bigSeq));
  BOOST_CHECK(!store.rawPayload(999));

  auto reports = store.listReports();
  BOOST_REQUIRE_EQUAL(reports.size(), 2U);
  BOOST_CHECK_EQUAL(reports[0].rawBytes, 100U);
  BOOST_CHECK(reports[0].warnings.empty());
  BOOST_CHECK_EQUAL(reports[1].rawBytes, 0U);
  BOOST_REQUIRE_EQUAL(reports[1].warnings.size(), 1U);
  BOOST_CHECK_EQUAL(reports[1].warnings[0], "raw payload not archived: 101 bytes over MaxRawArchive (100)");

  // A payload of many pages: the writer hands its pages back right after the copy; they must
  // reach the file intact (and from a fresh environment too, not just from the page cache).
  std::string many(3 * 1024 * 1024 + 123, '\0');
  for (size_t i = 0; i < many.size(); ++i) {
    many[i] = static_cast<char>((i * 2654435761U) >> 13);
  }
  uint64_t manySeq = 0;
  {
    auto bigOptions = testOptions();
    TempDir other;
    {
      Store big(other.path().string(), bigOptions);
      auto w = big.beginReport(makeHeader("google.com", "many", "example.com", dayStart(day), dayStart(day) + s_day));
      auto manyPayload = payloadOf("gzip", many);
      manySeq = commitWith(*w, 0, 0, "t", &manyPayload).sequence;
      auto back = big.rawPayload(manySeq);
      BOOST_REQUIRE(back);
      BOOST_CHECK(back->second == many);
    }
    Store reopened(other.path().string(), bigOptions);
    auto back = reopened.rawPayload(manySeq);
    BOOST_REQUIRE(back);
    BOOST_CHECK(back->second == many);
  }
}

BOOST_AUTO_TEST_CASE(day_span_rules)
{
  const int64_t d0 = dayStart(19000);
  struct Case
  {
    int64_t begin;
    int64_t end;
    uint32_t wantFirst;
    uint32_t wantCount;
    bool wantWarning;
  };
  const Case cases[] = {
    {d0, d0 + s_day - 1, 19000, 1, false},      // 00:00:00 .. 23:59:59
    {d0, d0 + s_day, 19000, 1, false},          // .. next midnight (exclusive)
    {d0, d0 + s_day + 1, 19000, 2, false},      // one second into the next day
    {d0 + 3600, d0 + 3 * s_day, 19000, 3, false},
    {d0, 0, 19000, 1, true},                    // no end
    {0, d0 + 10, 19000, 1, true},               // no begin
    {d0 + 5, d0, 19000, 1, true},               // reversed
    {0, 0, s_today, 1, true},                   // nothing: the storage day
    {d0, d0 + 40 * s_day, 19000 + 40 - 31, 31, true}, // too long: the last 31 days
    {dayStart(s_today - 1), dayStart(s_today + 100), s_today - 1, 3, true}, // future end: tomorrow
  };
  for (const auto& c : cases) {
    Warnings warnings;
    DaySpan got = reportDaySpan(c.begin, c.end, s_now, 31, warnings);
    BOOST_TEST_CONTEXT("begin=" << c.begin << " end=" << c.end)
    {
      BOOST_CHECK_EQUAL(got.first, c.wantFirst);
      BOOST_CHECK_EQUAL(got.count, c.wantCount);
      BOOST_CHECK_EQUAL(!warnings.empty(), c.wantWarning);
    }
  }
}

BOOST_AUTO_TEST_CASE(split_across_days_is_exact)
{
  TempDir tmp;
  auto options = testOptions();
  options.maxReportDays = 5;
  Store store(tmp.path().string(), options);
  const uint32_t day = s_today - 10;
  auto writer = store.beginReport(makeHeader("x.example", "multi", "example.com", dayStart(day),
                                             dayStart(day + 3)));
  writer->addRecord(makeRecord(v4(192, 0, 2, 1), 10, true)); // 4 3 3
  writer->addRecord(makeRecord(v4(192, 0, 2, 2), 2, false)); // 1 1 0
  writer->addRecord(makeRecord(v4(192, 0, 2, 3), 0, false)); // a zero-count row: a record, no messages
  commitWith(*writer, 3, 12, "t").sequence;

  auto totals = store.dayTotals("example.com", 0, UINT32_MAX);
  BOOST_REQUIRE_EQUAL(totals.size(), 3U);
  const uint64_t wantMessages[] = {5, 4, 3};
  const uint64_t wantPass[] = {4, 3, 3};
  const uint64_t wantRecords[] = {3, 2, 1};
  uint64_t sum = 0;
  for (size_t i = 0; i < 3; ++i) {
    BOOST_CHECK_EQUAL(totals[i].day, day + i);
    BOOST_CHECK_EQUAL(totals[i].messages, wantMessages[i]);
    BOOST_CHECK_EQUAL(totals[i].dmarcPass, wantPass[i]);
    BOOST_CHECK_EQUAL(totals[i].records, wantRecords[i]);
    sum += totals[i].messages;
  }
  BOOST_CHECK_EQUAL(sum, 12U);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day + 2), 12U);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day + 2, day + 2), 3U);

  // Longer than maxReportDays: spread over the last 5 days, still exact, with a warning.
  writer = store.beginReport(makeHeader("x.example", "long", "long.example", dayStart(day), dayStart(day + 8)));
  writer->addRecord(makeRecord(v4(192, 0, 2, 1), 1'000'003, true));
  commitWith(*writer, 1, 1'000'003, "t").sequence;
  totals = store.dayTotals("long.example", 0, UINT32_MAX);
  BOOST_REQUIRE_EQUAL(totals.size(), 5U);
  BOOST_CHECK_EQUAL(totals.front().day, day + 3);
  BOOST_CHECK_EQUAL(totals.front().messages, 200'001U);
  BOOST_CHECK_EQUAL(totals.back().messages, 200'000U);
  BOOST_CHECK_EQUAL(factMessages(store, "long.example", 0, UINT32_MAX), 1'000'003U);
  auto reports = store.listReports("long.example");
  BOOST_REQUIRE_EQUAL(reports.size(), 1U);
  BOOST_CHECK_EQUAL(reports[0].warnings.size(), 1U);
}

BOOST_AUTO_TEST_CASE(abort_leaves_nothing)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  {
    auto writer = store.beginReport(makeHeader("google.com", "gone", "example.com", dayStart(day),
                                               dayStart(day) + s_day));
    writer->addRecord(makeRecord(v4(192, 0, 2, 1), 10, true, "new-domain.example", "new-hf.example"));
    // Destroyed without commit().
  }
  try {
    auto writer = store.beginReport(makeHeader("google.com", "thrown", "example.com", dayStart(day),
                                               dayStart(day) + s_day));
    writer->addRecord(makeRecord(v4(192, 0, 2, 1), 10, true));
    throw std::runtime_error("parse failed half way");
  }
  catch (const std::runtime_error&) {
  }
  BOOST_CHECK_EQUAL(store.listReports().size(), 0U);
  BOOST_CHECK_EQUAL(store.listDomains().size(), 0U);
  BOOST_CHECK_EQUAL(store.dayTotals("example.com", 0, UINT32_MAX).size(), 0U);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", 0, UINT32_MAX), 0U);
  BOOST_CHECK(!store.rawPayload(1));
  BOOST_CHECK_EQUAL(store.schemaVersion(), Store::s_currentSchema);

  // The aborted report was not a duplicate of anything: it can be stored now, as sequence 1.
  uint64_t got = storeReport(store, "gone", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 1, true)});
  BOOST_CHECK_EQUAL(got, 1U);
  // And a committed writer refuses more work.
  auto writer = store.beginReport(makeHeader("google.com", "after", "example.com", dayStart(day),
                                             dayStart(day) + s_day));
  commitWith(*writer, 0, 0, "t").sequence;
  BOOST_CHECK_THROW(writer->addRecord(makeRecord(v4(192, 0, 2, 1), 1, true)), StoreError);
}

BOOST_AUTO_TEST_CASE(read_only_missing_store)
{
  TempDir tmp;
  auto options = testOptions();
  options.readOnly = true;
  for (const auto& dir : {tmp.path() / "nothing-here", tmp.path()}) {
    try {
      Store store(dir.string(), options);
      BOOST_ERROR("read-only open of " << dir << " succeeded");
    }
    catch (const StoreError& e) {
      std::string got = e.what();
      BOOST_CHECK_MESSAGE(got.find("no store at " + dir.string()) != std::string::npos, got);
      BOOST_CHECK_MESSAGE(got.find("dmarcwatch ingest") != std::string::npos, got);
    }
  }
  BOOST_CHECK(!std::filesystem::exists(tmp.path() / "nothing-here"));

  // Read-write creates the directory (parents too); then read-only works and cannot write.
  const std::string dir = (tmp.path() / "a" / "b").string();
  {
    Store store(dir, testOptions());
  }
  Store reader(dir, options);
  BOOST_CHECK_EQUAL(reader.schemaVersion(), Store::s_currentSchema);
  BOOST_CHECK_EQUAL(reader.listReports().size(), 0U);
  BOOST_CHECK_THROW(reader.beginReport(makeHeader("a", "b", "c", 1, 2)), StoreError);
}

BOOST_AUTO_TEST_CASE(store_error_transient)
{
  BOOST_CHECK(StoreError("put", MDB_MAP_FULL, "x").transient());
  BOOST_CHECK(StoreError("begin", MDB_READERS_FULL, "x").transient());
  BOOST_CHECK(StoreError("put", ENOSPC, "").transient());
  BOOST_CHECK(!StoreError("get", MDB_CORRUPTED, "x").transient());
  BOOST_CHECK(!StoreError("open", EACCES, "x").transient());
  std::string got = StoreError("open", ENOENT, "no store at /x").what();
  BOOST_CHECK_EQUAL(got, "store open: no store at /x (No such file or directory)");
}

BOOST_AUTO_TEST_CASE(two_stores_share_one_environment)
{
  TempDir tmp;
  const std::string dir = tmp.path().string();
  const uint32_t day = s_today - 1;
  Store first(dir, testOptions());
  Store second((tmp.path() / "." / "").string(), testOptions()); // same directory, other spelling
  storeReport(first, "a", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 1, true)});
  storeReport(second, "b", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 2, true)});
  BOOST_CHECK_EQUAL(first.listReports().size(), 2U);
  BOOST_CHECK_EQUAL(factMessages(second, "example.com", day, day), 3U);

  // Writers hold no transaction between calls: two in one thread, on one environment, both commit.
  auto writer = first.beginReport(makeHeader("google.com", "c", "example.com", dayStart(day), dayStart(day) + 1));
  auto other = second.beginReport(makeHeader("google.com", "d", "example.com", dayStart(day), dayStart(day) + 1));
  // A reader in the same process sees the committed state while the writers run.
  auto options = testOptions();
  options.readOnly = true;
  Store reader(dir, options);
  BOOST_CHECK_EQUAL(reader.listReports().size(), 2U);
  BOOST_CHECK(commitWith(*other, 0, 0, "t").status == StoreStatus::Stored);
  BOOST_CHECK(commitWith(*writer, 0, 0, "t").status == StoreStatus::Stored);
  BOOST_CHECK_EQUAL(reader.listReports().size(), 4U);
}

BOOST_AUTO_TEST_CASE(read_only_first_refuses_read_write)
{
  TempDir tmp;
  const std::string dir = tmp.path().string();
  {
    Store store(dir, testOptions());
  }
  auto options = testOptions();
  options.readOnly = true;
  Store reader(dir, options);
  BOOST_CHECK_THROW((Store{dir, testOptions()}), StoreError);
}

BOOST_AUTO_TEST_CASE(concurrent_writers_store_each_report_once)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  constexpr int s_threads = 8;
  constexpr int s_reports = 50;
  constexpr int s_shared = 10; // report ids every thread submits: all but one are duplicates
  const uint32_t day = s_today - 1;
  std::atomic<int> failures{0};
  std::atomic<int> duplicates{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < s_threads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int i = 0; i < s_reports; ++i) {
          std::string id = i < s_shared ? "shared-" + std::to_string(i) : "t" + std::to_string(t) + "-" + std::to_string(i);
          auto writer = store.beginReport(makeHeader("google.com", id, "example.com", dayStart(day),
                                                     dayStart(day) + s_day));
          // A shared report has the same records whoever sends it.
          const auto sender = static_cast<uint8_t>(i < s_shared ? 0 : t);
          writer->addRecord(makeRecord(v4(10, 0, sender, static_cast<uint8_t>(i)), 1, true));
          writer->addRecord(makeRecord(std::nullopt, 2, false));
          if (commitWith(*writer, 2, 3, "thread").status == StoreStatus::Duplicate) {
            ++duplicates;
          }
        }
      }
      catch (const std::exception& e) {
        BOOST_TEST_MESSAGE("writer thread failed: " << e.what());
        ++failures;
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  BOOST_CHECK_EQUAL(failures.load(), 0);
  const size_t want = s_threads * (s_reports - s_shared) + s_shared;
  auto reports = store.listReports();
  BOOST_CHECK_EQUAL(reports.size(), want);
  BOOST_CHECK_EQUAL(duplicates.load(), static_cast<int>(s_threads * s_reports - want));
  std::set<std::string> ids;
  std::set<uint64_t> sequences;
  for (const auto& report : reports) {
    ids.insert(report.header.metadata.reportId);
    sequences.insert(report.sequence);
  }
  BOOST_CHECK_EQUAL(ids.size(), want);
  BOOST_CHECK_EQUAL(sequences.size(), want);
  BOOST_CHECK_EQUAL(*sequences.rbegin(), want);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), 3 * want);
  auto totals = store.dayTotals("example.com", day, day);
  BOOST_REQUIRE_EQUAL(totals.size(), 1U);
  BOOST_CHECK_EQUAL(totals[0].messages, 3 * want);
  BOOST_CHECK_EQUAL(totals[0].records, 2 * want);
}

BOOST_AUTO_TEST_CASE(two_processes_write_and_read)
{
  // A child process writes while this one writes and reads: LMDB serialises the writers
  // across processes and readers never block.  Fork before this process opens the store.
  TempDir tmp;
  const std::string dir = tmp.path().string();
  const uint32_t day = s_today - 1;
  { Store init(dir, testOptions()); }
  pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    int status = 0;
    try {
      Store store(dir, testOptions());
      for (int i = 0; i < 30; ++i) {
        storeReport(store, "child-" + std::to_string(i), "example.com", day, {makeRecord(v4(10, 0, 0, 1), 1, true)});
      }
    }
    catch (...) {
      status = 1;
    }
    _exit(status);
  }
  {
    Store store(dir, testOptions());
    auto options = testOptions();
    options.readOnly = true;
    for (int i = 0; i < 30; ++i) {
      storeReport(store, "parent-" + std::to_string(i), "example.com", day, {makeRecord(v4(10, 0, 0, 2), 2, true)});
      BOOST_CHECK_GE(store.listReports().size(), static_cast<size_t>(i + 1));
    }
  }
  int status = 0;
  BOOST_REQUIRE_EQUAL(waitpid(child, &status, 0), child);
  BOOST_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto options = testOptions();
  options.readOnly = true;
  Store reader(dir, options);
  BOOST_CHECK_EQUAL(reader.listReports().size(), 60U);
  BOOST_CHECK_EQUAL(factMessages(reader, "example.com", day, day), 90U);
}

BOOST_AUTO_TEST_CASE(long_strings_are_interned)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  const std::string longFrom(3000, 'h');
  auto record = makeRecord(v4(192, 0, 2, 1), 1, true, std::string(1000, 'd') + ".example", longFrom);
  storeReport(store, std::string(2000, 'i'), "example.com", day, {record, record});
  storeReport(store, "other", "example.com", day, {record});
  std::vector<Fact> facts;
  store.forEachFact("example.com", day, day, [&](const Fact& fact) { facts.push_back(fact); });
  BOOST_REQUIRE_EQUAL(facts.size(), 1U);
  BOOST_CHECK_EQUAL(facts[0].messages, 3U);
  BOOST_CHECK(facts[0].headerFrom == longFrom);
  // A report id too long for an LMDB key still dedups.
  auto writer = store.beginReport(makeHeader("google.com", std::string(2000, 'i'), "example.com", dayStart(day),
                                             dayStart(day) + s_day - 1));
  BOOST_CHECK(writer->probablyDuplicate());
  writer->addRecord(record);
  writer->addRecord(record);
  BOOST_CHECK(commitWith(*writer, 2, 2).status == StoreStatus::Duplicate);
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_CASE(chunked_report_keeps_data)
{
  // A report far bigger than a chunk: written in many transactions (state loading), then
  // committed; every number must equal the one-transaction answer and verify() must agree.
  TempDir tmp;
  auto options = testOptions();
  options.chunkRows = 1000;
  Store store(tmp.path().string(), options);
  const uint32_t day = s_today - 3;
  constexpr uint32_t s_records = 150'000;
  auto writer = store.beginReport(makeHeader("google.com", "big", "example.com", dayStart(day),
                                             dayStart(day + 2)));
  Record record = makeRecord(std::nullopt, 0, true);
  uint64_t messages = 0;
  for (uint32_t i = 0; i < s_records; ++i) {
    IpAddress ip;
    ip.bytes[0] = 0x20;
    ip.bytes[1] = 0x01;
    storeformat::writeU32(ip.bytes.data() + 12, i * 2654435761U); // scattered keys
    record.sourceIp = ip;
    record.count = i % 7 + 1;
    messages += record.count;
    writer->addRecord(record);
  }
  commitWith(*writer, s_records, messages, "t").sequence;
  size_t gotFacts = 0;
  uint64_t gotMessages = 0;
  store.forEachFact("example.com", day, day + 1, [&](const Fact& fact) {
    ++gotFacts;
    gotMessages += fact.messages;
  });
  BOOST_CHECK_EQUAL(gotMessages, messages);
  BOOST_CHECK_GE(gotFacts, s_records);
  auto totals = store.dayTotals("example.com", day, day + 1);
  BOOST_REQUIRE_EQUAL(totals.size(), 2U);
  BOOST_CHECK_EQUAL(totals[0].messages + totals[1].messages, messages);
  auto reports = store.listReports();
  BOOST_REQUIRE_EQUAL(reports.size(), 1U);
  BOOST_CHECK(reports[0].state == ReportState::Active);
  BOOST_CHECK_EQUAL(reports[0].rows, s_records);
  auto problems = store.verify();
  BOOST_CHECK_MESSAGE(problems.empty(), (problems.empty() ? "" : problems.front()));
}

BOOST_AUTO_TEST_CASE(write_map_over_an_allocated_file)
{
  // The write map (dirty pages in the page cache, not the heap) over a data file with no
  // holes: stores into the map never need a block the file system may not have (SIGBUS).
  TempDir tmp;
  auto env = openMapEnv(tmp.path().string(), 4, 16);
  unsigned flags = 0;
  BOOST_REQUIRE_EQUAL(mdb_env_get_flags(env->get(), &flags), MDB_SUCCESS);
  BOOST_CHECK_NE(flags & MDB_WRITEMAP, 0U);
  auto allocated = [&] {
    struct stat st{};
    BOOST_REQUIRE_EQUAL(::stat((tmp.path() / "data.mdb").c_str(), &st), 0);
    return static_cast<uint64_t>(st.st_blocks) * 512;
  };
  BOOST_CHECK_GE(allocated(), 4 * s_mib);
  // Growing allocates before it maps.
  const MDB_dbi dbi = *env->dbi("t");
  for (int batch = 0; batch < 24; ++batch) { // about 6.3 MiB
    putBatchGrowing(env, dbi, batch, 64, 3000);
  }
  BOOST_CHECK_GT(env->mapSize(), 4 * s_mib);
  BOOST_CHECK_GE(allocated(), env->mapSize());
}

BOOST_AUTO_TEST_CASE(map_grows_on_map_full_up_to_the_maximum)
{
  TempDir tmp;
  auto env = openMapEnv(tmp.path().string(), 1, 8);
  BOOST_CHECK_EQUAL(env->mapSize(), 1 * s_mib);
  BOOST_CHECK_EQUAL(env->maxMapSize(), 8 * s_mib);
  const MDB_dbi dbi = *env->dbi("t");

  // 24 transactions of 64 values of 3000 bytes (one overflow page each): about 6.3 MiB,
  // so the map doubles from 1 to 2, 4 and 8 MiB, each time in the transaction that filled it.
  constexpr int s_batches = 24;
  constexpr int s_count = 64;
  constexpr size_t s_size = 3000;
  int grown = 0;
  for (int batch = 0; batch < s_batches; ++batch) {
    grown += putBatchGrowing(env, dbi, batch, s_count, s_size);
  }
  BOOST_CHECK_EQUAL(grown, 3);
  BOOST_CHECK_EQUAL(env->mapSize(), 8 * s_mib);

  // Past the maximum: MDB_MAP_FULL from grow(), naming the key to raise.
  std::optional<StoreError> full;
  int batches = s_batches;
  for (; batches < s_batches + 100; ++batches) {
    try {
      putBatchGrowing(env, dbi, batches, s_count, s_size);
    }
    catch (const StoreError& e) {
      full = e;
      break;
    }
  }
  BOOST_REQUIRE_MESSAGE(full, "no MDB_MAP_FULL after " << batches << " batches in an 8 MiB map");
  const std::string what = full->what();
  BOOST_CHECK_EQUAL(full->rc(), MDB_MAP_FULL);
  BOOST_CHECK_MESSAGE(what.find("MaxDatabaseSize") != std::string::npos && what.find("8 MiB") != std::string::npos &&
                        what.find("MDB_MAP_FULL") != std::string::npos,
                      "got: " << what);
  BOOST_CHECK(full->transient());
  BOOST_CHECK_EQUAL(env->mapSize(), 8 * s_mib);
  BOOST_TEST_MESSAGE(batches << " batches fit in 8 MiB: " << what);

  // Still usable: every committed batch reads back, nothing of the failed one was kept,
  // and a smaller write fits.
  {
    lmdb::ReadTxn txn(env);
    int complete = 0;
    for (int batch = 0; batch < batches; ++batch) {
      auto first = txn.get(dbi, batchKey(batch, 0));
      auto last = txn.get(dbi, batchKey(batch, s_count - 1));
      complete += first && last && first->size() == s_size && last->size() == s_size ? 1 : 0;
    }
    BOOST_CHECK_EQUAL(complete, batches);
    BOOST_CHECK(!txn.get(dbi, batchKey(batches, 0)));
  }
  {
    lmdb::WriteTxn txn(env);
    txn.put(dbi, "small", std::string(100, 's'));
    BOOST_CHECK_NO_THROW(txn.commit());
  }
  lmdb::ReadTxn txn(env);
  auto small = txn.get(dbi, "small");
  BOOST_CHECK(small && small->size() == 100);
}

BOOST_AUTO_TEST_CASE(grow_waits_for_running_transactions)
{
  TempDir tmp;
  auto env = openMapEnv(tmp.path().string(), 1, 16);
  const MDB_dbi dbi = *env->dbi("t");
  putBatchGrowing(env, dbi, 0, 10, 100);

  // A thread holding a transaction cannot grow the map: it would wait for itself.
  {
    lmdb::ReadTxn txn(env);
    try {
      env->grow();
      BOOST_ERROR("grow() inside a transaction was not refused");
    }
    catch (const StoreError& e) {
      BOOST_CHECK_EQUAL(e.rc(), EDEADLK);
    }
  }
  BOOST_CHECK_EQUAL(env->mapSize(), 1 * s_mib);

  // Another thread's reader: grow() waits until it has ended (remapping would pull its
  // pages away), then doubles the map; the reader saw its data all along.
  std::atomic<bool> holding{false};
  std::atomic<bool> ending{false};
  std::atomic<bool> readOk{false};
  std::thread reader([&] {
    try {
      lmdb::ReadTxn txn(env);
      holding = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      readOk = txn.get(dbi, batchKey(0, 9)).has_value();
      ending = true;
    }
    catch (const std::exception& e) {
      BOOST_TEST_MESSAGE("reader failed: " << e.what());
    }
  });
  while (!holding) {
    std::this_thread::yield();
  }
  const auto start = std::chrono::steady_clock::now();
  env->grow();
  const auto waited = std::chrono::steady_clock::now() - start;
  reader.join();
  BOOST_CHECK(ending.load());
  BOOST_CHECK(readOk.load());
  BOOST_CHECK_GE(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count(), 200);
  BOOST_CHECK_EQUAL(env->mapSize(), 2 * s_mib);

  // Two threads whose writes began at the same map size both call grow(): one doubling.
  std::promise<void> began;
  std::promise<void> grownByMain;
  std::atomic<uint64_t> afterSecond{0};
  std::thread second([&] {
    try {
      { lmdb::WriteTxn txn(env); } // began at 2 MiB, aborted (as after MDB_MAP_FULL)
      began.set_value();
      grownByMain.get_future().wait();
      env->grow();
      afterSecond = env->mapSize();
    }
    catch (const std::exception& e) {
      BOOST_TEST_MESSAGE("second thread failed: " << e.what());
    }
  });
  began.get_future().wait();
  { lmdb::WriteTxn txn(env); }
  env->grow();
  grownByMain.set_value();
  second.join();
  BOOST_CHECK_EQUAL(afterSecond.load(), 4 * s_mib);
  BOOST_CHECK_EQUAL(env->mapSize(), 4 * s_mib);
  lmdb::ReadTxn txn(env);
  BOOST_CHECK(txn.get(dbi, batchKey(0, 9)));
}

BOOST_AUTO_TEST_CASE(map_grown_by_another_process_is_adopted)
{
  // The child grows the map while this process has the environment open with a smaller one:
  // the next transaction here sees MDB_MAP_RESIZED and takes the size the file records.
  TempDir tmp;
  const std::string dir = tmp.path().string();
  openMapEnv(dir, 1, 16)->dbi("t"); // created, and closed again before the fork
  int go[2];
  BOOST_REQUIRE_EQUAL(pipe(go), 0);
  pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    int status = 1;
    try {
      char byte = 0;
      close(go[1]);
      if (read(go[0], &byte, 1) == 1) {
        auto env = openMapEnv(dir, 1, 16);
        const MDB_dbi dbi = *env->dbi("t");
        int grown = 0;
        for (int batch = 0; batch < 12; ++batch) {
          grown += putBatchGrowing(env, dbi, batch, 64, 3000);
        }
        status = grown > 0 ? 0 : 2;
      }
    }
    catch (...) {
      status = 3;
    }
    _exit(status);
  }
  close(go[0]);
  auto env = openMapEnv(dir, 1, 16);
  const MDB_dbi dbi = *env->dbi("t");
  BOOST_CHECK_EQUAL(env->mapSize(), 1 * s_mib);
  BOOST_REQUIRE_EQUAL(write(go[1], "g", 1), 1);
  close(go[1]);
  int status = 0;
  BOOST_REQUIRE_EQUAL(waitpid(child, &status, 0), child);
  BOOST_REQUIRE_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status " << status);
  {
    lmdb::ReadTxn txn(env);
    auto value = txn.get(dbi, batchKey(11, 63));
    BOOST_CHECK(value && value->size() == 3000);
  }
  BOOST_CHECK_GE(env->mapSize(), 2 * s_mib);
  BOOST_CHECK_NO_THROW(putBatchGrowing(env, dbi, 12, 64, 3000));
}

BOOST_AUTO_TEST_CASE(add_record_speed)
{
  // ~200,000 addRecord calls: well under 0.5 s in an optimised build (printed, checked loosely).
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  std::vector<Record> records;
  for (uint32_t i = 0; i < 1000; ++i) {
    records.push_back(makeRecord(v4(198, 51, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)), 3, i % 3 != 0,
                                 i % 2 ? "sendgrid.net" : "example.com"));
  }
  auto start = std::chrono::steady_clock::now();
  auto writer = store.beginReport(makeHeader("google.com", "speed", "example.com", dayStart(day),
                                             dayStart(day) + s_day));
  for (uint32_t i = 0; i < 200'000; ++i) {
    writer->addRecord(records[i % records.size()]);
  }
  commitWith(*writer, 200'000, 600'000, "t").sequence;
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE("200000 addRecord + commit: " << elapsed << " s, peak RSS " << peakRssKiB() << " KiB");
  BOOST_CHECK_LT(elapsed, 5.0);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), 600'000U);
}

BOOST_AUTO_TEST_CASE(snapshot_reads_raw_facts)
{
  // StoreSnapshot gives the facts forEachFact gives, with ids that resolve to the same strings.
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 2;
  Record noIp = makeRecord(std::nullopt, 4, false, "evil.example", "Example.COM");
  Record multi = makeRecord(v4(192, 0, 2, 7), 9, true, "mailgun.org", "news.example.com");
  multi.dkimResults.push_back(DkimResult{"example.com", "s2", "PASS", "human"});
  multi.spfResults.push_back(SpfResult{"helo.example", "helo", "none", ""});
  multi.envelopeFrom = "bounce.example.com";
  multi.reasons.push_back(PolicyOverride{"forwarded", "comment"});
  storeReport(store, "1", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 10, true), noIp, multi});
  storeReport(store, "2", "example.com", day + 1, {makeRecord(v4(192, 0, 2, 1), 5, true)});
  storeReport(store, "3", "other.example", day, {makeRecord(v4(203, 0, 113, 1), 3, true)});

  std::vector<Fact> want;
  store.forEachFact("example.com", day, day + 1, [&](const Fact& fact) { want.push_back(fact); });
  BOOST_REQUIRE_EQUAL(want.size(), 4U);

  StoreSnapshot snapshot(store);
  BOOST_CHECK(snapshot.listDomains() == store.listDomains());
  auto id = snapshot.domainId("EXAMPLE.com");
  BOOST_REQUIRE(id);
  BOOST_CHECK(!snapshot.domainId("nobody.example"));
  std::vector<RawFact> got;
  snapshot.forEachRawFact(*id, day, day + 1, [&](const RawFact& fact) { got.push_back(fact); });
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  OutcomeView view;
  for (size_t i = 0; i < got.size(); ++i) {
    BOOST_CHECK_EQUAL(got[i].day, want[i].day);
    BOOST_CHECK_EQUAL(got[i].messages, want[i].messages);
    BOOST_CHECK(got[i].ip == (want[i].sourceIp ? want[i].sourceIp->bytes : std::array<uint8_t, 16>{}));
    BOOST_CHECK_EQUAL(snapshot.dictString(got[i].headerFromId), want[i].headerFrom);
    const Outcome outcome = snapshot.outcome(got[i].outcomeId);
    const Outcome& expected = want[i].outcome;
    BOOST_CHECK(storeformat::encodeOutcome(outcome) == storeformat::encodeOutcome(expected));
    snapshot.outcomeView(got[i].outcomeId, view);
    BOOST_CHECK_EQUAL(view.disposition, expected.disposition);
    BOOST_CHECK_EQUAL(view.dkim, expected.dkim);
    BOOST_CHECK_EQUAL(view.spf, expected.spf);
    BOOST_CHECK_EQUAL(view.dmarcPass(), expected.dmarcPass());
    BOOST_REQUIRE_EQUAL(view.dkimResults.size(), expected.dkimResults.size());
    for (size_t k = 0; k < view.dkimResults.size(); ++k) {
      BOOST_CHECK_EQUAL(view.dkimResults[k].domain, expected.dkimResults[k].domain);
      BOOST_CHECK_EQUAL(view.dkimResults[k].selector, expected.dkimResults[k].selector);
      BOOST_CHECK_EQUAL(view.dkimResults[k].result, expected.dkimResults[k].result);
      BOOST_CHECK_EQUAL(view.dkimResults[k].humanResult, expected.dkimResults[k].humanResult);
    }
    BOOST_REQUIRE_EQUAL(view.spfResults.size(), expected.spfResults.size());
    for (size_t k = 0; k < view.spfResults.size(); ++k) {
      BOOST_CHECK_EQUAL(view.spfResults[k].domain, expected.spfResults[k].domain);
      BOOST_CHECK_EQUAL(view.spfResults[k].scope, expected.spfResults[k].scope);
      BOOST_CHECK_EQUAL(view.spfResults[k].result, expected.spfResults[k].result);
    }
    BOOST_CHECK_EQUAL(view.envelopeFrom, expected.envelopeFrom);
    BOOST_REQUIRE_EQUAL(view.reasons.size(), expected.reasons.size());
    for (size_t k = 0; k < view.reasons.size(); ++k) {
      BOOST_CHECK_EQUAL(view.reasons[k], expected.reasons[k]);
    }
  }
  // Days: totals as Store::dayTotals, ranges of the days with data.
  auto days = snapshot.dayTotals(*id, 0, UINT32_MAX);
  auto wantDays = store.dayTotals("example.com", 0, UINT32_MAX);
  BOOST_REQUIRE_EQUAL(days.size(), wantDays.size());
  BOOST_CHECK_EQUAL(days[1].messages, wantDays[1].messages);
  using Range = std::optional<std::pair<uint32_t, uint32_t>>;
  BOOST_CHECK(snapshot.dayRange(*id, 0, UINT32_MAX) == Range(std::make_pair(day, day + 1)));
  BOOST_CHECK(snapshot.dayRange(*id, 0, UINT32_MAX - 1) == Range(std::make_pair(day, day + 1)));
  BOOST_CHECK(snapshot.dayRange(*id, day + 1, day + 5) == Range(std::make_pair(day + 1, day + 1)));
  BOOST_CHECK(snapshot.dayRange(*id, day - 5, day) == Range(std::make_pair(day, day)));
  BOOST_CHECK(!snapshot.dayRange(*id, day + 2, day + 9));
  BOOST_CHECK(!snapshot.dayRange(*id, 0, day - 1));
  BOOST_CHECK(!snapshot.dayRange(*id, day + 1, day));
  auto other = snapshot.domainId("other.example");
  BOOST_REQUIRE(other);
  BOOST_CHECK(snapshot.dayRange(*other, 0, UINT32_MAX) == Range(std::make_pair(day, day)));
  BOOST_CHECK(!snapshot.dayRange(*other + 1000, 0, UINT32_MAX));
  // A snapshot does not see what is stored after it began.
  storeReport(store, "4", "example.com", day + 3, {makeRecord(v4(192, 0, 2, 1), 5, true)});
  BOOST_CHECK(snapshot.dayRange(*id, 0, UINT32_MAX) == Range(std::make_pair(day, day + 1)));
  BOOST_CHECK(StoreSnapshot(store).dayRange(*id, 0, UINT32_MAX) == Range(std::make_pair(day, day + 3)));
}

BOOST_AUTO_TEST_CASE(fact_reader_reads_in_batches)
{
  // FactReader gives what forEachRawFact gives, in the same order, whatever the batch size;
  // it stops at the range's last day and at the domain's end, and facts read the same after
  // it handed back the pages it read.
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 5;
  for (uint32_t d = 0; d < 4; ++d) {
    std::vector<Record> records;
    for (uint8_t i = 0; i < 50; ++i) {
      records.push_back(makeRecord(v4(192, 0, 2, static_cast<uint8_t>(i * 5 + d)), 1 + i + d, i % 3 == 0));
    }
    storeReport(store, "r" + std::to_string(d), "example.com", day + d, records);
    storeReport(store, "o" + std::to_string(d), "other.example", day + d, {makeRecord(v4(203, 0, 113, 1), 7, true)});
  }
  StoreSnapshot snapshot(store);
  auto id = snapshot.domainId("example.com");
  BOOST_REQUIRE(id);
  auto same = [](const RawFact& a, const RawFact& b) {
    return a.day == b.day && a.ip == b.ip && a.headerFromId == b.headerFromId && a.outcomeId == b.outcomeId &&
           a.messages == b.messages;
  };
  const std::vector<std::tuple<uint32_t, uint32_t, size_t>> ranges{
    {day, day + 3, 200}, {day + 1, day + 2, 100}, {0, UINT32_MAX, 200}, {day + 2, day + 1, 0}, {day + 9, UINT32_MAX, 0}};
  for (const auto& [from, to, count] : ranges) {
    std::vector<RawFact> want;
    snapshot.forEachRawFact(*id, from, to, [&](const RawFact& fact) { want.push_back(fact); });
    BOOST_REQUIRE_EQUAL(want.size(), count);
    for (size_t batch : {size_t{1}, size_t{7}, size_t{64}, size_t{1000}}) {
      BOOST_TEST_CONTEXT("days " << from << ".." << to << ", batch " << batch)
      {
        FactReader reader(snapshot, *id, from, to);
        std::vector<RawFact> buffer(batch);
        std::vector<RawFact> got;
        for (size_t n = 0; (n = reader.read(buffer)) > 0;) {
          got.insert(got.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
          if (batch == 7) {
            reader.releasePages();
          }
        }
        BOOST_CHECK_EQUAL(reader.read(buffer), 0U);
        BOOST_REQUIRE_EQUAL(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) {
          BOOST_CHECK_MESSAGE(same(got[i], want[i]), "fact " << i);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(opens_store_written_by_v1)
{
  // t/data/lmdb-v1/store.dump: mdb_dump -a of a store written by schema 1 (see README there).
  const auto dump = dmarcwatch::test::dataPath("lmdb-v1/store.dump");
  if (!std::filesystem::exists(dump)) {
    BOOST_TEST_MESSAGE("skipped: " << dump << " not found (SRCDIR unset?)");
    return;
  }
  TempDir tmp;
  loadDump(dump, tmp.path());
  // Read-only: a clear message, never "no store".
  {
    auto options = testOptions();
    options.readOnly = true;
    try {
      Store store(tmp.path().string(), options);
      BOOST_ERROR("read-only open of a schema-1 store did not fail");
    }
    catch (const StoreError& e) {
      BOOST_CHECK_MESSAGE(std::string(e.what()).find("run dmarcwatch db upgrade") != std::string::npos, e.what());
    }
  }
  const uint32_t v1Day = 19700; // 2023-12-09
  {
    Store store(tmp.path().string(), testOptions());
    BOOST_CHECK_EQUAL(store.upgradedFrom(), 1U);
  }
  for (bool readOnly : {true, false}) {
    auto options = testOptions();
    options.readOnly = readOnly;
    Store store(tmp.path().string(), options);
    BOOST_CHECK_EQUAL(store.schemaVersion(), Store::s_currentSchema);
    BOOST_CHECK_EQUAL(store.upgradedFrom(), 0U);
    auto problems = store.verify();
    BOOST_CHECK_MESSAGE(problems.empty(), (problems.empty() ? "" : problems.front()));
    auto reports = store.listReports();
    // The two schema-1 reports, then one schema-1 aggregates report per domain.
    BOOST_REQUIRE_GE(reports.size(), 4U);
    BOOST_CHECK_EQUAL(reports[0].header.metadata.orgName, "google.com");
    BOOST_CHECK_EQUAL(reports[0].header.metadata.reportId, "v1-report-1");
    BOOST_CHECK_EQUAL(reports[0].messages, 17U);
    BOOST_CHECK(reports[0].state == ReportState::Legacy);
    BOOST_CHECK_EQUAL(reports[1].header.metadata.orgName, "Yahoo");
    BOOST_CHECK(reports[2].state == ReportState::Active);
    BOOST_CHECK_EQUAL(reports[2].header.metadata.reportId, "schema-1 aggregates");
    BOOST_CHECK_EQUAL(reports[2].header.policy.domain, "example.com");
    BOOST_CHECK_EQUAL(reports[2].messages, 17U);
    BOOST_CHECK_EQUAL(reports[3].header.policy.domain, "example.net");
    BOOST_CHECK(store.listDomains() == (std::vector<std::string>{"example.com", "example.net"}));
    auto raw = store.rawPayload(1);
    BOOST_REQUIRE(raw);
    BOOST_CHECK_EQUAL(raw->first, "xml");
    BOOST_CHECK_EQUAL(raw->second, "<feedback/>");
    auto totals = store.dayTotals("example.com", v1Day, v1Day);
    BOOST_REQUIRE_EQUAL(totals.size(), 1U);
    BOOST_CHECK_EQUAL(totals[0].messages, 17U);
    BOOST_CHECK_EQUAL(totals[0].dmarcPass, 10U);
    std::vector<Fact> facts;
    store.forEachFact("example.com", v1Day, v1Day, [&](const Fact& fact) { facts.push_back(fact); });
    BOOST_REQUIRE_EQUAL(facts.size(), 3U);
    BOOST_CHECK(!facts[0].sourceIp);
    BOOST_CHECK(facts[1].sourceIp == v4(192, 0, 2, 1));
    BOOST_CHECK_EQUAL(facts[2].outcome.dkimResults.at(0).domain, "evil.example");
    BOOST_CHECK(store.source("example.com", v4(192, 0, 2, 1)).has_value());
    if (!readOnly) {
      // The old store takes new reports and still dedups the old ones (by key, as schema 1 did).
      auto writer = store.beginReport(makeHeader("google.com", "v1-report-1", "example.com", dayStart(v1Day),
                                                 dayStart(v1Day) + s_day - 1));
      BOOST_CHECK(writer->probablyDuplicate());
      BOOST_CHECK(commitWith(*writer, 0, 0).status == StoreStatus::Duplicate);
      const uint64_t next = reports.back().sequence + 1;
      BOOST_CHECK_EQUAL(storeReport(store, "new", "example.com", v1Day, {makeRecord(v4(192, 0, 2, 1), 1, true)}), next);
      BOOST_CHECK_EQUAL(factMessages(store, "example.com", v1Day, v1Day), 18U);
      // A schema-1 report cannot leave the totals on its own.
      BOOST_CHECK_THROW(store.setReportState(1, ReportState::Quarantined, "test"), StoreError);
      BOOST_CHECK(store.verify().empty());
    }
  }
}


BOOST_AUTO_TEST_CASE(complete_copy_supersedes_recovered)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  // A damaged copy first (one record of two could be read), then the complete one.
  auto partial = storeReportResult(store, "r", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 5, true)},
                                   "google.com", true);
  BOOST_CHECK(partial.status == StoreStatus::Stored);
  auto complete = storeReportResult(store, "r", "example.com", day,
                                    {makeRecord(v4(192, 0, 2, 1), 5, true), makeRecord(v4(192, 0, 2, 2), 7, false)});
  BOOST_CHECK(complete.status == StoreStatus::Stored);
  BOOST_CHECK_EQUAL(complete.related, partial.sequence);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), 12U);
  auto old = store.report(partial.sequence);
  BOOST_REQUIRE(old);
  BOOST_CHECK(old->state == ReportState::Superseded);
  BOOST_CHECK_EQUAL(old->related, complete.sequence);
  // Not the other way round: a damaged copy after the complete one is a duplicate of it.
  auto late = storeReportResult(store, "r", "example.com", day, {makeRecord(v4(192, 0, 2, 2), 7, false)},
                                "google.com", true);
  BOOST_CHECK(late.status == StoreStatus::Duplicate);
  BOOST_CHECK_EQUAL(late.sequence, complete.sequence);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), 12U);
  auto problems = store.verify();
  BOOST_CHECK_MESSAGE(problems.empty(), (problems.empty() ? "" : problems.front()));
}

BOOST_AUTO_TEST_CASE(same_key_other_content_is_a_conflict)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  auto first = storeReportResult(store, "k", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 5, true)});
  // A forged (or broken) report under the same key must not be called a duplicate, nor counted.
  auto forged = storeReportResult(store, "k", "example.com", day, {makeRecord(v4(203, 0, 113, 9), 1000, false)});
  BOOST_CHECK(forged.status == StoreStatus::Conflict);
  BOOST_CHECK_EQUAL(forged.related, first.sequence);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), 5U);
  auto kept = store.report(forged.sequence);
  BOOST_REQUIRE(kept);
  BOOST_CHECK(kept->state == ReportState::Conflict);
  BOOST_CHECK(!kept->counted());
  BOOST_CHECK_EQUAL(kept->related, first.sequence);
  BOOST_CHECK_EQUAL(kept->messages, 1000U);
  BOOST_CHECK(!store.source("example.com", v4(203, 0, 113, 9)));
  // The same conflicting copy again: a duplicate of the conflict, not a second one.
  auto again = storeReportResult(store, "k", "example.com", day, {makeRecord(v4(203, 0, 113, 9), 1000, false)});
  BOOST_CHECK(again.status == StoreStatus::Duplicate);
  BOOST_CHECK_EQUAL(again.sequence, forged.sequence);
  // The original again: a duplicate of the original.
  auto original = storeReportResult(store, "k", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 5, true)});
  BOOST_CHECK(original.status == StoreStatus::Duplicate);
  BOOST_CHECK_EQUAL(original.sequence, first.sequence);
  BOOST_CHECK_EQUAL(store.listReports().size(), 2U);
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_CASE(empty_report_ids_never_collide)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  auto a = storeReportResult(store, "", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 5, true)});
  auto b = storeReportResult(store, "", "example.com", day, {makeRecord(v4(192, 0, 2, 2), 6, true)});
  BOOST_CHECK(a.status == StoreStatus::Stored);
  BOOST_CHECK(b.status == StoreStatus::Stored);
  BOOST_CHECK_NE(a.sequence, b.sequence);
  auto c = storeReportResult(store, "", "example.com", day, {makeRecord(v4(192, 0, 2, 2), 6, true)});
  BOOST_CHECK(c.status == StoreStatus::Duplicate);
  BOOST_CHECK_EQUAL(c.sequence, b.sequence);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), 11U);
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_CASE(quarantine_takes_a_report_out_exactly)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  storeReport(store, "keep", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 5, true)});
  auto writer = store.beginReport(makeHeader("evil.example", "q", "example.com", dayStart(day), dayStart(day + 3)));
  writer->addRecord(makeRecord(v4(192, 0, 2, 1), 10, false));
  writer->addRecord(makeRecord(v4(198, 51, 100, 7), 3, true));
  const uint64_t q = commitWith(*writer, 2, 13).sequence;
  const auto before = store.dayTotals("example.com", 0, UINT32_MAX);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", 0, UINT32_MAX), 18U);

  store.setReportState(q, ReportState::Quarantined, "DKIM signature of the report mail failed");
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", 0, UINT32_MAX), 5U);
  auto totals = store.dayTotals("example.com", 0, UINT32_MAX);
  BOOST_REQUIRE_EQUAL(totals.size(), 1U);
  BOOST_CHECK_EQUAL(totals[0].messages, 5U);
  BOOST_CHECK_EQUAL(totals[0].records, 1U);
  BOOST_CHECK_EQUAL(store.report(q)->stateReason, "DKIM signature of the report mail failed");
  BOOST_CHECK(store.verify().empty());
  // Only sensible moves.
  BOOST_CHECK_THROW(store.setReportState(q, ReportState::Superseded, "x"), StoreError);
  BOOST_CHECK_THROW(store.setReportState(999, ReportState::Quarantined, "x"), StoreError);

  store.setReportState(q, ReportState::Active, "");
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", 0, UINT32_MAX), 18U);
  auto after = store.dayTotals("example.com", 0, UINT32_MAX);
  BOOST_REQUIRE_EQUAL(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    BOOST_CHECK_EQUAL(after[i].messages, before[i].messages);
    BOOST_CHECK_EQUAL(after[i].dmarcPass, before[i].dmarcPass);
    BOOST_CHECK_EQUAL(after[i].records, before[i].records);
  }
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_CASE(rows_carry_identity_and_pass_and_verify_checks_them)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  // DKIM passes (mixed case); DKIM fails but SPF passes; nothing passes.
  std::vector<Record> records{makeRecord(v4(192, 0, 2, 1), 5, true, "Mail.Example.COM"),
                              makeRecord(v4(192, 0, 2, 2), 3, false, "example.net"),
                              makeRecord(std::nullopt, 2, false, "example.org")};
  records[1].spfResults[0].result = "PASS";
  const uint64_t sequence = storeReport(store, "a", "example.com", s_today - 1, records);
  std::vector<std::pair<std::string, bool>> got;
  store.forEachRow(sequence, [&](const ReportRow& row) {
    got.emplace_back(row.identityId == 0 ? "" : store.dictString(row.identityId), row.dmarcPass);
  });
  const std::vector<std::pair<std::string, bool>> want{
    {"mail.example.com", true}, {"bounce.example.net", false}, {"", false}};
  BOOST_CHECK(got == want);
  BOOST_CHECK(store.verify().empty());

  // A row that names another identity than its outcome's, behind the store's back.
  auto env = lmdb::Env::open(tmp.path().string(), lmdb::Env::Options{});
  auto rows = env->dbi("rows");
  BOOST_REQUIRE(rows);
  {
    lmdb::WriteTxn txn(env);
    const std::string key = storeformat::rowKey(sequence, 0);
    auto value = txn.get(*rows, key);
    BOOST_REQUIRE(value);
    std::vector<ReportRow> block;
    storeformat::decodeRowBlock(*value, block);
    block[0].identityId = 0;
    std::string out;
    storeformat::beginRowBlock(out);
    for (const auto& row : block) {
      storeformat::appendRow(out, row);
    }
    storeformat::finishRowBlock(out, block.size());
    txn.put(*rows, key, out);
    txn.commit();
  }
  auto problems = store.verify();
  BOOST_REQUIRE_EQUAL(problems.size(), 1U);
  BOOST_CHECK_MESSAGE(problems[0].find("says identity id 0, DMARC pass; its outcome") != std::string::npos &&
                        problems[0].find("\"mail.example.com\"") != std::string::npos,
                      problems[0]);
}

BOOST_AUTO_TEST_CASE(report_days_decode_as_the_whole_report)
{
  StoredReport report;
  report.header = makeHeader("google.com", "id", "example.com", 1, 2);
  report.header.metadata.errors = {"e1", "e2"};
  report.warnings = {"w"};
  report.header.policy.pct = 50;
  report.state = ReportState::Loading;
  report.firstDay = 19000;
  report.dayCount = 3;
  report.rows = 77;
  report.stateReason = "why";
  report.payloadMember = "zip:a.xml";
  const std::string value = storeformat::encodeStoredReport(report);
  const auto days = storeformat::decodeReportDays(value);
  BOOST_CHECK(days.state == ReportState::Loading);
  BOOST_CHECK_EQUAL(days.firstDay, 19000U);
  BOOST_CHECK_EQUAL(days.dayCount, 3U);
  BOOST_CHECK_EQUAL(days.rows, 77U);
  const auto whole = storeformat::decodeStoredReport(value);
  BOOST_CHECK_EQUAL(whole.stateReason, "why");
  BOOST_CHECK_EQUAL(whole.payloadMember, "zip:a.xml");
  BOOST_CHECK_EQUAL(whole.firstDay, 19000U);
  BOOST_CHECK_THROW(storeformat::decodeReportDays(value.substr(0, value.size() - 3)), StoreError);
}

BOOST_AUTO_TEST_CASE(report_authenticity_round_trips_and_reads_unauthenticated_when_absent)
{
  StoredReport report;
  report.header = makeHeader("google.com", "id", "example.com", 1, 2);
  report.authenticity = Authenticity::Forged;
  report.authReason = "dkim=fail (d=google.com)";
  const std::string value = storeformat::encodeStoredReport(report);
  const auto whole = storeformat::decodeStoredReport(value);
  BOOST_CHECK(whole.authenticity == Authenticity::Forged);
  BOOST_CHECK_EQUAL(whole.authReason, "dkim=fail (d=google.com)");
  // A value written before issue 14 ends after the owner's start time: unauthenticated.
  const std::string older = value.substr(0, value.size() - 2 - report.authReason.size());
  const auto old = storeformat::decodeStoredReport(older);
  BOOST_CHECK(old.authenticity == Authenticity::Unauthenticated);
  BOOST_CHECK(old.authReason.empty());
  BOOST_CHECK_EQUAL(authenticityName(old.authenticity), "unauthenticated");
  std::string bad = value;
  bad[older.size()] = 7;
  BOOST_CHECK_THROW(storeformat::decodeStoredReport(bad), StoreError);
}

//! Overwrite the value of the first entry of a table behind the store's back.
void overwriteFirst(const std::string& dir, const char* table, const std::string& newValue)
{
  auto env = lmdb::Env::open(dir, lmdb::Env::Options{});
  auto dbi = env->dbi(table);
  BOOST_REQUIRE(dbi);
  lmdb::WriteTxn txn(env);
  std::string k;
  {
    // The cursor ends before the transaction (LMDB frees a write transaction's cursors at commit).
    lmdb::Cursor cursor(txn.get(), *dbi);
    MDB_val key{};
    MDB_val value{};
    BOOST_REQUIRE(cursor.get(MDB_FIRST, key, value));
    k = lmdb::toView(key);
  }
  txn.put(*dbi, k, newValue);
  txn.commit();
}

//! The messages readers of rows (status's table path) count for a domain's days.
uint64_t rowMessages(const Store& store, const std::string& domain, uint32_t from, uint32_t to)
{
  StoreSnapshot snapshot(store);
  RowReader reader(snapshot, snapshot.domainId(domain).value(), from, to);
  std::array<WindowRow, 64> rows;
  uint64_t total = 0;
  for (size_t n = 0; (n = reader.read(rows)) > 0;) {
    for (size_t i = 0; i < n; ++i) {
      total += rows[i].messages;
    }
  }
  return total;
}

BOOST_AUTO_TEST_CASE(bydomain_entries_carry_authenticity)
{
  // Status and the alert rules read a report's verdict from its bydomain entry: it is the
  // record's through a change of state; an entry without it (written before issue 14) reads
  // unauthenticated, and verify names one whose record says otherwise.
  TempDir tmp;
  const std::string dir = tmp.path().string();
  const uint32_t day = s_today - 1;
  uint64_t forged = 0;
  {
    Store store(dir, testOptions());
    forged = storeVerdictReport(store, "f", "example.com", day, 1, Authenticity::Forged, {makeRecord(v4(192, 0, 2, 1), 5, false)});
    storeVerdictReport(store, "a", "example.com", day, 1, Authenticity::Authenticated, {makeRecord(v4(192, 0, 2, 2), 7, true)});
    store.setReportState(forged, ReportState::Quarantined, "test");
    store.setReportState(forged, ReportState::Active, "");
    BOOST_CHECK(store.verify().empty());
    StoreSnapshot snapshot(store);
    RowReader reader(snapshot, snapshot.domainId("example.com").value(), day, day);
    std::array<WindowRow, 8> rows;
    BOOST_REQUIRE_EQUAL(reader.read(rows), 2U);
    BOOST_CHECK(rows[0].authenticity == Authenticity::Forged);
    BOOST_CHECK_EQUAL(rows[0].messages, 5U);
    BOOST_CHECK(rows[1].authenticity == Authenticity::Authenticated);
    BOOST_CHECK_EQUAL(rows[1].messages, 7U);
    BOOST_CHECK_EQUAL(reader.read(rows), 0U);
    const std::array<uint64_t, s_authenticities> want{0, 1, 1}; // unauthenticated, authenticated, forged
    BOOST_CHECK(reader.reportsRead() == want);
  }
  auto value = storeformat::encodeByDomainValue(Store(dir, testOptions()).report(forged).value());
  BOOST_REQUIRE_EQUAL(value.size(), 11U);
  BOOST_CHECK(storeformat::decodeByDomainValue(value)->authenticity == Authenticity::Forged);
  // The first entry (the forged report: its sequence sorts first) without the byte.
  overwriteFirst(dir, "bydomain", value.substr(0, 10));
  BOOST_CHECK(storeformat::decodeByDomainValue(value.substr(0, 10))->authenticity == Authenticity::Unauthenticated);
  auto problems = Store(dir, testOptions()).verify();
  BOOST_REQUIRE_EQUAL(problems.size(), 1U);
  BOOST_CHECK_MESSAGE(problems[0].find("unauthenticated; the report is active, days") != std::string::npos &&
                        problems[0].find(", forged") != std::string::npos,
                      problems[0]);
  // A version-only entry: the record is read, verdict and all.
  overwriteFirst(dir, "bydomain", std::string(1, '\x01'));
  {
    Store store(dir, testOptions());
    BOOST_CHECK(store.verify().empty());
    StoreSnapshot snapshot(store);
    RowReader reader(snapshot, snapshot.domainId("example.com").value(), day, day,
                     authenticityBit(Authenticity::Forged));
    std::array<WindowRow, 8> rows;
    BOOST_REQUIRE_EQUAL(reader.read(rows), 1U);
    BOOST_CHECK(rows[0].authenticity == Authenticity::Forged);
  }
  value[10] = 9;
  BOOST_CHECK_THROW(storeformat::decodeByDomainValue(value), StoreError);
}

BOOST_AUTO_TEST_CASE(window_facts_of_some_verdicts_are_their_day_shares_in_fact_order)
{
  // The rows of the reports with the verdicts asked for, split over their days as the facts
  // are, in the facts' order, equal keys summed: subtracting them from the facts leaves
  // exactly the facts of the other reports.
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 5;
  // A forged report over three days (7 messages: 3, 2, 2), another forged one on the last day
  // from the same source, an unauthenticated one, an authenticated one.
  storeVerdictReport(store, "f1", "example.com", day, 3, Authenticity::Forged,
                     {makeRecord(v4(203, 0, 113, 9), 7, false), makeRecord(v4(192, 0, 2, 1), 1, true)});
  storeVerdictReport(store, "f2", "example.com", day + 2, 1, Authenticity::Forged, {makeRecord(v4(203, 0, 113, 9), 4, false)});
  storeVerdictReport(store, "u", "example.com", day + 1, 1, Authenticity::Unauthenticated, {makeRecord(v4(192, 0, 2, 1), 10, true)});
  storeVerdictReport(store, "a", "example.com", day + 2, 1, Authenticity::Authenticated, {makeRecord(v4(203, 0, 113, 9), 6, false)});
  StoreSnapshot snapshot(store);
  const uint32_t id = snapshot.domainId("example.com").value();
  // The window leaves out the forged report's first day.
  const auto facts = windowFactsOf(snapshot, id, day + 1, day + 4, authenticityBit(Authenticity::Forged));
  std::vector<std::tuple<uint32_t, std::string, uint64_t>> got;
  for (const auto& fact : facts) {
    got.emplace_back(fact.day - day, IpAddress{fact.ip}.toString(), fact.messages);
  }
  // 7 over three days is 3, 2, 2; 192.0.2.1's one message went to the first day (1, 0, 0).
  const std::vector<std::tuple<uint32_t, std::string, uint64_t>> want{{1, "203.0.113.9", 2}, {2, "203.0.113.9", 2 + 4}};
  BOOST_CHECK(got == want);
  BOOST_CHECK(std::is_sorted(facts.begin(), facts.end(),
                             [](const RawFact& a, const RawFact& b) { return factOrder(a) < factOrder(b); }));
  // Taken off the facts, what remains is the other reports' (unauthenticated 10, authenticated 6).
  uint64_t remaining = 0;
  size_t at = 0;
  snapshot.forEachRawFact(id, day + 1, day + 4, [&](const RawFact& fact) {
    uint64_t messages = fact.messages;
    if (at < facts.size() && factOrder(facts[at]) == factOrder(fact)) {
      messages -= facts[at++].messages;
    }
    remaining += messages;
  });
  BOOST_CHECK_EQUAL(at, facts.size());
  BOOST_CHECK_EQUAL(remaining, 16U);
  // None asked for: nothing read.
  BOOST_CHECK(windowFactsOf(snapshot, id, day, day + 4, 0).empty());
}

BOOST_AUTO_TEST_CASE(dedup_hash_collisions_are_chained_and_confirmed)
{
  // A dedup key too long for an LMDB key is filed under its prefix, length and hash, plus a
  // chain index; an entry there is the report only when that report's own key is the same.
  // A collision is made by hand: report B's hashed entry (index 0) is made to name report A.
  TempDir tmp;
  const std::string dir = tmp.path().string();
  Store store(dir, testOptions());
  const uint32_t day = s_today - 1;
  const std::string longId(450, 'x');
  const uint64_t a = storeReport(store, longId + "a", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 5, true)});
  const std::string keyB = dedupKey(makeHeader("google.com", longId + "b", "example.com", dayStart(day),
                                               dayStart(day) + s_day - 1));
  BOOST_REQUIRE_GT(keyB.size(), storeformat::s_maxInlineDictKey);
  {
    auto env = lmdb::Env::open(dir, lmdb::Env::Options{});
    auto dedup = env->dbi("dedup");
    BOOST_REQUIRE(dedup);
    lmdb::WriteTxn txn(env);
    txn.put(*dedup, storeformat::dedupStoreKey(keyB, 0), storeformat::encodeCounter(a));
    txn.commit();
  }
  // B is not taken for A (its key differs), is stored at the next index, and is then found there.
  auto b = storeReportResult(store, longId + "b", "example.com", day, {makeRecord(v4(192, 0, 2, 2), 7, true)});
  BOOST_CHECK(b.status == StoreStatus::Stored);
  BOOST_CHECK_NE(b.sequence, a);
  auto again = storeReportResult(store, longId + "b", "example.com", day, {makeRecord(v4(192, 0, 2, 2), 7, true)});
  BOOST_CHECK(again.status == StoreStatus::Duplicate);
  BOOST_CHECK_EQUAL(again.sequence, b.sequence);
  // A, under its own key, is still A.
  auto againA = storeReportResult(store, longId + "a", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 5, true)});
  BOOST_CHECK(againA.status == StoreStatus::Duplicate);
  BOOST_CHECK_EQUAL(againA.sequence, a);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), 12U);
}

BOOST_AUTO_TEST_CASE(big_values_read_from_the_file_equal_the_map)
{
  // Env::readValue copies a value of half a page or more with pread from where the map says
  // it is: the bytes must be the map's, also after the map grew (and may have moved).
  TempDir tmp;
  lmdb::Env::Options options;
  options.mapSize = 1 << 20;
  options.maxMapSize = 64 << 20;
  auto env = lmdb::Env::open(tmp.path().string(), options);
  auto dbi = env->dbi("t");
  BOOST_REQUIRE(dbi);
  auto bytesOf = [](size_t size, char salt) {
    std::string value(size, '\0');
    for (size_t i = 0; i < size; ++i) {
      value[i] = static_cast<char>(i * 131 + salt);
    }
    return value;
  };
  auto check = [&](const std::string& key, const std::string& want) {
    lmdb::ReadTxn txn(env);
    lmdb::Cursor cursor(txn.get(), *dbi);
    MDB_val k{};
    MDB_val v{};
    BOOST_REQUIRE(cursor.seek(key, k, v));
    std::string buffer;
    const std::string_view got = env->readValue(v, buffer);
    BOOST_CHECK(got == want);
    BOOST_CHECK_EQUAL(got.data() == buffer.data(), want.size() >= 2048); // copied, or in place
  };
  {
    lmdb::WriteTxn txn(env);
    txn.put(*dbi, "big", bytesOf(10000, 1));
    txn.put(*dbi, "small", bytesOf(100, 2));
    txn.commit();
  }
  check("big", bytesOf(10000, 1));
  check("small", bytesOf(100, 2));
  env->grow();
  env->grow();
  {
    lmdb::WriteTxn txn(env);
    txn.put(*dbi, "later", bytesOf(50000, 3));
    txn.commit();
  }
  check("big", bytesOf(10000, 1));
  check("later", bytesOf(50000, 3));
}

BOOST_AUTO_TEST_CASE(bydomain_entries_carry_state_and_days)
{
  // Status reads a report's state and days from its bydomain entry, not its record: the two
  // must agree through every change of state, and an older entry (version only) still works.
  TempDir tmp;
  const std::string dir = tmp.path().string();
  const uint32_t day = s_today - 1;
  {
    Store store(dir, testOptions());
    const uint64_t sequence = storeReport(store, "a", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 5, true)});
    BOOST_CHECK_EQUAL(rowMessages(store, "example.com", day, day), 5U);
    store.setReportState(sequence, ReportState::Quarantined, "test");
    BOOST_CHECK_EQUAL(rowMessages(store, "example.com", day, day), 0U);
    BOOST_CHECK(store.verify().empty());
    store.setReportState(sequence, ReportState::Active, "");
    BOOST_CHECK_EQUAL(rowMessages(store, "example.com", day, day), 5U);
    BOOST_CHECK(store.verify().empty());
  }
  // An entry as schema 1 and the first schema-2 stores wrote it: the record is read instead.
  overwriteFirst(dir, "bydomain", std::string(1, '\x01'));
  {
    Store store(dir, testOptions());
    BOOST_CHECK_EQUAL(rowMessages(store, "example.com", day, day), 5U);
    BOOST_CHECK(store.verify().empty());
  }
  // An entry that disagrees with its record: verify names it.
  StoredReport quarantined;
  quarantined.state = ReportState::Quarantined;
  quarantined.firstDay = day;
  quarantined.dayCount = 1;
  overwriteFirst(dir, "bydomain", storeformat::encodeByDomainValue(quarantined));
  Store store(dir, testOptions());
  auto problems = store.verify();
  BOOST_REQUIRE_EQUAL(problems.size(), 1U);
  BOOST_CHECK_MESSAGE(problems[0].find("bydomain: the entry of report 1 says quarantined") != std::string::npos,
                      problems[0]);
}

BOOST_AUTO_TEST_CASE(verify_finds_a_falsified_total)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  storeReport(store, "a", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 5, true)});
  BOOST_CHECK(store.verify().empty());
  // Change one fact behind the store's back.
  auto v = storeformat::encodeFactValue(6);
  overwriteFirst(tmp.path().string(), "facts", std::string(reinterpret_cast<const char*>(v.data()), v.size()));
  auto problems = store.verify();
  BOOST_REQUIRE_EQUAL(problems.size(), 1U);
  BOOST_CHECK_MESSAGE(problems[0].find("facts hold 6 messages, the rows say 5") != std::string::npos, problems[0]);
}

BOOST_AUTO_TEST_CASE(no_total_ever_wraps)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  const uint64_t half = uint64_t{1} << 63;
  storeReport(store, "big", "example.com", day, {makeRecord(v4(192, 0, 2, 1), half, true)});
  // A second report that would carry the day's total past 2^64 - 1 (a forged one cancelling the first).
  try {
    storeReport(store, "wrap", "example.com", day, {makeRecord(v4(192, 0, 2, 2), half, true)}, "evil.example");
    BOOST_ERROR("a report that overflows a total was stored");
  }
  catch (const ReportRefused& e) {
    BOOST_CHECK_MESSAGE(std::string(e.what()).find("overflow") != std::string::npos, e.what());
  }
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), half);
  BOOST_CHECK_EQUAL(store.listReports().size(), 1U);
  // Within one report: two rows of one source and day.
  try {
    storeReport(store, "self", "other.example", day,
                {makeRecord(v4(192, 0, 2, 3), UINT64_MAX, true), makeRecord(v4(192, 0, 2, 3), 1, true)});
    BOOST_ERROR("a report whose own rows overflow was stored");
  }
  catch (const ReportRefused&) {
  }
  BOOST_CHECK_EQUAL(store.listReports().size(), 1U);
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_CASE(abandoned_chunks_are_taken_out)
{
  TempDir tmp;
  auto options = testOptions();
  options.chunkRows = 10;
  Store store(tmp.path().string(), options);
  const uint32_t day = s_today - 1;
  storeReport(store, "keep", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 5, true)});
  {
    auto writer = store.beginReport(makeHeader("google.com", "big", "example.com", dayStart(day), dayStart(day + 1)));
    for (uint8_t i = 0; i < 55; ++i) {
      writer->addRecord(makeRecord(v4(10, 1, 0, i), 2, true));
    }
    // Five chunks are in the store, not counted before the report is decided.
    auto reports = store.listReports();
    BOOST_REQUIRE_EQUAL(reports.size(), 2U);
    BOOST_CHECK(reports[1].state == ReportState::Loading);
    BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), 5U);
    BOOST_CHECK(store.verify().empty());
    // Destroyed without commit (a parse error half way).
  }
  BOOST_CHECK_EQUAL(store.listReports().size(), 1U);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), 5U);
  BOOST_CHECK(store.verify().empty());
}

//! A big report of `records` rows, one each of 10.2.i/16 with count 1 (chunks of 10: runs).
void addBigReport(ReportWriter& writer, uint32_t records)
{
  for (uint32_t i = 0; i < records; ++i) {
    // Written in an order that is not the address order: the runs are sorted by the writer.
    const uint32_t n = (i * 13) % records; // 13: prime to the counts used here
    writer.addRecord(makeRecord(v4(10, 2, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)), 1, true));
  }
}

BOOST_AUTO_TEST_CASE(big_report_is_added_in_steps_and_counted_as_far_as_added)
{
  // Phase 2 (store.hh): the runs are merged by address and added a step at a time; between
  // steps the totals hold exactly the rows of the addresses added so far, and verify agrees.
  TempDir tmp;
  auto options = testOptions();
  options.chunkRows = 10;
  std::vector<uint64_t> seen;
  Store* self = nullptr;
  const uint32_t day = s_today - 1;
  options.afterApplyStep = [&](uint64_t) {
    seen.push_back(factMessages(*self, "example.com", day, day));
    auto problems = self->verify();
    BOOST_CHECK_MESSAGE(problems.empty(), (problems.empty() ? "" : problems.front()));
    // Readers of rows (status) count the same rows as the totals hold.
    BOOST_CHECK_EQUAL(rowMessages(*self, "example.com", day, day), seen.back());
  };
  Store store(tmp.path().string(), options);
  self = &store;
  auto writer = store.beginReport(makeHeader("google.com", "big", "example.com", dayStart(day), dayStart(day + 1) - 1));
  addBigReport(*writer, 35);
  auto result = commitWith(*writer, 35, 35);
  BOOST_CHECK(result.status == StoreStatus::Stored);
  // Steps of 10 rows: 10, 20, 30 added, then the last one makes the report active.
  BOOST_CHECK_EQUAL(seen.size(), 3U);
  BOOST_CHECK((seen == std::vector<uint64_t>{10, 20, 30}));
  auto report = store.report(result.sequence);
  BOOST_REQUIRE(report);
  BOOST_CHECK(report->state == ReportState::Active);
  BOOST_CHECK_EQUAL(report->rows, 35U);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), 35U);
  auto source = store.source("example.com", v4(10, 2, 0, 34));
  BOOST_REQUIRE(source);
  BOOST_CHECK_EQUAL(source->firstReport, result.sequence);
  BOOST_CHECK(store.verify().empty());
}

/*!
 * A store in dir with one report of 5 messages on day, and a big report (35 rows, chunks of
 * 10) left loading by a process that died: while parsing (decided false: its chunks written,
 * not committed) or after its decision and the first step of adding its rows (decided true).
 */
void leaveDeadLoader(const std::string& dir, uint32_t day, bool decided)
{
  {
    Store store(dir, testOptions());
    storeReport(store, "keep", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 5, true)});
  }
  pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    auto options = testOptions();
    options.chunkRows = 10;
    options.afterApplyStep = [](uint64_t) { _exit(0); }; // no destructor, no cleanup: as a crash
    Store store(dir, options);
    auto writer =
      store.beginReport(makeHeader("google.com", "dies", "example.com", dayStart(day), dayStart(day + 1) - 1));
    addBigReport(*writer, 35);
    if (decided) {
      commitWith(*writer, 35, 35);
    }
    _exit(decided ? 1 : 0);
  }
  int status = 0;
  BOOST_REQUIRE_EQUAL(waitpid(child, &status, 0), child);
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // Still there for readers until a writer opens; the totals as far as added, verify agrees.
  auto options = testOptions();
  options.readOnly = true;
  Store reader(dir, options);
  auto reports = reader.listReports();
  BOOST_REQUIRE_EQUAL(reports.size(), 2U);
  BOOST_CHECK(reports[1].state == ReportState::Loading);
  BOOST_CHECK_EQUAL(factMessages(reader, "example.com", day, day), decided ? 15U : 5U);
  auto problems = reader.verify();
  BOOST_CHECK_MESSAGE(problems.empty(), (problems.empty() ? "" : problems.front()));
}

BOOST_AUTO_TEST_CASE(dead_loader_is_rolled_back)
{
  // Dead while parsing: the next read-write open takes its chunks out.
  TempDir tmp;
  const uint32_t day = s_today - 1;
  leaveDeadLoader(tmp.path().string(), day, false);
  Store store(tmp.path().string(), testOptions());
  auto reports = store.listReports();
  BOOST_REQUIRE_EQUAL(reports.size(), 1U);
  BOOST_CHECK_EQUAL(reports[0].header.metadata.reportId, "keep");
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), 5U);
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_CASE(dead_loader_while_adding_is_finished)
{
  // Dead after its report was decided and partly added: the report is kept, and the next
  // read-write open adds the rest (rolling it back would lose a stored report).
  TempDir tmp;
  const uint32_t day = s_today - 1;
  leaveDeadLoader(tmp.path().string(), day, true);
  Store store(tmp.path().string(), testOptions());
  auto reports = store.listReports();
  BOOST_REQUIRE_EQUAL(reports.size(), 2U);
  BOOST_CHECK(reports[1].state == ReportState::Active);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), 40U);
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_CASE(superseded_while_adding_stops_the_loader)
{
  // A recovered big copy is being added when the complete copy arrives: the complete one
  // supersedes it (taking out what was added), and the loader stops.
  TempDir tmp;
  auto options = testOptions();
  options.chunkRows = 10;
  const uint32_t day = s_today - 1;
  Store* self = nullptr;
  std::optional<StoreResult> complete;
  options.afterApplyStep = [&](uint64_t) {
    if (!complete) {
      complete = storeReportResult(*self, "r", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 7, true)});
    }
  };
  Store store(tmp.path().string(), options);
  self = &store;
  auto writer = store.beginReport(makeHeader("google.com", "r", "example.com", dayStart(day), dayStart(day + 1) - 1));
  addBigReport(*writer, 35);
  auto partial = commitWith(*writer, 35, 35, "t", nullptr, true);
  BOOST_CHECK(partial.status == StoreStatus::Stored);
  BOOST_REQUIRE(complete);
  BOOST_CHECK(complete->status == StoreStatus::Stored);
  BOOST_CHECK_EQUAL(complete->related, partial.sequence);
  auto old = store.report(partial.sequence);
  BOOST_REQUIRE(old);
  BOOST_CHECK(old->state == ReportState::Superseded);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), 7U);
  auto problems = store.verify();
  BOOST_CHECK_MESSAGE(problems.empty(), (problems.empty() ? "" : problems.front()));
}

BOOST_AUTO_TEST_CASE(big_report_that_would_overflow_a_day_is_refused_whole)
{
  TempDir tmp;
  auto options = testOptions();
  options.chunkRows = 10;
  Store store(tmp.path().string(), options);
  const uint32_t day = s_today - 1;
  storeReport(store, "big", "example.com", day, {makeRecord(v4(192, 0, 2, 1), UINT64_MAX - 20, true)});
  auto writer = store.beginReport(makeHeader("yahoo.com", "wrap", "example.com", dayStart(day), dayStart(day + 1) - 1));
  addBigReport(*writer, 35);
  try {
    commitWith(*writer, 35, 35);
    BOOST_ERROR("a big report that overflows a day total was stored");
  }
  catch (const ReportRefused& e) {
    BOOST_CHECK_MESSAGE(std::string(e.what()).find("overflow") != std::string::npos, e.what());
  }
  writer.reset();
  BOOST_CHECK_EQUAL(store.listReports().size(), 1U);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), UINT64_MAX - 20);
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_CASE(row_blocks_round_trip_and_refuse_damage)
{
  // Every kind of row (no address, IPv4, IPv6; big ids and counts; an own day) comes back as
  // written, across the in-place decoding and the checked one of a block's last rows.
  std::vector<ReportRow> rows;
  for (uint32_t i = 0; i < 300 && rows.size() < storeformat::s_rowsPerBlock; ++i) {
    ReportRow row;
    switch (i % 3) {
    case 0:
      break; // no source IP
    case 1:
      row.ip = v4(192, 0, 2, static_cast<uint8_t>(i)).bytes;
      break;
    default:
      row.ip = IpAddress::parse("2001:db8::" + std::to_string(i)).value().bytes;
    }
    row.headerFromId = i % 2 == 0 ? 1 : UINT32_MAX;
    row.outcomeId = i * 1000003U;
    row.identityId = i % 5 == 0 ? 0 : i;
    row.dmarcPass = i % 4 == 0;
    row.count = i % 7 == 0 ? UINT64_MAX : i;
    if (i % 11 == 0) {
      row.day = s_today - i;
    }
    rows.push_back(row);
  }
  std::string block;
  storeformat::beginRowBlock(block);
  for (const auto& row : rows) {
    storeformat::appendRow(block, row);
  }
  storeformat::finishRowBlock(block, rows.size());
  std::vector<ReportRow> back;
  storeformat::decodeRowBlock(block, back);
  BOOST_REQUIRE_EQUAL(back.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    BOOST_CHECK(back[i].ip == rows[i].ip);
    BOOST_CHECK_EQUAL(back[i].headerFromId, rows[i].headerFromId);
    BOOST_CHECK_EQUAL(back[i].outcomeId, rows[i].outcomeId);
    BOOST_CHECK_EQUAL(back[i].identityId, rows[i].identityId);
    BOOST_CHECK_EQUAL(back[i].dmarcPass, rows[i].dmarcPass);
    BOOST_CHECK_EQUAL(back[i].count, rows[i].count);
    BOOST_CHECK(back[i].day == rows[i].day);
  }
  // Damage: a block cut short anywhere, a byte too many.
  for (size_t cut = 3; cut < block.size(); cut += 17) {
    BOOST_CHECK_THROW(storeformat::decodeRowBlock(std::string_view(block).substr(0, cut), back), StoreError);
  }
  BOOST_CHECK_THROW(storeformat::decodeRowBlock(block + "x", back), StoreError);
}

BOOST_AUTO_TEST_CASE(sources_cursors_and_alert_state)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 5;
  const uint64_t first = storeReport(store, "a", "Example.COM", day, {makeRecord(v4(192, 0, 2, 1), 5, true)});
  const uint64_t second = storeReport(store, "b", "example.com", day + 2, {makeRecord(v4(192, 0, 2, 1), 1, true)});
  auto source = store.source("example.com", v4(192, 0, 2, 1));
  BOOST_REQUIRE(source);
  BOOST_CHECK_EQUAL(source->firstDay, day);
  BOOST_CHECK_EQUAL(source->lastDay, day + 2);
  BOOST_CHECK_EQUAL(source->firstReport, first);
  BOOST_CHECK_EQUAL(source->lastReport, second);
  BOOST_CHECK(!store.source("example.com", v4(192, 0, 2, 9)));
  BOOST_CHECK(!store.source("other.example", v4(192, 0, 2, 1)));

  BOOST_CHECK(!store.cursor("dmarcwatchd"));
  store.setCursor("dmarcwatchd", second);
  BOOST_CHECK(store.cursor("dmarcwatchd") == std::optional<uint64_t>(second));

  BOOST_CHECK(!store.alertState("unknown-sender example.com 192.0.2.1"));
  Store::AlertState state{s_now - 100, s_now, s_now - 50, 3, 0, 0, {}};
  store.setAlertState("unknown-sender example.com 192.0.2.1", state);
  auto got = store.alertState("unknown-sender example.com 192.0.2.1");
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(got->firstSeen, s_now - 100);
  BOOST_CHECK_EQUAL(got->lastEmitted, s_now - 50);
  BOOST_CHECK_EQUAL(got->count, 3U);
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_CASE(copy_report_between_stores)
{
  TempDir tmp;
  Store from((tmp.path() / "a").string(), testOptions());
  Store to((tmp.path() / "b").string(), testOptions());
  const uint32_t day = s_today - 1;
  storeReport(to, "other", "example.com", day, {makeRecord(v4(198, 51, 100, 1), 2, false, "x.example", "x.example")});
  const uint64_t seq = storeReport(from, "c", "example.com", day,
                                   {makeRecord(v4(192, 0, 2, 1), 5, true), makeRecord(std::nullopt, 1, false)});
  std::map<uint64_t, uint64_t> payloads;
  const uint64_t copied = to.copyReport(from, seq, payloads);
  BOOST_CHECK_EQUAL(copied, 2U);
  BOOST_CHECK_EQUAL(factMessages(to, "example.com", day, day), 8U);
  BOOST_CHECK(to.verify().empty());
  // Dedup carries over.
  auto again = storeReportResult(to, "c", "example.com", day,
                                 {makeRecord(v4(192, 0, 2, 1), 5, true), makeRecord(std::nullopt, 1, false)});
  BOOST_CHECK(again.status == StoreStatus::Duplicate);
}

BOOST_AUTO_TEST_CASE(reindex_lock_is_exclusive)
{
  TempDir tmp;
  Store shared(tmp.path().string(), testOptions());
  auto options = testOptions();
  options.sharing = Store::Sharing::Exclusive;
  try {
    Store alone(tmp.path().string(), options);
    BOOST_ERROR("an exclusive open beside a read-write one succeeded");
  }
  catch (const StoreError& e) {
    BOOST_CHECK_MESSAGE(std::string(e.what()).find("stop it first") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(a_big_report_does_not_hold_the_write_lock)
{
  // While one writer is in the middle of a report (parsing: between addRecord calls, chunks
  // already written), another thread stores a small report at once.  Schema 1 held the write
  // transaction from beginReport to commit: the small one waited for the whole big one.
  TempDir tmp;
  auto options = testOptions();
  options.chunkRows = 5000;
  Store store(tmp.path().string(), options);
  const uint32_t day = s_today - 1;
  auto big = store.beginReport(makeHeader("google.com", "big", "example.com", dayStart(day), dayStart(day + 1)));
  Record record = makeRecord(std::nullopt, 1, true);
  for (uint32_t i = 0; i < 12'000; ++i) {
    IpAddress ip;
    storeformat::writeU32(ip.bytes.data() + 12, i + 1);
    record.sourceIp = ip;
    big->addRecord(record);
  }
  auto small = std::async(std::launch::async, [&] {
    auto started = std::chrono::steady_clock::now();
    storeReport(store, "small", "example.com", day, {makeRecord(v4(192, 0, 2, 1), 3, true)}, "yahoo.com");
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  });
  const bool alongside = small.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  BOOST_CHECK(commitWith(*big, 12'000, 12'000).status == StoreStatus::Stored);
  const double waited = small.get(); // after the big commit at the latest
  BOOST_CHECK_MESSAGE(alongside, "the small report waited for the big one (" << waited << " s)");
  BOOST_TEST_MESSAGE("small report stored in " << waited << " s while the big one was being parsed");
  BOOST_CHECK_EQUAL(factMessages(store, "example.com", day, day), 12'003U);
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_SUITE_END()
