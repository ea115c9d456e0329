/*
 * sources-commands.cc - `dmarcwatch sources` and `dmarcwatch services`: who
 * sends as a domain, named from the service catalog, the admin's networks and
 * what the daemon learnt (views/sources-view.hh), as tables or JSON.
 *
 * Both read the catalog (ServiceCatalog, ServiceFile) and the public suffix
 * list at start: a broken catalog is a configuration error naming file and
 * line (exit 2), never a half-named listing.
 */
#include "collector/cli/cli-commands.hh"
#include "collector/cli/table-format.hh"
#include "collector/common/errors.hh"
#include "collector/common/json.hh"
#include "collector/common/log.hh"
#include "collector/store/enrichment.hh"
#include "collector/views/sources-view.hh"
#include "collector/views/status-view.hh"

#include <charconv>
#include <filesystem>
#include <cinttypes>
#include <iostream>

namespace dmarcwatch::cli
{

using namespace collector;

namespace
{

//! The options both commands share.
struct ListOptions
{
  bool json = false;
  std::string domain;
  std::string since;
  SourceFilter filter;
  size_t limit = 0; //!< 0: all
};

//! \brief Parse the arguments of `sources` (filters allowed) or `services`. \return false after a usage message.
bool parseListOptions(const char* command, const std::vector<std::string>& args, bool filters, ListOptions& out)
{
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    const bool hasValue = i + 1 < args.size();
    if (arg == "--json") {
      out.json = true;
    }
    else if (arg == "--domain" && hasValue) {
      out.domain = args[++i];
    }
    else if (arg == "--since" && hasValue) {
      out.since = args[++i];
    }
    else if (filters && arg == "--unknown") {
      out.filter.unknownOnly = true;
    }
    else if (filters && arg == "--failing") {
      out.filter.failingOnly = true;
    }
    else if (filters && arg == "--service" && hasValue) {
      out.filter.service = args[++i];
    }
    else if (filters && arg == "--limit" && hasValue) {
      const std::string& value = args[++i];
      auto res = std::from_chars(value.data(), value.data() + value.size(), out.limit);
      if (res.ec != std::errc() || res.ptr != value.data() + value.size()) {
        std::cerr << "dmarcwatch " << command << ": --limit '" << value << "' is not a number\n";
        return false;
      }
    }
    else if (!arg.starts_with("-") && out.domain.empty()) {
      out.domain = arg;
    }
    else {
      std::cerr << "dmarcwatch " << command << ": unexpected argument '" << arg << "' (see dmarcwatch --help)\n";
      return false;
    }
  }
  return true;
}

std::string dayText(uint32_t day)
{
  return formatDay(day);
}

void writeSourceJson(JsonWriter& out, const NamedSource& src)
{
  out.beginObject().key("domain").value(src.domain).key("ip");
  if (src.ip) {
    out.value(src.ip->toString());
  }
  else {
    out.null();
  }
  out.key("header_from").value(src.headerFrom)
    .key("messages").value(src.messages)
    .key("dmarc_pass").value(src.dmarcPass)
    .key("dmarc_fail").value(src.dmarcFail)
    .key("first_day").value(dayText(src.firstDay))
    .key("last_day").value(dayText(src.lastDay))
    .key("service");
  const std::string name = src.name.displayName();
  if (name.empty()) {
    out.null();
  }
  else {
    out.value(name);
  }
  out.key("service_id").value(src.name.service != nullptr ? std::string_view(src.name.service->id) : std::string_view())
    .key("category").value(src.name.categoryName())
    .key("class").value(sourceClassName(src.name.cls))
    .key("confidence").value(src.name.confidence)
    .key("confidence_level").value(src.name.confidenceName())
    .key("identity").value(src.identity)
    .key("evidence").beginArray();
  for (const auto& evidence : src.name.evidence) {
    out.beginObject()
      .key("kind").value(evidenceKindName(evidence.kind))
      .key("detail").value(evidence.detail)
      .key("service").value(evidence.service != nullptr ? std::string_view(evidence.service->id) : std::string_view())
      .key("names").value(evidence.names)
      .key("ignored").value(evidence.ignored)
      .endObject();
  }
  out.endArray()
    .key("passed").value(src.passed)
    .key("verdict").beginObject()
    .key("counted").value(src.counted ? "pass" : "fail")
    .key("ours").value(src.ours ? "pass" : "fail")
    .key("contradictions").stringArray(src.contradictions)
    .endObject()
    .key("failure").value(src.failure)
    .key("overrides").stringArray(src.overrides)
    .key("ptr").value(src.network.ptrName)
    .key("ptr_confirmed").value(src.network.ptr == PtrState::Confirmed)
    .key("asn").value(uint64_t{src.network.asn})
    .key("as_org").value(src.network.asOrg)
    .key("country").value(src.network.country)
    .key("spf").value(src.network.spfResult)
    .endObject();
}

//! "US AS11377", "AS64500", "DE", or "-" when the daemon has not said.
std::string whereOf(const NetworkSignals& network)
{
  std::string where = printable(network.country, 3);
  if (network.asn != 0) {
    where += (where.empty() ? "AS" : " AS") + std::to_string(network.asn);
  }
  return where.empty() ? "-" : where;
}

void printSourcesText(const std::vector<NamedSource>& sources)
{
  if (sources.empty()) {
    std::cout << "No sources in this window.\n";
    return;
  }
  std::string domain;
  for (const auto& src : sources) {
    if (src.domain != domain) {
      domain = src.domain;
      std::cout << (domain == sources.front().domain ? "" : "\n") << printable(domain, 100) << "\n";
      std::cout << "  " << padRight("SOURCE", 40) << padRight("SERVICE", 26) << padRight("CLASS", 22)
                << padRight("WHERE", 12) << padLeft("MESSAGES", 10) << padLeft("FAIL", 10) << "  WHY\n";
    }
    std::cout << "  " << padRight(src.ip ? src.ip->toString() : "(no source ip)", 40)
              << padRight(shortenName(serviceLabel(src), 25), 26)
              << padRight(std::string(sourceClassName(src.name.cls)), 22) << padRight(whereOf(src.network), 12)
              << padLeft(std::to_string(src.messages), 10)
              << padLeft(std::to_string(src.dmarcFail), 10) << "  "
              << printable(src.failure.empty() ? "DMARC pass (" + src.passed + ")" : src.failure, 200) << "\n";
  }
}

void printServicesJson(const std::vector<std::pair<std::string, std::vector<NamedService>>>& domains)
{
  JsonWriter out;
  out.beginObject().key("domains").beginArray();
  for (const auto& [domain, services] : domains) {
    out.beginObject().key("domain").value(domain).key("services").beginArray();
    for (const auto& svc : services) {
      out.beginObject()
        .key("id").value(svc.id)
        .key("name").value(svc.name)
        .key("category").value(svc.category)
        .key("class").value(sourceClassName(svc.cls))
        .key("confidence").value(svc.confidence)
        .key("messages").value(svc.messages)
        .key("dmarc_pass").value(svc.dmarcPass)
        .key("dmarc_fail").value(svc.dmarcFail)
        .key("sources").value(svc.sources)
        .key("evidence").stringArray(svc.evidence)
        .endObject();
    }
    out.endArray().endObject();
  }
  out.endArray().endObject();
  std::cout << out.str() << "\n";
}

void printServicesText(const std::vector<std::pair<std::string, std::vector<NamedService>>>& domains)
{
  if (domains.empty()) {
    std::cout << "No sources in this window.\n";
    return;
  }
  for (const auto& [domain, services] : domains) {
    std::cout << printable(domain, 100) << "\n";
    std::cout << "  " << padRight("SERVICE", 30) << padRight("CATEGORY", 20) << padRight("CLASS", 22)
              << padLeft("MESSAGES", 10) << padLeft("PASS", 10) << padLeft("FAIL", 10) << padLeft("SOURCES", 9)
              << "  EVIDENCE\n";
    for (const auto& svc : services) {
      std::string evidence;
      for (const auto& item : svc.evidence) {
        evidence += (evidence.empty() ? "" : ", ") + item;
      }
      std::cout << "  " << padRight(shortenName(svc.name, 29), 30) << padRight(svc.category, 20)
                << padRight(std::string(sourceClassName(svc.cls)), 22) << padLeft(std::to_string(svc.messages), 10)
                << padLeft(std::to_string(svc.dmarcPass), 10) << padLeft(std::to_string(svc.dmarcFail), 10)
                << padLeft(std::to_string(svc.sources), 9) << "  " << printable(evidence, 120) << "\n";
    }
    std::cout << "\n";
  }
}

//! The named sources a listing asks for, or an exit status.
//! The namer stays with the caller: the sources point into its catalog.
std::optional<std::vector<NamedSource>> listSources(const Config& config, const char* command,
                                                    const ListOptions& options, std::shared_ptr<const Namer>& namer,
                                                    int& exitStatus)
{
  const auto window = windowOrUsage(command, options.since, statusNow());
  namer = window ? namerOrUsage(config, command) : nullptr;
  if (!namer) {
    exitStatus = s_exitUsage;
    return std::nullopt;
  }
  Store store(config.database, storeOptions(config, true));
  return computeSources(store, *namer, options.domain, window->fromDay, window->toDay, storedNetworkLookup(store),
                        std::string_view(command) == "services" ? SourceDetail::Names : SourceDetail::Verdicts);
}

} // namespace

