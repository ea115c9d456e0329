/*
 * sources-view.cc - summing, naming and grouping a domain's sources (sources-view.hh).
 */
#include "collector/views/sources-view.hh"

#include "collector/common/arithmetic.hh"
#include "collector/common/text.hh"
#include "collector/judge/verdict.hh"

#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_map>

namespace dmarcwatch::collector
{

namespace
{

//! Outcomes kept per source: its largest ones carry nearly all of its evidence.
constexpr size_t s_outcomesPerSource = 8;

struct OutcomeShare
{
  uint32_t outcomeId = 0;
  uint32_t headerFromId = 0;
  uint64_t messages = 0;
};

struct SourceSums
{
  uint64_t messages = 0;
  uint64_t dmarcPass = 0;
  uint32_t firstDay = UINT32_MAX;
  uint32_t lastDay = 0;
  std::vector<OutcomeShare> outcomes; //!< the largest few, by (outcome, header_from)
};

struct IpHash
{
  size_t operator()(const std::array<uint8_t, 16>& ip) const
  {
    uint64_t a = 0;
    uint64_t b = 0;
    std::memcpy(&a, ip.data(), 8);
    std::memcpy(&b, ip.data() + 8, 8);
    return std::hash<uint64_t>{}(a * 0x9E3779B97F4A7C15ULL ^ b);
  }
};

void addShare(SourceSums& sums, uint32_t outcomeId, uint32_t headerFromId, uint64_t messages)
{
  for (auto& share : sums.outcomes) {
    if (share.outcomeId == outcomeId && share.headerFromId == headerFromId) {
      share.messages += messages;
      return;
    }
  }
  if (sums.outcomes.size() < s_outcomesPerSource) {
    sums.outcomes.push_back(OutcomeShare{outcomeId, headerFromId, messages});
    return;
  }
  // Full: the smallest gives way to a larger newcomer.
  auto smallest = std::min_element(sums.outcomes.begin(), sums.outcomes.end(),
                                   [](const auto& a, const auto& b) { return a.messages < b.messages; });
  if (smallest->messages < messages) {
    *smallest = OutcomeShare{outcomeId, headerFromId, messages};
  }
}

//! An outcome as a record our judge reads (header_from comes from the fact).
Record recordOf(const Outcome& outcome, const std::string& headerFrom)
{
  Record record;
  record.disposition = outcome.disposition;
  record.dkim = outcome.dkim;
  record.spf = outcome.spf;
  record.headerFrom = headerFrom;
  record.envelopeFrom = outcome.envelopeFrom;
  record.dkimResults = outcome.dkimResults;
  record.spfResults = outcome.spfResults;
  for (const auto& reason : outcome.reasons) {
    record.reasons.push_back(PolicyOverride{reason, {}});
  }
  return record;
}

//! The published alignment modes of a domain's newest report (relaxed when none says).
PolicyPublished newestPolicy(const Store& store, const std::string& domain)
{
  PolicyPublished policy;
  for (const auto& report : store.listReports(domain)) {
    if (report.counted()) {
      policy = report.header.policy;
    }
  }
  return policy;
}

//! Name the summed sources of one domain.
void nameSources(const Store& store, StoreSnapshot& snapshot, const Namer& namer, const std::string& domain,
                 std::unordered_map<std::array<uint8_t, 16>, SourceSums, IpHash>& sums,
                 const NetworkLookup& lookup, SourceDetail detail, std::vector<NamedSource>& out)
{
  // Alignment modes matter only to the verdicts (reading every report of the domain).
  const PolicyPublished policy = detail == SourceDetail::Verdicts ? newestPolicy(store, domain) : PolicyPublished{};
  const PublicSuffixList& psl = PublicSuffixList::system();
  // Relaxed alignment with the policy domain (its organizational domain), per signal.
  const std::string policyOrg = psl.organizationalDomain(domain);
  auto isAligned = [&](std::string_view signer) { return psl.organizationalDomain(signer) == policyOrg; };
  std::unordered_map<uint32_t, Outcome> outcomes;
  auto outcomeOf = [&](uint32_t id) -> const Outcome& {
    auto found = outcomes.find(id);
    if (found == outcomes.end()) {
      found = outcomes.emplace(id, snapshot.outcome(id)).first;
    }
    return found->second;
  };

  // Most messages first (then by address), so the listing needs no sort of named sources.
  using Entry = std::pair<const std::array<uint8_t, 16>, SourceSums>;
  std::vector<Entry*> order;
  order.reserve(sums.size());
  for (auto& entry : sums) {
    order.push_back(&entry);
  }
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->second.messages != b->second.messages ? a->second.messages > b->second.messages : a->first < b->first;
  });

