/*
 * domain-picture.cc - one domain as the alert rules see it (domain-picture.hh).
 */
#include "config.h"

#include "collector/alerts/domain-picture.hh"

#include "collector/common/arithmetic.hh"
#include "collector/common/text.hh"

#include <algorithm>
#include <iterator>
#include <map>

namespace dmarcwatch::collector
{

namespace
{

//! Reporters whose latest report ended longer ago than this are history, not activity.
constexpr int64_t s_reporterHorizon = 40 * s_secondsPerDay;
//! How many days before a reporter's latest report its habit is judged on (8 days with it).
constexpr uint32_t s_habitDays = 7;

std::vector<ReporterActivity> reportersOf(const std::vector<StoredReport>& reports, int64_t now, AuthenticitySet leaveOut)
{
  std::map<std::string, std::vector<const StoredReport*>> byOrg;
  for (const auto& report : reports) {
    // A report left out says nothing of its reporter either (a forged one must not hide a gap).
    if (countedState(report.state) && believedEnd(report) >= now - s_reporterHorizon &&
        (leaveOut & authenticityBit(report.authenticity)) == 0) {
      byOrg[report.header.metadata.orgName].push_back(&report);
    }
  }
  std::vector<ReporterActivity> out;
  for (const auto& [org, list] : byOrg) {
    ReporterActivity activity;
    activity.org = org;
    for (const auto* report : list) {
      activity.lastEnd = std::max(activity.lastEnd, believedEnd(*report));
    }
    const auto lastDay = static_cast<uint32_t>(activity.lastEnd / s_secondsPerDay);
    for (const auto* report : list) {
      const int64_t begin = std::clamp<int64_t>(report->header.metadata.begin, 0, activity.lastEnd);
      const auto day = static_cast<uint32_t>(begin / s_secondsPerDay);
      if (day + s_habitDays >= lastDay && day <= lastDay) {
        activity.days.push_back(day);
      }
    }
    std::sort(activity.days.begin(), activity.days.end());
    activity.days.erase(std::unique(activity.days.begin(), activity.days.end()), activity.days.end());
    out.push_back(std::move(activity));
  }
  return out;
}

//! The first of the `days` days ending today.
uint32_t firstDayOf(uint32_t today, uint32_t days)
{
  return today >= days - 1 ? today - (days - 1) : 0;
}

//! The services of one domain's sources (servicesOf groups per domain: there is one).
std::vector<NamedService> servicesIn(const std::vector<NamedSource>& sources)
{
  auto services = servicesOf(sources);
  return services.empty() ? std::vector<NamedService>{} : std::move(services.front().second);
}

//! The window part of a picture: its sources and services over `windowDays`, and the days of it with data.
void fillWindow(DomainPicture& picture, const Store& store, const Namer& namer, const NetworkLookup& lookup,
                uint32_t windowDays)
{
  const uint32_t fromDay = firstDayOf(picture.today, windowDays);
  picture.sources = computeSources(store, namer, picture.domain, fromDay, picture.today, lookup, SourceDetail::Verdicts,
                                   picture.leftOut);
  picture.services = servicesIn(picture.sources);
  picture.coveredDays = 1;
  if (picture.dataDays && picture.dataDays->first <= picture.today) {
    picture.coveredDays = picture.today - std::max(fromDay, picture.dataDays->first) + 1;
  }
}

} // namespace

unsigned passPercent(uint64_t pass, uint64_t total)
{
  return percentOf(pass, total);
}

AuthenticitySet alertsLeaveOut(const TrustSettings& trust)
{
  AuthenticitySet out = 0;
  if (trust.forged != UntrustedAction::Count) {
    out |= authenticityBit(Authenticity::Forged);
  }
  if (trust.unauthenticated != UntrustedAction::Count) {
    out |= authenticityBit(Authenticity::Unauthenticated);
  }
  return out;
}

DomainPicture buildPicture(const Store& store, const Namer& namer, const NetworkLookup& lookup,
                           const std::string& domain, int64_t now, uint32_t windowDays, bool withHistory,
                           AuthenticitySet leaveOut)
{
  DomainPicture picture;
  picture.domain = lowerAscii(domain);
  picture.leftOut = leaveOut;
  picture.today = static_cast<uint32_t>(now / s_secondsPerDay);
  picture.live = store.livePolicy(picture.domain);
  const auto reports = store.listReports(picture.domain);
  // A left-out report does not say the policy either: a forged p=reject could hide enforcement-ready.
  std::vector<StoredReport> trusted;
  trusted.reserve(reports.size());
  std::copy_if(reports.begin(), reports.end(), std::back_inserter(trusted),
               [leaveOut](const StoredReport& r) { return (leaveOut & authenticityBit(r.authenticity)) == 0; });
  picture.policy = policyOf(picture.live, trusted);
  picture.reporters = reportersOf(reports, now, leaveOut);
  {
    StoreSnapshot snapshot(store);
    if (auto id = snapshot.domainId(picture.domain)) {
      picture.dataDays = snapshot.dayRange(*id, 0, UINT32_MAX);
    }
  }
  fillWindow(picture, store, namer, lookup, windowDays);
  if (withHistory) {
    picture.history = servicesIn(computeSources(store, namer, picture.domain, firstDayOf(picture.today, s_historyDays),
                                                picture.today, lookup, SourceDetail::Names, leaveOut));
  }
  return picture;
}

DomainPicture pictureOver(const DomainPicture& base, const Store& store, const Namer& namer,
                          const NetworkLookup& lookup, uint32_t windowDays)
{
  DomainPicture picture;
  picture.domain = base.domain;
  picture.today = base.today;
  picture.policy = base.policy;
  picture.live = base.live;
  picture.dataDays = base.dataDays;
  picture.reporters = base.reporters;
  picture.leftOut = base.leftOut;
  fillWindow(picture, store, namer, lookup, windowDays);
  return picture;
}

} // namespace dmarcwatch::collector
