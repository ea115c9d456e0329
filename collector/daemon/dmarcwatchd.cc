/*
 * dmarcwatchd.cc - main of the companion daemon: follows the store, enriches
 * its sources from DNS and raises alerts (daemon-pass.hh).
 *
 *   dmarcwatchd [-c FILE] [-f] [--once] [--interval SECONDS] [--help] [--version]
 *
 * Start-up order (each step needs the one before; the milter's, milter/main.cc):
 *   1. configuration (errors: exit 78), logging (-f: stderr), the catalog's
 *      spf-include names, the public suffix list, GeoIP files; HUP/TERM/INT
 *      blocked in every thread
 *   2. daemonize unless -f or --once (before any thread), DaemonPidFile (one
 *      naming a live process: exit 1), chowned to UserID so it can be removed
 *   3. drop privileges to UserID, open the store (created or upgraded), bind
 *      DIR/dmarcwatchd.sock (a live one: exit 1; unusable: poll, one warning)
 *   4. the resolver, the loop (daemon-loop.hh) or the one pass of --once on a
 *      thread of its own; the main thread takes the signals (sigtimedwait):
 *        SIGHUP  -> reload the configuration; a bad file keeps the old one
 *        SIGTERM/SIGINT -> stop within a second (a pass mid-DNS too), exit 0
 *                  (--once: exit 1, its pass did not finish)
 *
 * Exit: 0 stopped by a signal, or --once done; 1 start-up failed (pid file,
 * privileges, store, socket in use) or the --once pass failed or was stopped; 64 usage;
 * 78 configuration.  DNS trouble is never fatal; a failed pass is logged.
 */
#include "config.h"

#include "collector/common/config-keys.hh"
#include "collector/common/config.hh"
#include "collector/common/errors.hh"
#include "collector/common/log.hh"
#include "collector/common/process.hh"
#include "collector/common/resolver-spec.hh"
#include "collector/daemon/daemon-loop.hh"
#include "collector/daemon/daemon-pass.hh"
#include "collector/daemon/enrich-step.hh"

#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <sysexits.h>
#include <thread>

#include <unistd.h>

namespace
{

using namespace dmarcwatch::collector;

constexpr const char* s_ident = "dmarcwatchd";
constexpr int s_exitFailure = 1;
//! How long the log lines queued at exit may take to go out.
constexpr std::chrono::milliseconds s_logStopTimeout{500};
const char* const s_usage = R"(Usage: dmarcwatchd [OPTIONS]

Follows the dmarcwatch store: a pass runs when a report is stored (the writers
wake it through DIR/dmarcwatchd.sock), at least every PollInterval, and every
EnrichInterval a full one.  A pass enriches the sources from DNS: PTR names with
forward confirmation, SPF authorization by each policy domain's live record (and
the catalog's SPF include that authorizes the source), and each domain's live
DMARC record.  Every look-up goes to the configured Resolver (none: offline).
Then it judges the domains of the new reports (a full pass: every domain) by the
alert rules (new-sender, unknown-sender, spoofing, enforcement-blocker,
pass-rate-change, report-gap, dns-change, enforcement-ready; AlertRules and the
thresholds in dmarcwatch.conf(5)) and sends each alert once to SyslogTarget as
RFC 5424 with structured data; `dmarcwatch alerts` lists them.

Options:
  -c FILE             configuration file (default )" SYSCONFDIR R"(/dmarcwatch.conf)
  -f, --foreground    stay in the foreground, log to stderr instead of SyslogTarget
  --once              run one full pass, print its summary and exit
  --interval SECONDS  seconds between full passes (overrides EnrichInterval)
  --dump-config       print the configuration in effect (every key, its value and
                      where it came from; without a file, the defaults) and exit
  --help              this text
  --version           the version

Signals: SIGHUP reloads the configuration, SIGTERM and SIGINT stop.
Files: )" SYSCONFDIR R"(/dmarcwatch.conf, the store )" LOCALSTATEDIR R"(/lib/dmarcwatch
(Database; it must exist).
Exit status: 0 stopped or --once done, 1 start-up failed or the --once pass
failed or was stopped, 64 usage, 78 configuration.
)";

struct Options
{
  std::string configPath = defaultConfigPath();
  bool configGiven = false; //!< -c: the file must exist (--dump-config shows the defaults without one)
  bool dumpConfig = false;
  bool foreground = false;
  bool once = false;
  std::optional<std::chrono::seconds> interval;
};

