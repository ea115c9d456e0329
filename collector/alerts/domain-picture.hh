/*
 * domain-picture.hh - what the alert rules look at for one policy domain:
 * its sources and services over the alert window, named and classified
 * (views/sources-view.hh), the published and live policy, how far its data
 * goes back, and what each reporter sent lately.
 *
 * Users: alerts/rules and alerts/alert-pass.  Thread-safety: plain functions
 * over a Store.  Errors: StoreError.
 */
#pragma once

#include "collector/views/sources-view.hh"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmarcwatch::collector
{

//! One reporter's recent reports for a domain.
struct ReporterActivity
{
  std::string org;             //!< org_name as reported
  int64_t lastEnd = 0;         //!< the end of its latest report's period
  std::vector<uint32_t> days;  //!< distinct UTC days its reports began on, last 8 days before lastEnd
};

//! The policy that applies now: the live record when the daemon found one, else the latest report's.
struct EffectivePolicy
{
  std::string p;      //!< none, quarantine, reject; "" unknown
  unsigned pct = 100;
  bool testing = false; //!< t=y (RFC 9990): applied as the next lower policy
  std::string from;   //!< "dns" or "reports"
  //! \brief Mail failing DMARC is quarantined or rejected now.
  [[nodiscard]] bool enforcing() const { return (p == "quarantine" || p == "reject") && pct > 0 && !testing; }
};

struct DomainPicture
{
  std::string domain;
  uint32_t today = 0;
  std::vector<NamedSource> sources;   //!< over the alert window, most messages first
  std::vector<NamedService> services; //!< what they add up to
  EffectivePolicy policy;
  std::optional<LivePolicy> live;
  std::optional<std::pair<uint32_t, uint32_t>> dataDays; //!< first and last day with data, ever
  std::vector<ReporterActivity> reporters; //!< reporters with a report ending in the last 40 days
};

/*!
 * \brief The picture of a domain over the `windowDays` days ending today (now's UTC day).
 * \throw StoreError
 */
DomainPicture buildPicture(const Store& store, const Namer& namer, const NetworkLookup& lookup,
                           const std::string& domain, int64_t now, uint32_t windowDays);

//! \brief Percent of pass in total, rounded down; 0 when total is 0.
unsigned passPercent(uint64_t pass, uint64_t total);

} // namespace dmarcwatch::collector
