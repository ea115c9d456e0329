/*
 * daemon-loop.hh - when dmarcwatchd runs a pass, and the pass's frame: the
 * store opened for it, its one log line, its failure contained.
 *
 * A pass runs
 *   - at start (a full one),
 *   - when a writer notified the store's socket (store/notify.hh): within
 *     about a second of a report being stored,
 *   - at least every PollInterval without a notification,
 *   - every EnrichInterval as a full pass (full = true): every source whose
 *     enrichment expires is checked again, not only the new ones.
 * What a pass does is the caller's RunPass (dmarcwatchd.cc: DNS enrichment;
 * later also the alert rules).  The store is opened for each pass and closed
 * after it, so `dmarcwatch reindex` can have it alone between passes.
 *
 * Users: collector/daemon/dmarcwatchd.cc.  Thread-safety: run() on one thread;
 * requestStop(), setConfig() and config() from any other (the signal thread).
 * Errors: nothing escapes run(): a failed pass (an exception from opening the
 * store or from RunPass) is logged, and the loop waits for the next reason to
 * run one.
 */
#pragma once

#include "collector/common/config.hh"
#include "collector/store/notify.hh"
#include "collector/store/store.hh"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace dmarcwatch::collector
{

//! What one pass did.
struct PassResult
{
  //! One line of key=value pairs ("sources=3 enriched=3 ..."): the pass's log line and --once.
  std::string summary;
  //! The pass ended early because a stop was asked (DaemonLoop::stopFlag()).
  bool stopped = false;
};

class DaemonLoop
{
public:
  /*!
   * One pass.  full: the EnrichInterval pass (re-check what expires) rather than only what is
   * new since the last pass.  It should end within about 100 ms once stopFlag() is true, and
   * leave the store correct when it does (what it did not write is done by a later pass).
   * May throw; the loop logs it.
   */
  using RunPass = std::function<PassResult(Store& store, bool full)>;

  /*!
   * \param notifications the store's socket, bound (nullptr or unusable: poll only)
   */
  DaemonLoop(std::shared_ptr<const Config> config, RunPass runPass, std::unique_ptr<StoreNotifications> notifications);

  /*!
   * \brief Run passes until requestStop().  Blocks.  Never throws.
   */
  void run() noexcept;
  /*!
   * \brief One pass now (dmarcwatchd --once), logged like the loop's.
   * \return its result, or nullopt when it failed (logged)
   */
  std::optional<PassResult> runOnce(bool full, std::string_view trigger) noexcept;

  //! \brief End run() within about a second: the wait ends at once, a pass at its next stop check.
  void requestStop() noexcept;
  //! True once a stop is asked: RunPass hands it on (EnrichOptions::stop).
  [[nodiscard]] const std::atomic<bool>& stopFlag() const { return d_stop; }

  //! \brief A reloaded configuration: PollInterval and EnrichInterval apply from the next wait.
  void setConfig(std::shared_ptr<const Config> config);
  [[nodiscard]] std::shared_ptr<const Config> config() const;

private:
  //! \brief Wait up to timeout for a notification or a stop. \return true when notified
  bool wait(std::chrono::milliseconds timeout);

  mutable std::mutex d_mutex; //!< d_config
  std::shared_ptr<const Config> d_config;
  RunPass d_runPass;
  std::unique_ptr<StoreNotifications> d_notifications;
  std::atomic<bool> d_stop{false};
};

} // namespace dmarcwatch::collector
