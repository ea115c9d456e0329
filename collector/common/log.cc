/*
 * log.cc - the one logger (see log.hh): "constant message key=value ...".
 *
 * Users: every program and the library.  One process-wide sink chosen by
 * setupLogging():
 *   "stderr"           "ident: level: message k=v" lines (programs run with -f)
 *   "/dev/log"         syslog(3) with openlog(ident, LOG_PID, facility)
 *   "unix:PATH"        RFC 5424 datagrams to a local socket (syslog-ng, rsyslog)
 *   "udp:HOST:PORT"    RFC 5424 datagrams over UDP
 *   "tcp:HOST:PORT"    RFC 5424 over TCP with RFC 6587 octet-counting framing
 * The RFC 5424 writer (its pieces and the socket in syslog-wire.hh) exists
 * because glibc's syslog(3) cannot be pointed at another socket.  Fields are also sent as structured data
 * ([dmarcwatch@32473 key="value" ...], 32473 being the RFC 5612 example
 * enterprise number) so a collector can parse them without regexes.
 *
 * Thread-safety: one mutex guards the queue, the rate limiter and the
 * capture pointer; another the sink, so a slow sink never holds up a caller
 * that only queues.  Formatting happens outside both.  setupLogging() may
 * run at any time (reload); lines logged meanwhile go to the old or the new
 * sink.
 *
 * Writer thread (LogWriterThread, the milter's): lines are queued, at most
 * s_queueLines of them, and written by a thread of their own, so syslog(3)
 * on a full /dev/log or a stalled TCP collector never blocks the caller (the
 * milter's event loop).  A full queue drops the line and counts it; the
 * count is reported in the next line written.  Without the thread (the CLI)
 * lines are written at once, in order with the program's other output.
 *
 * Error policy: logging never throws once set up and never blocks the caller
 * for long: datagrams are sent with MSG_DONTWAIT and dropped when the
 * receiver is full or absent; a broken TCP connection is re-opened once per
 * line, and after a failed connect no new attempt is made for a second.
 * Lost lines are counted and reported in the next line that gets through.
 * setupLogging() throws ConfigError for a target or facility it cannot use,
 * before anything changes.  With the writer thread it never waits for the
 * sink: the thread switches to the new one at its next line (a reload while
 * syslog is stalled returns at once).
 *
 * Security: values come from mail and reports, i.e. from attackers.  They
 * pass through printable() (no control bytes, so no forged log lines or
 * terminal escapes) and are truncated.  Warnings and errors an attacker can
 * provoke at will are rate-limited per message text: at most
 * s_rateLimitLines per s_rateLimitWindow, then one "suppressed" summary.
 * What remains: an attacker can still fill the log at that rate per distinct
 * message text, and the set of texts is fixed by our code.
 */
#include "config.h"

#include "collector/common/log.hh"

#include "collector/common/syslog-wire.hh"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <syslog.h>
#include <unistd.h>

namespace dmarcwatch::collector
{
namespace
{

//! Lines per message text and window before warnings/errors are suppressed.
constexpr unsigned s_rateLimitLines = 20;
constexpr std::chrono::seconds s_rateLimitWindow{60};
//! Distinct message texts tracked by the limiter (they are constants; this only bounds a bug).
constexpr size_t s_rateLimitTexts = 1000;
//! Bytes of one value after printable() (the message itself gets more room).
constexpr size_t s_maxValueBytes = 256;
constexpr size_t s_maxMessageBytes = 512;
//! Lines waiting for the writer thread; beyond this they are dropped and counted.
constexpr size_t s_queueLines = 4096;
//! Our structured-data id (RFC 5612 documentation enterprise number).
constexpr const char* s_sdId = "dmarcwatch@32473";

enum class Sink
{
  Stderr,
  Syslog,
  Network //!< unix:, udp:, tcp: (syslog-wire.hh)
};

struct RateEntry
{
  std::chrono::steady_clock::time_point windowStart;
  unsigned lines = 0;
  unsigned suppressed = 0;
};

//! Where lines go, as setupLogging() parsed it (no open descriptor).
struct SinkConfig
{
  Sink kind = Sink::Stderr;
  std::string ident = "dmarcwatch";
  int facility = LOG_MAIL;
  SyslogAddress address; //!< network sinks
  std::string hostname;
};

//! One line, formatted, on its way to the sink.
struct LogLine
{
  LogLevel level;
  std::string text;       //!< "message k=v ..."
  std::string sd;         //!< RFC 5424 structured data ("-" for none)
  std::string timestamp;  //!< RFC 5424 time of logMessage(), not of the write
};

//! The process-wide logger state: d_mutex guards the front half, d_sinkMutex the sink.
struct LogState
{
  std::mutex d_mutex;
  bool d_debug = false;
  std::vector<std::string>* d_capture = nullptr;
  std::map<std::string, RateEntry, std::less<>> d_rate; //!< the limiter
  // the writer thread's queue
  bool d_async = false;
  bool d_stopping = false;
  std::deque<LogLine> d_queue;
  uint64_t d_queueDropped = 0;
  bool d_writing = false; //!< the writer holds a batch it has not written yet
  std::condition_variable d_queued;
  std::condition_variable d_drained;

