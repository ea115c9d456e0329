/*
 * domain-picture.hh - what the alert rules look at for one policy domain:
 * its sources and services over the alert window, named and classified
 * (views/sources-view.hh), the published and live policy, how far its data
 * goes back, and what each reporter sent lately.  Reports whose verdict the
 * settings do not count for alerts (alertsLeaveOut) are left out of it.
 *
 * Users: alerts/rules and alerts/alert-pass.  Thread-safety: plain functions
 * over a Store.  Errors: StoreError.
 */
#pragma once

#include "collector/common/config.hh"
#include "collector/store/row-reader.hh"
#include "collector/views/domain-policy.hh"
#include "collector/views/sources-view.hh"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmarcwatch::collector
{

inline constexpr int64_t s_secondsPerDay = 86400;

//! One reporter's recent reports for a domain.
struct ReporterActivity
{
  std::string org;             //!< org_name as reported
  int64_t lastEnd = 0;         //!< the end of its latest report's period (never after it arrived)
  std::vector<uint32_t> days;  //!< distinct UTC days its reports began on, the 8 days ending with lastEnd's
};

struct DomainPicture
{
  std::string domain;                 //!< lower case
  uint32_t today = 0;
  uint32_t coveredDays = 1;           //!< days of the window with data behind them (at least 1)
  std::vector<NamedSource> sources;   //!< over the alert window, most messages first
  std::vector<NamedService> services; //!< what they add up to
  std::vector<NamedService> history;  //!< over s_historyDays (only when asked: a baseline)
  EffectivePolicy policy;
  std::optional<LivePolicy> live;
  std::optional<std::pair<uint32_t, uint32_t>> dataDays; //!< first and last day with data, ever
  std::vector<ReporterActivity> reporters; //!< reporters with a report ending in the last 40 days
  //! The verdicts whose reports it leaves out (alertsLeaveOut): none of their rows, none of their activity.
  AuthenticitySet leftOut = 0;

  //! \brief A window's total as a daily rate (rounded up): what escalation compares, so a window
  //! that fills up day by day is no escalation.
  [[nodiscard]] uint64_t perDay(uint64_t total) const { return total / coveredDays + (total % coveredDays != 0); }
};

//! Days of history a domain's baseline of senders is learnt from.
inline constexpr uint32_t s_historyDays = 90;

/*!
 * \brief The verdicts whose reports raise no alerts under the current settings: those whose
 * action (UntrustedReports for forged, UnauthenticatedReports for unauthenticated reports) is
 * not `count`.  Under `flag` such reports are stored and counted in the totals but the alert
 * rules never see them; under quarantine or reject new ones are not counted at all, and those
 * stored before under count or flag are judged as flagged.
 */
AuthenticitySet alertsLeaveOut(const TrustSettings& trust);

/*!
 * \brief The picture of a domain over the `windowDays` days ending today (now's UTC day);
 * with `withHistory` also the services of the last s_historyDays.  The counted reports with a
 * verdict in `leaveOut` are left out: their rows (sources, services, history) and their
 * reporters' activity.  \throw StoreError
 */
DomainPicture buildPicture(const Store& store, const Namer& namer, const NetworkLookup& lookup,
                           const std::string& domain, int64_t now, uint32_t windowDays, bool withHistory = false,
                           AuthenticitySet leaveOut = 0);

/*!
 * \brief The same domain over another window: base's policy, reporters and data days (read once
 * per pass), the sources and services of `windowDays` read anew (leaving out what base does).
 * \throw StoreError
 */
DomainPicture pictureOver(const DomainPicture& base, const Store& store, const Namer& namer,
                          const NetworkLookup& lookup, uint32_t windowDays);

//! \brief Percent of pass in total, rounded down; 0 when total is 0.
unsigned passPercent(uint64_t pass, uint64_t total);

} // namespace dmarcwatch::collector
