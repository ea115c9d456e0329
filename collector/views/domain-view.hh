/*
 * domain-view.hh - everything `dmarcwatch status` and `dmarcwatch report --html`
 * show of a domain: its status over the window with services and sources named
 * (status-view, status-naming), the policy that applies, the readiness verdict,
 * and for one domain's detail the reporters and dates covered and the per-service
 * trend.
 *
 * Speed: the overview of every domain reads each domain's window once (no outcome
 * decoded on the table path) and only its newest reports for the policy; the
 * detail of one domain adds its outcomes (thousands), its report list and, for
 * the per-service trend, its facts once more.
 *
 * Thread-safety: plain functions over a Store.  Errors: StoreError.
 */
#pragma once

#include "collector/judge/public-suffix.hh"
#include "collector/sources/naming.hh"
#include "collector/views/domain-policy.hh"
#include "collector/views/readiness.hh"
#include "collector/views/spf-advice.hh"
#include "collector/views/sources-view.hh"
#include "collector/views/status-view.hh"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dmarcwatch::collector
{

//! One reporter of a domain over the window.
struct ReporterSummary
{
  std::string org;
  uint64_t reports = 0;
  uint64_t messages = 0;
  int64_t firstBegin = 0; //!< of its reports in the window
  int64_t lastEnd = 0;
};

//! Messages and DMARC pass of one service per day (days with data only).
struct ServiceTrend
{
  std::string service; //!< the service's name as status shows it
  std::vector<DayTotals> days;
};

struct DomainView
{
  DomainStatus status;               //!< named (nameStatus), failures and fixes set
  EffectivePolicy policy;            //!< what applies now
  std::optional<LivePolicy> live;    //!< the live record as dmarcwatchd last saw it
  std::string reportedPolicy;        //!< p= of the newest report ("" none)
  uint32_t coveredDays = 0;          //!< days of the window with data (not their span)
  ReadinessVerdict readiness;
  uint64_t unknownMessages = 0;      //!< of services classed unknown or suspicious
  bool detail = false;               //!< DomainViewOptions::detail: the AuthCounts and what follows are there
  // The detail of one domain (DomainViewOptions::detail):
  std::vector<ReporterSummary> reporters; //!< most messages first
  std::vector<ServiceTrend> serviceTrends; //!< the services' days, in status.services order
};

struct DomainViewOptions
{
  std::string domain;  //!< "" every domain
  uint32_t fromDay = 0;
  uint32_t toDay = 0;
  size_t top = 10;     //!< top and failing sources kept per domain
  bool detail = false; //!< AuthCounts, reporters (one domain's page)
  bool serviceTrends = false; //!< with detail: the per-service trend too (the window's facts read again)
  unsigned threads = 1;
  ReadinessSettings readiness;
};

/*!
 * \brief The views of one domain or every domain, sorted by domain.  \param lookup may be
 * empty (no daemon evidence: sources get no country, AS or PTR).  \throw StoreError
 */
std::vector<DomainView> buildDomainViews(const Store& store, const Namer& namer, const PublicSuffixList& psl,
                                         const NetworkLookup& lookup, const DomainViewOptions& options);

/*!
 * \brief The SPF view of a domain (spf-advice.hh) from its services: each with its catalog
 * entry, whether it is authorized, its SPF counts, and the MAIL FROM domains seen (its SPF
 * identity, and those of its largest failing outcome).  \param catalog may be null.
 */
SpfAdvice spfAdviceOf(const DomainView& view, const Catalog* catalog, const PublicSuffixList& psl);

} // namespace dmarcwatch::collector