  for (Entry* entry : order) {
    const auto& ipBytes = entry->first;
    auto& source = entry->second;
    NamedSource named;
    named.domain = domain;
    if (ipBytes != std::array<uint8_t, 16>{}) { // all zero: a record without a source address
      named.ip = IpAddress{ipBytes};
    }
    named.messages = source.messages;
    named.dmarcPass = source.dmarcPass;
    named.dmarcFail = source.messages - source.dmarcPass;
    named.firstDay = source.firstDay;
    named.lastDay = source.lastDay;
    std::sort(source.outcomes.begin(), source.outcomes.end(),
              [](const auto& a, const auto& b) { return a.messages > b.messages; });

    // The report evidence: the union over its largest outcomes.
    ReportSignals signals;
    signals.messages = named.messages;
    signals.dmarcPass = named.dmarcPass;
    signals.dmarcFail = named.dmarcFail;
    const OutcomeShare* largestFailing = nullptr;
    for (const auto& share : source.outcomes) {
      const Outcome& outcome = outcomeOf(share.outcomeId);
      for (const auto& dkim : outcome.dkimResults) {
        const bool pass = equalsIgnoreCaseAscii(dkim.result, "pass");
        if (std::none_of(signals.dkim.begin(), signals.dkim.end(), [&](const auto& d) {
              return d.domain == dkim.domain && d.selector == dkim.selector && d.pass == pass;
            })) {
          signals.dkim.push_back(ReportSignals::Dkim{dkim.domain, dkim.selector, pass, isAligned(dkim.domain)});
        }
      }
      for (const auto& spf : outcome.spfResults) {
        const bool pass = equalsIgnoreCaseAscii(spf.result, "pass");
        if (std::none_of(signals.spf.begin(), signals.spf.end(),
                         [&](const auto& s) { return s.domain == spf.domain && s.pass == pass; })) {
          signals.spf.push_back(ReportSignals::Spf{spf.domain, pass, isAligned(spf.domain)});
        }
      }
      for (const auto& reason : outcome.reasons) {
        signals.overrides |= overrideFlag(reason);
        if (std::find(named.overrides.begin(), named.overrides.end(), reason) == named.overrides.end()) {
          named.overrides.push_back(reason);
        }
      }
      if (largestFailing == nullptr && !outcome.dmarcPass()) {
        largestFailing = &share;
      }
    }

    // What passed, and why the largest failing outcome fails, in the judge's words.
    if (!source.outcomes.empty()) {
      const auto& top = source.outcomes.front();
      named.headerFrom = snapshot.dictString(top.headerFromId);
    }
    if (!source.outcomes.empty() && detail == SourceDetail::Verdicts) {
      const Outcome& outcome = outcomeOf(source.outcomes.front().outcomeId);
      const Verdict verdict = judgeRecord(recordOf(outcome, named.headerFrom), policy, psl);
      named.passed = passedName(verdict.passed());
      named.counted = outcome.dmarcPass();
      named.ours = verdict.dmarcPass();
      named.contradictions = verdict.contradictions;
    }
    if (largestFailing != nullptr && detail == SourceDetail::Verdicts) {
      const Verdict verdict = judgeRecord(
        recordOf(outcomeOf(largestFailing->outcomeId), snapshot.dictString(largestFailing->headerFromId)), policy, psl);
      named.failure = describeVerdict(verdict);
    }

    for (const auto& dkim : signals.dkim) {
      if (dkim.pass && !dkim.domain.empty()) {
        named.identity = dkim.domain;
        break;
      }
    }
    for (const auto& spf : signals.spf) {
      if (named.identity.empty() && spf.pass && !spf.domain.empty()) {
        named.identity = spf.domain;
      }
    }
    named.identity = lowerAscii(named.identity);
    named.ownIdentity = !named.identity.empty() && isAligned(named.identity);

    if (named.ip && lookup) {
      named.network = lookup(domain, *named.ip);
    }
    named.name = namer.name(domain, named.ip, signals, named.network);
    out.push_back(std::move(named));
  }
}

} // namespace

