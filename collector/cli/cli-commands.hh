/*
 * cli-commands.hh - the commands of `dmarcwatch` (ingest and reports in
 * cli-commands.cc; status in status-command.cc; db and reindex in db-commands.cc; deliver in deliver-command.cc).
 *
 * Each takes the loaded configuration and the arguments after the command
 * name, writes to stdout (tables, or JSON with --json) and stderr (errors),
 * and returns the exit status: 0 success, 1 an input or the store failed,
 * 2 usage or configuration error (usage.hh).  --help never reaches them:
 * dmarcwatch.cc answers it from command-help.hh.
 */
#pragma once

#include "collector/auth/auth-result.hh"

#include "collector/cli/usage.hh"
#include "collector/common/config.hh"
#include "collector/ingest/ingest.hh"
#include "collector/sources/naming.hh"
#include "collector/store/store.hh"
#include "collector/views/sources-view.hh"
#include "collector/views/status-view.hh"

#include <memory>
#include <optional>

#include <string>
#include <vector>

namespace dmarcwatch::cli
{

int runIngest(const collector::Config& config, const std::vector<std::string>& args);
int runReports(const collector::Config& config, const std::vector<std::string>& args);
int runStatus(const collector::Config& config, const std::vector<std::string>& args);
//! \brief `sources`: every source of a domain, named and classified (sources-commands.cc).
int runSources(const collector::Config& config, const std::vector<std::string>& args);
//! \brief `services`: the services that send as a domain (sources-commands.cc).
int runServices(const collector::Config& config, const std::vector<std::string>& args);
int runDb(const collector::Config& config, const std::vector<std::string>& args);
//! \brief `alerts`: what dmarcwatchd raised, from the store's alert log (alerts-command.cc).
int runAlerts(const collector::Config& config, const std::vector<std::string>& args);
//! `dmarcwatch db enrichment [--json]`: dump what dmarcwatchd stored from DNS (enrichment-command.cc).
int runDbEnrichment(const collector::Config& config, bool json);
int runReindex(const collector::Config& config, const std::vector<std::string>& args);
//! \brief `deliver`: one message on stdin (a pipe transport); sysexits.h codes (deliver-command.cc).
int runDeliver(const collector::Config& config, const std::vector<std::string>& args);
//! \brief `report --html FILE`: the domains as one self-contained HTML page (report-command.cc).
int runReport(const collector::Config& config, const std::vector<std::string>& args);

//! The result of one input (a file, a directory entry, an mbox, stdin).
struct InputResult
{
  std::string path;
  collector::IngestOutcome outcome;
};
//! Print an input's result: ingest's text lines, or its JSON line.
void printIngestResult(const InputResult& input, bool json);
//! The error text of a failed input.
std::string errorText(const collector::IngestOutcome& outcome);

/*!
 * \brief How `ingest` and `deliver` judge reports: the configuration's actions and per-day
 * limits (TrustSettings) and the checks of each mail (collector/auth/report-check.hh: DKIM
 * and DMARC from the mail itself through Resolver).  SPF needs the client's address, which a
 * file does not have: "none", or with milterSpf (`--milter-spf`, the admin's word that the
 * mail came through dmarcwatch-milter) the result the milter recorded in its header
 * (collector/auth/recorded-spf.hh).  config must outlive the result.
 */
collector::IngestTrust ingestTrust(const collector::Config& config, bool milterSpf);

//! The store options a configuration asks for (readOnly for the commands that only look).
collector::Store::Options storeOptions(const collector::Config& config, bool readOnly);

//! \brief Seconds since the epoch the views take today from (the clock; tests pin it).
int64_t statusNow();

/*!
 * \brief The namer a configuration asks for: the catalog (ServiceCatalog, ServiceFile,
 * Authorize checked) and the networks.  The public suffix list is read before (dmarcwatch.cc,
 * at start).  Blocks on file I/O.  \throw ConfigError naming the file (and line) at fault
 */
std::shared_ptr<const collector::Namer> makeNamer(const collector::Config& config);
//! \brief makeNamer, or nullptr after "dmarcwatch COMMAND: error" on stderr (a usage error).
std::shared_ptr<const collector::Namer> namerOrUsage(const collector::Config& config, const char* command);

} // namespace dmarcwatch::cli
