/*
 * cli-commands.hh - the commands of `dmarcwatch` (ingest, reports, status).
 *
 * Each takes the loaded configuration and the arguments after the command
 * name, writes to stdout (tables, or JSON with --json) and stderr (errors),
 * and returns the exit status: 0 success, 1 an input or the store failed,
 * 2 usage or configuration error.
 */
#pragma once

#include "collector/common/config.hh"

#include <string>
#include <vector>

namespace dmarcwatch::cli
{

int runIngest(const collector::Config& config, const std::vector<std::string>& args);
int runReports(const collector::Config& config, const std::vector<std::string>& args);
int runStatus(const collector::Config& config, const std::vector<std::string>& args);

//! Exit status for usage errors (bad options, unknown command).
constexpr int s_exitUsage = 2;

} // namespace dmarcwatch::cli
