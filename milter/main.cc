/*
 * main.cc - dmarcwatch-milter: arguments, configuration, socket, daemon,
 * privileges, store, signals.  The mail logic is in session.cc.
 *
 *   dmarcwatch-milter [-c FILE] [-f] [--dump-messages DIR]
 *
 * Start-up order (each step needs the one before):
 *   1. load the configuration (errors: exit 2), set up logging (-f: stderr)
 *   2. open the listening socket (listener.cc; as root: a port below 1024
 *      or a socket under /run; a stale unix socket is replaced)
 *   3. daemonize unless -f (before any thread exists), write PidFile
 *   4. drop privileges to UserID (unix socket chowned to it first)
 *   5. open the Store (after daemonizing: LMDB must not cross a fork)
 *   6. block HUP/TERM/INT in every thread, run the event loop (engine.cc)
 *      in its own thread; the main thread is the signal thread (sigwait):
 *        SIGHUP  -> reload the configuration; a bad file keeps the old one
 *        SIGTERM/SIGINT -> stop accepting, answer the reports whose end of
 *                  message is running, close the store, exit 0
 *
 * Threads: the main (signal) thread, the event loop, and a few workers for
 * the end of report messages (engine.hh).  The milter protocol is our own
 * (protocol.hh says why), so no libmilter thread exists.
 *
 * Error policy: start-up failures are fatal with a message on stderr and in
 * the log (exit 1; 2 for usage and configuration errors, a missing
 * ReportAddress among them).  After start-up
 * nothing is fatal; a failed reload is logged and ignored.
 */
#include "config.h"

#include "collector/auth/report-check.hh"
#include "collector/common/config.hh"

