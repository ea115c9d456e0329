/*
 * dmarcwatch.cc - main of the status and ingest command.
 *
 *   dmarcwatch [-c FILE] [--db DIR] COMMAND ...
 *
 * Answers COMMAND --help and help COMMAND first (command-help.hh: no config
 * or store needed), then reads the configuration (the default file when it
 * exists, or -c), lets --db override Database, and hands over to
 * cli-commands.cc.
 */
#include "config.h"

#include "collector/cli/cli-commands.hh"
#include "collector/cli/command-help.hh"
#include "collector/common/config-keys.hh"
#include "collector/common/errors.hh"
#include "collector/judge/public-suffix.hh"

#include <algorithm>
#include <iterator>
#include <string_view>
#include <iostream>
#include <sysexits.h>
#include <string>
#include <vector>

namespace
{

const char* const s_usage = R"(Usage: dmarcwatch [OPTIONS] COMMAND [ARGS...]

Turns DMARC aggregate reports into a store of who sends mail as your domains,
and answers questions about it.

Commands:
  ingest [--json] [--milter-spf] PATH...
                              store reports from files (.xml, .xml.gz, .gz, .zip,
                              .eml, raw zlib), mbox files (mboxo, mboxrd,
                              mboxcl2), Maildir folders or directories (every
                              regular file in them); - reads stdin.  FIFOs and
                              devices are refused.
                              Exit 0 when every input was stored or was a
                              duplicate, 1 when any input failed or was in
                              conflict with a stored report (same key, other
                              records: kept, not counted), or a report of it
                              was rejected (UntrustedReports reject).
  reports [--domain D] [--json]
                              list stored reports with their state (active,
                              superseded, quarantined, conflict, loading,
                              schema-1).
  reports --release N | --quarantine N
                              put quarantined report N into the totals, or
                              take report N out of them.
  db verify [--json]          recompute the totals from the reports' rows and
                              check that every value decodes; exit 1 on any
                              difference.  Read-only: runs beside the milter.
  db upgrade                  bring a store of an older schema up to date
                              (any read-write command does it too).
  db enrichment [--json]      what dmarcwatchd learned from DNS: PTR (with
                              forward confirmation) per IP, SPF result per
                              domain and IP, the live DMARC record per domain.
  reindex [--json]            parse every archived payload again into a fresh
                              store, verify it and swap it in; the old store
                              is kept beside it.  Needs the store alone: stop
                              dmarcwatch-milter first.
  deliver [--json] [--milter-spf]
                              store the report mail on stdin (a Postfix pipe
                              transport for the rua address); exit 0 stored or
                              duplicate, 75 store unusable (retry), 65 no
                              readable report (bounce).
  status [DOMAIN] [--since 30d|Nd|YYYY-MM-DD|all] [--top N]
         [--policy quarantine|reject [--pct N]] [--spf] [--json|--csv]
                              without DOMAIN one line per domain: messages,
                              DMARC pass %, policy, services, unknown senders
                              and the readiness verdict (ready for reject,
                              blocked by: ...).  With DOMAIN its page: services
                              with what fails and the fix, unknown and failing
                              sources, reporters; --policy the what-if, --spf
                              the SPF view.  The window ends today (UTC);
                              without --since: the 30 days ending today.
  report --html FILE [DOMAIN...] [--since ...]
                              the same as one self-contained HTML page with
                              SVG charts (FILE - for stdout).
  services [DOMAIN] [--since ...] [--json|--csv]
                              the services that send as each domain, every
                              source named from all of its evidence (DKIM,
                              SPF, selectors, PTR, AS, SPF includes, your
                              Networks), with class and confidence.
  sources [DOMAIN] [--since ...] [--unknown|--failing|--service S]
          [--limit N] [--json|--csv]
                              every source address: service, class,
                              evidence, what passed and why it fails.
  alerts [DOMAIN] [--since ...] [--pending] [--json]
                              the alerts dmarcwatchd raised (and sent to
                              syslog), oldest first; --pending: not sent yet.
  help COMMAND                the usage of COMMAND, as COMMAND --help (or -h)
                              prints it: synopsis, options, exit status.

Options:
  -c, --config FILE   configuration file (default )" SYSCONFDIR R"(/dmarcwatch.conf,
                      used when it exists)
      --db DIR        store directory (overrides Database, default
                      )" LOCALSTATEDIR R"(/lib/dmarcwatch); it must exist, but
                      ingest --db creates it
      --dump-config   print the configuration in effect (after -c and --db:
                      every key, its value and where it came from) and exit;
                      without a configuration file, the defaults
  -h, --help          show this help and exit
  -V, --version       show the version and exit

Environment: COLUMNS sets the width tables fit (else the terminal's, else 80);
NO_COLOR (not empty) or TERM=dumb turns colour off (only a terminal gets it).

Exit status: 0 success, 1 failure (an input or the store), 2 usage or
configuration error (deliver: sysexits.h).  See dmarcwatch(1) and
conf/dmarcwatch.conf.
)";

//! The commands that read the configuration and the store.
constexpr std::string_view s_commands[] = {"ingest", "reports", "status", "sources", "services", "alerts",
                                           "report", "db", "reindex", "deliver"};

//! \brief The configuration with --db applied (and recorded for --dump-config).
std::shared_ptr<const dmarcwatch::collector::Config> withDatabase(std::shared_ptr<const dmarcwatch::collector::Config> config,
                                                                 const std::string& database)
{
  if (database.empty()) {
    return config;
  }
  auto copy = std::make_shared<dmarcwatch::collector::Config>(*config);
  copy->database = database;
  dmarcwatch::collector::recordOverride(*copy, dmarcwatch::collector::keys::database, database, "--db");
  return copy;
}

} // namespace