  std::optional<SinkConfig> d_pendingSink; //!< set up meanwhile: the writer thread installs it
  std::atomic<bool> d_hasPending{false};   //!< d_pendingSink is set (read without the mutex)

  std::mutex d_sinkMutex;
  SinkConfig d_cfg;
  std::optional<SyslogSocket> d_socket; //!< network sinks
  uint64_t d_dropped = 0;
};

LogState& state()
{
  // Never destroyed: threads may log while the process exits.
  static auto* s_state = new LogState;
  return *s_state;
}

const char* levelName(LogLevel level)
{
  switch (level) {
  case LogLevel::Debug:
    return "debug";
  case LogLevel::Info:
    return "info";
  case LogLevel::Warning:
    return "warning";
  case LogLevel::Error:
    return "error";
  }
  return "info";
}

int syslogSeverity(LogLevel level)
{
  switch (level) {
  case LogLevel::Debug:
    return LOG_DEBUG;
  case LogLevel::Info:
    return LOG_INFO;
  case LogLevel::Warning:
    return LOG_WARNING;
  case LogLevel::Error:
    return LOG_ERR;
  }
  return LOG_INFO;
}

//! A value needs quotes when it is empty or holds a space, a quote, '=' or a backslash.
bool needsQuotes(std::string_view value)
{
  return value.empty() || value.find_first_of(" \"=\\") != std::string_view::npos;
}

void appendValue(std::string& out, std::string_view raw)
{
  std::string value = printable(raw, s_maxValueBytes);
  if (!needsQuotes(value)) {
    out += value;
    return;
  }
  out.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  out.push_back('"');
}

//! The text of a line: "message k=v k=\"v w\"".
std::string formatLine(std::string_view message, std::initializer_list<LogField> fields)
{
  std::string line = printable(message, s_maxMessageBytes);
  for (const auto& [key, value] : fields) {
    line.push_back(' ');
    line += printable(key, 32);
    line.push_back('=');
    appendValue(line, value);
  }
  return line;
}

std::string structuredData(std::initializer_list<LogField> fields)
{
  if (fields.size() == 0) {
    return "-";
  }
  std::string sd = "[";
  sd += s_sdId;
  for (const auto& [key, value] : fields) {
    sd += ' ';
    sd += sdName(key);
    sd += "=\"";
    appendSdParamValue(sd, printable(value, s_maxValueBytes));
    sd += '"';
  }
  sd += ']';
  return sd;
}

std::string rfc5424(const LogState& st, const LogLine& line)
{
  int pri = st.d_cfg.facility | syslogSeverity(line.level); // LOG_* facility codes are already shifted by 3
  return rfc5424Header(pri, line.timestamp, st.d_cfg.hostname, st.d_cfg.ident, getpid(), "-") + " " + line.sd + " " +
    line.text;
}

//! Send one RFC 5424 message on the network sink; called with d_sinkMutex held.
bool sendNetwork(LogState& st, const std::string& message)
{
  return st.d_socket && st.d_socket->send(message);
}

//! Count a warning/error line against its message text; false when it must be suppressed.
//! Appends the summary of an expired window to \p notes.  Called with the mutex held.
bool rateAllows(LogState& st, std::string_view message, std::vector<std::string>& notes)
{
  auto now = std::chrono::steady_clock::now();
  auto found = st.d_rate.find(message);
  if (found == st.d_rate.end()) {
    if (st.d_rate.size() >= s_rateLimitTexts) {
      st.d_rate.clear();
    }
    found = st.d_rate.emplace(std::string(message), RateEntry{now, 0, 0}).first;
  }
  RateEntry& entry = found->second;
  if (now - entry.windowStart >= s_rateLimitWindow) {
    if (entry.suppressed > 0) {
      notes.push_back(formatLine("log lines suppressed", {{"message", std::string(message)},
                                                          {"count", std::to_string(entry.suppressed)}}));
    }
    entry = RateEntry{now, 0, 0};
  }
  if (entry.lines >= s_rateLimitLines) {
    ++entry.suppressed;
    return false;
  }
  ++entry.lines;
  return true;
}

//! Write one line to the current sink; called with d_sinkMutex held.
void emit(LogState& st, const LogLine& line)
{
  switch (st.d_cfg.kind) {
  case Sink::Stderr:
    fprintf(stderr, "%s: %s: %s\n", st.d_cfg.ident.c_str(), levelName(line.level), line.text.c_str());
    fflush(stderr);
    return;
  case Sink::Syslog:
    syslog(syslogSeverity(line.level), "%s", line.text.c_str());
    return;
  case Sink::Network:
    if (st.d_dropped > 0) {
      LogLine note{LogLevel::Warning, formatLine("log lines lost", {{"count", std::to_string(st.d_dropped)}}), "-",
                   timestamp5424()};
      if (sendNetwork(st, rfc5424(st, note))) {
        st.d_dropped = 0;
      }
    }
    if (!sendNetwork(st, rfc5424(st, line))) {
      ++st.d_dropped;
    }
    return;
  }
}

void write(LogState& st, const LogLine& line)
{
  std::lock_guard<std::mutex> lock(st.d_sinkMutex);
  emit(st, line);
}

//! \brief A log target parsed (and a host name resolved). \throw ConfigError
SinkConfig parseSink(const std::string& ident, const std::string& target, const std::string& facility)
{
  SinkConfig cfg;
  cfg.ident = ident;
  cfg.facility = syslogFacilityCode(facility);
  cfg.hostname = localHostName();
  // Network sinks connect lazily, on the first line.
  if (target == "stderr") {
    cfg.kind = Sink::Stderr;
  }
  else if (target == "/dev/log" || target == "syslog") {
    cfg.kind = Sink::Syslog;
  }
  else {
    cfg.address = parseSyslogAddress(target);
    cfg.kind = Sink::Network;
  }
  return cfg;
}

//! Make cfg the sink; called with d_sinkMutex held.
void install(LogState& st, SinkConfig cfg)
{
  st.d_socket.reset();
  if (st.d_cfg.kind == Sink::Syslog) {
    closelog();
  }
  st.d_cfg = std::move(cfg);
  if (st.d_cfg.kind == Sink::Network) {
    st.d_socket.emplace(st.d_cfg.address);
  }
  st.d_dropped = 0;
  if (st.d_cfg.kind == Sink::Syslog) {
    // openlog keeps the pointer: the ident lives in st.d_cfg, which only install() replaces,
    // after closelog() (state() is never freed).
    openlog(st.d_cfg.ident.c_str(), LOG_PID | LOG_NDELAY, st.d_cfg.facility);
  }
}

//! The writer thread's switch to a sink setupLogging() left pending.
void installPending(LogState& st)
{
  if (!st.d_hasPending) {
    return;
  }
  std::optional<SinkConfig> pending;
  {
    std::lock_guard<std::mutex> lock(st.d_mutex);
    pending = std::exchange(st.d_pendingSink, std::nullopt);
    st.d_hasPending = false;
  }
  if (pending) {
    std::lock_guard<std::mutex> lock(st.d_sinkMutex);
    install(st, std::move(*pending));
  }
}

//! The writer thread: takes queued lines in batches and writes them, until stopped and drained.
void writerLoop(LogState& st)
{
  std::deque<LogLine> batch;
  for (;;) {
    uint64_t dropped = 0;
    {
      std::unique_lock<std::mutex> lock(st.d_mutex);
      st.d_writing = false;
      st.d_drained.notify_all();
      st.d_queued.wait(lock, [&st] {
        return st.d_stopping || !st.d_queue.empty() || st.d_queueDropped > 0 || st.d_pendingSink;
      });
      if (st.d_queue.empty() && st.d_queueDropped == 0 && !st.d_pendingSink) {
        return; // stopping, and nothing left
      }
      batch.swap(st.d_queue);
      dropped = std::exchange(st.d_queueDropped, 0);
      st.d_writing = true;
    }
    installPending(st);
    if (dropped > 0) {
      write(st, LogLine{LogLevel::Warning,
                        formatLine("log lines dropped", {{"count", std::to_string(dropped)},
                                                         {"reason", "the log target was too slow"}}),
                        "-", timestamp5424()});
    }
    for (const LogLine& line : batch) {
      installPending(st); // a new target takes effect at the next line, even in a long batch
      write(st, line);
    }
    batch.clear();
  }
}

} // namespace

std::string printable(std::string_view text, size_t max)
{
  std::string out;
  out.reserve(std::min(text.size(), max));
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    out.push_back(byte >= 0x20 && byte < 0x7f ? c : '?');
  }
  if (out.size() > max) {
    // Keep the result within max bytes, "..." included.
    if (max >= 3) {
      out.resize(max - 3);
      out += "...";
    }
    else {
      out.resize(max);
    }
  }
  return out;
}

