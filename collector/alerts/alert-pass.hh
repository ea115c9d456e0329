/*
 * alert-pass.hh - one pass of dmarcwatchd's alerts over the store.
 *
 *   1. send what an earlier pass recorded and could not send (a crash, syslog down);
 *   2. follow the report sequence from the daemon's cursor: the domains of the
 *      new reports (and, in a full pass, every domain) are judged (the daemon
 *      enriches the new sources before, daemon/daemon-pass.hh);
 *   3. every enabled rule (rules.hh) over each domain's picture gives findings
 *      (the reports the trust settings flag left out: domain-picture.hh alertsLeaveOut);
 *      a finding is sent unless the same alert was sent within AlertRepeat and
 *      has not escalated (a worse severity, or twice the messages); more than
 *      AlertBurst of one rule and domain become one summary line;
 *   4. the alerts, the alert states and the cursor are recorded in one
 *      transaction; then each alert is sent and marked sent.
 * A pass killed before 4 is redone from the same cursor; killed after it, the
 * next pass sends what is unsent (1).  So each alert is sent once (a kill
 * between handing one line to syslog and marking it sends that one again,
 * with the same id).  The write transactions are short: the milter never
 * waits long for the store.
 *
 * Users: collector/daemon (dmarcwatchd), the alert tests.  Thread-safety: one
 * pass at a time per store.  Errors: StoreError propagates; the sink must not
 * throw (a false return leaves the alert unsent for the next pass).
 */
#pragma once

#include "collector/alerts/alert.hh"
#include "collector/alerts/rules.hh"
#include "collector/common/config.hh"
#include "collector/views/sources-view.hh"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace dmarcwatch::collector
{

//! Hands one alert to syslog; true when it was taken.  Must not throw.
using AlertSink = std::function<bool(const Alert&)>;

struct AlertPassOptions
{
  bool full = false;            //!< judge every domain, and the time rules (EnrichInterval)
  size_t maxReports = 20000;    //!< new reports followed per pass (the rest: next pass)
  //! Follow no report past this sequence: the daemon's enrichment got this far, and a report
  //! is judged only once its sources were looked up.
  uint64_t through = UINT64_MAX;
  std::string cursorName = "dmarcwatchd";
  //! Tests: called at "recorded" (after the transaction) and "sent" (after each alert is marked).
  std::function<void(const char* point, size_t sent)> checkpoint;
  //! Stop early (between domains, before recording): the pass is redone later.
  std::function<bool()> stopRequested;
};

struct AlertPassSummary
{
  uint64_t reports = 0;    //!< new reports followed
  uint64_t domains = 0;    //!< domains judged
  uint64_t findings = 0;   //!< before the repeat window
  uint64_t raised = 0;     //!< alerts recorded (a summary counts once, its members not)
  uint64_t summarised = 0; //!< alerts folded into summaries
  uint64_t sent = 0;       //!< handed to syslog in this pass (earlier ones included)
  uint64_t unsent = 0;     //!< still waiting (syslog refused)
  uint64_t cursor = 0;     //!< the report sequence followed up to
  bool stopped = false;    //!< stopRequested ended it before recording
  double seconds = 0;
};

class AlertPass
{
public:
  //! \brief The rules of config, naming by namer (both must outlive the pass).
  AlertPass(const Config& config, const Namer& namer);

  /*!
   * \brief One pass (file comment) at time `now`.
   * \throw StoreError
   */
  AlertPassSummary run(Store& store, const NetworkLookup& lookup, const AlertSink& sink,
                       const AlertPassOptions& options, int64_t now);

  /*!
   * \brief Send the recorded alerts not yet sent, oldest first, until the sink refuses one.
   * \return sent and still unsent.  \throw StoreError
   */
  static std::pair<uint64_t, uint64_t> sendPending(Store& store, const AlertSink& sink,
                                                   const AlertPassOptions& options, int64_t now);

private:
  const Config& d_config;
  const Namer& d_namer;
};

} // namespace dmarcwatch::collector