int main(int argc, char** argv)
{
  using namespace dmarcwatch;
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string configPath;
  std::string database;
  bool dumpConfig = false;
  size_t i = 0;

  // Global options come before the command name.
  for (; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << s_usage;
      return 0;
    }
    if (arg == "-V" || arg == "--version") {
      std::cout << "dmarcwatch " PACKAGE_VERSION "\n";
      return 0;
    }
    if (arg == "--dump-config") {
      dumpConfig = true;
      continue;
    }
    if ((arg == "-c" || arg == "--config" || arg == "--db") && i + 1 < args.size()) {
      (arg == "--db" ? database : configPath) = args[++i];
      continue;
    }
    if (arg.starts_with("--config=")) {
      configPath = arg.substr(9);
      continue;
    }
    if (arg.starts_with("--db=")) {
      database = arg.substr(5);
      continue;
    }
    if (arg.starts_with("-")) {
      std::cerr << "dmarcwatch: unknown or incomplete option '" << arg << "' (see dmarcwatch --help)\n";
      return cli::s_exitUsage;
    }
    break;
  }
  if (dumpConfig) {
    try {
      std::cout << collector::dumpConfig(*withDatabase(collector::loadConfigOrDefaults(configPath), database));
      return 0;
    }
    catch (const collector::ConfigError& e) {
      std::cerr << "dmarcwatch: " << e.what() << "\n";
      return cli::s_exitUsage;
    }
  }
  if (i == args.size()) {
    std::cerr << "dmarcwatch: no command given (see dmarcwatch --help)\n";
    return cli::s_exitUsage;
  }
  std::string command = args[i];
  std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  // Help needs neither the configuration nor the store: answered before either is read.
  if (cli::wantsHelp(rest)) {
    std::vector<std::string> words{command};
    words.insert(words.end(), rest.begin(), rest.end());
    return cli::printCommandHelp(cli::helpTopic(words));
  }
  if (command == "help") {
    if (rest.empty()) {
      std::cout << s_usage;
      return 0;
    }
    return cli::printCommandHelp(cli::helpTopic(rest));
  }

  if (std::find(std::begin(s_commands), std::end(s_commands), command) == std::end(s_commands)) {
    std::cerr << "dmarcwatch: unknown command '" << command << "' (see dmarcwatch --help)\n";
    return cli::s_exitUsage;
  }

  // The configuration: -c must exist; the default file is optional.  The store directory must
  // exist too (a typo or a path that disagrees with the units is an error, not a new empty
  // store), except for ingest --db: the admin names a new store there.
  std::shared_ptr<const collector::Config> config;
  try {
    config = withDatabase(collector::loadConfigOrDefaults(configPath), database);
    if (!(command == "ingest" && !database.empty())) {
      collector::checkDatabaseDirectory(*config);
    }
  }
  catch (const collector::ConfigError& e) {
    // deliver runs under the MTA: a configuration error is temporary (fixed, the mail retries).
    if (command == "deliver") {
      std::cerr << "dmarcwatch deliver: " << e.what() << " (temporary failure: the MTA retries)\n";
      return EX_TEMPFAIL;
    }
    std::cerr << "dmarcwatch: " << e.what() << "\n";
    return cli::s_exitUsage;
  }

  // The public suffix list judges alignment when reports are stored or shown: read it now,
  // so that a missing list is one clear error, not a failure per report.
  if (command == "ingest" || command == "deliver" || command == "reindex" || command == "status" ||
      command == "sources" || command == "services") {
    try {
      (void)collector::PublicSuffixList::system();
    }
    catch (const std::exception& e) {
      std::cerr << "dmarcwatch: " << e.what() << "\n";
      return command == "deliver" ? EX_TEMPFAIL : cli::s_exitUsage;
    }
  }

  try {
    if (command == "ingest") {
      return cli::runIngest(*config, rest);
    }
    if (command == "reports") {
      return cli::runReports(*config, rest);
    }
    if (command == "status") {
      return cli::runStatus(*config, rest);
    }
    if (command == "sources") {
      return cli::runSources(*config, rest);
    }
    if (command == "services") {
      return cli::runServices(*config, rest);
    }
    if (command == "alerts") {
      return cli::runAlerts(*config, rest);
    }
    if (command == "report") {
      return cli::runReport(*config, rest);
    }
    if (command == "db") {
      return cli::runDb(*config, rest);
    }
    if (command == "reindex") {
      return cli::runReindex(*config, rest);
    }
    if (command == "deliver") {
      return cli::runDeliver(*config, rest);
    }
  }
  catch (const std::exception& e) {
    std::cerr << "dmarcwatch: " << command << ": " << e.what() << "\n";
    return 1;
  }
  std::cerr << "dmarcwatch: unknown command '" << command << "' (see dmarcwatch --help)\n";
  return cli::s_exitUsage;
}
