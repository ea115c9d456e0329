/*
 * rules.hh - the alert rules: what is worth telling the admin about one
 * domain, as findings.  Pure functions of the domain's picture, the settings,
 * the clock and what earlier passes remembered (alert states); deciding
 * whether a finding is sent (repeat window, escalation, bursts) is the pass's
 * job (alert-pass.hh).
 *
 * The rules (dmarcwatch.conf(5) documents each and its threshold):
 *   new-sender          a service, or an unnamed source, sends as the domain for the first time
 *   unknown-sender      an unnamed source, not declared, passes DMARC with some volume
 *   spoofing            DMARC-failing mail from unauthorized sources, with countries and ASNs
 *   enforcement-blocker a legitimate service fails: quarantine/reject would stop its mail
 *   pass-rate-change    a service moves between the bands >= 95 %, 51-94 %, <= 50 %
 *   report-gap          a reporter that sent daily reports went silent
 *   dns-change          the live DMARC or SPF record changed or went, or SPF is broken (> 10 look-ups, a loop, ...)
 *   enforcement-ready   every authorized service >= ReadyPassRate % for ReadyDays
 *
 * State keys the rules read and write (alert states in the store):
 *   domain|D            when the daemon first judged D (new-sender's grace)
 *   seen|D|SERVICE      a service already seen sending as D
 *   band|D|SERVICE      the band a service was last in
 *   dns|D|dmarc, dns|D|spf  the live records last seen
 * and each finding's own key RULE|D|SUBJECT.
 *
 * Thread-safety: pure.  Errors: none thrown.
 */
#pragma once

#include "collector/alerts/alert.hh"
#include "collector/alerts/domain-picture.hh"
#include "collector/common/config.hh"

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace dmarcwatch::collector
{

struct Finding
{
  std::string key;      //!< the alert state key: RULE|DOMAIN|SUBJECT
  std::string rule;
  std::string domain;
  std::string subject;  //!< what it is about ("SendGrid", "192.0.2.1", "google.com"): burst summaries list them
  AlertSeverity severity = AlertSeverity::Notice;
  std::string message;
  std::vector<std::pair<std::string, std::string>> fields; //!< after rule and domain
  uint64_t value = 0;   //!< its measure (messages): twice the value sent before escalates
  std::string note;     //!< remembered in its state
  bool silent = false;  //!< only remembered (a baseline), never sent
};

struct RuleContext
{
  const AlertSettings& settings;
  int64_t now = 0;
  bool full = false; //!< a full pass: the time rules (report-gap, dns-change, enforcement-ready) run
  //! The stored state of a key (with what this pass already decided), nullopt when none.
  std::function<std::optional<Store::AlertState>(const std::string&)> state;
  //! True when the source was first seen in a report this pass follows (new).
  std::function<bool(const NamedSource&)> isNew;
};

/*!
 * \brief Every enabled rule over one domain.  \param readiness the picture over ReadyDays
 * (nullptr: enforcement-ready is not judged this time).
 */
std::vector<Finding> evaluateRules(const DomainPicture& picture, const DomainPicture* readiness,
                                   const RuleContext& context);

//! A source or service is legitimate: authorized, or a named service that passes for the domain.
bool legitimate(const NamedService& service);

/*!
 * \brief An alert state key: the parts joined by '|'.  Parts come from reports (domains, org
 * names): one longer than 120 bytes becomes its head and a hash, so a key stays far below
 * LMDB's 511 bytes whatever a report says.
 */
std::string alertStateKey(std::initializer_list<std::string_view> parts);

} // namespace dmarcwatch::collector
