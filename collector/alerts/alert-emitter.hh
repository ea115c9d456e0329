/*
 * alert-emitter.hh - dmarcwatchd's alerts to syslog, one RFC 5424 line each.
 *
 *   <17>1 2026-12-07T08:00:00.000000Z mx1 dmarcwatch 4711 spoofing
 *     [dmarcwatch@32473 id="3f2a..." rule="spoofing" domain="example.com" severity="err" messages="310"]
 *     310 messages from unknown sources fail DMARC for example.com
 *   (one line; broken here for reading)
 *
 * The facts travel as structured data so a collector (syslog-ng, rsyslog, a
 * SIEM) reads them without regexes; contrib/syslog-ng/dmarcwatch.conf turns
 * them into JSON.  Targets are those of SyslogTarget: "/dev/log" (an RFC 5424
 * datagram to that unix socket, not syslog(3), which cannot carry structured
 * data), "unix:PATH", "udp:HOST:PORT", "tcp:HOST:PORT" (RFC 6587 octet
 * counting) and "stderr" (the line on stderr, for dmarcwatchd -f).
 *
 * Users: dmarcwatchd's alert pass; t/e2e/alert-send.
 *
 * Security: alert values come from reports and DNS, i.e. from attackers.
 * Every value and the message are made printable (control bytes and invalid
 * UTF-8 become '?'; valid UTF-8 is kept) and cut (values to
 * s_alertMaxValueBytes, the message to four times that); values are escaped
 * as RFC 5424 SD-PARAM values, so no value can end the structured data and no
 * newline can forge a line.  The whole line stays below s_alertMaxLineBytes so
 * it fits one UDP datagram: a field that would leave the message less than 64
 * bytes is left out with those after it, and the message gets what remains.
 *
 * Thread-safety: formatAlert() is pure; an AlertEmitter is used by one
 * thread at a time.
 */
#pragma once

#include "collector/alerts/alert.hh"
#include "collector/common/syslog-wire.hh"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dmarcwatch::collector
{

struct Config;

//! Bytes of one structured-data value or of the message, before escaping.
constexpr size_t s_alertMaxValueBytes = 256;
//! A whole alert line is shorter than this (one UDP datagram, and syslog-ng's default 64 KiB is far).
constexpr size_t s_alertMaxLineBytes = 2048;

//! Where and as what alerts go to syslog (SyslogTarget and the Alert* keys).
struct AlertSyslogOptions
{
  std::string target = "/dev/log";  //!< "/dev/log", "stderr", "unix:PATH", "udp:HOST:PORT", "tcp:HOST:PORT"
  int facility = 2 << 3;            //!< the <syslog.h> code, facility number times 8 (LOG_MAIL)
  std::string appName = "dmarcwatch";
  uint32_t enterpriseNumber = 32473; //!< the SD-ID is "dmarcwatch@<this>"

  /*!
   * \brief The options of a configuration: SyslogTarget, AlertFacility, AlertAppName, AlertEnterpriseNumber.
   * \throw ConfigError for an unknown facility name
   */
  static AlertSyslogOptions fromConfig(const Config& config);
};

/*!
 * \brief One alert as one RFC 5424 line (no trailing newline, shorter than s_alertMaxLineBytes).
 * PRI is facility + severity, TIMESTAMP the alert's time (UTC), MSGID its rule, then
 * [dmarcwatch@N id rule domain severity <fields in order>] and the readable message.
 */
std::string formatAlert(const Alert& alert, const AlertSyslogOptions& options, std::string_view hostName, long pid);

/*!
 * Sends alerts to the configured target, synchronously: emit() returns when
 * the line was handed over or dropped.  The socket is opened at the first
 * emit() and kept; a collector that restarted gets one reconnect per alert.
 */
class AlertEmitter
{
public:
  /*!
   * \brief Parse the target (resolving a host name); nothing is opened yet.
   * \throw ConfigError for a target of another form or a host that does not resolve
   */
  explicit AlertEmitter(const AlertSyslogOptions& options);

  /*!
   * \brief Send one alert.  Blocks at most about a second per attempt (TCP connect or a full buffer).
   * \return true when the line was handed over: the TCP frame fully written, the datagram sent,
   *         the line written to stderr; false when it was dropped (nobody listens, receiver full)
   */
  bool emit(const Alert& alert) noexcept;

private:
  AlertSyslogOptions d_options;
  std::optional<SyslogSocket> d_socket; //!< none for "stderr"
  std::string d_hostName;
};

} // namespace dmarcwatch::collector
