/*
 * alert-emitter.cc - alerts as RFC 5424 lines to syslog (see alert-emitter.hh).
 *
 * Users: dmarcwatchd.  Thread-safety: formatAlert() is pure; an AlertEmitter
 * belongs to one thread at a time.
 *
 * Error policy: the constructor throws ConfigError for a target it cannot
 * use; afterwards nothing throws: a line that cannot be sent (or built, out
 * of memory) makes emit() return false, and the caller decides whether to
 * try again later.
 *
 * Security: see the header.  printableUtf8() keeps valid UTF-8 (shortest
 * form, no surrogates, at most U+10FFFF) except the C0 and C1 control
 * characters and DEL; anything else becomes '?', one per byte.  What
 * remains: valid but confusable characters (look-alike letters, right-to-left
 * marks) pass; a reader of the alert sees the domain as the report gave it.
 */
#include "config.h"

#include "collector/alerts/alert-emitter.hh"

#include "collector/common/config.hh"

#include <algorithm>
#include <cstdio>
#include <exception>

#include <unistd.h>

namespace dmarcwatch::collector
{
namespace
{

//! Room kept for the message when fields are added (the message is cut before fields are dropped).
constexpr size_t s_minMessageBytes = 64;

//! Length of the valid, printable UTF-8 sequence of two or more bytes at text[at], else 0.
size_t utf8Sequence(std::string_view text, size_t at)
{
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[at + i]); };
  unsigned char lead = byte(0);
  size_t length = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  }
  else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
  }
  else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
  }
  if (length == 0 || at + length > text.size()) {
    return 0;
  }
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) {
      return 0;
    }
  }
  // Overlong forms, surrogates (U+D800..DFFF), beyond U+10FFFF, and the C1 controls (U+0080..009F).
  if ((lead == 0xE0 && byte(1) < 0xA0) || (lead == 0xED && byte(1) >= 0xA0) || (lead == 0xF0 && byte(1) < 0x90) ||
      (lead == 0xF4 && byte(1) >= 0x90) || (lead == 0xC2 && byte(1) < 0xA0)) {
    return 0;
  }
  return length;
}

/*!
 * \brief Text with control bytes, DEL and invalid UTF-8 as '?', cut to at most max bytes
 * (ending in "..." when cut, never inside a character).
 */
std::string printableUtf8(std::string_view text, size_t max)
{
  std::string out;
  out.reserve(std::min(text.size(), max));
  size_t keep = 0; //!< bytes of out that leave room for "..." within max
  bool cut = false;
  for (size_t at = 0; at < text.size();) {
    auto lead = static_cast<unsigned char>(text[at]);
    size_t length = lead >= 0x80 ? utf8Sequence(text, at) : 1;
    size_t start = out.size();
    if (length == 0) {
      out.push_back('?');
      length = 1;
    }
    else if (length == 1 && (lead < 0x20 || lead == 0x7F)) {
      out.push_back('?');
    }
    else {
      out.append(text.substr(at, length));
    }
    at += length;
    if (out.size() > max) {
      out.resize(start);
      cut = true;
      break;
    }
    if (out.size() + 3 <= max) {
      keep = out.size();
    }
  }
  if (cut) {
    out.resize(keep);
    out += max >= 3 ? "..." : "";
  }
  return out;
}

//! Append ` NAME="VALUE"` (value made printable, cut and escaped) to sd.
void appendParam(std::string& sd, std::string_view name, std::string_view value)
{
  sd += ' ';
  sd += sdName(name);
  sd += "=\"";
  appendSdParamValue(sd, printableUtf8(value, s_alertMaxValueBytes));
  sd += '"';
}

} // namespace

AlertSyslogOptions AlertSyslogOptions::fromConfig(const Config& config)
{
  AlertSyslogOptions options;
  options.target = config.syslogTarget;
  options.facility = syslogFacilityCode(config.alerts.facility);
  options.appName = config.alerts.appName;
  options.enterpriseNumber = config.alerts.enterpriseNumber;
  return options;
}

std::string formatAlert(const Alert& alert, const AlertSyslogOptions& options, std::string_view hostName, long pid)
{
  // Step 1: the header.  PRI = facility code (already times 8) + the severity's number.
  int pri = options.facility + static_cast<int>(alert.severity);
  std::string line = rfc5424Header(pri, timestamp5424(alert.time, 0), hostName, options.appName, pid, alert.rule);

  // Step 2: the structured data, the fixed parameters first; a field that would leave the
  // message less than s_minMessageBytes is left out, and so are those after it (order kept).
  std::string sd = "[dmarcwatch@" + std::to_string(options.enterpriseNumber);
  appendParam(sd, "id", alert.id);
  appendParam(sd, "rule", alert.rule);
  appendParam(sd, "domain", alert.domain);
  appendParam(sd, "severity", severityName(alert.severity));
  for (const auto& [name, value] : alert.fields) {
    std::string param;
    appendParam(param, name, value);
    // line + ' ' + sd + param + ']' + ' ' + message, and the line shorter than the limit
    if (line.size() + 1 + sd.size() + param.size() + 1 + 1 + s_minMessageBytes >= s_alertMaxLineBytes) {
      break;
    }
    sd += param;
  }
  sd += ']';
  line += ' ';
  line += sd;

  // Step 3: the readable message in what remains.
  size_t used = line.size() + 2; // the space before the message, and the line shorter than the limit
  size_t room = used < s_alertMaxLineBytes ? s_alertMaxLineBytes - used : 0;
  std::string message = printableUtf8(alert.message, std::min(room, s_alertMaxValueBytes * 4));
  if (!message.empty()) {
    line += ' ';
    line += message;
  }
  return line;
}

AlertEmitter::AlertEmitter(const AlertSyslogOptions& options) :
  d_options(options), d_hostName(localHostName())
{
  // "/dev/log" is a unix datagram socket like any other: RFC 5424 to it, not syslog(3).
  if (d_options.target == "/dev/log") {
    d_socket.emplace(parseSyslogAddress("unix:/dev/log"));
  }
  else if (d_options.target != "stderr") {
    d_socket.emplace(parseSyslogAddress(d_options.target));
  }
}

bool AlertEmitter::emit(const Alert& alert) noexcept
{
  try {
    std::string line = formatAlert(alert, d_options, d_hostName, static_cast<long>(getpid()));
    if (d_socket) {
      return d_socket->send(line);
    }
    line += '\n';
    bool written = fwrite(line.data(), 1, line.size(), stderr) == line.size();
    return fflush(stderr) == 0 && written;
  }
  catch (const std::exception&) {
    return false; // out of memory: this alert is not sent, the caller may try again
  }
}

} // namespace dmarcwatch::collector
