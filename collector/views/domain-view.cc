/*
 * domain-view.cc - a domain's status, policy, readiness and detail (domain-view.hh).
 */
#include "config.h"

#include "collector/views/domain-view.hh"

#include "collector/common/arithmetic.hh"
#include "collector/store/identity.hh"
#include "collector/views/status-naming.hh"

#include <algorithm>
#include <unordered_map>

namespace dmarcwatch::collector
{

namespace
{

//! The newest reports read for a domain's policy: enough that a reporter without p= does not hide it.
constexpr size_t s_policyReports = 16;

constexpr int64_t s_dayLength = 86400;

//! A report's messages and dates add to its reporter's line when it overlaps the window.
std::vector<ReporterSummary> reportersIn(const std::vector<StoredReport>& reports, uint32_t fromDay, uint32_t toDay)
{
  std::map<std::string, ReporterSummary> byOrg;
  for (const auto& report : reports) {
    const auto& meta = report.header.metadata;
    const int64_t end = believedEnd(report);
    if (!countedState(report.state) || end < int64_t{fromDay} * s_dayLength ||
        meta.begin > (int64_t{toDay} + 1) * s_dayLength) {
      continue;
    }
    ReporterSummary& r = byOrg[meta.orgName];
    r.org = meta.orgName;
    r.firstBegin = r.reports == 0 ? meta.begin : std::min(r.firstBegin, meta.begin);
    r.lastEnd = std::max(r.lastEnd, end);
    r.messages = saturatingAdd(r.messages, report.messages);
    ++r.reports;
  }
  std::vector<ReporterSummary> out;
  for (auto& [org, summary] : byOrg) {
    out.push_back(std::move(summary));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.messages > b.messages; });
  return out;
}

/*!
 * Each service's messages and pass per day: the window's facts once more, each outcome's
 * identity decoded once and mapped to the service nameStatus merged it into (its evidence
 * lists the identities; no identity: the "unknown" service).
 */
std::vector<ServiceTrend> serviceTrends(const Store& store, const DomainStatus& status)
{
  std::unordered_map<std::string, size_t> serviceOfIdentity;
  std::optional<size_t> unknown;
  for (size_t i = 0; i < status.services.size(); ++i) {
    for (const auto& identity : status.services[i].evidence) {
      serviceOfIdentity.emplace(identity, i);
    }
    if (status.services[i].evidence.empty()) {
      unknown = i;
    }
  }
  std::vector<std::map<uint32_t, DayTotals>> days(status.services.size());
  StoreSnapshot snapshot(store);
  const auto domainId = snapshot.domainId(status.domain);
  if (domainId) {
    std::unordered_map<uint32_t, std::pair<std::optional<size_t>, bool>> outcomes; // id -> service, pass
    OutcomeView view;
    std::string identity;
    snapshot.forEachRawFact(*domainId, status.fromDay, status.toDay, [&](const RawFact& fact) {
      auto found = outcomes.find(fact.outcomeId);
      if (found == outcomes.end()) {
        snapshot.outcomeView(fact.outcomeId, view);
        authenticatedIdentity(view.dkimResults, view.spfResults, identity);
        std::optional<size_t> service = unknown;
        if (auto named = serviceOfIdentity.find(identity); !identity.empty() && named != serviceOfIdentity.end()) {
          service = named->second;
        }
        found = outcomes.emplace(fact.outcomeId, std::make_pair(service, view.dmarcPass())).first;
      }
      const auto& [service, pass] = found->second;
      if (!service) {
        return;
      }
      DayTotals& day = days[*service][fact.day];
      day.day = fact.day;
      day.messages = saturatingAdd(day.messages, fact.messages);
      day.dmarcPass = saturatingAdd(day.dmarcPass, pass ? fact.messages : 0);
    });
  }
  std::vector<ServiceTrend> out;
  for (size_t i = 0; i < status.services.size(); ++i) {
    ServiceTrend trend;
    trend.service = status.services[i].name;
    for (const auto& [day, totals] : days[i]) {
      trend.days.push_back(totals);
    }
    out.push_back(std::move(trend));
  }
  return out;
}

} // namespace

