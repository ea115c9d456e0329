/*
 * status-naming.cc - catalog names and classes for status (status-naming.hh).
 */
#include "collector/views/status-naming.hh"

#include "collector/views/readiness.hh"

#include "collector/common/arithmetic.hh"

#include <algorithm>
#include <map>

namespace dmarcwatch::collector
{

namespace
{

//! An authenticated identity of status named under its domain.
struct IdentityName
{
  SourceName name;
  bool ownDomain = false; //!< the identity is under the domain's organizational domain
};

/*!
 * What one authenticated identity names, under a domain (whose organizational domain is
 * policyOrg), for this much mail.
 */
IdentityName nameIdentity(const Namer& namer, const PublicSuffixList& psl, std::string_view domain,
                          std::string_view policyOrg, std::string_view identity, const std::optional<IpAddress>& ip,
                          uint64_t pass, uint64_t fail, const NetworkSignals& network = {}, uint32_t overrides = 0)
{
  ReportSignals signals;
  signals.messages = pass + fail;
  signals.dmarcPass = pass;
  signals.dmarcFail = fail;
  signals.spfKnown = false; // an identity, not a record
  signals.overrides = overrides;
  if (identity.empty() || identity == s_noIdentityService) {
    return {namer.name(domain, ip, signals, network), false};
  }
  // The identity is a passing DKIM d= or, failing that, a passing SPF domain: try both.
  const bool aligned = psl.organizationalDomain(identity) == policyOrg;
  signals.dkim.push_back(ReportSignals::Dkim{std::string(identity), {}, true, aligned});
  SourceName named = namer.name(domain, ip, signals, network);
  if (named.service == nullptr) {
    signals.dkim.clear();
    signals.spf.push_back(ReportSignals::Spf{std::string(identity), true, aligned});
    SourceName bySpf = namer.name(domain, ip, signals, network);
    if (bySpf.service != nullptr) {
      return {std::move(bySpf), aligned};
    }
  }
  return {std::move(named), aligned};
}

//! The category of an identity no service claims: the domain's own, or somebody's.
std::string unnamedCategory(const IdentityName& identity)
{
  return identity.ownDomain ? "own-domain" : "unknown";
}

//! Name a top or failing source; with what the daemon learnt of its address when there is a look-up.
void nameSource(SourceSummary& src, const DomainStatus& status, const Namer& namer, const PublicSuffixList& psl,
                std::string_view policyOrg, const NetworkLookup& lookup)
{
  NetworkSignals network;
  if (lookup && src.ip) {
    network = lookup(status.domain, *src.ip);
    src.country = network.country;
    src.asn = network.asn;
    src.asOrg = network.asOrg;
    src.spfInclude = network.spfInclude;
    if (network.ptr == PtrState::Confirmed) {
      src.ptr = network.ptrName;
    }
  }
  const IdentityName identity =
    nameIdentity(namer, psl, status.domain, policyOrg, src.service, src.ip, src.dmarcPass, src.dmarcFail, network);
  const SourceName& named = identity.name;
  if (!named.displayName().empty()) {
    src.service = named.displayName();
    src.category = std::string(named.categoryName());
  }
  else {
    src.category = unnamedCategory(identity);
  }
  src.cls = std::string(sourceClassName(named.cls));
}

} // namespace

void nameStatus(DomainStatus& status, const Namer& namer, const PublicSuffixList& psl, const NetworkLookup& lookup)
{
  const std::string policyOrg = psl.organizationalDomain(status.domain);
  // Services: identities become catalog services; identities of one service merge.
  std::vector<ServiceSummary> merged;
  std::map<std::string, size_t> byName;
  for (auto& svc : status.services) {
    IdentityName identity =
      nameIdentity(namer, psl, status.domain, policyOrg, svc.name, std::nullopt, svc.dmarcPass, svc.dmarcFail);
    // An identity no service or network claims, whose failures reporters mostly marked forwarded,
    // is a forwarder's (AuthCounts: a domain's page).  Never a named or authorized sender: the
    // readiness of the overview, which does not count overrides, must be the page's.
    const bool mostlyForwarded = svc.auth.forwarded > 0 && svc.auth.forwarded >= svc.dmarcFail - svc.auth.forwarded;
    // Mail with no passing identity at all is never one: spoofing hides there.
    if (mostlyForwarded && svc.name != s_noIdentityService && identity.name.service == nullptr &&
        identity.name.network == nullptr && identity.name.cls != SourceClass::Authorized) {
      identity = nameIdentity(namer, psl, status.domain, policyOrg, svc.name, std::nullopt, svc.dmarcPass,
                              svc.dmarcFail, {}, overrideFlag("forwarded"));
    }
    const SourceName& named = identity.name;
    ServiceSummary out = svc;
    if (svc.name != s_noIdentityService) {
      out.evidence.push_back(svc.name);
    }
    if (named.service != nullptr) {
      out.id = named.service->id;
      out.name = named.service->name;
      out.category = std::string(named.categoryName());
      out.confidence = named.confidence;
    }
    else {
      out.category = unnamedCategory(identity);
    }
    out.cls = std::string(sourceClassName(named.cls));

    auto [at, fresh] = byName.emplace(out.name, merged.size());
    if (fresh) {
      merged.push_back(std::move(out));
      continue;
    }
    auto& into = merged[at->second];
    into.messages = saturatingAdd(into.messages, out.messages);
    into.dmarcPass = saturatingAdd(into.dmarcPass, out.dmarcPass);
    into.dmarcFail = saturatingAdd(into.dmarcFail, out.dmarcFail);
    into.sources = saturatingAdd(into.sources, out.sources);
    into.evidence.insert(into.evidence.end(), out.evidence.begin(), out.evidence.end());
    into.auth.add(out.auth);
    if (out.failing.messages > into.failing.messages) {
      into.failing = std::move(out.failing);
    }
    // The merged class follows the merged traffic.
    if (into.cls != out.cls) {
      const bool passing = into.dmarcPass > 0 && into.dmarcPass >= into.dmarcFail;
      into.cls = std::string(sourceClassName(passing ? SourceClass::Authorized : SourceClass::KnownNotAuthorized));
    }
  }
  std::stable_sort(merged.begin(), merged.end(), [](const auto& a, const auto& b) { return a.messages > b.messages; });
  status.services = std::move(merged);

  for (auto& svc : status.services) {
    svc.failure = describeFailure(svc, status.domain, psl);
    svc.fix = fixFor(svc, status.domain, namer.catalog(), psl);
  }

  // Top and failing sources: the same naming, with the admin's networks and the daemon's evidence;
  // a source of a forwarder's identity is the forwarder's (its overrides are the service's).
  std::map<std::string, bool> forwarderIdentity;
  for (const auto& svc : status.services) {
    for (const auto& identity : svc.evidence) {
      forwarderIdentity[identity] = svc.cls == sourceClassName(SourceClass::Forwarder);
    }
  }
  for (auto* sources : {&status.topSources, &status.failingSources}) {
    for (auto& src : *sources) {
      nameSource(src, status, namer, psl, policyOrg, lookup);
      if (auto found = forwarderIdentity.find(src.identity); found != forwarderIdentity.end() && found->second) {
        src.cls = std::string(sourceClassName(SourceClass::Forwarder));
      }
    }
  }
}

} // namespace dmarcwatch::collector
