/*
 * naming.cc - naming and classifying a source from its evidence (naming.hh).
 *
 * Cost: a handful of hash look-ups in the catalog per signal and no allocation
 * beyond the evidence list; the bench names a million sources (t/bench).
 */
#include "collector/sources/naming.hh"

#include "collector/common/text.hh"

#include <algorithm>
#include <array>

namespace dmarcwatch::collector
{

std::string_view sourceClassName(SourceClass cls)
{
  switch (cls) {
  case SourceClass::Authorized:
    return "authorized";
  case SourceClass::Forwarder:
    return "forwarder";
  case SourceClass::KnownNotAuthorized:
    return "known-not-authorized";
  case SourceClass::Suspicious:
    return "suspicious";
  case SourceClass::Unknown:
    break;
  }
  return "unknown";
}

std::string_view evidenceKindName(EvidenceKind kind)
{
  switch (kind) {
  case EvidenceKind::Dkim:
    return "dkim";
  case EvidenceKind::SpfDomain:
    return "spf-domain";
  case EvidenceKind::Ptr:
    return "ptr";
  case EvidenceKind::Asn:
    return "asn";
  case EvidenceKind::SpfInclude:
    return "spf-include";
  case EvidenceKind::Network:
    break;
  }
  return "network";
}

uint32_t overrideFlag(std::string_view type, std::string_view comment)
{
  if (equalsIgnoreCaseAscii(type, "forwarded")) {
    return OverrideForwarded;
  }
  if (equalsIgnoreCaseAscii(type, "mailing_list")) {
    return OverrideMailingList;
  }
  if (equalsIgnoreCaseAscii(type, "trusted_forwarder")) {
    return OverrideTrustedForwarder;
  }
  if (equalsIgnoreCaseAscii(type, "sampled_out")) {
    return OverrideSampledOut;
  }
  if (equalsIgnoreCaseAscii(type, "policy_test_mode")) {
    return OverridePolicyTestMode;
  }
  if (equalsIgnoreCaseAscii(type, "local_policy")) {
    // Google and Microsoft say "arc=pass" in the comment when ARC carried the result over.
    std::string lower;
    appendLowerAscii(lower, comment);
    return OverrideLocalPolicy | (lower.find("arc=pass") != std::string::npos ? OverrideArcPass : 0U);
  }
  return OverrideOther;
}

std::string SourceName::displayName() const
{
  if (service != nullptr) {
    return service->name;
  }
  if (network != nullptr) {
    return network->name;
  }
  return {};
}

std::string_view SourceName::categoryName() const
{
  if (service != nullptr) {
    return collector::categoryName(service->category);
  }
  return network != nullptr ? "own-network" : "unknown";
}

std::string_view SourceName::confidenceName() const
{
  return confidence >= 3 ? "high" : confidence == 2 ? "medium" : confidence == 1 ? "low" : "none";
}

namespace
{

constexpr size_t s_kinds = 6;

//! The votes of one candidate service: which kinds point at it, and whether any may name it.
struct Candidate
{
  const Service* service = nullptr;
  std::array<bool, s_kinds> kinds{};
  bool named = false;
  [[nodiscard]] unsigned count() const
  {
    return static_cast<unsigned>(std::count(kinds.begin(), kinds.end(), true));
  }
};

//! Collects evidence and the candidates it points at.
class Ballot
{
public:
  explicit Ballot(SourceName& out) :
    d_out(out)
  {
  }

  void add(EvidenceKind kind, std::string detail, const std::vector<CatalogMatch>& matches)
  {
    if (matches.empty()) {
      d_out.evidence.push_back(Evidence{kind, std::move(detail), nullptr, false});
      return;
    }
    for (const auto& match : matches) {
      // A domain rule names even when `shared` (several services of one operator); an AS or an
      // include shared with general hosting only corroborates.
      const bool domainKind = kind == EvidenceKind::Dkim || kind == EvidenceKind::SpfDomain || kind == EvidenceKind::Ptr;
      const bool names = (domainKind || match.rule->exclusive);
      d_out.evidence.push_back(Evidence{kind, detail, match.service, names});
      auto& candidate = candidateFor(match.service);
      candidate.kinds[static_cast<size_t>(kind)] = true;
      candidate.named = candidate.named || names;
    }
  }
  //! Evidence that names nobody (shown to the admin: an unconfirmed PTR, a failing signature).
  void note(EvidenceKind kind, std::string detail)
  {
    d_out.evidence.push_back(Evidence{kind, std::move(detail), nullptr, false, true});
  }

  //! The winner: most kinds among the candidates that something may name.
  [[nodiscard]] const Candidate* winner() const
  {
    const Candidate* best = nullptr;
    for (const auto& candidate : d_candidates) {
      if (!candidate.named) {
        continue;
      }
      if (best == nullptr || candidate.count() > best->count() ||
          (candidate.count() == best->count() && candidate.kinds[0] && !best->kinds[0])) {
        best = &candidate;
      }
    }
    return best;
  }

private:
  Candidate& candidateFor(const Service* service)
  {
    for (auto& candidate : d_candidates) {
      if (candidate.service == service) {
        return candidate;
      }
    }
    d_candidates.push_back(Candidate{service, {}, false});
    return d_candidates.back();
  }

