/*
 * status-json.hh - the JSON document of `dmarcwatch status --json`: the contract
 * of DESIGN.md ({"domains":[{"domain", "messages", "dmarc_pass", "dmarc_fail",
 * "services":[{"name", "category", "messages", "dmarc_pass", "dmarc_fail"}]}]})
 * and everything status adds to it (policy, readiness, trend, sources named,
 * what fails and how to fix it, the what-if, the SPF view).
 *
 * Thread-safety: pure functions.  Errors: none.
 */
#pragma once

#include "collector/common/json.hh"
#include "collector/views/domain-view.hh"
#include "collector/views/readiness.hh"
#include "collector/views/spf-advice.hh"

#include <optional>
#include <string>
#include <vector>

namespace dmarcwatch::collector
{

//! What one domain's entry holds beyond its view (asked for with --policy and --spf).
struct StatusExtras
{
  std::optional<WhatIf> whatIf;
  std::optional<SpfAdvice> spf;
};

//! \brief One domain's object (the caller is inside the "domains" array).
void writeDomainJson(JsonWriter& out, const DomainView& view, const StatusExtras& extras);

//! \brief The whole document; extras[i] belongs to views[i] (missing: none).
std::string statusJson(const std::vector<DomainView>& views, const std::vector<StatusExtras>& extras);

} // namespace dmarcwatch::collector