//! \brief Parse the command line. \return the exit status to leave with, or -1 to run
int parseArgs(int argc, char** argv, Options& options)
{
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help") {
      std::cout << s_usage;
      return 0;
    }
    if (arg == "--version") {
      std::cout << s_ident << " " << PACKAGE_VERSION << "\n";
      return 0;
    }
    if (arg == "-f" || arg == "--foreground") {
      options.foreground = true;
    }
    else if (arg == "--once") {
      options.once = true;
    }
    else if (arg == "--dump-config") {
      options.dumpConfig = true;
    }
    else if ((arg == "-c" || arg == "--interval") && i + 1 < argc) {
      const std::string value = argv[++i];
      if (arg == "-c") {
        // Absolute now: the daemon runs in / (chdir), and SIGHUP reads the file again.
        std::error_code ec;
        const auto absolute = std::filesystem::absolute(value, ec);
        options.configPath = ec ? value : absolute.string();
        options.configGiven = true;
        continue;
      }
      unsigned seconds = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
      if (ec != std::errc() || end != value.data() + value.size() || seconds == 0) {
        std::cerr << s_ident << ": --interval wants a positive number of seconds\n";
        return EX_USAGE;
      }
      options.interval = std::chrono::seconds(seconds);
    }
    else {
      std::cerr << s_ident << ": unknown option '" << arg << "' (see --help)\n";
      return EX_USAGE;
    }
  }
  return -1;
}

//! The configuration with --interval applied.
std::shared_ptr<const Config> withInterval(std::shared_ptr<const Config> config, const Options& options)
{
  if (!options.interval) {
    return config;
  }
  auto copy = std::make_shared<Config>(*config);
  copy->enrichInterval = *options.interval;
  recordOverride(*copy, keys::enrichInterval, std::to_string(options.interval->count()) + "s", "--interval");
  return copy;
}

//! \brief The configuration file with --interval applied. \throw ConfigError
std::shared_ptr<const Config> readConfig(const Options& options)
{
  return withInterval(loadConfig(options.configPath), options);
}

/*!
 * Tests of the exactly-once promise: DMARCWATCHD_TEST_KILL=recorded kills the daemon (SIGKILL)
 * right after a pass recorded its alerts, =sent:N after it marked the Nth alert sent.  Unset:
 * no checkpoint at all.
 */
std::function<void(const char*, size_t)> testCheckpoint()
{
  const char* spec = std::getenv("DMARCWATCHD_TEST_KILL");
  if (spec == nullptr || *spec == '\0') {
    return {};
  }
  return [want = std::string(spec)](const char* point, size_t sent) {
    if (want == point || want == std::string(point) + ":" + std::to_string(sent)) {
      raise(SIGKILL);
    }
  };
}

//! Settings that only take effect at start-up: warn when a reload changes them.
void warnRestartOnly(const Config& old, const Config& now)
{
  auto check = [](std::string_view key, bool changed) {
    if (changed) {
      logWarning("configuration change needs a restart", {{"key", std::string(key)}});
    }
  };
  check(keys::database, old.database != now.database);
  check(keys::mapSize, old.mapSize != now.mapSize);
  check(keys::maxDatabaseSize, old.maxDatabaseSize != now.maxDatabaseSize);
  check(keys::userId, old.userId != now.userId);
  check(keys::daemonPidFile, old.daemonPidFile != now.daemonPidFile);
  check(keys::resolver, old.resolver != now.resolver);
  check(keys::serviceCatalog, old.serviceCatalog != now.serviceCatalog);
  check(keys::serviceFile, old.serviceFiles != now.serviceFiles);
  check(keys::geoIpCountry, old.geoIpCountry != now.geoIpCountry);
  check(keys::geoIpAsn, old.geoIpAsn != now.geoIpAsn);
}

void reload(DaemonLoop& loop, const DaemonPass& pass, const Options& options)
{
  const auto old = loop.config();
  auto fresh = reloadConfig(s_ident, options.configPath, *old, options.foreground);
  if (!fresh) {
    return;
  }
  fresh = withInterval(fresh, options);
  // What parses may still not work: an Authorize naming no service of the catalog read at
  // start, an alert target whose host does not resolve.  Refused now, the old one kept.
  if (const std::string why = pass.accepts(*fresh); !why.empty()) {
    logError("reload failed, keeping the old configuration", {{"file", options.configPath}, {"error", printable(why)}});
    return;
  }
  warnRestartOnly(*old, *fresh);
  loop.setConfig(fresh);
  logInfo("configuration reloaded", {{"file", options.configPath},
                                     {"poll_interval", std::to_string(fresh->pollInterval.count())},
                                     {"enrich_interval", std::to_string(fresh->enrichInterval.count())}});
}