  SourceName& d_out;
  std::vector<Candidate> d_candidates;
};

//! The domain's own signature passed, SPF did not: the signature survived a hop that the
//! envelope did not.  (An unaligned signature proves nothing about the domain's mail.)
bool looksForwarded(const ReportSignals& report)
{
  if (!report.spfKnown) {
    return false;
  }
  const bool dkimPass =
    std::any_of(report.dkim.begin(), report.dkim.end(), [](const auto& d) { return d.pass && d.aligned; });
  // A forwarder that rewrites the envelope (SRS) passes SPF for its own domain: not ours.
  const bool spfPass =
    std::any_of(report.spf.begin(), report.spf.end(), [](const auto& s) { return s.pass && s.aligned; });
  return dkimPass && !spfPass;
}

constexpr uint32_t s_forwardingOverrides =
  OverrideForwarded | OverrideMailingList | OverrideTrustedForwarder | OverrideArcPass;

} // namespace

Namer::Namer(std::shared_ptr<const Catalog> catalog, std::shared_ptr<const Config> config, Options options) :
  d_catalog(std::move(catalog)),
  d_config(std::move(config)),
  d_options(options)
{
}

bool Namer::authorized(std::string_view domain, std::string_view serviceId) const
{
  if (!d_config) {
    return false;
  }
  for (const auto& authorization : d_config->authorizations) {
    if (authorization.domain == domain &&
        std::find(authorization.services.begin(), authorization.services.end(), serviceId) !=
          authorization.services.end()) {
      return true;
    }
  }
  return false;
}

SourceName Namer::name(std::string_view domain, const std::optional<IpAddress>& ip, const ReportSignals& report,
                       const NetworkSignals& network) const
{
  SourceName out;
  Ballot ballot(out);

  // The admin's word first: an own network names the source whatever else it shows.
  if (ip && d_config) {
    out.network = d_config->ownNetwork(*ip);
    if (out.network != nullptr) {
      ballot.note(EvidenceKind::Network, out.network->toString() + " = " + out.network->name);
    }
  }

  // Report evidence: only what passed can name (a failing signature may be anyone's).
  const Catalog* catalog = d_catalog.get();
  static const std::vector<CatalogMatch> s_none;
  for (const auto& dkim : report.dkim) {
    if (dkim.domain.empty()) {
      continue;
    }
    std::string detail = "d=" + dkim.domain + (dkim.selector.empty() ? "" : " s=" + dkim.selector);
    if (!dkim.pass) {
      ballot.note(EvidenceKind::Dkim, std::move(detail) + " (not passing)");
      continue;
    }
    auto matches = catalog ? catalog->byDkim(dkim.domain, dkim.selector) : s_none;
    if (matches.empty() && catalog != nullptr && !dkim.selector.empty() && dkim.aligned) {
      // The customer's own d=: its selector may be the one a service has customers publish.
      // Never for another d=: a spoofer signing its own domain with s=google is not Google.
      matches = catalog->byDkimSelector(dkim.selector);
      if (!matches.empty()) {
        detail += " (" + matches.front().service->name + "'s selector)";
      }
    }
    ballot.add(EvidenceKind::Dkim, std::move(detail), matches);
  }
  for (const auto& spf : report.spf) {
    if (spf.domain.empty()) {
      continue;
    }
    if (!spf.pass) {
      ballot.note(EvidenceKind::SpfDomain, "SPF " + spf.domain + " (not passing)");
      continue;
    }
    ballot.add(EvidenceKind::SpfDomain, "SPF " + spf.domain, catalog ? catalog->bySpfDomain(spf.domain) : s_none);
  }

  // DNS and GeoIP evidence, where the daemon has it.
  if (network.ptr == PtrState::Confirmed && !network.ptrName.empty()) {
    ballot.add(EvidenceKind::Ptr, "PTR " + network.ptrName + " (confirmed)",
               catalog ? catalog->byPtr(network.ptrName) : s_none);
  }
  else if (network.ptr == PtrState::Unconfirmed) {
    ballot.note(EvidenceKind::Ptr, "PTR " + network.ptrName + " (does not resolve back: ignored)");
  }
  if (network.asn != 0) {
    ballot.add(EvidenceKind::Asn, "AS" + std::to_string(network.asn) + (network.asOrg.empty() ? "" : " " + network.asOrg),
               catalog ? catalog->byAsn(network.asn) : s_none);
  }
  if (!network.spfInclude.empty()) {
    ballot.add(EvidenceKind::SpfInclude, "SPF include:" + network.spfInclude,
               catalog ? catalog->bySpfInclude(network.spfInclude) : s_none);
  }

  // The winner, and its evidence first.
  if (const Candidate* best = ballot.winner()) {
    out.service = best->service;
    out.confidence = best->count();
    std::stable_partition(out.evidence.begin(), out.evidence.end(),
                          [&](const Evidence& e) { return e.service == best->service; });
  }
  if (out.network != nullptr) {
    ++out.confidence; // the admin's declaration is a kind of its own
  }

  // The class.
  const bool failing = report.dmarcFail > report.dmarcPass;
  if (out.network != nullptr || (out.service != nullptr && authorized(domain, out.service->id))) {
    out.cls = SourceClass::Authorized;
  }
  else if ((report.overrides & s_forwardingOverrides) != 0 ||
           (out.service != nullptr && (out.service->category == ServiceCategory::Forwarder ||
                                       out.service->category == ServiceCategory::MailingList)) ||
           (out.service == nullptr && looksForwarded(report))) {
    out.cls = SourceClass::Forwarder;
  }
  else if (report.dmarcPass > 0 && !failing) {
    out.cls = SourceClass::Authorized;
  }
  else if (out.service != nullptr) {
    out.cls = SourceClass::KnownNotAuthorized;
  }
  else if (report.dmarcFail >= d_options.suspiciousMessages) {
    out.cls = SourceClass::Suspicious;
  }
  else {
    out.cls = SourceClass::Unknown;
  }
  return out;
}

} // namespace dmarcwatch::collector
