/*
 * daemon-loop.cc - dmarcwatchd's passes and the waits between them (daemon-loop.hh).
 */
#include "config.h"

#include "collector/daemon/daemon-loop.hh"

#include "collector/common/log.hh"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace dmarcwatch::collector
{

namespace
{

using Clock = std::chrono::steady_clock;

//! Sleep slices without a notification socket: how soon a stop is seen.
constexpr std::chrono::milliseconds s_stopSlice{100};

std::string secondsText(Clock::duration elapsed)
{
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", std::chrono::duration<double>(elapsed).count());
  return text;
}

} // namespace

DaemonLoop::DaemonLoop(std::shared_ptr<const Config> config, RunPass runPass,
                       std::unique_ptr<StoreNotifications> notifications) :
  d_config(std::move(config)), d_runPass(std::move(runPass)), d_notifications(std::move(notifications))
{
}

void DaemonLoop::setConfig(std::shared_ptr<const Config> config)
{
  std::lock_guard lock(d_mutex);
  d_config = std::move(config);
}

std::shared_ptr<const Config> DaemonLoop::config() const
{
  std::lock_guard lock(d_mutex);
  return d_config;
}

void DaemonLoop::requestStop() noexcept
{
  d_stop.store(true);
  if (d_notifications) {
    d_notifications->requestStop();
  }
}

bool DaemonLoop::wait(std::chrono::milliseconds timeout)
{
  if (d_notifications) {
    const bool wasUsable = d_notifications->usable();
    const bool notified = d_notifications->wait(timeout);
    // The socket was bound again (the store directory was swapped by reindex, or the file
    // removed): say so when that failed, so the admin knows passes now wait for the poll.
    if (wasUsable && !d_notifications->usable()) {
      logWarning("store notifications lost, polling only", {{"error", printable(d_notifications->error())}});
    }
    return notified;
  }
  const auto deadline = Clock::now() + timeout;
  while (!d_stop.load() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::min<Clock::duration>(s_stopSlice, deadline - Clock::now()));
  }
  return false;
}

std::optional<PassResult> DaemonLoop::runOnce(bool full, std::string_view trigger) noexcept
{
  const auto start = Clock::now();
  try {
    // Step: the store for this pass only (closed before the wait: reindex may take it then).
    const auto config = this->config();
    Store::Options options;
    options.mapSize = config->mapSize;
    options.maxMapSize = config->maxDatabaseSize;
    options.maxRawArchiveBytes = config->limits.maxRawArchiveBytes;
    options.maxReportDays = config->limits.maxReportDays;
    PassResult result;
    {
      Store store(config->database, options);
      result = d_runPass(store, full);
    }
    logInfo(result.stopped ? "pass stopped" : "pass",
            {{"trigger", std::string(trigger)}, {"full", full ? "yes" : "no"}, {"result", result.summary},
             {"seconds", secondsText(Clock::now() - start)}});
    return result;
  }
  catch (const std::exception& e) {
    logError("pass failed", {{"trigger", std::string(trigger)}, {"full", full ? "yes" : "no"},
                             {"error", printable(e.what())}, {"seconds", secondsText(Clock::now() - start)}});
  }
  catch (...) {
    logError("pass failed", {{"trigger", std::string(trigger)}, {"error", "unknown exception"}});
  }
  return std::nullopt;
}

void DaemonLoop::run() noexcept
{
  // Step: a full pass at start; then the next one EnrichInterval (as configured now) after the
  // last full pass that ran to its end.  A failed or stopped one is tried again at the next poll.
  std::optional<Clock::time_point> lastFull;
  auto fullRetry = Clock::now();
  auto lastPass = fullRetry;
  bool notified = false;
  bool started = false;
  while (!d_stop.load()) {
    try {
      const auto config = this->config();
      const auto now = Clock::now();
      const auto nextFull = lastFull ? *lastFull + config->enrichInterval : fullRetry;
      const bool full = now >= nextFull;
      if (full || notified || now >= lastPass + config->pollInterval) {
        const std::string_view trigger =
          !started ? "start" : (full ? "enrich-interval" : (notified ? "notified" : "poll"));
        started = true;
        const auto result = runOnce(full, trigger);
        lastPass = Clock::now();
        if (full && result && !result->stopped) {
          lastFull = now;
        }
        else if (full) {
          lastFull.reset();
          fullRetry = lastPass + config->pollInterval;
        }
      }
      // Step: until a notification, the next poll or the next full pass, whichever is first.
      const auto until =
        std::min(lastPass + config->pollInterval, lastFull ? *lastFull + config->enrichInterval : fullRetry);
      const auto left = std::max<Clock::duration>(until - Clock::now(), Clock::duration::zero());
      notified = wait(std::chrono::ceil<std::chrono::milliseconds>(left));
    }
    catch (const std::exception& e) {
      // Out of memory in the loop itself: log, breathe, go on (nothing may escape the thread).
      logError("daemon loop error", {{"error", printable(e.what())}});
      wait(std::chrono::milliseconds(1000));
    }
  }
}

} // namespace dmarcwatch::collector
