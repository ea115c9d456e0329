/*
 * syslog-wire.hh - the building blocks of RFC 5424 syslog messages and the
 * socket that carries them to a collector (syslog-ng, rsyslog, a SIEM).
 *
 *   auto address = parseSyslogAddress("udp:127.0.0.1:514");   // resolves once
 *   SyslogSocket socket(address);
 *   std::string line = rfc5424Header(LOG_MAIL | LOG_INFO, timestamp5424(), host, "app", pid, "-");
 *   line += " [dmarcwatch@32473 k=\"";
 *   appendSdParamValue(line, value);
 *   line += "\"] message";
 *   socket.send(line);
 *
 * Users: the logger (log.cc) and the alert emitter (alerts/alert-emitter.cc).
 * Text passed in is expected to be printable already (the callers have their
 * own printable()); these functions only shape it for the wire.
 *
 * Thread-safety: the functions are pure (timestamp5424() reads the clock).  A
 * SyslogSocket is not shared: its owner serialises calls.
 *
 * Error policy: parsing a target throws ConfigError; a SyslogSocket never
 * throws and never blocks for long (datagrams MSG_DONTWAIT, TCP writes bounded
 * by SO_SNDTIMEO); send() says whether the message was handed over.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <sys/socket.h>

namespace dmarcwatch::collector
{

enum class SyslogTransport
{
  Unix, //!< a local datagram socket
  Udp,
  Tcp //!< RFC 6587 octet-counting framing
};

//! A syslog target parsed and resolved ("unix:PATH", "udp:HOST:PORT", "tcp:HOST:PORT").
struct SyslogAddress
{
  SyslogTransport transport = SyslogTransport::Unix;
  std::string target; //!< as configured, for messages
  sockaddr_storage addr{};
  socklen_t addrLen = 0;
};

/*!
 * \brief Parse "unix:PATH", "udp:HOST:PORT" or "tcp:HOST:PORT" ("[V6]:PORT" too) and resolve the host.
 * \throw ConfigError for another form, a bad port, a path too long or a host that does not resolve
 * Blocks while the host name is resolved (getaddrinfo).
 */
SyslogAddress parseSyslogAddress(const std::string& target);

/*!
 * \brief The <syslog.h> code of a facility name ("mail" -> LOG_MAIL), case-insensitive.
 * \throw ConfigError for an unknown name
 */
int syslogFacilityCode(const std::string& name);

//! \brief RFC 5424 SD-NAME: printable US-ASCII but '=', ' ', ']', '"' (else '_'), at most 32 bytes, never empty.
std::string sdName(std::string_view key);

//! \brief Append an SD-PARAM value, '"', '\' and ']' escaped with '\' (RFC 5424 6.3.3).
void appendSdParamValue(std::string& out, std::string_view value);

//! \brief An RFC 5424 header field: printable ASCII without spaces, at most max bytes, "-" when empty.
std::string headerToken(std::string_view text, size_t max);

//! \brief RFC 5424 TIMESTAMP of now, UTC with microseconds ("2026-12-07T08:10:40.123456Z").
std::string timestamp5424();
//! \brief RFC 5424 TIMESTAMP of seconds since the epoch plus microseconds, UTC.
std::string timestamp5424(int64_t seconds, long micros);

//! \brief This host's name (gethostname), "" when unknown.
std::string localHostName();

/*!
 * \brief "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID": an RFC 5424 HEADER without the space after it.
 * hostName, appName and msgId pass through headerToken (255, 48, 32 bytes).
 */
std::string rfc5424Header(int pri, std::string_view timestamp, std::string_view hostName, std::string_view appName,
                          long procId, std::string_view msgId);

/*!
 * One connection (or datagram socket) to a syslog target, opened on the first
 * send().  TCP messages are framed "LENGTH SP MESSAGE" (RFC 6587 octet
 * counting), sent with SO_SNDTIMEO of one second; datagrams go with
 * MSG_DONTWAIT.  A failed connect is not retried for a second.  Move-only.
 */
class SyslogSocket
{
public:
  explicit SyslogSocket(SyslogAddress address);
  ~SyslogSocket();
  SyslogSocket(SyslogSocket&& other) noexcept;
  SyslogSocket& operator=(SyslogSocket&& other) noexcept;
  SyslogSocket(const SyslogSocket&) = delete;
  SyslogSocket& operator=(const SyslogSocket&) = delete;

  /*!
   * \brief Hand one message to the target: a TCP frame fully written or a datagram sent.
   * A peer that went away (collector restarted) gets one reconnect.  Blocks at most
   * about a second per attempt (TCP connect or a full send buffer).
   * \return false when the message was dropped (nobody listens, receiver full, ...)
   */
  bool send(std::string_view message) noexcept;

  [[nodiscard]] const SyslogAddress& address() const { return d_address; }

private:
  bool open() noexcept;
  void close() noexcept;

  SyslogAddress d_address;
  int d_fd = -1;
  std::chrono::steady_clock::time_point d_nextConnect{};
};

} // namespace dmarcwatch::collector
