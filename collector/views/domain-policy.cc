/*
 * domain-policy.cc - the policy that applies to a domain (domain-policy.hh).
 */
#include "config.h"

#include "collector/views/domain-policy.hh"

#include <algorithm>

namespace dmarcwatch::collector
{

namespace
{

constexpr int64_t s_dayLength = 86400;

} // namespace

// A report dated in the future is a forgery or a broken clock, and must not pin anything.
int64_t believedEnd(const StoredReport& report)
{
  return std::min(report.header.metadata.end, report.storedAt);
}

EffectivePolicy policyOf(const std::optional<LivePolicy>& live, const std::vector<StoredReport>& reports)
{
  EffectivePolicy policy;
  if (live && live->state == "found" && !live->p.empty()) {
    policy.p = live->p;
    policy.pct = live->pct.value_or(100);
    policy.testing = live->testing == "y";
    policy.from = "dns";
    return policy;
  }
  // The newest report's period (as believed), the latest stored breaking ties.
  const StoredReport* latest = nullptr;
  for (const auto& report : reports) {
    // storedAt is our clock, far from INT64_MAX: the sum does not overflow.
    const bool futureDated = report.header.metadata.end > report.storedAt + s_dayLength;
    if (countedState(report.state) && !futureDated && !report.header.policy.p.empty() &&
        (latest == nullptr || believedEnd(report) >= believedEnd(*latest))) {
      latest = &report;
    }
  }
  if (latest != nullptr) {
    policy.p = latest->header.policy.p;
    policy.pct = latest->header.policy.pct.value_or(100);
    policy.testing = latest->header.policy.testing == "y";
    policy.from = "reports";
  }
  return policy;
}

} // namespace dmarcwatch::collector
