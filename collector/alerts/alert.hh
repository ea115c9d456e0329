/*
 * alert.hh - one alert of dmarcwatchd, as the rules raise it, the store keeps
 * it and syslog receives it.
 *
 * An alert is a rule's finding about one domain (and a service, source or
 * reporter of it): a readable message and its facts as named values, which
 * go out as RFC 5424 structured data
 *   [dmarcwatch@32473 id="..." rule="spoofing" domain="example.com" messages="310" ...]
 * `id` is stable: the same alert sent again (after a crash between sending and
 * recording it) carries the same id, so a SIEM can deduplicate.
 *
 * Users: alerts/ (rules, state, emitter), the daemon, `dmarcwatch alerts`.
 */
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dmarcwatch::collector
{

//! Syslog severities (RFC 5424 numbers) the rules use; lower is worse.
enum class AlertSeverity : uint8_t
{
  Error = 3,
  Warning = 4,
  Notice = 5,
  Info = 6,
};

//! "err", "warning", "notice", "info" (syslog's names).
std::string_view severityName(AlertSeverity severity);

struct Alert
{
  std::string id;     //!< 16 hex digits, stable for this alert (file comment)
  std::string rule;   //!< "spoofing", ... (config.hh s_alertRuleNames); "summary" fields say of which
  std::string domain; //!< the policy domain
  AlertSeverity severity = AlertSeverity::Notice;
  int64_t time = 0;   //!< seconds since the epoch when it was raised
  std::string message; //!< one readable line ("SendGrid fails DMARC for example.com: ...")
  //! The facts after id, rule and domain, in order: service, class, messages, pass_pct, ...
  std::vector<std::pair<std::string, std::string>> fields;

  //! \brief The value of a field, "" when absent.
  [[nodiscard]] std::string_view field(std::string_view name) const
  {
    for (const auto& [key, value] : fields) {
      if (key == name) {
        return value;
      }
    }
    return {};
  }
};

} // namespace dmarcwatch::collector