std::vector<DomainView> buildDomainViews(const Store& store, const Namer& namer, const PublicSuffixList& psl,
                                         const NetworkLookup& lookup, const DomainViewOptions& options)
{
  StatusView::Options statusOptions;
  statusOptions.countAuth = options.detail;
  auto statuses = computeStatus(store, options.domain, options.fromDay, options.toDay, options.top,
                                std::max(1U, options.threads), statusOptions);
  std::vector<DomainView> out;
  out.reserve(statuses.size());
  for (auto& status : statuses) {
    DomainView view;
    nameStatus(status, namer, psl, lookup);
    view.live = store.livePolicy(status.domain);
    auto reports = options.detail ? store.listReports(status.domain) : store.listReports(status.domain, s_policyReports);
    view.reportedPolicy = policyOf(std::nullopt, reports).p;
    if (view.reportedPolicy.empty() && reports.size() == s_policyReports) {
      // The newest reports publish no usable policy (none, or forged ones without p=): all of them.
      reports = store.listReports(status.domain);
      view.reportedPolicy = policyOf(std::nullopt, reports).p;
    }
    view.policy = policyOf(view.live, reports);
    view.detail = options.detail;
    // Days with data, not their span: two reports a month apart cover two days.
    view.coveredDays = static_cast<uint32_t>(std::min<size_t>(status.trend.size(), UINT32_MAX));
    for (const auto& service : status.services) {
      if (service.cls == "unknown" || service.cls == "suspicious") {
        view.unknownMessages = saturatingAdd(view.unknownMessages, service.messages);
      }
    }
    view.readiness = judgeReadiness(status, view.policy, options.readiness, view.coveredDays);
    if (options.detail) {
      view.reporters = reportersIn(reports, options.fromDay, options.toDay);
      if (options.serviceTrends) {
        view.serviceTrends = serviceTrends(store, status);
      }
    }
    view.status = std::move(status);
    out.push_back(std::move(view));
  }
  return out;
}

SpfAdvice spfAdviceOf(const DomainView& view, const Catalog* catalog, const PublicSuffixList& psl)
{
  std::vector<SpfObservedService> observed;
  for (const auto& svc : view.status.services) {
    SpfObservedService o;
    o.name = svc.name;
    o.service = catalog != nullptr && !svc.id.empty() ? catalog->find(svc.id) : nullptr;
    o.authorized = svc.cls == "authorized";
    o.messages = svc.messages;
    o.spfPass = svc.auth.spfPass;
    o.spfAligned = svc.auth.spfAligned;
    auto addDomain = [&](const std::string& domain) {
      if (!domain.empty() && std::find(o.envelopeDomains.begin(), o.envelopeDomains.end(), domain) == o.envelopeDomains.end()) {
        o.envelopeDomains.push_back(domain);
      }
    };
    for (const auto& identity : svc.evidence) {
      if (svc.auth.spfPass > 0 && svc.auth.dkimPass == 0) {
        addDomain(identity); // named by its SPF domain: no DKIM passed
      }
    }
    for (const auto& spf : svc.failing.spf) {
      addDomain(spf.domain);
    }
    // The includes the daemon found authorizing its sources (the top and failing ones).
    for (const auto* sources : {&view.status.topSources, &view.status.failingSources}) {
      for (const auto& src : *sources) {
        const bool ofService = std::find(svc.evidence.begin(), svc.evidence.end(), src.identity) != svc.evidence.end() ||
                               (svc.evidence.empty() && src.identity == s_noIdentityService);
        if (ofService && !src.spfInclude.empty() &&
            std::find(o.includes.begin(), o.includes.end(), src.spfInclude) == o.includes.end()) {
          o.includes.push_back(src.spfInclude);
        }
      }
    }
    observed.push_back(std::move(o));
  }
  const LivePolicy* live = view.live ? &*view.live : nullptr;
  return adviseSpf(view.status.domain, live, observed, psl, SpfAdviceOptions{view.coveredDays});
}

} // namespace dmarcwatch::collector