int run(const Options& options)
{
  // Step 1: configuration, logging, what the passes need from files; signals blocked.
  std::shared_ptr<const Config> config;
  std::shared_ptr<const Catalog> catalog;
  EnrichOptions enrich;
  try {
    config = readConfig(options);
    checkDatabaseDirectory(*config);
    setupLogging(s_ident, options.foreground ? "stderr" : config->syslogTarget,
                 config->syslogFacility);
    (void)ResolverSpec::parse(config->resolver);
    catalog = loadCatalog(*config);
    enrich = daemonEnrichOptions(*config, *catalog);
    // The alerts' target and facility, checked now (a bad one is a configuration error).
    (void)AlertSyslogOptions::fromConfig(*config);
  }
  catch (const std::exception& e) {
    std::cerr << s_ident << ": " << e.what() << "\n";
    return EX_CONFIG;
  }
  // Blocked before the pid file names us and before any thread (libunbound's, the loop's).
  const sigset_t signals = blockControlSignals();

  // Steps 2 and 3: daemon, pid file, privileges, store, socket, resolver.
  const bool background = !options.foreground && !options.once;
  const std::string pidFile = options.once ? std::string() : config->daemonPidFile;
  std::optional<LogWriterThread> logWriter;
  std::optional<DaemonLoop> loop;
  std::optional<DaemonPass> pass;
  bool startedPidFile = false;
  int startupPipe = -1; //!< daemonized: the parent waits on it for the start-up's outcome
  const size_t spfIncludes = enrich.spfIncludes.size();
  try {
    std::optional<Identity> identity;
    if (!config->userId.empty()) {
      identity = lookupIdentity(config->userId);
    }
    if (background) {
      startupPipe = daemonizeReporting();
    }
    logWriter.emplace();
    if (!pidFile.empty()) {
      writePidFile(pidFile, identity ? &*identity : nullptr);
      startedPidFile = true;
    }
    if (identity) {
      dropPrivileges(*identity);
    }
    Store::Options storeOptions;
    storeOptions.mapSize = config->mapSize;
    storeOptions.maxMapSize = config->maxDatabaseSize;
    { Store created(config->database, storeOptions); } // created or upgraded now, as the user
    std::unique_ptr<StoreNotifications> notifications;
    if (!options.once) {
      notifications = std::make_unique<StoreNotifications>(config->database);
      if (!notifications->usable()) {
        logWarning("no store notifications, polling only",
                   {{"error", notifications->error()},
                    {"poll_interval", std::to_string(config->pollInterval.count())}});
      }
    }
    ResolverOptions resolverOptions;
    resolverOptions.spec = config->resolver;
    pass.emplace(std::make_unique<EnrichmentStep>(std::make_unique<Resolver>(resolverOptions), std::move(enrich)),
                 config, catalog, testCheckpoint());
    loop.emplace(config,
                 [&pass, &loop](Store& store, bool full) {
                   return pass->run(store, full, loop->stopFlag(), loop->config());
                 },
                 std::move(notifications));
  }
  catch (const std::exception& e) {
    std::cerr << s_ident << ": " << e.what() << "\n";
    logError("start-up failed", {{"error", e.what()}});
    // Our pid file only: one naming another live process stays (writePidFile refused it).
    if (!pidFile.empty() && startedPidFile) {
      unlink(pidFile.c_str());
    }
    startupDone(startupPipe, s_exitFailure, std::string(s_ident) + ": " + e.what());
    return s_exitFailure;
  }

  // Step 4: the passes on a thread of their own (they never throw), the signals here: the loop
  // until a stop, or the one pass of --once (which a stop ends early too).
  std::atomic<bool> done{false};
  std::optional<PassResult> once;
  std::thread passes([&] {
    if (options.once) {
      once = loop->runOnce(true, "once");
    }
    else {
      loop->run();
    }
    done = true;
  });
  startupDone(startupPipe, 0);
  if (!options.once) {
    logInfo("started", {{"database", config->database}, {"resolver", config->resolver},
                        {"poll_interval", std::to_string(config->pollInterval.count())},
                        {"enrich_interval", std::to_string(config->enrichInterval.count())},
                        {"spf_includes", std::to_string(spfIncludes)}});
  }
  while (!done) {
    timespec tick{0, 100'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGHUP && !options.once) {
      reload(*loop, *pass, options);
    }
    else if (sig == SIGTERM || sig == SIGINT) {
      logInfo("stopping", {{"signal", sig == SIGTERM ? "TERM" : "INT"}});
      loop->requestStop();
      break;
    }
  }
  passes.join();
  if (!pidFile.empty()) {
    unlink(pidFile.c_str());
  }
  int status = 0;
  if (options.once) {
    if (once) {
      const AlertPassSummary& alerts = pass->lastAlerts();
      std::cout << summaryLine(pass->lastEnrichment()) << "\n"
                << "reports " << alerts.reports << ", domains " << alerts.domains << ", alerts " << alerts.raised
                << " (" << alerts.summarised << " in summaries), sent " << alerts.sent << ", unsent " << alerts.unsent
                << "\n";
    }
    status = once && !once->stopped ? 0 : s_exitFailure;
  }
  else {
    logInfo("stopped");
  }
  // Within the second a stop may take, even when the log target does not answer.
  logWriter->stop(s_logStopTimeout);
  return status;
}

} // namespace

int main(int argc, char** argv)
{
  Options options;
  if (int status = parseArgs(argc, argv, options); status >= 0) {
    return status;
  }
  if (options.dumpConfig) {
    try {
      std::cout << dumpConfig(*withInterval(loadConfigOrDefaults(options.configGiven ? options.configPath : ""), options));
      return 0;
    }
    catch (const ConfigError& e) {
      std::cerr << s_ident << ": " << e.what() << "\n";
      return EX_CONFIG;
    }
  }
  return run(options);
}