std::vector<NamedSource> computeSources(const Store& store, const Namer& namer, std::string_view domain,
                                        uint32_t fromDay, uint32_t toDay, const NetworkLookup& lookup,
                                        SourceDetail detail, AuthenticitySet leaveOut)
{
  std::vector<NamedSource> out;
  StoreSnapshot snapshot(store);
  std::vector<std::string> domains;
  if (domain.empty()) {
    domains = snapshot.listDomains();
  }
  else {
    std::string lower;
    appendLowerAscii(lower, domain);
    domains.push_back(std::move(lower));
  }

  for (const auto& name : domains) {
    const auto domainId = snapshot.domainId(name);
    if (!domainId) {
      continue;
    }
    // What the reports left out add to the window, in the facts' order (none: nothing read).
    const std::vector<RawFact> leftOut =
      leaveOut == 0 ? std::vector<RawFact>{} : windowFactsOf(snapshot, *domainId, fromDay, toDay, leaveOut);
    size_t nextLeftOut = 0;
    // Sum the window's facts by source (less what is left out); each outcome's DMARC result is decoded once.
    std::unordered_map<std::array<uint8_t, 16>, SourceSums, IpHash> sums;
    std::unordered_map<uint32_t, bool> passes;
    snapshot.forEachRawFact(*domainId, fromDay, toDay, [&](const RawFact& fact) {
      uint64_t messages = fact.messages;
      while (nextLeftOut < leftOut.size() && factOrder(leftOut[nextLeftOut]) < factOrder(fact)) {
        ++nextLeftOut; // a fact the facts table lacks (only a damaged store): nothing to take off
      }
      if (nextLeftOut < leftOut.size() && factOrder(leftOut[nextLeftOut]) == factOrder(fact)) {
        messages -= std::min(messages, leftOut[nextLeftOut++].messages);
        if (messages == 0) {
          return; // all of it from reports left out
        }
      }
      auto pass = passes.find(fact.outcomeId);
      if (pass == passes.end()) {
        pass = passes.emplace(fact.outcomeId, snapshot.outcome(fact.outcomeId).dmarcPass()).first;
      }
      auto& source = sums[fact.ip];
      source.messages = saturatingAdd(source.messages, messages);
      if (pass->second) {
        source.dmarcPass = saturatingAdd(source.dmarcPass, messages);
      }
      source.firstDay = std::min(source.firstDay, fact.day);
      source.lastDay = std::max(source.lastDay, fact.day);
      addShare(source, fact.outcomeId, fact.headerFromId, messages);
    });
    nameSources(store, snapshot, namer, name, sums, lookup, detail, out);
  }

  return out; // domains in order (listDomains), each most messages first (nameSources)
}

std::vector<NamedSource> filterSources(std::vector<NamedSource> sources, const SourceFilter& filter)
{
  std::erase_if(sources, [&](const NamedSource& source) {
    if (filter.unknownOnly && source.name.cls != SourceClass::Unknown && source.name.cls != SourceClass::Suspicious) {
      return true;
    }
    if (filter.failingOnly && source.dmarcFail == 0) {
      return true;
    }
    if (!filter.service.empty()) {
      const bool byId = source.name.service != nullptr && equalsIgnoreCaseAscii(source.name.service->id, filter.service);
      return !byId && !equalsIgnoreCaseAscii(serviceLabel(source), filter.service);
    }
    return false;
  });
  return sources;
}

