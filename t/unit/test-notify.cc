/*
 * test-notify.cc - the store's wake-up path (store/notify.hh): a notification
 * without a listener is harmless and cheap, a committed report wakes a
 * waiting receiver (a duplicate and an enrichment write do not), a second
 * receiver on a live socket is refused while a stale socket file is replaced,
 * a stop request ends a wait, a removed socket file is bound again, and a path
 * too long for sun_path leaves the receiver unusable but waiting.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/store/notify.hh"
#include "collector/store/store.hh"
#include "t/unit/store-fixture.hh"
#include "t/unit/test-util.hh"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace
{

double millisecondsSince(Clock::time_point start)
{
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

//! A datagram socket bound at path and closed without unlinking: what a killed daemon leaves.
void leaveStaleSocket(const std::string& path)
{
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  BOOST_REQUIRE_EQUAL(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  ::close(fd);
}

void writeFile(const std::string& path, const std::string& text)
{
  std::ofstream out(path, std::ios::binary);
  out << text;
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_notify)

BOOST_AUTO_TEST_CASE(notify_without_listener_is_harmless_and_cheap)
{
  TempDir tmp;
  StoreNotifier notifier(tmp.path().string());
  constexpr int s_calls = 10000;
  errno = EDOM;
  const auto start = Clock::now();
  for (int i = 0; i < s_calls; ++i) {
    notifier.notify();
  }
  const double microseconds = millisecondsSince(start) * 1000.0 / s_calls;
  BOOST_TEST_MESSAGE("a notification nobody listens to: " << microseconds << " us");
  BOOST_CHECK_EQUAL(errno, EDOM); // left as it was
  BOOST_CHECK(!std::filesystem::exists(notifySocketPath(tmp.path().string())));
  BOOST_CHECK_LT(microseconds, 100.0);

  // A regular file in the way, a missing directory: ignored as well.
  writeFile(notifySocketPath(tmp.path().string()), "not a socket");
  notifier.notify();
  notifyStore((tmp.path() / "missing").string());
  BOOST_CHECK_EQUAL(readFile(notifySocketPath(tmp.path().string())), "not a socket");
}

BOOST_AUTO_TEST_CASE(stored_report_wakes_a_waiting_receiver)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  StoreNotifications notifications(tmp.path().string());
  BOOST_REQUIRE(notifications.usable());
  struct stat st{};
  BOOST_REQUIRE_EQUAL(::lstat(notifications.path().c_str(), &st), 0);
  BOOST_CHECK(S_ISSOCK(st.st_mode));
  BOOST_CHECK_EQUAL(st.st_mode & 0777, 0660U);

  // Nothing stored yet: the wait times out.
  BOOST_CHECK(!notifications.wait(milliseconds(50)));

  // Step: a report stored while the receiver waits wakes it at once.
  auto waiting = std::async(std::launch::async, [&] { return notifications.wait(milliseconds(5000)); });
  std::this_thread::sleep_for(milliseconds(100));
  const auto stored = Clock::now();
  BOOST_REQUIRE(storeReportResult(store, "r1", "example.com", s_today - 1, {makeRecord(v4(192, 0, 2, 1), 5, true)})
                  .status == StoreStatus::Stored);
  BOOST_CHECK(waiting.get());
  const double latency = millisecondsSince(stored);
  BOOST_TEST_MESSAGE("store commit to wake-up: " << latency << " ms");
  BOOST_CHECK_LT(latency, 1000.0);

  // Step: several reports while nobody waits: one wait takes them all.
  storeReportResult(store, "r2", "example.com", s_today - 1, {makeRecord(v4(192, 0, 2, 2), 5, true)});
  storeReportResult(store, "r3", "example.com", s_today - 1, {makeRecord(v4(192, 0, 2, 3), 5, true)});
  BOOST_CHECK(notifications.wait(milliseconds(1000)));
  BOOST_CHECK(!notifications.wait(milliseconds(50)));

  // Step: a duplicate stores nothing, and the daemon's own enrichment writes wake nobody.
  BOOST_CHECK(storeReportResult(store, "r3", "example.com", s_today - 1, {makeRecord(v4(192, 0, 2, 3), 5, true)})
                .status == StoreStatus::Duplicate);
  IpEnrichment enrichment;
  enrichment.checkedAt = s_now;
  enrichment.expiresAt = s_now + 3600;
  store.putIpEnrichment(v4(192, 0, 2, 3), enrichment);
  BOOST_CHECK(!notifications.wait(milliseconds(100)));

  // Step: restoring a quarantined report makes it active again: a wake-up.
  const auto r4 = storeReportResult(store, "r4", "example.com", s_today - 1, {makeRecord(v4(192, 0, 2, 4), 5, true)});
  BOOST_CHECK(notifications.wait(milliseconds(1000)));
  store.setReportState(r4.sequence, ReportState::Quarantined, "test");
  BOOST_CHECK(!notifications.wait(milliseconds(100)));
  store.setReportState(r4.sequence, ReportState::Active, "");
  BOOST_CHECK(notifications.wait(milliseconds(1000)));
}

BOOST_AUTO_TEST_CASE(second_receiver_on_a_live_socket_is_refused)
{
  TempDir tmp;
  const std::string dir = tmp.path().string();
  {
    StoreNotifications first(dir);
    BOOST_REQUIRE(first.usable());
    try {
      StoreNotifications second(dir);
      BOOST_ERROR("a second receiver bound a live socket");
    }
    catch (const StoreError& e) {
      BOOST_CHECK_EQUAL(e.rc(), EADDRINUSE);
    }
    // The first one still gets its notifications.
    notifyStore(dir);
    BOOST_CHECK(first.wait(milliseconds(1000)));
  }
  // Gone with its owner.
  BOOST_CHECK(!std::filesystem::exists(notifySocketPath(dir)));

  // A socket file nobody answers on (a killed daemon's): notifying it is cheap too (ECONNREFUSED).
  leaveStaleSocket(notifySocketPath(dir));
  StoreNotifier notifier(dir);
  constexpr int s_calls = 10000;
  const auto start = Clock::now();
  for (int i = 0; i < s_calls; ++i) {
    notifier.notify();
  }
  const double microseconds = millisecondsSince(start) * 1000.0 / s_calls;
  BOOST_TEST_MESSAGE("a notification to a stale socket: " << microseconds << " us");
  BOOST_CHECK_LT(microseconds, 100.0);
  // Such a socket is replaced.
  StoreNotifications third(dir);
  BOOST_CHECK(third.usable());
  notifyStore(dir);
  BOOST_CHECK(third.wait(milliseconds(1000)));

  // Anything else in the way is left alone: the receiver is unusable and says why.
  TempDir other;
  writeFile(notifySocketPath(other.path().string()), "mine");
  StoreNotifications blocked(other.path().string());
  BOOST_CHECK(!blocked.usable());
  BOOST_CHECK_NE(blocked.error(), "");
  BOOST_CHECK_EQUAL(readFile(notifySocketPath(other.path().string())), "mine");
}

BOOST_AUTO_TEST_CASE(stop_request_ends_a_wait)
{
  TempDir tmp;
  StoreNotifications notifications(tmp.path().string());
  auto waiting = std::async(std::launch::async, [&] { return notifications.wait(milliseconds(10000)); });
  std::this_thread::sleep_for(milliseconds(100));
  const auto asked = Clock::now();
  notifications.requestStop();
  BOOST_CHECK(!waiting.get());
  BOOST_CHECK_LT(millisecondsSince(asked), 500.0);
  BOOST_CHECK(notifications.stopRequested());
  // Later waits return at once, even with a notification queued.
  notifyStore(tmp.path().string());
  const auto again = Clock::now();
  BOOST_CHECK(!notifications.wait(milliseconds(2000)));
  BOOST_CHECK_LT(millisecondsSince(again), 100.0);
}

BOOST_AUTO_TEST_CASE(removed_socket_is_bound_again)
{
  TempDir tmp;
  StoreNotifications notifications(tmp.path().string());
  BOOST_REQUIRE(notifications.usable());
  ::unlink(notifications.path().c_str());
  // Noticed within a second; counts as a wake-up, and the path works again.
  const auto start = Clock::now();
  BOOST_CHECK(notifications.wait(milliseconds(3000)));
  BOOST_CHECK_LT(millisecondsSince(start), 1500.0);
  BOOST_CHECK(notifications.usable());
  notifyStore(tmp.path().string());
  BOOST_CHECK(notifications.wait(milliseconds(1000)));
}

BOOST_AUTO_TEST_CASE(path_too_long_for_sun_path)
{
  TempDir tmp;
  const auto deep = tmp.path() / std::string(120, 'd');
  std::filesystem::create_directory(deep);
  StoreNotifications notifications(deep.string());
  BOOST_CHECK(!notifications.usable());
  BOOST_CHECK_NE(notifications.error().find("too long"), std::string::npos);
  const auto start = Clock::now();
  BOOST_CHECK(!notifications.wait(milliseconds(100)));
  BOOST_CHECK_GE(millisecondsSince(start), 90.0);
  StoreNotifier(deep.string()).notify(); // nothing to send to, nothing happens
}

BOOST_AUTO_TEST_SUITE_END()
