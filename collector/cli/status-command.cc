/*
 * status-command.cc - `dmarcwatch status`: the overview of every domain (one line
 * each: messages, pass, policy, services, unknown senders, readiness), or one
 * domain's page (status-text.hh), the what-if (--policy, --pct) and the SPF view
 * (--spf); JSON (views/status-json.hh) or the per-service CSV instead.
 */
#include "config.h"

#include "collector/cli/cli-commands.hh"

#include "collector/cli/status-text.hh"
#include "collector/cli/terminal.hh"
#include "collector/judge/public-suffix.hh"
#include "collector/views/domain-view.hh"
#include "collector/views/status-json.hh"

#include <charconv>
#include <optional>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <thread>

namespace dmarcwatch::cli
{
using namespace collector;

namespace
{

//! Top and failing sources a domain's page lists unless --top says otherwise.
constexpr size_t s_defaultTop = 10;

//! The default window of status: a month shows the monthly senders too.
constexpr const char* s_defaultSince = "30d";

struct StatusArgs
{
  bool json = false;
  bool csv = false;
  bool spf = false;
  std::string domain;
  std::string since = s_defaultSince;
  std::optional<size_t> top; //!< default: 10 on a domain's page, none in the overview
  std::string policy; //!< --policy: quarantine or reject
  unsigned pct = 100;
};

//! \return false after a usage error on stderr.
bool parseStatusArgs(const std::vector<std::string>& args, StatusArgs& out)
{
  constexpr const char* command = "status";
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    const bool hasValue = i + 1 < args.size();
    if (arg == "--json") {
      out.json = true;
    }
    else if (arg == "--csv") {
      out.csv = true;
    }
    else if (arg == "--spf") {
      out.spf = true;
    }
    else if (arg == "--domain" && hasValue) {
      out.domain = args[++i];
    }
    else if (arg == "--since" && hasValue) {
      out.since = args[++i];
    }
    else if (arg == "--top" && hasValue) {
      auto top = countOrUsage(command, "--top", args[++i]);
      if (!top) {
        return false;
      }
      out.top = *top;
    }
    else if (arg == "--policy" && hasValue) {
      out.policy = args[++i];
      if (out.policy != "quarantine" && out.policy != "reject") {
        usageError(command, "--policy '" + out.policy + "': give quarantine or reject");
        return false;
      }
    }
    else if (arg == "--pct" && hasValue) {
      const std::string& value = args[++i];
      unsigned pct = 0;
      auto res = std::from_chars(value.data(), value.data() + value.size(), pct);
      if (res.ec != std::errc() || res.ptr != value.data() + value.size() || pct > 100) {
        usageError(command, "--pct '" + value + "': give a percentage from 0 to 100");
        return false;
      }
      out.pct = pct;
    }
    else if (!arg.starts_with("-") && out.domain.empty()) {
      out.domain = arg;
    }
    else {
      unknownOption(command, arg);
      return false;
    }
  }
  if (out.json && out.csv) {
    usageError(command, "--json and --csv exclude each other");
    return false;
  }
  if (out.policy.empty() && args.end() != std::find(args.begin(), args.end(), "--pct")) {
    usageError(command, "--pct goes with --policy quarantine|reject");
    return false;
  }
  if ((!out.policy.empty() || out.spf) && out.domain.empty()) {
    usageError(command, std::string(out.spf ? "--spf" : "--policy") + " needs a DOMAIN");
    return false;
  }
  return true;
}

} // namespace

//! The variable that pins "now" for status: for tests only, and undocumented on purpose.
constexpr const char* s_nowVariable = "DMARCWATCH_NOW";

int64_t statusNow()
{
  if (const char* fixed = std::getenv(s_nowVariable)) {
    const std::string_view text(fixed);
    int64_t value = 0;
    auto res = std::from_chars(text.data(), text.data() + text.size(), value);
    if (res.ec == std::errc() && res.ptr == text.data() + text.size()) {
      return value;
    }
  }
  return static_cast<int64_t>(std::time(nullptr));
}
int runStatus(const Config& config, const std::vector<std::string>& args)
{
  StatusArgs a;
  if (!parseStatusArgs(args, a)) {
    return s_exitUsage;
  }
  // The window ends today, from the clock: no report, even one dated in the future, moves it.
  const int64_t now = statusNow();
  const auto window = windowOrUsage("status", a.since, now);
  const auto namer = window ? namerOrUsage(config, "status") : nullptr;
  if (!namer) {
    return s_exitUsage;
  }
  Store store(config.database, storeOptions(config, true));
  if (!a.domain.empty() && !knownDomainOrUsage("status", a.domain, store.listDomains())) {
    return s_exitUsage;
  }
  DomainViewOptions options;
  options.domain = a.domain;
  options.fromDay = window->fromDay;
  options.toDay = window->toDay;
  // The overview shows no sources: without them it sums services only, several times faster.
  options.top = a.top.value_or(a.domain.empty() ? 0 : s_defaultTop);
  options.detail = !a.domain.empty();
  options.serviceTrends = options.detail && a.json; // data for charts: the tables show none
  // Domains on every CPU (each thread a read transaction; all see one version of the store).
  options.threads = std::max(1U, std::thread::hardware_concurrency());
  options.readiness = readinessSettings(config);
  const PublicSuffixList& psl = PublicSuffixList::system();
  auto views = buildDomainViews(store, *namer, psl, storedNetworkLookup(store), options);
  std::vector<StatusExtras> extras(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    auto& view = views[i];
    // --since all shows the days the data covers, not 1970 to the end of time.
    if (window->all) {
      view.status.fromDay = view.status.dataDays ? view.status.dataDays->first : utcDay(now);
      view.status.toDay = view.status.dataDays ? view.status.dataDays->second : utcDay(now);
    }
    if (!a.policy.empty()) {
      extras[i].whatIf = whatIf(view.status, a.policy, a.pct);
    }
    if (a.spf) {
      extras[i].spf = spfAdviceOf(view, namer->catalog(), psl);
    }
  }

  if (a.json) {
    std::cout << statusJson(views, extras) << "\n";
  }
  else if (a.csv) {
    std::cout << statusServicesCsv(views);
  }
  else if (views.empty()) {
    std::cout << "No reports stored yet. Feed some with: dmarcwatch ingest PATH...\n";
  }
  else {
    const TextOptions text{terminalColumns(), colourWanted()};
    if (a.domain.empty()) {
      std::cout << statusOverviewText(views, text);
    }
    else {
      std::cout << statusDetailText(views.front(), extras.front(), text);
    }
  }
  return 0;
}

} // namespace dmarcwatch::cli
