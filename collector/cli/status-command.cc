/*
 * status-command.cc - `dmarcwatch status`: the domains' totals, services and top
 * sources over a window, as tables or the JSON document of DESIGN.md.
 */
#include "config.h"

#include "collector/cli/cli-commands.hh"

#include "collector/cli/table-format.hh"
#include "collector/common/json.hh"
#include "collector/common/log.hh"
#include "collector/common/text.hh"
#include "collector/judge/public-suffix.hh"
#include "collector/views/status-naming.hh"
#include "collector/views/status-view.hh"

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <thread>

namespace dmarcwatch::cli
{
using namespace collector;

namespace
{
// ---------------------------------------------------------------- status helpers

//! The status document (the contract in DESIGN.md and README).
void printStatusJson(const std::vector<DomainStatus>& statuses)
{
  JsonWriter out;
  out.beginObject().key("domains").beginArray();
  for (const auto& s : statuses) {
    out.beginObject()
      .key("domain").value(s.domain)
      .key("from").value(formatDay(s.fromDay))
      .key("to").value(formatDay(s.toDay))
      .key("newest");
    if (s.newestDay) {
      out.value(formatDay(*s.newestDay));
    }
    else {
      out.null();
    }
    out.key("messages").value(s.messages)
      .key("dmarc_pass").value(s.dmarcPass)
      .key("dmarc_fail").value(s.dmarcFail)
      .key("would_block").value(s.wouldBlock)
      .key("services").beginArray();
    for (const auto& svc : s.services) {
      out.beginObject()
        .key("name").value(svc.name)
        .key("id").value(svc.id)
        .key("category").value(svc.category)
        .key("class").value(svc.cls)
        .key("confidence").value(svc.confidence)
        .key("evidence").stringArray(svc.evidence)
        .key("messages").value(svc.messages)
        .key("dmarc_pass").value(svc.dmarcPass)
        .key("dmarc_fail").value(svc.dmarcFail)
        .key("sources").value(svc.sources)
        .endObject();
    }
    out.endArray().key("top_sources").beginArray();
    for (const auto& src : s.topSources) {
      out.beginObject().key("ip");
      if (src.ip) {
        out.value(src.ip->toString());
      }
      else {
        out.null();
      }
      out.key("header_from").value(src.headerFrom)
        .key("service").value(src.service)
        .key("category").value(src.category)
        .key("class").value(src.cls)
        .key("messages").value(src.messages)
        .key("dmarc_pass").value(src.dmarcPass)
        .key("dmarc_fail").value(src.dmarcFail)
        .endObject();
    }
    out.endArray().endObject();
  }
  out.endArray().endObject();
  std::cout << out.str() << "\n";
}

//! The status tables; a domain without reports in the window gets a note instead.
void printStatusText(const std::vector<DomainStatus>& statuses)
{
  for (const auto& s : statuses) {
    std::cout << printable(s.domain, 100) << "  " << formatDay(s.fromDay) << " .. " << formatDay(s.toDay) << "\n";
    if (s.messages == 0) {
      if (s.newestDay) {
        std::cout << "  no reports in this window; newest report " << formatDay(*s.newestDay) << "\n\n";
      }
      else {
        std::cout << "  no reports stored for this domain\n\n";
      }
      continue;
    }
    char line[256];
    std::snprintf(line, sizeof line, "  messages %" PRIu64 ", DMARC pass %" PRIu64 " (%.1f%%), fail %" PRIu64
                  ", would be blocked under p=reject %" PRIu64 "\n",
                  s.messages, s.dmarcPass, percent(s.dmarcPass, s.messages), s.dmarcFail, s.wouldBlock);
    std::cout << line;
    std::cout << "  " << padRight("SERVICE", 30) << padRight("CATEGORY", 20) << padRight("CLASS", 22)
              << padLeft("MESSAGES", 10) << padLeft("PASS", 10) << padLeft("FAIL", 10) << padLeft("SOURCES", 9) << "\n";
    for (const auto& svc : s.services) {
      std::cout << "  " << padRight(shortenName(svc.name, 29), 30) << padRight(printable(svc.category, 19), 20)
                << padRight(svc.cls, 22) << padLeft(std::to_string(svc.messages), 10)
                << padLeft(std::to_string(svc.dmarcPass), 10) << padLeft(std::to_string(svc.dmarcFail), 10)
                << padLeft(std::to_string(svc.sources), 9) << "\n";
    }
    std::cout << "  " << padRight("TOP SOURCE", 40) << padRight("SERVICE", 26) << padRight("HEADER FROM", 26)
              << padLeft("MESSAGES", 10) << padLeft("PASS", 10) << padLeft("FAIL", 10) << "\n";
    for (const auto& src : s.topSources) {
      std::cout << "  " << padRight(src.ip ? src.ip->toString() : "(no source ip)", 40)
                << padRight(shortenName(src.service, 25), 26) << padRight(shortenName(src.headerFrom, 25), 26)
                << padLeft(std::to_string(src.messages), 10)
                << padLeft(std::to_string(src.dmarcPass), 10) << padLeft(std::to_string(src.dmarcFail), 10) << "\n";
    }
    std::cout << "\n";
  }
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
  bool json = false;
  std::string domain;
  std::string since;
  size_t top = 10;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--json") {
      json = true;
    }
    else if (arg == "--domain" && i + 1 < args.size()) {
      domain = args[++i];
    }
    else if (arg == "--since" && i + 1 < args.size()) {
      since = args[++i];
    }
    else if (arg == "--top" && i + 1 < args.size()) {
      const std::string& value = args[++i];
      auto res = std::from_chars(value.data(), value.data() + value.size(), top);
      if (res.ec != std::errc() || res.ptr != value.data() + value.size()) {
        std::cerr << "dmarcwatch status: --top '" << value << "' is not a number\n";
        return s_exitUsage;
      }
    }
    else if (!arg.starts_with("-") && domain.empty()) {
      domain = arg;
    }
    else {
      std::cerr << "dmarcwatch status: unexpected argument '" << arg << "'\n";
      return s_exitUsage;
    }
  }
  // The window ends today, from the clock: no report, even one dated in the future, moves it.
  const int64_t now = statusNow();
  const auto window = windowOrUsage("status", since, now);
  const auto namer = window ? namerOrUsage(config, "status") : nullptr;
  if (!namer) {
    return s_exitUsage;
  }
  Store store(config.database, storeOptions(config, true));
  // Domains on every CPU (each thread a read transaction; all see one version of the store).
  std::vector<DomainStatus> statuses = computeStatus(store, domain, window->fromDay, window->toDay, top,
                                                     std::max(1U, std::thread::hardware_concurrency()));
  for (auto& status : statuses) {
    nameStatus(status, *namer, PublicSuffixList::system());
    // --since all shows the days the data covers, not 1970 to the end of time.
    if (window->all) {
      status.fromDay = status.dataDays ? status.dataDays->first : utcDay(now);
      status.toDay = status.dataDays ? status.dataDays->second : utcDay(now);
    }
  }

  if (json) {
    printStatusJson(statuses);
  }
  else if (statuses.empty()) {
    std::cout << "No reports stored yet. Feed some with: dmarcwatch ingest PATH...\n";
  }
  else {
    printStatusText(statuses);
  }
  return 0;
}


} // namespace dmarcwatch::cli
