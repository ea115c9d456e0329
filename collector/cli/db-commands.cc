/*
 * db-commands.cc - `dmarcwatch db verify`, `dmarcwatch db upgrade` (`db enrichment`:
 * enrichment-command.cc) and
 * `dmarcwatch reindex`: looking after the store itself.
 */
#include "config.h"

#include "collector/cli/cli-commands.hh"

#include "collector/common/json.hh"
#include "collector/common/log.hh"
#include "collector/ingest/reindex.hh"
#include "collector/store/store.hh"

#include <iostream>

namespace dmarcwatch::cli
{
using namespace collector;

namespace
{

const char* const s_dbUsage = "usage: db verify [--json] | db upgrade | db enrichment [--json]";

} // namespace

int runDb(const Config& config, const std::vector<std::string>& args)
{
  if (args.empty()) {
    return usageError("db", std::string("no subcommand given (") + s_dbUsage + ")");
  }
  const std::string& subcommand = args[0];
  if (subcommand != "verify" && subcommand != "upgrade" && subcommand != "enrichment") {
    return usageError("db", "unknown subcommand '" + printable(subcommand, 100) + "' (" + s_dbUsage + ")");
  }
  // upgrade takes no option; verify and enrichment take --json.
  bool json = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] != "--json" || subcommand == "upgrade") {
      return unknownOption("db " + subcommand, args[i]);
    }
    json = true;
  }
  if (subcommand == "enrichment") {
    return runDbEnrichment(config, json);
  }
  if (args[0] == "upgrade") {
    Store store(config.database, storeOptions(config, false));
    if (store.upgradedFrom() != 0) {
      std::cout << config.database << ": upgraded from store schema " << store.upgradedFrom() << " to "
                << Store::s_currentSchema << "\n";
    }
    else {
      std::cout << config.database << ": store schema " << store.schemaVersion() << ", nothing to upgrade\n";
    }
    return 0;
  }

  // verify: read-only, so it runs beside the milter.
  Store store(config.database, storeOptions(config, true));
  const auto problems = store.verify();
  if (json) {
    JsonWriter out;
    out.beginObject().key("database").value(config.database).key("ok").value(problems.empty())
      .key("problems").stringArray(problems).endObject();
    std::cout << out.str() << "\n";
  }
  else if (problems.empty()) {
    std::cout << config.database << ": ok (every value decodes; the totals equal the rows of the counted reports)\n";
  }
  else {
    for (const auto& problem : problems) {
      std::cout << config.database << ": " << problem << "\n";
    }
    std::cout << problems.size() << " problems\n";
  }
  return problems.empty() ? 0 : 1;
}

int runReindex(const Config& config, const std::vector<std::string>& args)
{
  bool json = false;
  for (const auto& arg : args) {
    if (arg == "--json") {
      json = true;
    }
    else {
      return unknownOption("reindex", arg);
    }
  }
  const ReindexResult result = reindexStore(config.database, storeOptions(config, false), config.limits);
  if (json) {
    JsonWriter out;
    out.beginObject()
      .key("database").value(config.database)
      .key("reports_before").value(result.reportsBefore)
      .key("reports_after").value(result.reportsAfter)
      .key("payloads_parsed").value(result.payloadsParsed)
      .key("reports_copied").value(result.reportsCopied)
      .key("old_store").value(result.keptOldStore)
      .key("notes").stringArray(result.notes)
      .endObject();
    std::cout << out.str() << "\n";
    return 0;
  }
  for (const auto& note : result.notes) {
    std::cout << config.database << ": " << note << "\n";
  }
  std::cout << config.database << ": rebuilt: " << result.payloadsParsed << " payloads parsed again, "
            << result.reportsCopied << " reports copied as they were; " << result.reportsBefore << " reports before, "
            << result.reportsAfter << " after.\nThe old store is kept as " << result.keptOldStore
            << " (delete it when satisfied).\n";
  return 0;
}

} // namespace dmarcwatch::cli
