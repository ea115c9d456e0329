/*
 * enrich-step.hh - the DNS enrichment part of a dmarcwatchd pass.
 *
 * A quick pass (a notification, a poll) enriches the sources of the reports
 * stored since the last pass: the cursor "dmarcwatchd-enrich" (store.hh
 * cursors) names the last report whose sources were handed to the resolver,
 * and never moves past a report still loading.  A full pass (EnrichInterval)
 * checks every source whose enrichment expired, and moves the cursor too.
 * A stopped pass leaves the cursor where it was: its sources come again.
 *
 * Users: collector/daemon/dmarcwatchd.cc (and, with the alert rules, the pass
 * that combines both).  Thread-safety: one pass at a time (the Resolver).
 * Errors: StoreError propagates; DNS trouble never does (enrich-pass.hh).
 */
#pragma once

#include "collector/daemon/daemon-loop.hh"
#include "collector/dns/resolver.hh"
#include "collector/enrich/enrich-pass.hh"
#include "collector/sources/catalog.hh"

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace dmarcwatch::collector
{

/*!
 * \brief The daemon's pass options: the spf-include names of the service catalog
 * (ServiceCatalog, ServiceFile), the organizational domains of the public suffix list (the
 * live DMARC records' fallback) and the GeoIP hook (GeoIPCountry, GeoIPAsn).
 * \throw ConfigError, std::runtime_error (an unreadable catalog, suffix list or GeoIP file)
 */
EnrichOptions daemonEnrichOptions(const Config& config, const Catalog& catalog);

class EnrichmentStep
{
public:
  //! The cursor's name in the store.
  static constexpr const char* s_cursor = "dmarcwatchd-enrich";

  //! \param options spfIncludes and geo as the pass wants them (only/stop are set per pass)
  EnrichmentStep(std::unique_ptr<Resolver> resolver, EnrichOptions options);

  /*!
   * \brief Enrich the new sources (full: every due source) and move the cursor.  Blocks for
   * DNS until done or stop (then about 100 ms more).  \throw StoreError
   */
  PassResult run(Store& store, bool full, const std::atomic<bool>& stop);
  //! The last run's counts (what `dmarcwatchd --once` prints).
  [[nodiscard]] const EnrichSummary& lastSummary() const { return d_last; }

private:
  std::unique_ptr<Resolver> d_resolver;
  EnrichOptions d_options;
  EnrichSummary d_last;
};

} // namespace dmarcwatch::collector