void setupLogging(const std::string& ident, const std::string& target, const std::string& facility)
{
  SinkConfig cfg = parseSink(ident, target, facility); // throws before anything changes
  LogState& st = state();
  {
    std::lock_guard<std::mutex> lock(st.d_mutex);
    if (st.d_async) {
      // The writer thread switches over: a sink stuck in a write never blocks this caller (reload).
      st.d_pendingSink = std::move(cfg);
      st.d_hasPending = true;
      st.d_queued.notify_one();
      return;
    }
  }
  std::lock_guard<std::mutex> lock(st.d_sinkMutex);
  install(st, std::move(cfg));
}

void setLogDebug(bool on)
{
  LogState& st = state();
  std::lock_guard<std::mutex> lock(st.d_mutex);
  st.d_debug = on;
}

LogWriterThread::LogWriterThread()
{
  LogState& st = state();
  {
    std::lock_guard<std::mutex> lock(st.d_mutex);
    st.d_async = true;
    st.d_stopping = false;
  }
  // Never joined past stop()'s deadline: the state it uses is never destroyed.
  std::thread([&st] { writerLoop(st); }).detach();
}

LogWriterThread::~LogWriterThread()
{
  stop(s_stopTimeout);
}

bool LogWriterThread::stop(std::chrono::milliseconds timeout)
{
  LogState& st = state();
  std::unique_lock<std::mutex> lock(st.d_mutex);
  if (!st.d_async) {
    return true;
  }
  bool drained = st.d_drained.wait_for(lock, timeout, [&st] {
    return st.d_queue.empty() && st.d_queueDropped == 0 && !st.d_writing && !st.d_pendingSink;
  });
  // From now on lines are written by the caller again (a sink still stuck holds them up).
  st.d_async = false;
  st.d_stopping = true;
  st.d_queued.notify_all();
  return drained;
}

