/*
 * daemon-pass.cc - one pass of dmarcwatchd (daemon-pass.hh).
 */
#include "config.h"

#include "collector/daemon/daemon-pass.hh"

#include <cstdio>
#include <ctime>

namespace dmarcwatch::collector
{

DaemonPass::DaemonPass(std::unique_ptr<EnrichmentStep> step, std::shared_ptr<const Config> config,
                       std::shared_ptr<const Catalog> catalog, std::function<void(const char*, size_t)> checkpoint) :
  d_step(std::move(step)), d_catalog(std::move(catalog)), d_checkpoint(std::move(checkpoint))
{
  prepare(std::move(config));
}

void DaemonPass::prepare(std::shared_ptr<const Config> config)
{
  if (config == d_config) {
    return;
  }
  // A reload: Authorize, Network and the thresholds come from the new file; the catalog is
  // read again only when its files changed (a broken one throws, and the old setup stays).
  if (d_config && (config->serviceCatalog != d_config->serviceCatalog || config->serviceFiles != d_config->serviceFiles)) {
    d_catalog = loadCatalog(*config);
  }
  else if (d_config) {
    checkAuthorizations(*config, *d_catalog);
  }
  auto emitter = std::make_unique<AlertEmitter>(AlertSyslogOptions::fromConfig(*config));
  d_namer = std::make_unique<Namer>(d_catalog, config, Namer::Options{config->suspiciousMessages});
  d_emitter = std::move(emitter);
  d_config = std::move(config);
}

PassResult DaemonPass::run(Store& store, bool full, const std::atomic<bool>& stop, std::shared_ptr<const Config> config)
{
  prepare(std::move(config));
  // Step 1: DNS first, so the rules see the new sources' names, networks and countries.
  PassResult result = d_step->run(store, full, stop);
  if (result.stopped) {
    return result;
  }
  // Step 2: the rules and the alerts.
  AlertPassOptions options;
  options.full = full;
  options.checkpoint = d_checkpoint;
  options.stopRequested = [&stop] { return stop.load(); };
  AlertPass pass(*d_config, *d_namer);
  AlertEmitter& emitter = *d_emitter;
  d_alerts = pass.run(store, storedNetworkLookup(store), [&emitter](const Alert& alert) { return emitter.emit(alert); },
                      options, static_cast<int64_t>(::time(nullptr)));
  char text[256];
  std::snprintf(text, sizeof text, " reports=%llu domains=%llu alerts=%llu summarised=%llu sent=%llu unsent=%llu",
                static_cast<unsigned long long>(d_alerts.reports), static_cast<unsigned long long>(d_alerts.domains),
                static_cast<unsigned long long>(d_alerts.raised), static_cast<unsigned long long>(d_alerts.summarised),
                static_cast<unsigned long long>(d_alerts.sent), static_cast<unsigned long long>(d_alerts.unsent));
  result.summary += text;
  result.stopped = d_alerts.stopped;
  return result;
}

} // namespace dmarcwatch::collector