#include "collector/common/config-keys.hh"
#include "collector/common/errors.hh"
#include "collector/common/log.hh"
#include "collector/common/process.hh"
#include "collector/judge/public-suffix.hh"
#include "collector/store/store.hh"
#include "milter/engine.hh"
#include "milter/listener.hh"
#include "milter/session.hh"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dmarcwatch::milter
{
namespace
{

using collector::logError;
using collector::logInfo;
using collector::logWarning;

constexpr const char* s_ident = "dmarcwatch-milter";
constexpr int s_exitFailure = 1;
constexpr int s_exitUsage = 2;

struct Options
{
  std::string configPath = collector::defaultConfigPath();
  bool configGiven = false; //!< -c: the file must exist (--dump-config shows the defaults without one)
  bool dumpConfig = false;
  bool foreground = false;
  std::string dumpDirectory; //!< --dump-messages: report mails as the checks get them (tests, debugging)
};

void usage(FILE* out)
{
  fprintf(out,
          "usage: %s [-c FILE] [-f] [--dump-messages DIR]\n"
          "  -c FILE        configuration file (default %s)\n"
          "  -f             stay in the foreground and log to stderr\n"
          "  --dump-config  print the configuration in effect (every key, its value and\n"
          "                 where it came from; without a file, the defaults) and exit\n"
          "  --dump-messages DIR\n"
          "                 write each report mail as its checks get it to DIR/N.eml and its\n"
          "                 envelope to DIR/N.envelope (tests, debugging: mail content on disk)\n"
          "  -h, --help     this text\n"
          "  -V, --version  print the version\n"
          "Signals: SIGHUP reloads the configuration, SIGTERM stops.\n"
          "Files: %s, the store %s (Database; it must exist).\n",
          s_ident, collector::defaultConfigPath().c_str(), collector::defaultConfigPath().c_str(),
          collector::Config().database.c_str());
}

//! Settings that only take effect at start-up: warn when a reload changes them.
void warnRestartOnly(const collector::Config& old, const collector::Config& now)
{
  auto check = [](const char* key, bool changed) {
    if (changed) {
      logWarning("configuration change needs a restart", {{"key", key}});
    }
  };
  check("Socket", old.socket != now.socket);
  check("SocketMode", old.socketMode != now.socketMode);
  check("Database", old.database != now.database);
  check(collector::keys::mapSize, old.mapSize != now.mapSize);
  check(collector::keys::maxDatabaseSize, old.maxDatabaseSize != now.maxDatabaseSize);
  check("UserID", old.userId != now.userId);
  check("PidFile", old.pidFile != now.pidFile);
  // Store options, fixed when the store is opened (MaxRawArchive is also an Ingester limit,
  // so a change would apply half-way: archive or not per connection, capped by the old value).
  check(collector::keys::maxRawArchive, old.limits.maxRawArchiveBytes != now.limits.maxRawArchiveBytes);
  check(collector::keys::maxReportDays, old.limits.maxReportDays != now.limits.maxReportDays);
}

void reload(Runtime& runtime, const Options& options)
{
  auto old = runtime.config();
  // Start-up refuses a configuration without ReportAddress (run()): so does a reload.
  auto noReportAddress = [&options](const collector::Config& config) {
    return config.reportAddresses.empty()
             ? "no ReportAddress in " + options.configPath
             : std::string();
  };
  auto fresh = collector::reloadConfig(s_ident, options.configPath, *old, options.foreground, noReportAddress);
  if (!fresh) {
    return;
  }
  warnRestartOnly(*old, *fresh);
  runtime.setConfig(fresh);
  logInfo("configuration reloaded", {{"file", options.configPath},
                                     {"report_addresses", std::to_string(fresh->reportAddresses.size())}});
}

int run(const Options& options)
{
  // Step 1: configuration and logging.
  std::shared_ptr<const collector::Config> config;
  try {
    config = collector::loadConfig(options.configPath);
    collector::checkDatabaseDirectory(*config);
    collector::setupLogging(s_ident, options.foreground ? "stderr" : config->syslogTarget, config->syslogFacility);
    // The public suffix list judges every report's alignment: read it now, so that a missing
    // list stops the start with its name instead of failing every report later.
    (void)collector::PublicSuffixList::system();
  }
  catch (const std::exception& e) {
    fprintf(stderr, "%s: %s\n", s_ident, e.what());
    return s_exitUsage;
  }
  // A milter without a rua mailbox would look at no mail: the packaged configuration ships with
  // ReportAddress commented out, so a unit enabled before the admin set it stops here, saying why.
  if (config->reportAddresses.empty()) {
    const std::string why = "no ReportAddress configured in " + options.configPath +
                            ": nothing to watch, not starting (set your rua mailbox there)";
    fprintf(stderr, "%s: %s\n", s_ident, why.c_str());
    logError("no ReportAddress configured: not starting", {{"file", options.configPath}});
    return s_exitUsage;
  }
  Runtime runtime(config);
  // How report mail is checked, once per worker thread (session.hh MailCheckFactory).
  // The resolver setting and the reporter catalog are checked now, so a mistake stops the start.
  try {
    collector::ReportMailCheck check(*config);
    if (collector::shippedReporterCatalogMissing(config->trust)) {
      logWarning("no reporter catalog installed: report mail is matched to the report's email domain only",
                 {{"file", config->trust.reporterCatalog}});
    }
  }
  catch (const std::exception& e) {
    fprintf(stderr, "%s: %s\n", s_ident, e.what());
    logError("cannot check report mail", {{"error", e.what()}});
    return s_exitUsage;
  }
  MailCheckFactory checks = [](const collector::Config& forConfig) -> MailCheck {
    auto check = std::make_shared<collector::ReportMailCheck>(forConfig);
    return [check](std::string_view message, const collector::MailEnvelope& envelope, bool headersApproximate) {
      return check->check(message, envelope, headersApproximate);
    };
  };
  if (!options.dumpDirectory.empty()) {
    checks = dumpMessages(options.dumpDirectory, std::move(checks));
  }
  runtime.setMailCheckFactory(std::move(checks));

  // Step 2: the listen socket, while we may still bind anything.  A unix socket
  // is created with SocketMode already, never wider.
  SocketSpec listenAddress;
  int listenFd = -1;
  try {
    listenAddress = collector::parseSocketSpec(config->socket);
    listenFd = openListenSocket(listenAddress, static_cast<mode_t>(config->socketMode));
  }
  catch (const std::exception& e) {
    fprintf(stderr, "%s: cannot listen: %s\n", s_ident, e.what());
    logError("cannot listen", {{"socket", config->socket}, {"error", e.what()}});
    return s_exitFailure;
  }

  // Blocked before the pid file names us: a SIGHUP sent as soon as it appears (logrotate) or
  // while the store opens must wait for the signal loop, not kill the process by default.
  // Threads started later inherit the mask: only the main thread takes these signals.
  const sigset_t signals = collector::blockControlSignals();
  std::optional<Engine> engine;
  std::optional<collector::LogWriterThread> logWriter;
  try {
    // Step 3: daemon and pid file.
    std::optional<collector::Identity> identity;
    if (!config->userId.empty()) {
      identity = collector::lookupIdentity(config->userId);
    }
    if (!options.foreground) {
      collector::daemonize();
    }
    // From here on a stalled log target never blocks the event loop (threads only after fork).
    logWriter.emplace();
    if (!config->pidFile.empty()) {
      // Owned by UserID, so the unprivileged process can remove it at exit.
      collector::writePidFile(config->pidFile, identity ? &*identity : nullptr);
    }
    // Step 4: privileges.  The MTA must reach a unix socket: owner UserID, mode SocketMode.
    if (!listenAddress.unixPath.empty()) {
      // lchown: should the socket have been swapped for a symbolic link by whoever may write its
      // directory, root changes the link, never its target.  The mode needs no chmod (by path,
      // that would follow a link): bind made the socket with SocketMode (listener.cc).
      if (identity && lchown(listenAddress.unixPath.c_str(), identity->uid, identity->gid) != 0) {
        throw std::runtime_error("UserID: chown " + listenAddress.unixPath + ": " + strerror(errno));
      }
    }
    if (identity) {
      collector::dropPrivileges(*identity);
    }
    // Step 5: the store.
    collector::Store::Options storeOptions;
    storeOptions.mapSize = config->mapSize;
    storeOptions.maxMapSize = config->maxDatabaseSize;
    storeOptions.maxRawArchiveBytes = config->limits.maxRawArchiveBytes;
    storeOptions.maxReportDays = config->limits.maxReportDays;
    runtime.setStore(std::make_unique<collector::Store>(config->database, storeOptions));
    // Step 6: the engine (SIGPIPE ignored: a peer may close mid-write).
    signal(SIGPIPE, SIG_IGN);
    engine.emplace(runtime, listenFd, std::clamp(std::thread::hardware_concurrency(), 2U, 8U));
  }
  catch (const std::exception& e) {
    fprintf(stderr, "%s: %s\n", s_ident, e.what());
    logError("start-up failed", {{"error", e.what()}});
    if (!listenAddress.unixPath.empty()) {
      unlink(listenAddress.unixPath.c_str());
    }
    return s_exitFailure;
  }

  std::atomic<bool> loopDone{false};
  std::thread loop([&engine, &loopDone] {
    // Nothing may escape a thread (std::terminate would end the process and every MTA
    // connection with it): a failure of the loop itself is logged and stops the milter.
    try {
      engine->run(std::chrono::seconds(20));
    }
    catch (const std::exception& e) {
      logError("the event loop failed, the milter stops", {{"error", e.what()}});
    }
    catch (...) {
      logError("the event loop failed, the milter stops", {{"error", "unknown exception"}});
    }
    loopDone = true;
  });
  logInfo("started", {{"socket", config->socket}, {"database", config->database},
                      {"report_addresses", std::to_string(config->reportAddresses.size())}});

  int exitCode = 0;
  for (;;) {
    timespec tick{0, 250'000'000};
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGHUP) {
      reload(runtime, options);
      continue;
    }
    if (sig == SIGTERM || sig == SIGINT) {
      logInfo("stopping", {{"signal", sig == SIGTERM ? "TERM" : "INT"}});
      break;
    }
    if (loopDone) {
      logError("the event loop stopped on its own");
      exitCode = s_exitFailure;
      break;
    }
  }

  // Stop: no new connections; reports whose end of message is running are
  // answered (the loop waits up to 20 s for them), the rest is closed and
  // the MTA applies its default action.
  engine->stop();
  loop.join();
  if (!runtime.shutdown(std::chrono::seconds(20))) {
    logWarning("messages still in progress at exit; the MTA will retry them");
  }
  if (!config->pidFile.empty()) {
    unlink(config->pidFile.c_str());
  }
  if (!listenAddress.unixPath.empty()) {
    unlink(listenAddress.unixPath.c_str());
  }
  logInfo("stopped");
  logWriter->stop(collector::LogWriterThread::s_stopTimeout);
  fflush(nullptr);
  // A worker may still be inside a message the drain gave up on: leave
  // without destroying what it uses.  The store is closed already.
  std::_Exit(exitCode);
}

} // namespace
} // namespace dmarcwatch::milter

