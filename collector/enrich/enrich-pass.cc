/*
 * enrich-pass.cc - one enrichment pass (enrich-pass.hh).
 *
 * Steps: load the DNS cache; list the sources and decide what is due in one
 * read snapshot; PTR checks batch by batch (all of a batch in flight through
 * the resolver at once, bounded by its maxInFlight), each batch written with
 * the live DMARC and SPF records due and the SPF results of its IPs; save the
 * cache.
 * SPF evaluation is synchronous (libspf2 asks one question at a time) but
 * runs mostly from the cache: a domain's record and its includes are fetched
 * once per pass.
 */
#include "config.h"

#include "collector/enrich/enrich-pass.hh"

#include "collector/common/log.hh"
#include "collector/common/text.hh"
#include "collector/dns/live-dmarc.hh"
#include "collector/dns/ptr-check.hh"
#include "collector/dns/spf-check.hh"
#include "collector/dns/spf-record.hh"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace dmarcwatch::collector
{

namespace
{

struct IpKeyHash
{
  size_t operator()(const std::array<uint8_t, 16>& bytes) const noexcept
  {
    return std::hash<std::string_view>()(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
};

//! What the pass has to do, decided from one snapshot while the sources are visited (no copy
//! of the sources table: the work is what is due, each domain name held once).
struct Work
{
  std::set<std::string> domains;                                             //!< every policy domain seen
  size_t badDomains = 0; //!< sources of policy domains that are no DNS name (skipped for SPF and DMARC)
  std::vector<IpAddress> ips;                                                //!< PTR due
  std::map<std::array<uint8_t, 16>, std::vector<const std::string*>> spfDue; //!< IP -> domains with SPF due
  std::vector<std::string> policies;                                         //!< live DMARC due
  uint64_t sources = 0;
};

bool due(int64_t expiresAt, int64_t now, bool force)
{
  return force || expiresAt <= now;
}

Work findWork(const Store& store, int64_t now, const EnrichOptions& options)
{
  Work work;
  const bool force = options.force;
  StoreSnapshot snapshot(store);
  std::unordered_set<std::array<uint8_t, 16>, IpKeyHash> ipsSeen;
  std::unordered_set<std::array<uint8_t, 16>, IpKeyHash> ipsDue;
  auto visit = [&](const std::string& sourceDomain, const IpAddress& ip) {
    ++work.sources;
    const auto& bytes = ip.bytes;
    if (ipsSeen.insert(bytes).second) {
      auto known = snapshot.ipEnrichment(bytes);
      if (!known || due(known->expiresAt, now, force)) {
        work.ips.push_back(ip);
        ipsDue.insert(bytes);
      }
    }
    // A policy domain comes from a report: one that is no DNS name (too long for a name, or
    // for the store's keys) gets no SPF or DMARC look-up, and cannot stop the pass.
    if (!isDomainName(sourceDomain, 1)) {
      ++work.badDomains;
      return;
    }
    auto [domain, firstSeen] = work.domains.insert(sourceDomain);
    auto spf = snapshot.spfAuthorization(*domain, bytes);
    if (!spf || due(spf->expiresAt, now, force)) {
      work.spfDue[bytes].push_back(&*domain);
    }
    if (firstSeen) {
      auto policy = snapshot.livePolicy(*domain);
      if (!policy || due(policy->expiresAt, now, force)) {
        work.policies.push_back(*domain);
      }
    }
  };
  // Step: the given sources only (each once), or every source of the store.
  if (options.only) {
    std::set<std::pair<std::string_view, std::array<uint8_t, 16>>> seen;
    for (const auto& target : *options.only) {
      if (seen.emplace(target.domain, target.ip.bytes).second) {
        visit(target.domain, target.ip);
      }
    }
  }
  else {
    store.forEachSource([&](const Store::Source& source) {
      if (source.ip) {
        visit(source.domain, *source.ip);
      }
    });
  }
  // IPs whose PTR is current but whose SPF is due are still visited (for SPF only).
  for (const auto& [bytes, domains] : work.spfDue) {
    if (!ipsDue.contains(bytes)) {
      IpAddress ip;
      ip.bytes = bytes;
      work.ips.push_back(ip);
    }
  }
  return work;
}

//! One policy domain's live records while they are fetched: unknown until an answer comes.
struct LiveSlot
{
  LiveSlot()
  {
    dmarc.state = "unknown"; // short strings: no allocation
    spf.error = "temperror";
  }
  DmarcRecord dmarc;
  SpfRecordInfo spf;
};

DnsCacheRecord toRecord(const DnsCacheEntry& entry)
{
  return DnsCacheRecord{entry.type,         entry.name,        entry.answer.rcode, static_cast<uint8_t>(entry.answer.status),
                        entry.answer.ttl,   entry.answer.rdata, entry.expiresAt};
}

DnsCacheEntry toEntry(const DnsCacheRecord& record)
{
  DnsCacheEntry entry;
  entry.type = record.type;
  entry.name = record.name;
  entry.answer.status = static_cast<DnsStatus>(record.status);
  entry.answer.rcode = record.rcode;
  entry.answer.ttl = record.ttl;
  entry.answer.rdata = record.rdata;
  entry.expiresAt = record.expiresAt;
  return entry;
}

class Pass
{
public:
  Pass(Store& store, Resolver& resolver, const EnrichOptions& options) :
    d_store(store), d_resolver(resolver), d_options(options), d_spf(resolver)
  {
  }

  EnrichSummary run()
  {
    const auto start = std::chrono::steady_clock::now();
    const int64_t now = d_resolver.now();
    // The resolver gives up its questions when a stop is asked (their callbacks never run).
    d_resolver.setStop(d_options.stop);
    struct ClearStop
    {
      Resolver& resolver;
      ~ClearStop() { resolver.setStop(nullptr); }
    } clearStop{d_resolver};
    auto finish = [&] {
      d_summary.stopped = stopped();
      d_summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return d_summary;
    };

    // Step: the resolver starts from the store's DNS cache.
    std::vector<DnsCacheEntry> cached;
    for (const auto& record : d_store.dnsCache(now)) {
      cached.push_back(toEntry(record));
    }
    d_resolver.preload(cached);

    Work work = findWork(d_store, now, d_options);
    d_summary.sources = work.sources;
    if (work.badDomains != 0) {
      logWarning("policy domains that are no DNS name skipped for SPF and DMARC",
                 {{"sources", std::to_string(work.badDomains)}});
    }
    d_catalogIncludes.insert(d_options.spfIncludes.begin(), d_options.spfIncludes.end());

    // Step: live DMARC and SPF records, all in flight at once (few domains).  The callbacks
    // copy their result into a slot made beforehand, which says unknown until then; a copy
    // that fails (bad_alloc) leaves it unknown, and nothing leaves the callback.
    Store::EnrichmentBatch batch;
    std::vector<LiveSlot> live(work.policies.size());
    for (size_t i = 0; i < work.policies.size(); ++i) {
      const std::string& domain = work.policies[i];
      LiveSlot& slot = live[i];
      fetchDmarcRecord(
        d_resolver, domain,
        [&slot](const DmarcRecord& record) noexcept {
          try {
            slot.dmarc = record;
          }
          catch (...) {
            slot.dmarc = LiveSlot{}.dmarc;
          }
        },
        d_options.organizationalDomain ? d_options.organizationalDomain(domain) : std::string());
      fetchSpfRecord(d_resolver, domain, [&slot](const SpfRecordInfo& info) noexcept {
        try {
          slot.spf = info;
        }
        catch (...) {
          slot.spf = LiveSlot{}.spf;
        }
      });
    }
    d_resolver.run();
    for (size_t i = 0; i < work.policies.size(); ++i) {
      batch.policies.emplace_back(work.policies[i], livePolicyOf(live[i].dmarc, live[i].spf, now));
    }
    d_summary.policiesChecked = batch.policies.size();

    // Step: the IPs, a batch at a time: PTR checks in flight together, then SPF, then one write.
    // Stopped: the batch in hand is dropped (its answers are incomplete: cancelled questions
    // are no Unknown to keep), and the next pass does it again.
    for (size_t first = 0; first < work.ips.size() && !stopped(); first += d_options.batchSize) {
      const size_t last = std::min(work.ips.size(), first + d_options.batchSize);
      enrichIps(std::span(work.ips).subspan(first, last - first), work, now, batch);
      if (stopped()) {
        break;
      }
      d_store.putEnrichment(batch);
      batch = Store::EnrichmentBatch{};
    }
    if (stopped()) {
      return finish();
    }

    // Step: the resolver's cache back to the store, expired entries out.
    for (const auto& entry : d_resolver.cacheEntries()) {
      batch.dns.push_back(toRecord(entry));
    }
    d_store.putEnrichment(batch);
    d_store.pruneDnsCache(now);
    return finish();
  }

private:
  LivePolicy livePolicyOf(const DmarcRecord& record, const SpfRecordInfo& spf, int64_t now) const
  {
    LivePolicy policy;
    policy.checkedAt = now;
    const bool unknown = record.state == "unknown" || spf.error == "temperror";
    policy.expiresAt =
      now + (unknown ? d_options.unknownRetry
                     : std::clamp<int64_t>(std::min(record.ttl, spf.ttl), d_options.minRecheck, d_options.maxRecheck));
    policy.state = record.state;
    policy.recordDomain = record.domain;
    policy.spfRecord = spf.record;
    policy.spfLookups = spf.lookups;
    policy.spfError = spf.error;
    policy.record = record.record;
    policy.p = record.p;
    policy.sp = record.sp;
    policy.np = record.np;
    policy.testing = record.testing;
    policy.pct = record.pct;
    policy.rua = record.rua;
    return policy;
  }

  void enrichIps(std::span<const IpAddress> ips, const Work& work, int64_t now, Store::EnrichmentBatch& batch)
  {
    // PTR for the IPs whose enrichment is due (work.ips holds SPF-only ones too: they are
    // checked again as well, which costs one cached look-up at most).
    for (const auto& ip : ips) {
      checkPtr(d_resolver, ip, [&batch, ip, now, this](const PtrCheck& check) {
        IpEnrichment value;
        value.checkedAt = now;
        value.ptrState = check.outcome;
        value.ptrName = check.name;
        value.expiresAt =
          now + (check.outcome == PtrState::Unknown
                   ? d_options.unknownRetry
                   : std::clamp<int64_t>(check.ttl, d_options.minRecheck, d_options.maxRecheck));
        applyGeo(ip, value);
        ++d_summary.ipsChecked;
        d_summary.ptrConfirmed += check.outcome == PtrState::Confirmed ? 1 : 0;
        d_summary.ptrUnknown += check.outcome == PtrState::Unknown ? 1 : 0;
        batch.ips.emplace_back(ip, std::move(value));
      });
    }
    d_resolver.run();
    std::unordered_set<std::array<uint8_t, 16>, IpKeyHash> unknownIps;
    for (const auto& [ip, value] : batch.ips) {
      if (value.ptrState == PtrState::Unknown) {
        unknownIps.insert(ip.bytes);
      }
    }
    // SPF per (domain, IP) due (one question at a time: a stop is looked at per IP).
    for (const auto& ip : ips) {
      if (stopped()) {
        return;
      }
      auto found = work.spfDue.find(ip.bytes);
      if (found == work.spfDue.end()) {
        d_summary.enriched += 1;
        d_summary.unknown += unknownIps.contains(ip.bytes) ? 1 : 0;
        continue;
      }
      for (const std::string* domain : found->second) {
        SpfAuthorization value = checkSpf(ip, *domain, now);
        const bool unknown = value.result == "unknown" || unknownIps.contains(ip.bytes);
        d_summary.unknown += unknown ? 1 : 0;
        d_summary.enriched += 1;
        batch.spf.push_back(Store::EnrichmentBatch::Spf{*domain, ip, std::move(value)});
      }
    }
  }

  SpfAuthorization checkSpf(const IpAddress& ip, const std::string& domain, int64_t now)
  {
    SpfAuthorization value;
    value.checkedAt = now;
    value.result = d_spf.check(ip, domain);
    ++d_summary.spfChecked;
    if (value.result == "unknown") {
      ++d_summary.spfUnknown;
      value.expiresAt = now + d_options.unknownRetry;
      return value;
    }
    value.expiresAt = now + d_options.spfRecheck;
    // The catalog includes this domain's record reaches, tried in the record's order.
    auto tree = d_includeTrees.find(domain);
    if (tree == d_includeTrees.end()) {
      std::vector<std::string> candidates;
      for (auto& name : d_spf.includeTree(domain)) {
        if (d_catalogIncludes.contains(name)) {
          candidates.push_back(std::move(name));
        }
      }
      tree = d_includeTrees.emplace(domain, std::move(candidates)).first;
    }
    value.include = d_spf.authorizingInclude(ip, tree->second);
    return value;
  }

  void applyGeo(const IpAddress& ip, IpEnrichment& value) const
  {
    if (!d_options.geo) {
      return;
    }
    try {
      d_options.geo(ip, value);
    }
    catch (const std::exception& e) {
      logWarning("geoip lookup failed", {{"ip", ip.toString()}, {"error", printable(e.what())}});
    }
  }

  [[nodiscard]] bool stopped() const { return d_options.stop != nullptr && d_options.stop->load(); }

  Store& d_store;
  Resolver& d_resolver;
  const EnrichOptions& d_options;
  SpfChecker d_spf;
  std::set<std::string> d_catalogIncludes;
  std::map<std::string, std::vector<std::string>> d_includeTrees;
  EnrichSummary d_summary;
};

} // namespace

std::string summaryLine(const EnrichSummary& summary)
{
  char line[320];
  std::snprintf(line, sizeof line,
                "sources %llu, enriched %llu, unknown %llu, PTR confirmed %llu, SPF checked %llu, DMARC records %llu, "
                "%.3f s, %.1f sources/s",
                static_cast<unsigned long long>(summary.sources), static_cast<unsigned long long>(summary.enriched),
                static_cast<unsigned long long>(summary.unknown), static_cast<unsigned long long>(summary.ptrConfirmed),
                static_cast<unsigned long long>(summary.spfChecked),
                static_cast<unsigned long long>(summary.policiesChecked), summary.seconds, summary.rate());
  return line;
}

EnrichSummary runEnrichmentPass(Store& store, Resolver& resolver, const EnrichOptions& options)
{
  return Pass(store, resolver, options).run();
}

} // namespace dmarcwatch::collector
