/*
 * syslog-wire.cc - RFC 5424 building blocks and the socket to a syslog
 * collector (see syslog-wire.hh).
 *
 * Users: log.cc, alerts/alert-emitter.cc.  Thread-safety: pure functions; a
 * SyslogSocket belongs to one owner at a time.
 *
 * Error policy: target parsing throws ConfigError before anything is opened.
 * The socket never throws: a failed connect or send is a false return, and a
 * failed connect is not retried for a second so that a dead collector costs
 * one attempt per second, not one per message.
 */
#include "config.h"

#include "collector/common/syslog-wire.hh"

#include "collector/common/errors.hh"
#include "collector/common/log.hh"
#include "collector/common/text.hh"

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <utility>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/time.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

namespace dmarcwatch::collector
{
namespace
{

//! Split "HOST:PORT" or "[V6]:PORT" and resolve it into address; throws ConfigError.
void resolveHostPort(SyslogAddress& address, std::string_view spec, bool tcp)
{
  std::string host;
  std::string port;
  if (!spec.empty() && spec.front() == '[') {
    auto close = spec.find(']');
    if (close == std::string_view::npos || close + 1 >= spec.size() || spec[close + 1] != ':') {
      throw ConfigError("bad log target '" + address.target + "': want [ADDRESS]:PORT");
    }
    host = std::string(spec.substr(1, close - 1));
    port = std::string(spec.substr(close + 2));
  }
  else {
    auto colon = spec.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      throw ConfigError("bad log target '" + address.target + "': want HOST:PORT");
    }
    host = std::string(spec.substr(0, colon));
    port = std::string(spec.substr(colon + 1));
  }
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos) {
    throw ConfigError("bad log target '" + address.target + "': port must be a number");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* result = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    throw ConfigError("log target '" + address.target + "': cannot resolve " + host + ": " + gai_strerror(rc));
  }
  std::memcpy(&address.addr, result->ai_addr, result->ai_addrlen);
  address.addrLen = result->ai_addrlen;
  freeaddrinfo(result);
}

bool sendAll(int fd, std::string_view data)
{
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

} // namespace

SyslogAddress parseSyslogAddress(const std::string& target)
{
  SyslogAddress address;
  address.target = target;
  if (target.rfind("unix:", 0) == 0) {
    std::string path = target.substr(5);
    sockaddr_un addr{};
    if (path.empty() || path.size() >= sizeof addr.sun_path) {
      throw ConfigError("bad log target '" + target + "': socket path empty or too long");
    }
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    std::memcpy(&address.addr, &addr, sizeof addr);
    address.addrLen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    address.transport = SyslogTransport::Unix;
  }
  else if (target.rfind("udp:", 0) == 0) {
    resolveHostPort(address, std::string_view(target).substr(4), false);
    address.transport = SyslogTransport::Udp;
  }
  else if (target.rfind("tcp:", 0) == 0) {
    resolveHostPort(address, std::string_view(target).substr(4), true);
    address.transport = SyslogTransport::Tcp;
  }
  else {
    throw ConfigError("unknown log target '" + printable(target, 80) +
                      "' (use /dev/log, stderr, unix:PATH, udp:HOST:PORT or tcp:HOST:PORT)");
  }
  return address;
}