int main(int argc, char** argv)
{
  using namespace dmarcwatch::milter;
  Options options;
  static const option s_long[] = {
    {"help", no_argument, nullptr, 'h'},
    {"version", no_argument, nullptr, 'V'},
    {"dump-messages", required_argument, nullptr, 'D'},
    {"dump-config", no_argument, nullptr, 'C'},
    {nullptr, 0, nullptr, 0}};
  int opt = 0;
  while ((opt = getopt_long(argc, argv, "c:fhV", s_long, nullptr)) != -1) {
    switch (opt) {
    case 'c': {
      // Resolved now: the daemon runs in / (chdir), and SIGHUP reads the file again.
      std::error_code ec;
      const auto absolute = std::filesystem::absolute(optarg, ec);
      options.configPath = ec ? std::string(optarg) : absolute.string();
      options.configGiven = true;
      break;
    }
    case 'C':
      options.dumpConfig = true;
      break;
    case 'f':
      options.foreground = true;
      break;
    case 'D': {
      // Absolute, as -c: the daemon runs in /.
      std::error_code ec;
      const auto absolute = std::filesystem::absolute(optarg, ec);
      options.dumpDirectory = ec ? std::string(optarg) : absolute.string();
      break;
    }
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      printf("%s %s\n", s_ident, PACKAGE_VERSION);
      return 0;
    default:
      usage(stderr);
      return s_exitUsage;
    }
  }
  if (optind != argc) {
    usage(stderr);
    return s_exitUsage;
  }
  if (options.dumpConfig) {
    try {
      fputs(dmarcwatch::collector::dumpConfig(*dmarcwatch::collector::loadConfigOrDefaults(options.configGiven ? options.configPath : ""))
              .c_str(),
            stdout);
      return 0;
    }
    catch (const dmarcwatch::collector::ConfigError& e) {
      fprintf(stderr, "%s: %s\n", s_ident, e.what());
      return s_exitUsage;
    }
  }
  return run(options);
}
