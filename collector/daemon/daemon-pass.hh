/*
 * daemon-pass.hh - what one pass of dmarcwatchd does: the DNS enrichment of
 * the new sources (enrich-step.hh), then the alert rules over the domains of
 * the new reports (every domain in a full pass), their alerts sent to syslog
 * (alerts/alert-pass.hh, alerts/alert-emitter.hh).
 *
 * The naming and the alert settings follow the configuration in force: a
 * reload (SIGHUP) that changes it is used from the next pass.  The catalog is
 * read once, at start (ServiceCatalog and ServiceFile need a restart); a reload
 * is checked against it before it is taken (accepts()).
 *
 * Users: collector/daemon/dmarcwatchd.cc, the daemon tests.  Thread-safety:
 * one pass at a time (the loop's thread).  Errors: StoreError and a catalog
 * that cannot be read again propagate (the loop logs them and retries later);
 * syslog trouble never does (the alert waits, recorded, for the next pass).
 */
#pragma once

#include "collector/alerts/alert-emitter.hh"
#include "collector/alerts/alert-pass.hh"
#include "collector/daemon/daemon-loop.hh"
#include "collector/daemon/enrich-step.hh"
#include "collector/sources/catalog.hh"

#include <atomic>
#include <functional>
#include <memory>

namespace dmarcwatch::collector
{

class DaemonPass
{
public:
  /*!
   * \param catalog the service catalog the configuration names (read once at start)
   * \param checkpoint tests: AlertPassOptions::checkpoint (dmarcwatchd wires a kill to it)
   */
  DaemonPass(std::unique_ptr<EnrichmentStep> step, std::shared_ptr<const Config> config,
             std::shared_ptr<const Catalog> catalog, std::function<void(const char*, size_t)> checkpoint = {});

  /*!
   * \brief Whether a reloaded configuration can be used: its Authorize lines name services of
   * the catalog, its alert target parses and resolves.  Any thread.  \return "" or why not
   */
  [[nodiscard]] std::string accepts(const Config& config) const;

  /*!
   * \brief Enrich, then judge and alert.  \param config the configuration in force now (one
   * that accepts() refuses is logged and the previous one kept)  \throw StoreError
   */
  PassResult run(Store& store, bool full, const std::atomic<bool>& stop, std::shared_ptr<const Config> config);

  //! The last enrichment's counts and the last alert pass's.
  [[nodiscard]] const EnrichSummary& lastEnrichment() const { return d_step->lastSummary(); }
  [[nodiscard]] const AlertPassSummary& lastAlerts() const { return d_alerts; }

private:
  //! \brief Naming and emitter for this configuration (again only when it changed).
  void prepare(std::shared_ptr<const Config> config);
  //! \brief The emitter of a configuration. \throw ConfigError
  static std::unique_ptr<AlertEmitter> emitterFor(const Config& config);

  std::unique_ptr<EnrichmentStep> d_step;
  std::shared_ptr<const Config> d_config;
  std::shared_ptr<const Config> d_refused; //!< the last configuration prepare() refused (logged once)
  const std::shared_ptr<const Catalog> d_catalog;
  std::unique_ptr<Namer> d_namer;
  std::unique_ptr<AlertEmitter> d_emitter;
  std::function<void(const char*, size_t)> d_checkpoint;
  AlertPassSummary d_alerts;
};

} // namespace dmarcwatch::collector
