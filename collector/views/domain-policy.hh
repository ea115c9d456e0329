/*
 * domain-policy.hh - the DMARC policy that applies to a domain now: the live
 * record when the daemon found one, else what the newest report published.
 *
 * Users: the alert rules (alerts/domain-picture) and status's readiness
 * (views/readiness).  Thread-safety: pure functions.  Errors: none.
 */
#pragma once

#include "collector/store/enrichment.hh"
#include "collector/store/store.hh"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmarcwatch::collector
{

//! The policy that applies now: the live record when the daemon found one, else the latest report's.
struct EffectivePolicy
{
  std::string p;      //!< none, quarantine, reject; "" unknown
  unsigned pct = 100;
  bool testing = false; //!< t=y (RFC 9990): applied as the next lower policy
  std::string from;   //!< "dns" or "reports"
  //! \brief Mail failing DMARC is quarantined or rejected now: p=reject t=y is applied as
  //! quarantine, p=quarantine t=y as none.
  [[nodiscard]] bool enforcing() const { return pct > 0 && (p == "reject" || (p == "quarantine" && !testing)); }
};

//! \brief When a report's period ended, as far as we believe it: never after it arrived.
int64_t believedEnd(const StoredReport& report);

/*!
 * \brief The policy of a domain: the live record (state "found") when given, else the newest
 * counted report's (by believed end; a report dated in the future is never taken).
 */
EffectivePolicy policyOf(const std::optional<LivePolicy>& live, const std::vector<StoredReport>& reports);

} // namespace dmarcwatch::collector