std::optional<StatusWindow> windowOrUsage(const char* command, const std::string& since, int64_t now)
{
  auto window = statusWindow(since, now);
  if (!window) {
    std::cerr << "dmarcwatch " << command << ": --since '" << since
              << "' is not 7d, 30d, YYYY-MM-DD (up to today) or all\n";
  }
  return window;
}

std::shared_ptr<const Namer> namerOrUsage(const Config& config, const char* command)
{
  try {
    return makeNamer(config);
  }
  catch (const ConfigError& e) {
    std::cerr << "dmarcwatch " << command << ": " << e.what() << "\n";
    return nullptr;
  }
}

std::shared_ptr<const Namer> makeNamer(const Config& config)
{
  auto copy = std::make_shared<Config>(config);
  // The shipped catalog's default place is where make install puts it; a build that was not
  // installed still answers, unnamed, and says why.  A catalog the admin names must exist.
  const Config defaults;
  if (copy->serviceCatalog == defaults.serviceCatalog && !std::filesystem::exists(copy->serviceCatalog)) {
    std::cerr << "dmarcwatch: note: no service catalog at " << copy->serviceCatalog
              << " (make install puts it there; ServiceCatalog names another): services are not named\n";
    copy->serviceCatalog = "none";
  }
  std::shared_ptr<const Config> shared = copy;
  Namer::Options options;
  options.suspiciousMessages = config.suspiciousMessages;
  return std::make_shared<const Namer>(loadCatalog(*shared), shared, options);
}

