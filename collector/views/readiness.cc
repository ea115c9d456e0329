/*
 * readiness.cc - readiness, what-if, failures and fixes (readiness.hh).
 */
#include "config.h"

#include "collector/views/readiness.hh"

#include "collector/common/arithmetic.hh"
#include "collector/common/text.hh"

#include <algorithm>

namespace dmarcwatch::collector
{

namespace
{

std::string joined(const std::vector<std::string>& items)
{
  return collector::joined(items, ", ");
}

bool isCatalogService(const ServiceSummary& service)
{
  return !service.id.empty() && !service.id.starts_with("network:");
}

//! A legitimate sender failing enough to stop enforcement.
bool blocks(const ServiceSummary& service, const ReadinessSettings& settings)
{
  return legitimateSender(service) && service.dmarcFail >= settings.blockerMessages &&
         percentOf(service.dmarcPass, service.messages) < settings.passRate;
}

//! The domain is under the policy domain's organizational domain (relaxed alignment).
bool alignedWith(std::string_view name, std::string_view org, const PublicSuffixList& psl)
{
  return !name.empty() && psl.organizationalDomain(name) == org;
}

//! Add part to a comma-separated list unless it is there (a sample may carry one result twice).
void appendOnce(std::string& list, const std::string& part)
{
  if (list == part || list.starts_with(part + ", ") || list.find(", " + part + ",") != std::string::npos ||
      list.ends_with(", " + part)) {
    return;
  }
  list += (list.empty() ? "" : ", ") + part;
}

//! The first catalog rule of a kind, or nullptr.
const CatalogRule* ruleOf(const Service* service, RuleKind kind)
{
  if (service == nullptr) {
    return nullptr;
  }
  for (const auto& rule : service->rules) {
    if (rule.kind == kind && !rule.value.empty()) {
      return &rule;
    }
  }
  return nullptr;
}

} // namespace

ReadinessSettings readinessSettings(const Config& config)
{
  ReadinessSettings settings;
  settings.passRate = static_cast<unsigned>(std::min<uint64_t>(config.alerts.readyPassRate, 100));
  settings.days = static_cast<uint32_t>(std::min<int64_t>(config.alerts.readyDays.count() / 86400, UINT32_MAX));
  settings.blockerMessages = config.alerts.blockerMessages;
  return settings;
}

bool legitimateSender(SourceClass cls, bool catalogService, uint64_t dmarcPass)
{
  return cls == SourceClass::Authorized || (catalogService && cls == SourceClass::KnownNotAuthorized && dmarcPass > 0);
}

bool legitimateSender(const ServiceSummary& service)
{
  const SourceClass cls = service.cls == "authorized"             ? SourceClass::Authorized
                          : service.cls == "known-not-authorized" ? SourceClass::KnownNotAuthorized
                          : service.cls == "forwarder"            ? SourceClass::Forwarder
                          : service.cls == "suspicious"           ? SourceClass::Suspicious
                                                                  : SourceClass::Unknown;
  return legitimateSender(cls, isCatalogService(service), service.dmarcPass);
}

std::string ReadinessVerdict::text() const
{
  switch (state) {
  case Readiness::NoData:
    return "no data in this window";
  case Readiness::NoSenders:
    return "no authorized sender seen";
  case Readiness::Blocked:
    return "blocked by: " + joined(services);
  case Readiness::ReadyForQuarantine:
    return "ready for quarantine";
  case Readiness::ReadyForReject:
    return "ready for reject";
  case Readiness::AtEnforcement:
    return (qualifier.empty() ? std::string("at enforcement") : "at enforcement (" + qualifier + ")") +
           (rejectNext && policy == "quarantine" ? "; ready for reject" : "");
  case Readiness::Losing:
    return "at enforcement, losing mail from: " + joined(services);
  }
  return "";
}

std::string_view ReadinessVerdict::name() const
{
  switch (state) {
  case Readiness::NoData:
    return "no-data";
  case Readiness::NoSenders:
    return "no-senders";
  case Readiness::Blocked:
    return "blocked";
  case Readiness::ReadyForQuarantine:
    return "ready-for-quarantine";
  case Readiness::ReadyForReject:
    return "ready-for-reject";
  case Readiness::AtEnforcement:
    return "at-enforcement";
  case Readiness::Losing:
    return "losing";
  }
  return "";
}

ReadinessVerdict judgeReadiness(const DomainStatus& status, const EffectivePolicy& policy,
                                const ReadinessSettings& settings, uint32_t coveredDays)
{
  ReadinessVerdict verdict;
  verdict.policy = policy.p;
  if (status.messages == 0) {
    verdict.state = Readiness::NoData;
    verdict.detail = "no reports in this window";
    return verdict;
  }
  std::vector<const ServiceSummary*> failing;
  bool anyLegitimate = false;
  for (const auto& service : status.services) {
    anyLegitimate = anyLegitimate || legitimateSender(service);
    if (blocks(service, settings)) {
      failing.push_back(&service);
    }
  }
  std::stable_sort(failing.begin(), failing.end(), [](auto* a, auto* b) { return a->dmarcFail > b->dmarcFail; });
  for (const auto* service : failing) {
    verdict.services.push_back(service->name);
  }
  const std::string rate = std::to_string(settings.passRate) + " %";
  if (policy.enforcing()) {
    verdict.state = failing.empty() ? Readiness::AtEnforcement : Readiness::Losing;
    verdict.detail = failing.empty() ? "every authorized sender passes DMARC at least " + rate
                                     : "p=" + policy.p + " stops their failing mail now";
    verdict.qualifier = policy.p == "quarantine"                     ? "quarantine"
                        : policy.testing                               ? "t=y: applied as quarantine"
                        : policy.pct != 100                            ? "reject at " + std::to_string(policy.pct) + " %"
                                                                       : "";
    if (failing.empty() && policy.p == "quarantine" && !policy.testing) {
      verdict.rejectNext = coveredDays >= settings.days && policy.pct == 100;
      if (coveredDays < settings.days) {
        verdict.detail += "; reject after " + std::to_string(settings.days) + " days of data (" +
                          std::to_string(coveredDays) + " so far)";
      }
      if (policy.pct != 100) {
        verdict.detail += "; quarantine applies to " + std::to_string(policy.pct) + " % of failing mail: raise pct to 100 first";
      }
    }
    if (policy.p == "reject") {
      // Reject in full is the end: t=y is applied as quarantine, pct < 100 leaves some mail through.
      verdict.rejectNext = !policy.testing && policy.pct == 100;
      if (policy.testing) {
        verdict.detail = "t=y: applied as quarantine; remove t=y for reject; " + verdict.detail;
      }
      else if (policy.pct != 100) {
        verdict.detail = "pct=" + std::to_string(policy.pct) + ": the rest is quarantined; raise pct to 100; " + verdict.detail;
      }
    }
    return verdict;
  }
  if (!failing.empty()) {
    verdict.state = Readiness::Blocked;
    verdict.detail = "they pass DMARC under " + rate + ": enforcement would stop their failing mail";
    return verdict;
  }
  if (!anyLegitimate) {
    verdict.state = Readiness::NoSenders;
    verdict.detail = "no authorized or known service sends as this domain in the window: authorize yours "
                     "(Authorize in dmarcwatch.conf) before enforcing";
    return verdict;
  }
  if (coveredDays < settings.days) {
    verdict.state = Readiness::ReadyForQuarantine;
    verdict.detail = "every authorized sender passes DMARC at least " + rate + "; data covers " +
                     std::to_string(coveredDays) + " of the " + std::to_string(settings.days) +
                     " days reject needs";
    return verdict;
  }
  verdict.state = Readiness::ReadyForReject;
  verdict.detail = "every authorized sender passes DMARC at least " + rate + " over " + std::to_string(coveredDays) +
                   " days";
  return verdict;
}

WhatIf whatIf(const DomainStatus& status, std::string_view policy, unsigned pct)
{
  WhatIf out;
  out.policy = std::string(policy);
  out.pct = std::min(pct, 100U);
  out.messages = status.messages;
  for (const auto& service : status.services) {
    if (service.dmarcFail == 0) {
      continue;
    }
    WhatIfService w;
    w.name = service.name;
    w.cls = service.cls;
    w.legitimate = legitimateSender(service);
    w.messages = service.messages;
    w.failing = service.dmarcFail;
    // Forwarded mail: the whole failing mail of a catalog forwarder (a list, a forwarding service),
    // else what reporters marked forwarded (an identity classed forwarder for it included).
    w.forwarded = service.cls == "forwarder" && isCatalogService(service) ? service.dmarcFail
                                                                          : std::min(service.auth.forwarded, service.dmarcFail);
    w.overridden = std::min(service.auth.overridden - std::min(service.auth.overridden, service.auth.forwarded),
                            service.dmarcFail - w.forwarded);
    const uint64_t rest = service.dmarcFail - w.forwarded - w.overridden;
    // pct of rest, rounded to nearest; rest * pct cannot overflow before 1.8e17 messages.
    w.stopped = rest > UINT64_MAX / 100 ? rest / 100 * out.pct : (rest * out.pct + 50) / 100;
    out.stopped = saturatingAdd(out.stopped, w.stopped);
    out.forwarded = saturatingAdd(out.forwarded, w.forwarded);
    out.overridden = saturatingAdd(out.overridden, w.overridden);
    if (w.legitimate) {
      out.stoppedLegitimate = saturatingAdd(out.stoppedLegitimate, w.stopped);
    }
    out.services.push_back(std::move(w));
  }
  std::stable_sort(out.services.begin(), out.services.end(),
                   [](const WhatIfService& a, const WhatIfService& b) { return a.stopped > b.stopped; });
  return out;
}

std::string describeFailure(const ServiceSummary& service, std::string_view domain, const PublicSuffixList& psl)
{
  const FailureSample& sample = service.failing;
  if (service.dmarcFail == 0 || sample.messages == 0) {
    return service.dmarcFail == 0 ? "" : "DMARC fails";
  }
  const std::string org = psl.organizationalDomain(domain);
  std::string dkim;
  for (const auto& result : sample.dkim) {
    std::string part;
    if (result.result == "pass") {
      part = alignedWith(result.domain, org, psl) ? "DKIM passes as " + result.domain + " but strict alignment fails"
                                                  : "DKIM signs as " + result.domain + ", not aligned";
    }
    else {
      part = "DKIM signature of " + (result.domain.empty() ? std::string("an unnamed domain") : result.domain) + " " +
             (result.result.empty() ? "fails" : "fails (" + result.result + ")");
    }
    appendOnce(dkim, part);
  }
  if (dkim.empty()) {
    dkim = "no DKIM signature";
  }
  std::string spf;
  for (const auto& result : sample.spf) {
    std::string part;
    if (result.result == "pass") {
      part = alignedWith(result.domain, org, psl) ? "SPF passes for " + result.domain + " but strict alignment fails"
                                                  : "SPF passes for " + result.domain + ", not aligned";
    }
    else {
      part = "SPF " + (result.result.empty() ? std::string("fails") : result.result) + " for " +
             (result.domain.empty() ? std::string("an empty MAIL FROM") : result.domain);
    }
    appendOnce(spf, part);
  }
  if (spf.empty()) {
    spf = "no SPF result";
  }
  std::string out = dkim + "; " + spf;
  if (!sample.overrides.empty()) {
    out += " (reporter override: " + joined(sample.overrides) + ")";
  }
  return out;
}

std::string fixFor(const ServiceSummary& service, std::string_view domain, const Catalog* catalog,
                   const PublicSuffixList& psl)
{
  if (service.dmarcFail == 0) {
    return "";
  }
  const std::string org = psl.organizationalDomain(domain);
  const std::string where = org.empty() ? std::string(domain) : org;
  if (service.cls == "forwarder") {
    return "nothing to fix: forwarded mail (receivers that trust the forwarder or check ARC take it)";
  }
  const Service* entry = catalog != nullptr && isCatalogService(service) ? catalog->find(service.id) : nullptr;
  const bool known = entry != nullptr || legitimateSender(service);
  if (!known) {
    return service.name == s_noIdentityService
             ? "not yours: enforcement stops it; yours: find it with dmarcwatch sources " + std::string(domain) + " --failing"
             : "if " + service.name + " sends for you, have it sign with DKIM as " + where;
  }
  const std::string at = entry != nullptr ? entry->name : service.name;
  const FailureSample& sample = service.failing;
  // An aligned signature that fails: the key or the signing is broken, not the set-up.
  for (const auto& dkim : sample.dkim) {
    if (dkim.result != "pass" && alignedWith(dkim.domain, org, psl)) {
      const std::string selector = dkim.selector.empty() ? "its selector" : dkim.selector;
      return "fix DKIM for " + dkim.domain + (entry != nullptr ? " at " + at : std::string()) + ": the key at " + selector +
             "._domainkey." + dkim.domain + " does not verify";
    }
  }
  // SPF alignment is possible only where the MAIL FROM is under the domain: authorize the servers.
  for (const auto& spf : sample.spf) {
    if (spf.result != "pass" && alignedWith(spf.domain, org, psl)) {
      if (const CatalogRule* include = ruleOf(entry, RuleKind::SpfInclude)) {
        return "add include:" + include->value + " to the SPF record of " + spf.domain;
      }
      return "authorize " + at + "'s servers in the SPF record of " + spf.domain;
    }
  }
  // Otherwise DKIM for the domain: the fix that survives forwarding.
  return entry != nullptr ? "set up DKIM for " + where + " at " + at + " (custom domain signing)"
                          : "have " + at + " sign with DKIM as " + where;
}

} // namespace dmarcwatch::collector
