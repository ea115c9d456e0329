/*
 * test-daemon-loop.cc - when dmarcwatchd's loop (daemon/daemon-loop.hh) runs
 * a pass: a full one at start, a quick one when the store's socket is
 * notified, one every PollInterval, a full one every EnrichInterval; a stop
 * ends a wait and a pass that watches stopFlag() at once; a pass that throws
 * is logged and the loop goes on; without a socket it polls.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/daemon/daemon-loop.hh"
#include "t/unit/log-capture.hh"
#include "t/unit/test-util.hh"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace
{

//! The passes a loop ran: whether full, and when.
class Passes
{
public:
  void add(bool full)
  {
    std::lock_guard lock(d_mutex);
    d_full.push_back(full);
    d_changed.notify_all();
  }
  //! \brief Wait until there are n passes. \return false on timeout
  bool waitFor(size_t n, milliseconds timeout)
  {
    std::unique_lock lock(d_mutex);
    return d_changed.wait_for(lock, timeout, [&] { return d_full.size() >= n; });
  }
  [[nodiscard]] std::vector<bool> full() const
  {
    std::lock_guard lock(d_mutex);
    return d_full;
  }

private:
  mutable std::mutex d_mutex;
  std::condition_variable d_changed;
  std::vector<bool> d_full;
};

std::shared_ptr<const Config> configFor(const TempDir& tmp, seconds poll, seconds enrich)
{
  auto config = std::make_shared<Config>();
  config->database = tmp.path().string();
  config->mapSize = 1ULL << 20;
  config->pollInterval = poll;
  config->enrichInterval = enrich;
  return config;
}

//! A store directory, captured log lines and the passes a loop ran.
struct LoopFixture
{
  //! A pass that records itself and answers result.
  DaemonLoop::RunPass recording(PassResult result = {})
  {
    return [this, result](Store&, bool full) {
      passes.add(full);
      return result;
    };
  }
  //! The store directory's socket, bound.
  [[nodiscard]] std::unique_ptr<StoreNotifications> socket() const
  {
    return std::make_unique<StoreNotifications>(tmp.path().string());
  }
  TempDir tmp;
  LogCapture log;
  Passes passes;
};

double millisecondsSince(Clock::time_point start)
{
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_daemon_loop)

BOOST_FIXTURE_TEST_CASE(start_notification_and_stop, LoopFixture)
{
  DaemonLoop loop(configFor(tmp, seconds(60), seconds(3600)), recording({"did=nothing", false}), socket());
  std::thread thread([&loop] { loop.run(); });

  // Step: a full pass at start, then nothing until a notification (PollInterval is 60 s).
  BOOST_CHECK(passes.waitFor(1, milliseconds(2000)));
  BOOST_CHECK(!passes.waitFor(2, milliseconds(300)));
  const auto notified = Clock::now();
  notifyStore(tmp.path().string());
  BOOST_CHECK(passes.waitFor(2, milliseconds(1000)));
  BOOST_TEST_MESSAGE("notification to pass: " << millisecondsSince(notified) << " ms");
  BOOST_CHECK_LT(millisecondsSince(notified), 1000.0);

  // Step: a stop ends the wait at once.
  const auto asked = Clock::now();
  loop.requestStop();
  thread.join();
  BOOST_CHECK_LT(millisecondsSince(asked), 500.0);
  BOOST_CHECK((passes.full() == std::vector<bool>{true, false}));
  BOOST_CHECK_EQUAL(log.count({"pass trigger=start full=yes", "did=nothing", "seconds="}), 1U);
  BOOST_CHECK_EQUAL(log.count({"pass trigger=notified full=no"}), 1U);
}

BOOST_FIXTURE_TEST_CASE(poll_and_enrich_intervals, LoopFixture)
{
  // Step: PollInterval 1 s, EnrichInterval 60 s: quick passes every second.
  DaemonLoop loop(configFor(tmp, seconds(1), seconds(60)), recording(), socket());
  std::thread thread([&loop] { loop.run(); });
  BOOST_CHECK(passes.waitFor(3, milliseconds(3500)));
  // Step: a reload to EnrichInterval 1 s: full passes from the next wait on.
  loop.setConfig(configFor(tmp, seconds(60), seconds(1)));
  const size_t before = passes.full().size();
  BOOST_CHECK(passes.waitFor(before + 2, milliseconds(3500)));
  loop.requestStop();
  thread.join();
  const auto full = passes.full();
  BOOST_REQUIRE_GE(full.size(), before + 2);
  BOOST_CHECK(full[0]);
  BOOST_CHECK(!full[1]);
  BOOST_CHECK(!full[2]);
  BOOST_CHECK(full[before + 1]);
  BOOST_CHECK_GE(log.count({"pass trigger=poll full=no"}), 2U);
  BOOST_CHECK_GE(log.count({"pass trigger=enrich-interval full=yes"}), 1U);
}

BOOST_FIXTURE_TEST_CASE(failing_pass_is_logged_and_the_loop_goes_on, LoopFixture)
{
  DaemonLoop loop(configFor(tmp, seconds(60), seconds(3600)),
                  [this](Store&, bool full) -> PassResult {
                    passes.add(full);
                    throw std::runtime_error("resolver exploded");
                  },
                  socket());
  std::thread thread([&loop] { loop.run(); });
  BOOST_CHECK(passes.waitFor(1, milliseconds(2000)));
  notifyStore(tmp.path().string());
  BOOST_CHECK(passes.waitFor(2, milliseconds(1000)));
  loop.requestStop();
  thread.join();
  BOOST_CHECK_EQUAL(log.count({"pass failed", "error=\"resolver exploded\""}), 2U);
  // The failed full pass is tried again as a full one (at the next poll).
  BOOST_CHECK((passes.full() == std::vector<bool>{true, false}));
}

BOOST_FIXTURE_TEST_CASE(stop_ends_a_pass_that_watches_the_flag, LoopFixture)
{
  DaemonLoop* self = nullptr;
  DaemonLoop loop(configFor(tmp, seconds(60), seconds(3600)),
                  [this, &self](Store&, bool full) {
                    passes.add(full);
                    while (!self->stopFlag().load()) {
                      std::this_thread::sleep_for(milliseconds(10));
                    }
                    return PassResult{"half", true};
                  },
                  nullptr); // no socket: the loop polls, a stop still ends it
  self = &loop;
  std::thread thread([&loop] { loop.run(); });
  BOOST_CHECK(passes.waitFor(1, milliseconds(2000)));
  const auto asked = Clock::now();
  loop.requestStop();
  thread.join();
  BOOST_CHECK_LT(millisecondsSince(asked), 500.0);
  BOOST_CHECK_EQUAL(log.count({"pass stopped trigger=start full=yes result=half"}), 1U);
  BOOST_CHECK_EQUAL(passes.full().size(), 1U);
}

BOOST_FIXTURE_TEST_CASE(run_once_reports_failure, LoopFixture)
{
  DaemonLoop ok(configFor(tmp, seconds(60), seconds(3600)),
                [](Store&, bool full) { return PassResult{full ? "full" : "quick", false}; }, nullptr);
  auto result = ok.runOnce(true, "once");
  BOOST_REQUIRE(result);
  BOOST_CHECK_EQUAL(result->summary, "full");
  DaemonLoop failing(configFor(tmp, seconds(60), seconds(3600)),
                     [](Store&, bool) -> PassResult { throw StoreError("open", 13, "denied"); }, nullptr);
  BOOST_CHECK(!failing.runOnce(true, "once"));
  BOOST_CHECK_EQUAL(log.count({"pass failed trigger=once"}), 1U);
}

BOOST_AUTO_TEST_SUITE_END()