int runSources(const Config& config, const std::vector<std::string>& args)
{
  ListOptions options;
  if (!parseListOptions("sources", args, true, options)) {
    return s_exitUsage;
  }
  int exitStatus = 0;
  std::shared_ptr<const Namer> namer;
  auto sources = listSources(config, "sources", options, namer, exitStatus);
  if (!sources) {
    return exitStatus;
  }
  auto shown = filterSources(std::move(*sources), options.filter);
  if (options.limit != 0 && shown.size() > options.limit) {
    shown.resize(options.limit);
  }
  if (options.json) {
    JsonWriter out;
    out.beginObject().key("sources").beginArray();
    for (const auto& src : shown) {
      writeSourceJson(out, src);
    }
    out.endArray().endObject();
    std::cout << out.str() << "\n";
  }
  else {
    printSourcesText(shown);
  }
  return 0;
}

int runServices(const Config& config, const std::vector<std::string>& args)
{
  ListOptions options;
  if (!parseListOptions("services", args, false, options)) {
    return s_exitUsage;
  }
  int exitStatus = 0;
  std::shared_ptr<const Namer> namer;
  auto sources = listSources(config, "services", options, namer, exitStatus);
  if (!sources) {
    return exitStatus;
  }
  const auto services = servicesOf(*sources);
  if (options.json) {
    printServicesJson(services);
  }
  else {
    printServicesText(services);
  }
  return 0;
}

} // namespace dmarcwatch::cli
