/*
 * daemon-pass.cc - one pass of dmarcwatchd (daemon-pass.hh).
 */
#include "config.h"

#include "collector/daemon/daemon-pass.hh"

#include "collector/common/log.hh"

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

std::unique_ptr<AlertEmitter> DaemonPass::emitterFor(const Config& config)
{
  return std::make_unique<AlertEmitter>(AlertSyslogOptions::fromConfig(config));
}

std::string DaemonPass::accepts(const Config& config) const
{
  try {
    checkAuthorizations(config, *d_catalog);
    (void)emitterFor(config); // the target parses, its host resolves
    return {};
  }
  catch (const std::exception& e) {
    return e.what();
  }
}

void DaemonPass::prepare(std::shared_ptr<const Config> config)
{
  if (config == d_config || config == d_refused) {
    return;
  }
  try {
    if (d_config) {
      checkAuthorizations(*config, *d_catalog);
    }
    auto emitter = emitterFor(*config);
    auto namer = std::make_unique<Namer>(d_catalog, config, Namer::Options{config->suspiciousMessages});
    d_emitter = std::move(emitter);
    d_namer = std::move(namer);
    d_config = std::move(config);
  }
  catch (const std::exception& e) {
    if (!d_config) {
      throw; // at start: the caller's configuration error
    }
    logError("configuration not taken, keeping the old one", {{"error", printable(e.what())}});
    d_refused = std::move(config);
  }
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
  // Reports stored since the enrichment began wait for the next pass (a notification is due).
  options.through = store.cursor(EnrichmentStep::s_cursor).value_or(0);
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
