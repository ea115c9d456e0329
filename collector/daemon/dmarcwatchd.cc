/*
 * dmarcwatchd.cc - main of the companion daemon: enrichment from DNS.
 *
 *   dmarcwatchd [-c FILE] [-f] [--once] [--interval SECONDS] [--help] [--version]
 *
 * Reads the configuration (Database, Resolver, SyslogTarget, ServiceCatalog),
 * loads the service catalog for its spf-include names and the public suffix
 * list (organizational domains of the live DMARC records), and runs enrichment
 * passes (collector/enrich) against the store: once with --once, else every
 * --interval seconds until SIGTERM or SIGINT.  The alerts of the daemon are a
 * later issue.  Never used by the milter; DNS trouble is never fatal.
 * Exit: 0 done, 1 the store or the pass failed, 64 usage, 78 configuration.
 */
#include "config.h"

#include "collector/common/config.hh"
#include "collector/common/errors.hh"
#include "collector/common/log.hh"
#include "collector/dns/resolver.hh"
#include "collector/enrich/enrich-pass.hh"
#include "collector/geo/geoip.hh"
#include "collector/judge/public-suffix.hh"
#include "collector/sources/catalog.hh"
#include "collector/store/store.hh"

#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <sysexits.h>
#include <thread>

namespace
{

constexpr const char* s_ident = "dmarcwatchd";
const char* const s_usage = R"(Usage: dmarcwatchd [OPTIONS]

Enriches the sources in the dmarcwatch store from DNS: PTR names with forward
confirmation, SPF authorization by each policy domain's live record (and the
catalog's SPF include that authorizes the source), and each domain's live DMARC
record.  Every look-up goes to the configured Resolver (none: offline).

Options:
  -c FILE             configuration file (default )" SYSCONFDIR R"(/dmarcwatch.conf)
  -f, --foreground    log to stderr instead of SyslogTarget
  --once              run one pass, print its summary and exit
  --interval SECONDS  seconds between passes (default 3600)
  --help              this text
  --version           the version

Exit status: 0 success, 1 the store or a pass failed, 64 usage, 78 configuration.
)";

std::atomic<bool> g_stop{false};

extern "C" void onStopSignal(int /*signal*/)
{
  g_stop = true;
}

struct Options
{
  std::string configPath = dmarcwatch::collector::defaultConfigPath();
  bool foreground = false;
  bool once = false;
  unsigned interval = 3600;
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
    else if ((arg == "-c" || arg == "--interval") && i + 1 < argc) {
      const std::string value = argv[++i];
      if (arg == "-c") {
        options.configPath = value;
        continue;
      }
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), options.interval);
      if (ec != std::errc() || end != value.data() + value.size() || options.interval == 0) {
        std::cerr << s_ident << ": --interval wants a positive number of seconds\n";
        return EX_USAGE;
      }
    }
    else {
      std::cerr << s_ident << ": unknown option '" << arg << "' (see --help)\n";
      return EX_USAGE;
    }
  }
  return -1;
}

} // namespace

int main(int argc, char** argv)
{
  using namespace dmarcwatch::collector;
  Options options;
  if (int status = parseArgs(argc, argv, options); status >= 0) {
    return status;
  }

  // Step 1: configuration, logging, the catalog's spf-include names, the resolver.
  std::shared_ptr<const Config> config;
  EnrichOptions enrich;
  std::unique_ptr<Resolver> resolver;
  auto geoIp = std::make_shared<GeoIp>();
  try {
    config = loadConfig(options.configPath);
    setupLogging(s_ident, options.foreground ? "stderr" : config->syslogTarget, config->syslogFacility);
    auto catalog = loadCatalog(*config);
    for (const auto& service : catalog->services()) {
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
    ResolverOptions resolverOptions;
    resolverOptions.spec = config->resolver;
    resolver = std::make_unique<Resolver>(resolverOptions);
    // GeoIPCountry / GeoIPAsn, when configured: AS and country of each source (a file that
    // turns out corrupt later throws from the hook, which the pass logs).
    geoIp->open(*config);
    if (geoIp->hasCountry() || geoIp->hasAsn()) {
      enrich.geo = [geoIp](const IpAddress& ip, IpEnrichment& out) {
        const GeoAnswer answer = geoIp->lookup(ip);
        out.asn = answer.asn;
        out.asOrg = answer.asOrg;
        out.country = answer.country;
      };
    }
  }
  catch (const ConfigError& e) {
    std::cerr << s_ident << ": " << e.what() << "\n";
    return EX_CONFIG;
  }
  catch (const std::exception& e) {
    std::cerr << s_ident << ": " << e.what() << "\n";
    return EX_CONFIG;
  }
  struct sigaction stop{};
  stop.sa_handler = onStopSignal;
  sigaction(SIGTERM, &stop, nullptr);
  sigaction(SIGINT, &stop, nullptr);

  // Step 2: passes.  The store is opened for each pass and closed after it.
  logInfo("started", {{"resolver", config->resolver}, {"database", config->database},
                      {"spf_includes", std::to_string(enrich.spfIncludes.size())}});
  int status = 0;
  while (!g_stop) {
    try {
      Store::Options storeOptions;
      storeOptions.mapSize = config->mapSize;
      storeOptions.maxMapSize = config->maxDatabaseSize;
      Store store(config->database, storeOptions);
      const EnrichSummary summary = runEnrichmentPass(store, *resolver, enrich);
      char rate[32];
      std::snprintf(rate, sizeof rate, "%.1f", summary.rate());
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.3f", summary.seconds);
      logInfo("enrichment pass", {{"sources", std::to_string(summary.sources)},
                                  {"enriched", std::to_string(summary.enriched)},
                                  {"unknown", std::to_string(summary.unknown)},
                                  {"ptr_confirmed", std::to_string(summary.ptrConfirmed)},
                                  {"spf_checked", std::to_string(summary.spfChecked)},
                                  {"policies", std::to_string(summary.policiesChecked)},
                                  {"seconds", seconds}, {"rate", rate}});
      if (options.once) {
        std::cout << "sources " << summary.sources << ", enriched " << summary.enriched << ", unknown "
                  << summary.unknown << ", PTR confirmed " << summary.ptrConfirmed << ", SPF checked "
                  << summary.spfChecked << ", DMARC records " << summary.policiesChecked << ", " << seconds
                  << " s, " << rate << " sources/s\n";
      }
      status = 0;
    }
    catch (const std::exception& e) {
      logError("enrichment pass failed", {{"error", printable(e.what())}});
      std::cerr << s_ident << ": " << e.what() << "\n";
      status = 1;
    }
    if (options.once) {
      break;
    }
    // Step 3: wait for the next pass, a second at a time so SIGTERM is taken at once.
    for (unsigned waited = 0; waited < options.interval && !g_stop; ++waited) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  logInfo("stopped");
  return status;
}
