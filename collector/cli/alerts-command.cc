/*
 * alerts-command.cc - `dmarcwatch alerts [DOMAIN] [--since ...] [--pending] [--json]`:
 * the alerts dmarcwatchd raised, from the store's alert log, oldest first:
 * when, severity, rule, domain, whether syslog has it (sent, pending, or in a
 * burst's summary line) and the message; with --json every field as well.
 * Read-only, so it runs beside the milter and the daemon.  The usage text is
 * in command-help.cc.
 */
#include "config.h"

#include "collector/alerts/alert-codec.hh"
#include "collector/cli/cli-commands.hh"
#include "collector/cli/table-format.hh"
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
      return unknownOption("alerts", arg);
    }
  }
  const int64_t now = statusNow();
  auto window = windowOrUsage("alerts", since, now);
  if (!window) {
    return s_exitUsage;
  }
  domain = lowerAscii(domain);
  Store store(config.database, storeOptions(config, true));
  if (!knownDomainOrUsage("alerts", domain, store.listDomains())) {
    return s_exitUsage;
  }
  // The message is wrapped to the terminal, under its heading line.
  const size_t width = terminalColumns();
  const bool colour = colourWanted();
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
    const std::string heading = timeText(alert.time) + "  " + std::string(severityName(alert.severity)) + "  " +
                                printable(alert.rule) + "  ";
    const std::string tail = std::string("  ") + state;
    const size_t room = width > heading.size() + tail.size() ? width - heading.size() - tail.size() : 0;
    std::cout << coloured(heading, alert.severity == AlertSeverity::Error     ? Colour::Red
                              : alert.severity == AlertSeverity::Warning ? Colour::Yellow
                                                                         : Colour::None, colour)
              << shortenName(alert.domain, std::max<size_t>(room, 8)) << tail << "\n";
    for (const auto& line : wrapText(alert.message, width > 4 ? width - 4 : 1)) {
      std::cout << "    " << line << "\n";
    }
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