void logMessage(LogLevel level, std::string_view message, std::initializer_list<LogField> fields)
{
  LogState& st = state();
  LogLine line{level, formatLine(message, fields), structuredData(fields), timestamp5424()};
  std::vector<LogLine> lines; // written here when there is no writer thread
  {
    std::lock_guard<std::mutex> lock(st.d_mutex);
    if (level == LogLevel::Debug && !st.d_debug) {
      return;
    }
    std::vector<std::string> notes;
    bool allowed = true;
    if (level == LogLevel::Warning || level == LogLevel::Error) {
      allowed = rateAllows(st, message, notes);
    }
    for (auto& note : notes) {
      lines.push_back(LogLine{LogLevel::Warning, std::move(note), "-", line.timestamp});
    }
    if (allowed) {
      lines.push_back(std::move(line));
    }
    if (st.d_capture != nullptr) {
      for (const LogLine& each : lines) {
        st.d_capture->push_back(std::string(levelName(each.level)) + ": " + each.text);
      }
      return;
    }
    if (st.d_async) {
      for (LogLine& each : lines) {
        if (st.d_queue.size() >= s_queueLines) {
          ++st.d_queueDropped;
        }
        else {
          st.d_queue.push_back(std::move(each));
        }
      }
      st.d_queued.notify_one();
      return;
    }
  }
  for (const LogLine& each : lines) {
    write(st, each);
  }
}

void setLogCapture(std::vector<std::string>* sink)
{
  LogState& st = state();
  std::lock_guard<std::mutex> lock(st.d_mutex);
  st.d_capture = sink;
  // A new capture starts with a fresh limiter so tests do not depend on each other.
  st.d_rate.clear();
}

} // namespace dmarcwatch::collector
