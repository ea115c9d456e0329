/*
 * status-text.hh - the human tables of `dmarcwatch status`: one line per domain
 * (the overview), or one domain's page (services with what fails and the fix,
 * unknown and failing sources, forwarders, reporters, the trend as a
 * sparkline), the what-if and the SPF view; and the per-service CSV.
 *
 * Tables fit the width given (terminal.hh terminalColumns); colour only when asked
 * (a terminal).  Thread-safety: pure functions.  Errors: none.
 */
#pragma once

#include "collector/views/domain-view.hh"
#include "collector/views/status-json.hh"

#include <string>
#include <vector>

namespace dmarcwatch::cli
{

struct TextOptions
{
  size_t width = 80;
  bool colour = false;
};

//! \brief The overview: one line per domain.
std::string statusOverviewText(const std::vector<collector::DomainView>& views, const TextOptions& options);
//! \brief One domain's page, with the what-if and SPF view when extras has them.
std::string statusDetailText(const collector::DomainView& view, const collector::StatusExtras& extras,
                             const TextOptions& options);
//! \brief The services of every view as CSV, one row per (domain, service).
std::string statusServicesCsv(const std::vector<collector::DomainView>& views);
//! \brief Messages per day as a line of block characters (UTF-8), width at most `width`
//! (runs of days summed when there are more), scaled to the largest.
std::string sparkline(const std::vector<uint64_t>& values, size_t width);
//! \brief DMARC pass per day as a share of that day's messages (full block: 100 %), runs
//! summed as sparkline's; a blank for no messages.
std::string passSparkline(const std::vector<uint64_t>& messages, const std::vector<uint64_t>& pass, size_t width);

} // namespace dmarcwatch::cli
