/*
 * sources-commands.cc - `dmarcwatch sources` and `dmarcwatch services`: who
 * sends as a domain, named from the service catalog, the admin's networks and
 * what the daemon learnt (views/sources-view.hh), as tables or JSON.
 *
 * Both read the catalog (ServiceCatalog, ServiceFile) and the public suffix
 * list at start: a broken catalog is a configuration error naming file and
 * line (exit 2), never a half-named listing.  Tables fit the terminal
 * (table-format.hh); --csv gives the columns of --json, one row per source or
 * service (common/csv.hh).
 */
#include "collector/cli/cli-commands.hh"
#include "collector/cli/table-format.hh"
#include "collector/common/csv.hh"
#include "collector/common/errors.hh"
#include "collector/common/json.hh"
#include "collector/common/log.hh"
#include "collector/common/text.hh"
#include "collector/store/enrichment.hh"
#include "collector/views/sources-view.hh"
#include "collector/views/status-view.hh"

#include <filesystem>
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
  bool csv = false;
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
    else if (arg == "--csv") {
      out.csv = true;
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
      const auto limit = countOrUsage(command, "--limit", args[++i]);
      if (!limit) {
        return false;
      }
      out.limit = *limit;
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
  out.domain = lowerAscii(out.domain);
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

//! The colour of a class on a terminal: what to look at first is red.
Colour classColour(SourceClass cls)
{
  switch (cls) {
  case SourceClass::Authorized:
    return Colour::Green;
  case SourceClass::Suspicious:
    return Colour::Red;
  case SourceClass::KnownNotAuthorized:
  case SourceClass::Unknown:
    return Colour::Yellow;
  case SourceClass::Forwarder:
    break;
  }
  return Colour::None;
}

//! A failure count: red on a terminal when there is any.
Cell failCell(uint64_t fail)
{
  return {std::to_string(fail), fail != 0 ? Colour::Red : Colour::None};
}

//! The domain heading above each domain's table.
void printDomainHeading(const std::string& domain, bool first, size_t width, bool colour)
{
  std::cout << (first ? "" : "\n") << coloured(shortenName(domain, width), Colour::Bold, colour) << "\n";
}

void printSourcesText(const std::vector<NamedSource>& sources)
{
  if (sources.empty()) {
    std::cout << "No sources in this window.\n";
    return;
  }
  const size_t width = terminalColumns();
  const bool colour = colourWanted();
  const std::vector<ColumnSpec> columns{
    {"SOURCE", 15, 39, true, Align::Left},   {"SERVICE", 10, 30, true, Align::Left},
    {"CLASS", 10, 20, true, Align::Left},    {"WHERE", 5, 12, true, Align::Left},
    {"MESSAGES", 0, 0, false, Align::Right}, {"FAIL", 0, 0, false, Align::Right},
    {"WHY", 10, 200, true, Align::Left},
  };
  // One table per domain, the sources in the order given (most messages first).
  for (size_t start = 0; start < sources.size();) {
    const std::string& domain = sources[start].domain;
    Table table(columns);
    size_t end = start;
    for (; end < sources.size() && sources[end].domain == domain; ++end) {
      const auto& src = sources[end];
      table.addRow({src.ip ? src.ip->toString() : "(no source ip)", serviceLabel(src),
                    {std::string(sourceClassName(src.name.cls)), classColour(src.name.cls)}, whereOf(src.network),
                    std::to_string(src.messages), failCell(src.dmarcFail),
                    src.failure.empty() ? "DMARC pass (" + src.passed + ")" : src.failure});
    }
    printDomainHeading(domain, start == 0, width, colour);
    std::cout << table.render(width, colour, 2);
    start = end;
  }
}

//! The sources as CSV: the columns of writeSourceJson, the lists joined with "; ".
void printSourcesCsv(const std::vector<NamedSource>& sources)
{
  CsvWriter out;
  out.row({"domain", "ip", "header_from", "messages", "dmarc_pass", "dmarc_fail", "first_day", "last_day", "service",
           "service_id", "category", "class", "confidence", "confidence_level", "identity", "evidence", "passed",
           "verdict_counted", "verdict_ours", "contradictions", "failure", "overrides", "ptr", "ptr_confirmed", "asn",
           "as_org", "country", "spf"});
  for (const auto& src : sources) {
    std::vector<std::string> evidence;
    for (const auto& item : src.name.evidence) {
      evidence.push_back(std::string(evidenceKindName(item.kind)) + " " + item.detail);
    }
    out.field(src.domain).field(src.ip ? src.ip->toString() : std::string()).field(src.headerFrom)
      .field(src.messages).field(src.dmarcPass).field(src.dmarcFail).field(dayText(src.firstDay))
      .field(dayText(src.lastDay)).field(src.name.displayName())
      .field(src.name.service != nullptr ? std::string_view(src.name.service->id) : std::string_view())
      .field(src.name.categoryName()).field(sourceClassName(src.name.cls)).field(src.name.confidence)
      .field(src.name.confidenceName()).field(src.identity).field(joined(evidence, "; ")).field(src.passed)
      .field(src.counted ? "pass" : "fail").field(src.ours ? "pass" : "fail").field(joined(src.contradictions, "; "))
      .field(src.failure).field(joined(src.overrides, "; ")).field(src.network.ptrName)
      .field(src.network.ptr == PtrState::Confirmed).field(uint64_t{src.network.asn}).field(src.network.asOrg)
      .field(src.network.country).field(src.network.spfResult).endRow();
  }
  std::cout << out.str();
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

//! The services as CSV: one row per service, the domain first, then the fields of printServicesJson.
void printServicesCsv(const std::vector<std::pair<std::string, std::vector<NamedService>>>& domains)
{
  CsvWriter out;
  out.row({"domain", "id", "name", "category", "class", "confidence", "messages", "dmarc_pass", "dmarc_fail", "sources",
           "evidence"});
  for (const auto& [domain, services] : domains) {
    for (const auto& svc : services) {
      out.field(domain).field(svc.id).field(svc.name).field(svc.category).field(sourceClassName(svc.cls))
        .field(svc.confidence).field(svc.messages).field(svc.dmarcPass).field(svc.dmarcFail).field(svc.sources)
        .field(joined(svc.evidence, "; ")).endRow();
    }
  }
  std::cout << out.str();
}

void printServicesText(const std::vector<std::pair<std::string, std::vector<NamedService>>>& domains)
{
  if (domains.empty()) {
    std::cout << "No sources in this window.\n";
    return;
  }
  const size_t width = terminalColumns();
  const bool colour = colourWanted();
  const std::vector<ColumnSpec> columns{
    {"SERVICE", 12, 30, true, Align::Left},  {"CATEGORY", 8, 20, true, Align::Left},
    {"CLASS", 10, 20, true, Align::Left},    {"MESSAGES", 0, 0, false, Align::Right},
    {"PASS", 0, 0, false, Align::Right},     {"FAIL", 0, 0, false, Align::Right},
    {"SOURCES", 0, 0, false, Align::Right},  {"EVIDENCE", 8, 120, true, Align::Left},
  };
  bool first = true;
  for (const auto& [domain, services] : domains) {
    Table table(columns);
    for (const auto& svc : services) {
      table.addRow({svc.name, svc.category, {std::string(sourceClassName(svc.cls)), classColour(svc.cls)},
                    std::to_string(svc.messages), std::to_string(svc.dmarcPass), failCell(svc.dmarcFail),
                    std::to_string(svc.sources), joined(svc.evidence, ", ")});
    }
    printDomainHeading(domain, first, width, colour);
    std::cout << table.render(width, colour, 2);
    first = false;
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
  if (!knownDomainOrUsage(command, options.domain, store.listDomains())) {
    exitStatus = s_exitUsage;
    return std::nullopt;
  }
  return computeSources(store, *namer, options.domain, window->fromDay, window->toDay, storedNetworkLookup(store),
                        std::string_view(command) == "services" ? SourceDetail::Names : SourceDetail::Verdicts);
}

} // namespace

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
  if (options.csv) {
    printSourcesCsv(shown);
  }
  else if (options.json) {
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
  if (options.csv) {
    printServicesCsv(services);
  }
  else if (options.json) {
    printServicesJson(services);
  }
  else {
    printServicesText(services);
  }
  return 0;
}

} // namespace dmarcwatch::cli
