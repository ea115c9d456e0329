/*
 * readiness.hh - what status concludes from a domain's services: is the domain
 * ready for p=quarantine or p=reject, who blocks it, what enforcement would stop
 * (the what-if), why each service fails and how to fix it, in words.
 *
 * The set of senders enforcement must not stop is the alert rules' too
 * (alerts/rules.cc enforcement-blocker and enforcement-ready): one definition.
 *
 * Thread-safety: pure functions.  Errors: none (bad_alloc).
 */
#pragma once

#include "collector/common/config.hh"
#include "collector/judge/public-suffix.hh"
#include "collector/sources/catalog.hh"
#include "collector/sources/naming.hh"
#include "collector/views/domain-policy.hh"
#include "collector/views/status-view.hh"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

/*!
 * \brief A sender enforcement must not stop: authorized (by the admin, or the domain's own
 * identity), or a catalog service the admin has not authorized yet that passes some of the time
 * (a real service set up half-way, not a spoofer naming it).
 */
bool legitimateSender(SourceClass cls, bool catalogService, uint64_t dmarcPass);
//! \brief legitimateSender of a status service (its class and id as nameStatus set them).
bool legitimateSender(const ServiceSummary& service);

//! The thresholds readiness is judged by (dmarcwatch.conf: ReadyPassRate, ReadyDays, BlockerMessages).
struct ReadinessSettings
{
  unsigned passRate = 98;       //!< percent of DMARC pass every legitimate sender needs
  uint32_t days = 14;           //!< days of data before reject is advised
  uint64_t blockerMessages = 10; //!< failing messages that make a legitimate sender a blocker
};

//! \brief The thresholds of a configuration (the alerts' ReadyPassRate, ReadyDays, BlockerMessages).
ReadinessSettings readinessSettings(const Config& config);

enum class Readiness : uint8_t
{
  NoData,            //!< no messages in the window
  NoSenders,         //!< mail, but no legitimate sender: nothing known to protect
  Blocked,           //!< not enforcing; these services would lose mail
  ReadyForQuarantine, //!< not enforcing; every legitimate sender passes, data too short for reject
  ReadyForReject,    //!< not enforcing (or quarantine); every legitimate sender passes over enough days
  AtEnforcement,     //!< enforcing, no legitimate sender fails
  Losing,            //!< enforcing, and these legitimate services fail: their mail is being lost
};

struct ReadinessVerdict
{
  Readiness state = Readiness::NoData;
  std::vector<std::string> services; //!< Blocked, Losing: the services at fault, most failing first
  std::string policy;                //!< the effective p= ("" unknown)
  std::string detail;                //!< why, in a sentence ("data covers 9 of 14 days")
  bool rejectNext = false;           //!< AtEnforcement: under quarantine (pct 100, ReadyDays) reject is next; under reject, true when in full
  std::string qualifier;             //!< AtEnforcement: "quarantine", "t=y: applied as quarantine", "reject at 50 %", "" (reject in full)

  //! "ready for reject", "blocked by: SendGrid, Zendesk", "at enforcement, losing mail from: X".
  [[nodiscard]] std::string text() const;
  //! "no-data", "no-senders", "blocked", "ready-for-quarantine", "ready-for-reject", "at-enforcement", "losing".
  [[nodiscard]] std::string_view name() const;
};

/*!
 * \brief The verdict on a domain's status (services named) under its policy.
 * \param coveredDays days of the window with data.
 */
ReadinessVerdict judgeReadiness(const DomainStatus& status, const EffectivePolicy& policy,
                                const ReadinessSettings& settings, uint32_t coveredDays);

//! One service under the what-if policy.
struct WhatIfService
{
  std::string name;
  std::string cls;
  bool legitimate = false;
  uint64_t messages = 0;
  uint64_t failing = 0;    //!< DMARC-failing messages
  uint64_t forwarded = 0;  //!< failing and forwarded (class forwarder, or a forwarding override)
  uint64_t overridden = 0; //!< failing, not forwarded, with a reporter override (local_policy, ...)
  uint64_t stopped = 0;    //!< what the policy would quarantine or reject: the rest, times pct
};

struct WhatIf
{
  std::string policy; //!< quarantine or reject
  unsigned pct = 100;
  uint64_t messages = 0;
  uint64_t stopped = 0;           //!< in all
  uint64_t stoppedLegitimate = 0; //!< of legitimate senders: mail the admin would lose
  uint64_t forwarded = 0;         //!< counted apart: receivers may still take it (ARC, allow-lists)
  uint64_t overridden = 0;        //!< counted apart: the receiver overrode the policy before
  std::vector<WhatIfService> services; //!< services with failing mail, most stopped first
};

/*!
 * \brief What `policy` at `pct` percent would have done to the window's failing mail.
 * Forwarded and overridden mail is counted apart (needs the AuthCounts: StatusView::Options::countAuth).
 */
WhatIf whatIf(const DomainStatus& status, std::string_view policy, unsigned pct);

/*!
 * \brief Why a service's largest failing outcome fails DMARC for the policy domain, in words
 * ("DKIM signs as sendgrid.net, not aligned; SPF passes for sendgrid.net, not aligned"); "" when it
 * never fails.
 */
std::string describeFailure(const ServiceSummary& service, std::string_view domain, const PublicSuffixList& psl);

/*!
 * \brief The fix in one phrase ("set up DKIM for example.com at SendGrid (custom domain signing)",
 * "add include:sendgrid.net to example.com's SPF" only where SPF alignment is possible); "" when it
 * passes or there is nothing the admin can fix.  \param catalog may be null.
 */
std::string fixFor(const ServiceSummary& service, std::string_view domain, const Catalog* catalog,
                   const PublicSuffixList& psl);

} // namespace dmarcwatch::collector
