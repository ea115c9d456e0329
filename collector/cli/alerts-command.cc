/*
 * alerts-command.cc - `dmarcwatch alerts [DOMAIN] [--since ...] [--pending] [--json]`:
 * the alerts dmarcwatchd raised, from the store's alert log, oldest first:
 * when, severity, rule, domain, whether syslog has it (sent, pending, or in a
 * burst's summary line) and the message; with --json every field as well.
 * Read-only, so it runs beside the milter and the daemon.
 */
#include "config.h"

#include "collector/alerts/alert-codec.hh"
#include "collector/cli/cli-commands.hh"
#include "collector/common/json.hh"
#include "collector/common/log.hh"
#include "collector/common/text.hh"

#include <algorithm>
#include <ctime>
#include <iostream>

namespace dmarcwatch::cli
{
using namespace collector;

namespace
{

const char* const s_help = R"(Usage: dmarcwatch alerts [DOMAIN] [--domain D] [--since 7d|30d|YYYY-MM-DD|all]
                        [--pending] [--json]

The alerts dmarcwatchd raised (dmarcwatchd(8) has the rules), oldest first:
time (UTC), severity, rule, domain, state and the message.  State: sent (syslog
took it), pending (recorded, not sent yet: dmarcwatchd sends it at its next
pass), summary (one of a burst, sent as one summary line).  Without --since:
the 7 days ending today.  --pending lists only those not sent.  --json gives
{"alerts":[{"id", "time", "rule", "domain", "severity", "state", "sent_at",
"message", "fields":{...}}]}.
Exit status: 0 success, 1 the store failed, 2 usage.
)";

std::string timeText(int64_t seconds)
{
  const auto t = static_cast<time_t>(seconds);
  tm utc{};
  gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M", &utc);
  return text;
}

} // namespace

int runAlerts(const Config& config, const std::vector<std::string>& args)
{
  std::string domain;
  std::string since;
  bool json = false;
  bool pendingOnly = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    const bool hasValue = i + 1 < args.size();
    if (arg == "--help") {
      std::cout << s_help;
      return 0;
    }
    if (arg == "--json") {
      json = true;
    }
    else if (arg == "--pending") {
      pendingOnly = true;
    }
    else if (arg == "--domain" && hasValue) {
      domain = args[++i];
    }
    else if (arg == "--since" && hasValue) {
      since = args[++i];
    }
    else if (!arg.starts_with("-") && domain.empty()) {
      domain = arg;
    }
    else {
      std::cerr << "dmarcwatch alerts: unexpected argument '" << arg << "' (see dmarcwatch alerts --help)\n";
      return s_exitUsage;
    }
  }
  const int64_t now = statusNow();
  auto window = windowOrUsage("alerts", since, now);
  if (!window) {
    return s_exitUsage;
  }
  domain = lowerAscii(domain);
  Store store(config.database, storeOptions(config, true));
  if (!domain.empty()) {
    const auto domains = store.listDomains();
    if (std::find(domains.begin(), domains.end(), domain) == domains.end()) {
      std::cerr << "dmarcwatch alerts: no reports for '" << printable(domain) << "' in " << config.database
                << " (dmarcwatch reports lists the domains)\n";
      return s_exitUsage;
    }
  }
  const int64_t from = window->all ? INT64_MIN : int64_t{window->fromDay} * 86400;
  JsonWriter out;
  out.beginObject().key("alerts").beginArray();
  size_t shown = 0;
  store.forEachAlert(from, [&](const Store::AlertLogEntry& entry) {
    if ((!domain.empty() && entry.domain != domain) || (pendingOnly && entry.emitted)) {
      return;
    }
    const Alert alert = decodeAlert(entry.payload, entry.time);
    // A burst's members are recorded as handled but never sent alone: no send time.
    const char* state = !entry.emitted ? "pending" : entry.emittedAt == 0 ? "summary" : "sent";
    ++shown;
    if (json) {
      out.beginObject().key("id").value(alert.id).key("time").value(alert.time).key("rule").value(alert.rule)
        .key("domain").value(alert.domain).key("severity").value(severityName(alert.severity)).key("state")
        .value(state).key("sent_at").value(entry.emittedAt).key("message").value(alert.message).key("fields")
        .beginObject();
      for (const auto& [name, value] : alert.fields) {
        out.key(name).value(value);
      }
      out.endObject().endObject();
      return;
    }
    // The domain and the message come from reports: no control bytes reach the terminal.
    std::cout << timeText(alert.time) << "  " << severityName(alert.severity) << "  " << printable(alert.rule) << "  "
              << printable(alert.domain) << "  " << state << "\n    " << printable(alert.message, 1000) << "\n";
  });
  out.endArray().endObject();
  if (json) {
    std::cout << out.str() << "\n";
  }
  else if (shown == 0) {
    std::cout << "no alerts" << (domain.empty() ? "" : " for " + domain) << " since "
              << (window->all ? std::string("the start") : formatDay(window->fromDay)) << "\n";
  }
  return 0;
}

} // namespace dmarcwatch::cli
