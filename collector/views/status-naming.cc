/*
 * status-naming.cc - catalog names and classes for status (status-naming.hh).
 */
#include "collector/views/status-naming.hh"

#include "collector/common/arithmetic.hh"

#include <algorithm>
#include <map>

namespace dmarcwatch::collector
{

namespace
{

//! The status label of identities with no passing DKIM or SPF (status-view.cc's name for them).
constexpr std::string_view s_noIdentity = "unknown";

//! What one authenticated identity names, under a domain, for this much mail.
SourceName nameIdentity(const Namer& namer, const PublicSuffixList& psl, std::string_view domain,
                        std::string_view identity, const std::optional<IpAddress>& ip, uint64_t pass, uint64_t fail)
{
  ReportSignals signals;
  signals.messages = pass + fail;
  signals.dmarcPass = pass;
  signals.dmarcFail = fail;
  signals.spfKnown = false; // an identity, not a record
  if (identity.empty() || identity == s_noIdentity) {
    return namer.name(domain, ip, signals, {});
  }
  // The identity is a passing DKIM d= or, failing that, a passing SPF domain: try both.
  const bool aligned = psl.organizationalDomain(identity) == psl.organizationalDomain(domain);
  signals.dkim.push_back(ReportSignals::Dkim{std::string(identity), {}, true, aligned});
  SourceName named = namer.name(domain, ip, signals, {});
  if (named.service == nullptr) {
    signals.dkim.clear();
    signals.spf.push_back(ReportSignals::Spf{std::string(identity), true, aligned});
    SourceName bySpf = namer.name(domain, ip, signals, {});
    if (bySpf.service != nullptr) {
      return bySpf;
    }
  }
  return named;
}

//! The category of an identity no service claims: the domain's own, or somebody's.
std::string unnamedCategory(const PublicSuffixList& psl, std::string_view domain, std::string_view identity)
{
  if (identity.empty() || identity == s_noIdentity) {
    return "unknown";
  }
  return psl.organizationalDomain(identity) == psl.organizationalDomain(domain) ? "own-domain" : "unknown";
}

} // namespace

void nameStatus(DomainStatus& status, const Namer& namer, const PublicSuffixList& psl)
{
  // Services: identities become catalog services; identities of one service merge.
  std::vector<ServiceSummary> merged;
  std::map<std::string, size_t> byName;
  for (auto& svc : status.services) {
    const SourceName named = nameIdentity(namer, psl, status.domain, svc.name, std::nullopt, svc.dmarcPass, svc.dmarcFail);
    ServiceSummary out = svc;
    if (svc.name != s_noIdentity) {
      out.evidence.push_back(svc.name);
    }
    if (named.service != nullptr) {
      out.id = named.service->id;
      out.name = named.service->name;
      out.category = std::string(named.categoryName());
      out.confidence = named.confidence;
    }
    else {
      out.category = unnamedCategory(psl, status.domain, svc.name);
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
    // The merged class follows the merged traffic.
    if (into.cls != out.cls) {
      const bool passing = into.dmarcPass > 0 && into.dmarcPass >= into.dmarcFail;
      into.cls = std::string(sourceClassName(passing ? SourceClass::Authorized : SourceClass::KnownNotAuthorized));
    }
  }
  std::stable_sort(merged.begin(), merged.end(), [](const auto& a, const auto& b) { return a.messages > b.messages; });
  status.services = std::move(merged);

  // Top sources: the same naming, with the admin's networks.
  for (auto& src : status.topSources) {
    const SourceName named = nameIdentity(namer, psl, status.domain, src.service, src.ip, src.dmarcPass, src.dmarcFail);
    const std::string identity = src.service;
    if (!named.displayName().empty()) {
      src.service = named.displayName();
      src.category = std::string(named.categoryName());
    }
    else {
      src.category = unnamedCategory(psl, status.domain, identity);
    }
    src.cls = std::string(sourceClassName(named.cls));
  }
}

} // namespace dmarcwatch::collector