std::string serviceLabel(const NamedSource& source)
{
  std::string label = source.name.displayName();
  if (label.empty()) {
    label = source.identity.empty() ? std::string("unknown") : source.identity;
  }
  return label;
}

std::vector<std::pair<std::string, std::vector<NamedService>>> servicesOf(const std::vector<NamedSource>& sources)
{
  std::vector<std::pair<std::string, std::vector<NamedService>>> out;
  struct Group
  {
    NamedService service;
    std::map<SourceClass, uint64_t> classMessages;
    uint64_t topMessages = 0;
  };
  std::map<std::string, Group> groups;
  auto flush = [&](const std::string& domain) {
    if (groups.empty()) {
      return;
    }
    std::vector<NamedService> services;
    for (auto& [key, group] : groups) {
      auto most = std::max_element(group.classMessages.begin(), group.classMessages.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; });
      group.service.cls = most->first;
      services.push_back(std::move(group.service));
    }
    std::stable_sort(services.begin(), services.end(),
                     [](const auto& a, const auto& b) { return a.messages > b.messages; });
    out.emplace_back(domain, std::move(services));
    groups.clear();
  };

  std::string domain;
  for (const auto& source : sources) {
    if (source.domain != domain) {
      flush(domain);
      domain = source.domain;
    }
    // Unnamed sources group by the identity that passed for them ("example.com": the
    // domain's own signature on a server no rule names), the rest under "unknown".
    const SourceName& name = source.name;
    std::string key = name.service != nullptr   ? name.service->id
                      : name.network != nullptr ? "network:" + name.network->name
                                                : "unnamed:" + source.identity;
    auto& group = groups[key];
    auto& svc = group.service;
    if (svc.sources == 0) {
      svc.id = name.service != nullptr ? name.service->id : name.network != nullptr ? key : "";
      svc.name = serviceLabel(source);
      svc.category = name.service != nullptr || name.network != nullptr ? std::string(name.categoryName())
                     : source.ownIdentity                               ? "own-domain"
                                                                        : "unknown";
    }
    svc.messages = saturatingAdd(svc.messages, source.messages);
    svc.dmarcPass = saturatingAdd(svc.dmarcPass, source.dmarcPass);
    svc.dmarcFail = saturatingAdd(svc.dmarcFail, source.dmarcFail);
    ++svc.sources;
    svc.confidence = std::max(svc.confidence, name.confidence);
    group.classMessages[name.cls] = saturatingAdd(group.classMessages[name.cls], source.messages);
    if (source.messages > group.topMessages || svc.evidence.empty()) {
      group.topMessages = source.messages;
      svc.evidence.clear();
      for (const auto& evidence : name.evidence) {
        if (!evidence.ignored && (name.service == nullptr || evidence.service == name.service)) {
          svc.evidence.push_back(evidence.detail);
        }
      }
    }
  }
  flush(domain);
  return out;
}

static_assert(std::is_nothrow_move_constructible_v<NamedSource>, "sources move, not copy, as the listing grows");

NetworkLookup storedNetworkLookup(const Store& store)
{
  // What dmarcwatchd stored (store/enrichment.hh); a source it has not seen has no signals.
  // Evidence the daemon has not refreshed for a week past its expiry (dmarcwatchd stopped) is
  // not used: an address changes hands, and an old PTR must not name its new owner.
  constexpr int64_t s_staleAfter = 7 * 86400;
  const int64_t oldest = store.now() - s_staleAfter;
  return [&store, oldest](std::string_view domain, const IpAddress& ip) {
    NetworkSignals out;
    if (auto known = store.ipEnrichment(ip); known && known->expiresAt >= oldest) {
      out.ptr = known->ptrState;
      out.ptrName = known->ptrName;
      out.asn = known->asn;
      out.asOrg = known->asOrg;
      out.country = known->country;
    }
    if (auto spf = store.spfAuthorization(domain, ip); spf && spf->expiresAt >= oldest) {
      out.spfResult = spf->result;
      out.spfInclude = spf->include;
    }
    return out;
  };
}

} // namespace dmarcwatch::collector
