/*
 * enrich-step.cc - a pass's DNS enrichment (enrich-step.hh).
 */
#include "config.h"

#include "collector/daemon/enrich-step.hh"

#include "collector/common/text.hh"
#include "collector/geo/geoip.hh"
#include "collector/judge/public-suffix.hh"
#include "collector/sources/catalog.hh"

#include <cstdio>
#include <set>

namespace dmarcwatch::collector
{

namespace
{

//! Reports read per transaction while the cursor is moved on.
constexpr size_t s_reportsPerRead = 256;

//! The reports after `after` that are decided (no report still loading, nor any after it).
//! sources: when not null, the (domain, IP) pairs of the counted ones; count: how many reports.
//! \return the last one's sequence
uint64_t reportsSince(const Store& store, uint64_t after, std::vector<EnrichTarget>* sources, size_t& count)
{
  std::set<std::pair<std::string, std::array<uint8_t, 16>>> seen;
  uint64_t through = after;
  for (;;) {
    const auto reports = store.reportsAfter(through, s_reportsPerRead);
    if (reports.empty()) {
      return through;
    }
    for (const auto& report : reports) {
      if (report.state == ReportState::Loading) {
        return through;
      }
      if (sources != nullptr && report.counted()) {
        const std::string domain = lowerAscii(report.header.policy.domain);
        store.forEachRow(report.sequence, [&](const ReportRow& row) {
          if (row.ip != std::array<uint8_t, 16>{} && seen.emplace(domain, row.ip).second) {
            IpAddress ip;
            ip.bytes = row.ip;
            sources->push_back(EnrichTarget{domain, ip});
          }
        });
      }
      through = report.sequence;
      ++count;
    }
  }
}

} // namespace

EnrichOptions daemonEnrichOptions(const Config& config, const Catalog& catalog)
{
  EnrichOptions enrich;
  for (const auto& service : catalog.services()) {
    for (const auto& rule : service.rules) {
      if (rule.kind == RuleKind::SpfInclude) {
        enrich.spfIncludes.push_back(rule.value);
      }
    }
  }
  // The organizational domains of the live DMARC records' fallback (read now: a missing
  // list is a broken installation, said at start).
  const PublicSuffixList& psl = PublicSuffixList::system();
  enrich.organizationalDomain = [&psl](std::string_view domain) { return psl.organizationalDomain(domain); };
  // GeoIPCountry / GeoIPAsn, when configured (a file that turns out corrupt later throws from
  // the hook, which the pass logs).
  auto geoIp = std::make_shared<GeoIp>();
  geoIp->open(config);
  if (geoIp->hasCountry() || geoIp->hasAsn()) {
    enrich.geo = [geoIp](const IpAddress& ip, IpEnrichment& out) {
      const GeoAnswer answer = geoIp->lookup(ip);
      out.asn = answer.asn;
      out.asOrg = answer.asOrg;
      out.country = answer.country;
    };
  }
  return enrich;
}

EnrichmentStep::EnrichmentStep(std::unique_ptr<Resolver> resolver, EnrichOptions options) :
  d_resolver(std::move(resolver)), d_options(std::move(options))
{
}

PassResult EnrichmentStep::run(Store& store, bool full, const std::atomic<bool>& stop)
{
  // Step: what is new since the cursor (a full pass needs only how far that goes).
  EnrichOptions options = d_options;
  options.stop = &stop;
  const uint64_t cursor = store.cursor(s_cursor).value_or(0);
  std::vector<EnrichTarget> fresh;
  size_t reports = 0;
  const uint64_t through = reportsSince(store, cursor, full ? nullptr : &fresh, reports);
  if (!full) {
    options.only = std::move(fresh);
  }

  // Step: DNS, then the cursor (not when stopped: those sources are not all done).
  d_last = EnrichSummary{};
  d_last = runEnrichmentPass(store, *d_resolver, options);
  const EnrichSummary& summary = d_last;
  if (!summary.stopped && through != cursor) {
    store.setCursor(s_cursor, through);
  }
  char text[256];
  std::snprintf(text, sizeof text,
                "new_reports=%zu sources=%llu enriched=%llu unknown=%llu ptr_confirmed=%llu spf_checked=%llu "
                "policies=%llu",
                reports, static_cast<unsigned long long>(summary.sources),
                static_cast<unsigned long long>(summary.enriched), static_cast<unsigned long long>(summary.unknown),
                static_cast<unsigned long long>(summary.ptrConfirmed),
                static_cast<unsigned long long>(summary.spfChecked),
                static_cast<unsigned long long>(summary.policiesChecked));
  return PassResult{text, summary.stopped};
}

} // namespace dmarcwatch::collector