int syslogFacilityCode(const std::string& name)
{
  static const std::map<std::string, int, std::less<>> s_facilities = {
    {"auth", LOG_AUTH}, {"authpriv", LOG_AUTHPRIV}, {"cron", LOG_CRON}, {"daemon", LOG_DAEMON},
    {"ftp", LOG_FTP}, {"kern", LOG_KERN}, {"lpr", LOG_LPR}, {"mail", LOG_MAIL}, {"news", LOG_NEWS},
    {"syslog", LOG_SYSLOG}, {"user", LOG_USER}, {"uucp", LOG_UUCP}, {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
    {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};
  auto found = s_facilities.find(lowerAscii(name));
  if (found == s_facilities.end()) {
    throw ConfigError("unknown syslog facility '" + printable(name, 40) + "' (use mail, daemon, local0..local7, ...)");
  }
  return found->second;
}

std::string sdName(std::string_view key)
{
  std::string out;
  for (char c : key) {
    if (out.size() == 32) {
      break;
    }
    bool ok = c > 32 && c < 127 && c != '=' && c != ']' && c != '"';
    out.push_back(ok ? c : '_');
  }
  return out.empty() ? "_" : out;
}

void appendSdParamValue(std::string& out, std::string_view value)
{
  for (char c : value) {
    if (c == '"' || c == '\\' || c == ']') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
}

std::string headerToken(std::string_view text, size_t max)
{
  std::string out;
  for (char c : text) {
    if (out.size() == max) {
      break;
    }
    if (c > 32 && c < 127) {
      out.push_back(c);
    }
  }
  return out.empty() ? "-" : out;
}

std::string timestamp5424()
{
  timeval now{};
  gettimeofday(&now, nullptr);
  return timestamp5424(now.tv_sec, static_cast<long>(now.tv_usec));
}

std::string timestamp5424(int64_t seconds, long micros)
{
  auto when = static_cast<time_t>(seconds);
  tm utc{};
  gmtime_r(&when, &utc);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", utc.tm_year + 1900, utc.tm_mon + 1,
           utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, micros);
  return buf;
}

std::string localHostName()
{
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0) {
    return {};
  }
  return host;
}

std::string rfc5424Header(int pri, std::string_view timestamp, std::string_view hostName, std::string_view appName,
                          long procId, std::string_view msgId)
{
  std::string out = "<" + std::to_string(pri) + ">1 ";
  out += timestamp;
  out += ' ';
  out += headerToken(hostName, 255);
  out += ' ';
  out += headerToken(appName, 48);
  out += ' ';
  out += std::to_string(procId);
  out += ' ';
  out += headerToken(msgId, 32);
  return out;
}

SyslogSocket::SyslogSocket(SyslogAddress address) :
  d_address(std::move(address))
{
}

SyslogSocket::~SyslogSocket()
{
  close();
}

SyslogSocket::SyslogSocket(SyslogSocket&& other) noexcept :
  d_address(std::move(other.d_address)), d_fd(std::exchange(other.d_fd, -1)), d_nextConnect(other.d_nextConnect)
{
}

SyslogSocket& SyslogSocket::operator=(SyslogSocket&& other) noexcept
{
  if (this != &other) {
    close();
    d_address = std::move(other.d_address);
    d_fd = std::exchange(other.d_fd, -1);
    d_nextConnect = other.d_nextConnect;
  }
  return *this;
}

void SyslogSocket::close() noexcept
{
  if (d_fd >= 0) {
    ::close(d_fd);
    d_fd = -1;
  }
}

bool SyslogSocket::open() noexcept
{
  if (d_fd >= 0) {
    return true;
  }
  auto now = std::chrono::steady_clock::now();
  if (now < d_nextConnect) {
    return false;
  }
  bool tcp = d_address.transport == SyslogTransport::Tcp;
  int fd = socket(d_address.addr.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    d_nextConnect = now + std::chrono::seconds(1);
    return false;
  }
  if (tcp) {
    // Bound connect and send so a stuck collector cannot stall the caller for long.
    timeval limit{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&d_address.addr), d_address.addrLen) != 0) {
    ::close(fd);
    d_nextConnect = now + std::chrono::seconds(1);
    return false;
  }
  d_fd = fd;
  return true;
}

bool SyslogSocket::send(std::string_view message) noexcept
{
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!open()) {
      return false;
    }
    bool sent = false;
    if (d_address.transport == SyslogTransport::Tcp) {
      // RFC 6587 octet counting: "LENGTH SP MESSAGE", so a message may hold any byte.
      std::string frame;
      try {
        frame = std::to_string(message.size()) + " ";
        frame += message;
      }
      catch (...) {
        return false; // out of memory: this message is lost, the next may fit
      }
      sent = sendAll(d_fd, frame);
    }
    else {
      ssize_t n = ::send(d_fd, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      sent = n == static_cast<ssize_t>(message.size());
      if (sent) {
        // On loopback the "port unreachable" of this very datagram is queued before send()
        // returns: read it now, so a line nobody received is not counted as delivered.
        int pending = 0;
        socklen_t size = sizeof pending;
        if (getsockopt(d_fd, SOL_SOCKET, SO_ERROR, &pending, &size) == 0 && pending == ECONNREFUSED) {
          sent = false;
          errno = ECONNREFUSED;
        }
      }
      if (!sent && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return false; // receiver full: drop, keep the socket
      }
      if (!sent && errno == ECONNREFUSED && d_address.transport == SyslogTransport::Udp) {
        // Nobody listens (a datagram's ICMP error): a fresh UDP socket would have no error
        // pending and "send" into the void.  Say so; reconnect at the next line.  (A unix
        // socket refuses when its receiver was re-created: reconnecting below finds the new one.)
        close();
        return false;
      }
    }
    if (sent) {
      return true;
    }
    // The peer went away (collector restarted, socket re-created): reconnect once.
    close();
  }
  return false;
}

} // namespace dmarcwatch::collector
