/*
 * domain-picture.cc - one domain as the alert rules see it (domain-picture.hh).
 */
#include "config.h"

#include "collector/alerts/domain-picture.hh"

#include <algorithm>
#include <map>

namespace dmarcwatch::collector
{

namespace
{

constexpr int64_t s_day = 86400;
//! Reporters whose latest report ended longer ago than this are history, not activity.
constexpr int64_t s_reporterHorizon = 40 * s_day;
//! How many days before a reporter's latest report its habit is judged on.
constexpr uint32_t s_habitDays = 8;

EffectivePolicy policyOf(const std::optional<LivePolicy>& live, const std::vector<StoredReport>& reports)
{
  EffectivePolicy policy;
  if (live && live->state == "found" && !live->p.empty()) {
    policy.p = live->p;
    policy.pct = live->pct.value_or(100);
    policy.testing = live->testing == "y";
    policy.from = "dns";
    return policy;
  }
  const StoredReport* latest = nullptr;
  for (const auto& report : reports) {
    if (!report.header.policy.p.empty() && (latest == nullptr || report.header.metadata.end >= latest->header.metadata.end)) {
      latest = &report;
    }
  }
  if (latest != nullptr) {
    policy.p = latest->header.policy.p;
    policy.pct = latest->header.policy.pct.value_or(100);
    policy.testing = latest->header.policy.testing == "y";
    policy.from = "reports";
  }
  return policy;
}

std::vector<ReporterActivity> reportersOf(const std::vector<StoredReport>& reports, int64_t now)
{
  std::map<std::string, std::vector<const StoredReport*>> byOrg;
  for (const auto& report : reports) {
    if (countedState(report.state) && report.header.metadata.end >= now - s_reporterHorizon) {
      byOrg[report.header.metadata.orgName].push_back(&report);
    }
  }
  std::vector<ReporterActivity> out;
  for (const auto& [org, list] : byOrg) {
    ReporterActivity activity;
    activity.org = org;
    for (const auto* report : list) {
      activity.lastEnd = std::max(activity.lastEnd, report->header.metadata.end);
    }
    const auto lastDay = static_cast<uint32_t>(activity.lastEnd / s_day);
    for (const auto* report : list) {
      const auto day = static_cast<uint32_t>(std::max<int64_t>(report->header.metadata.begin, 0) / s_day);
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

} // namespace

unsigned passPercent(uint64_t pass, uint64_t total)
{
  if (total == 0) {
    return 0;
  }
  // pass <= total, so pass * 100 only overflows past 1.8e17 messages: divide first then.
  return static_cast<unsigned>(pass > UINT64_MAX / 100 ? pass / (total / 100) : pass * 100 / total);
}

DomainPicture buildPicture(const Store& store, const Namer& namer, const NetworkLookup& lookup,
                           const std::string& domain, int64_t now, uint32_t windowDays)
{
  DomainPicture picture;
  picture.domain = domain;
  picture.today = static_cast<uint32_t>(now / s_day);
  const uint32_t fromDay = picture.today >= windowDays - 1 ? picture.today - (windowDays - 1) : 0;
  picture.sources = computeSources(store, namer, domain, fromDay, picture.today, lookup, SourceDetail::Verdicts);
  auto services = servicesOf(picture.sources);
  if (!services.empty()) {
    picture.services = std::move(services.front().second);
  }
  picture.live = store.livePolicy(domain);
  const auto reports = store.listReports(domain);
  picture.policy = policyOf(picture.live, reports);
  picture.reporters = reportersOf(reports, now);
  {
    StoreSnapshot snapshot(store);
    if (auto id = snapshot.domainId(domain)) {
      picture.dataDays = snapshot.dayRange(*id, 0, UINT32_MAX);
    }
  }
  return picture;
}

} // namespace dmarcwatch::collector
