/*
 * test-alert-store.cc - the store's alert tables: a pass's alerts, states and
 * cursor are written together; unsent alerts are found again (the outbox a
 * crash leaves); marking sends; the log lists by time; states are found by
 * prefix; a state written before the added fields still decodes; verify reads
 * the log.
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

Store::AlertLogEntry entry(int64_t time, const std::string& domain, const std::string& key, const std::string& payload)
{
  Store::AlertLogEntry e;
  e.time = time;
  e.domain = domain;
  e.key = key;
  e.payload = payload;
  return e;
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_alert_store)

BOOST_AUTO_TEST_CASE(a_pass_is_recorded_then_sent)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  BOOST_CHECK(store.pendingAlerts().empty());

  Store::AlertCommit commit;
  commit.alerts.push_back(entry(s_now - 10, "example.com", "spoofing|example.com", "one"));
  commit.alerts.push_back(entry(s_now, "example.org", "report-gap|example.org|google.com", "two"));
  commit.alerts.push_back(entry(s_now, "example.org", "new-sender|example.org|x", "covered"));
  commit.alerts.back().emitted = true; // in a burst's summary: listed, never sent alone
  Store::AlertState state;
  state.firstSeen = s_now - 10;
  state.lastSeen = s_now;
  state.lastEmitted = s_now;
  state.count = 3;
  state.severity = 4;
  state.value = 310;
  state.note = "band=mid";
  commit.states.emplace_back("spoofing|example.com", state);
  commit.cursors.emplace_back("dmarcwatchd", 42);
  auto numbers = store.commitAlerts(commit);
  BOOST_CHECK(numbers == (std::vector<uint64_t>{1, 2, 3}));
  // A pass that began before this one recorded: nothing of it is written.
  Store::AlertCommit late;
  late.alerts.push_back(entry(s_now, "example.com", "spoofing|example.com", "late"));
  late.cursors.emplace_back("dmarcwatchd", 40);
  late.expectCursor = std::pair<std::string, uint64_t>{"dmarcwatchd", 0};
  BOOST_CHECK(!store.commitAlerts(late));
  BOOST_CHECK_EQUAL(store.cursor("dmarcwatchd").value_or(0), 42U);
  late.expectCursor = std::pair<std::string, uint64_t>{"dmarcwatchd", 42};
  late.alerts.clear();
  late.cursors = {{"dmarcwatchd", 42}};
  BOOST_CHECK(store.commitAlerts(late) == (std::vector<uint64_t>{}));
  BOOST_CHECK_EQUAL(store.cursor("dmarcwatchd").value_or(0), 42U);

  auto got = store.alertState("spoofing|example.com");
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(got->count, 3U);
  BOOST_CHECK_EQUAL(got->severity, 4);
  BOOST_CHECK_EQUAL(got->value, 310U);
  BOOST_CHECK_EQUAL(got->note, "band=mid");

  auto pending = store.pendingAlerts();
  BOOST_REQUIRE_EQUAL(pending.size(), 2U);
  BOOST_CHECK_EQUAL(pending[0].payload, "one");
  BOOST_CHECK(!pending[0].emitted);
  BOOST_CHECK_EQUAL(pending[1].key, "report-gap|example.org|google.com");

  store.markAlertsEmitted({1}, s_now + 1);
  pending = store.pendingAlerts();
  BOOST_REQUIRE_EQUAL(pending.size(), 1U);
  BOOST_CHECK_EQUAL(pending[0].number, 2U);

  // The next pass numbers on.
  Store::AlertCommit next;
  next.alerts.push_back(entry(s_now + 5, "example.com", "new-sender|example.com|sendgrid", "three"));
  BOOST_CHECK(store.commitAlerts(next) == (std::vector<uint64_t>{4}));

  std::vector<std::string> since;
  store.forEachAlert(s_now, [&](const Store::AlertLogEntry& e) {
    since.push_back(e.payload + (e.emitted ? "+" : "-"));
  });
  BOOST_CHECK(since == (std::vector<std::string>{"two-", "covered+", "three-"}));
  std::vector<std::string> all;
  store.forEachAlert(INT64_MIN, [&](const Store::AlertLogEntry& e) { all.push_back(e.payload); });
  BOOST_CHECK_EQUAL(all.size(), 4U);
  auto after = store.reportsAfter(0, 10);
  BOOST_CHECK(after.empty());
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_CASE(states_by_prefix_and_the_old_format)
{
  TempDir tmp;
  {
    Store store(tmp.path().string(), testOptions());
    Store::AlertState state;
    state.note = "x";
    Store::AlertCommit commit;
    for (const char* key : {"seen|a.example|sendgrid", "seen|a.example|zendesk", "seen|b.example|sendgrid", "spoofing|a.example"}) {
      commit.states.emplace_back(key, state);
    }
    store.commitAlerts(commit);
    std::vector<std::string> keys;
    store.forEachAlertState("seen|a.example|", [&](std::string_view key, const Store::AlertState&) {
      keys.emplace_back(key);
    });
    BOOST_CHECK(keys == (std::vector<std::string>{"seen|a.example|sendgrid", "seen|a.example|zendesk"}));
    keys.clear();
    store.forEachAlertState("", [&](std::string_view key, const Store::AlertState&) { keys.emplace_back(key); });
    BOOST_CHECK_EQUAL(keys.size(), 4U);
  }
  // A state as the store wrote it before severity, value and note: [01][zigzag x3][varint].
  {
    MDB_env* env = nullptr;
    BOOST_REQUIRE_EQUAL(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 32);
    BOOST_REQUIRE_EQUAL(mdb_env_open(env, tmp.path().c_str(), MDB_NOTLS, 0640), 0);
    MDB_txn* txn = nullptr;
    BOOST_REQUIRE_EQUAL(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi dbi = 0;
    BOOST_REQUIRE_EQUAL(mdb_dbi_open(txn, "alerts", 0, &dbi), 0);
    const std::string key = "old|a.example";
    const std::string value("\x01\x04\x06\x08\x07", 5); // first 2, last 3, emitted 4, count 7
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    BOOST_REQUIRE_EQUAL(mdb_put(txn, dbi, &k, &v, 0), 0);
    BOOST_REQUIRE_EQUAL(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  Store store(tmp.path().string(), testOptions());
  auto old = store.alertState("old|a.example");
  BOOST_REQUIRE(old);
  BOOST_CHECK_EQUAL(old->firstSeen, 2);
  BOOST_CHECK_EQUAL(old->lastSeen, 3);
  BOOST_CHECK_EQUAL(old->lastEmitted, 4);
  BOOST_CHECK_EQUAL(old->count, 7U);
  BOOST_CHECK_EQUAL(old->severity, 0);
  BOOST_CHECK_EQUAL(old->note, "");
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_CASE(old_sent_alerts_are_pruned)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  Store::AlertCommit commit;
  commit.alerts.push_back(entry(100, "example.com", "a", "old sent"));
  commit.alerts.back().emitted = true;
  commit.alerts.push_back(entry(200, "example.com", "b", "old pending"));
  commit.alerts.push_back(entry(300, "example.com", "c", "old sent after it"));
  commit.alerts.back().emitted = true;
  store.commitAlerts(commit);
  Store::AlertCommit next;
  next.pruneBefore = 1000;
  next.alerts.push_back(entry(2000, "example.com", "d", "new"));
  store.commitAlerts(next);
  std::vector<std::string> left;
  store.forEachAlert(INT64_MIN, [&](const Store::AlertLogEntry& e) { left.push_back(e.payload); });
  // The oldest sent one goes; the pending one stays, and what follows it with it (in order).
  BOOST_CHECK(left == (std::vector<std::string>{"old pending", "old sent after it", "new"}));
}

BOOST_AUTO_TEST_SUITE_END()
