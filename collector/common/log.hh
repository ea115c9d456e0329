/*
 * log.hh - the one logger: a constant message plus key=value pairs.
 *
 *   logInfo("report stored", {{"qid", qid}, {"org", org}, {"records", "12"}});
 *   -> "report stored qid=4XyZ org=google.com records=12"
 *
 * Targets: syslog(3) (default, "/dev/log"), a datagram socket "unix:PATH",
 * "udp:HOST:PORT" or "tcp:HOST:PORT" (RFC 5424 written by us, because glibc
 * cannot point syslog(3) elsewhere), or stderr (programs run with -f).
 * Values are made printable and truncated before they are written: they come
 * from reports and mail, i.e. from attackers.
 *
 * Thread-safety: all functions may be called from any thread; setup functions
 * are meant for start-up and reload.
 */
#pragma once

#include <chrono>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dmarcwatch::collector
{

enum class LogLevel
{
  Debug,
  Info,
  Warning,
  Error
};

using LogField = std::pair<std::string_view, std::string>;

/*!
 * \brief Where log lines go from now on.
 * \param ident program name ("dmarcwatch-milter")
 * \param target "stderr", "/dev/log" (syslog(3)), "unix:PATH", "udp:HOST:PORT", "tcp:HOST:PORT"
 * \param facility syslog facility name ("mail", "daemon", "local0".."local7")
 * \throw ConfigError for an unknown target form or facility
 */
void setupLogging(const std::string& ident, const std::string& target, const std::string& facility);
//! Log at Debug too (off by default).
void setLogDebug(bool on);

void logMessage(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});
inline void logInfo(std::string_view m, std::initializer_list<LogField> f = {}) { logMessage(LogLevel::Info, m, f); }
inline void logWarning(std::string_view m, std::initializer_list<LogField> f = {}) { logMessage(LogLevel::Warning, m, f); }
inline void logError(std::string_view m, std::initializer_list<LogField> f = {}) { logMessage(LogLevel::Error, m, f); }
inline void logDebug(std::string_view m, std::initializer_list<LogField> f = {}) { logMessage(LogLevel::Debug, m, f); }

/*!
 * While one exists, log lines are queued (at most a few thousand; more are
 * dropped and counted, the count logged later) and written by a thread of
 * their own, so a stalled syslog daemon or collector never blocks the
 * caller.  For servers (the milter's event loop); start it after fork().
 * The destructor writes what is queued, waiting up to s_stopTimeout.
 */
class LogWriterThread
{
public:
  LogWriterThread();
  ~LogWriterThread();
  LogWriterThread(const LogWriterThread&) = delete;
  LogWriterThread& operator=(const LogWriterThread&) = delete;

  /*!
   * \brief Write what is queued (up to timeout), then log from the caller again.
   * \return false when the sink was too slow to take everything in time.
   */
  bool stop(std::chrono::milliseconds timeout);

  static constexpr std::chrono::seconds s_stopTimeout{2};
};

//! \brief Control and non-ASCII bytes become '?', then the text is cut to max bytes (with "...").
std::string printable(std::string_view text, size_t max = 200);

//! Tests: capture formatted lines ("info: message k=v") instead of writing them; nullptr to stop.
void setLogCapture(std::vector<std::string>* sink);

} // namespace dmarcwatch::collector
