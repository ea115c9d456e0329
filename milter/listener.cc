/*
 * listener.cc - parse the Socket setting and open the listening socket;
 * the quick ACK of TCP connections.
 */
#include "config.h"

#include "milter/listener.hh"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace dmarcwatch::milter
{
namespace
{

[[noreturn]] void fail(const std::string& what, const std::string& socket, int error)
{
  throw std::runtime_error(what + " " + socket + ": " + std::strerror(error));
}

//! Closes a descriptor unless released (error paths while setting up).
class FdGuard
{
public:
  explicit FdGuard(int fd) :
    d_fd(fd) {}
  ~FdGuard()
  {
    if (d_fd >= 0) {
      close(d_fd);
    }
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  [[nodiscard]] int get() const { return d_fd; }
  int release()
  {
    int fd = d_fd;
    d_fd = -1;
    return fd;
  }

private:
  int d_fd;
};

int openUnix(const std::string& path, mode_t mode)
{
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    throw std::runtime_error("Socket path too long: " + path);
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // A socket left by a previous run (or a crash) is replaced; one a live milter listens on
  // is not (a second instance must not steal the MTA's connections); anything else at that
  // path is an error.
  struct stat st{};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw std::runtime_error("Socket " + path + " exists and is not a socket");
    }
    FdGuard probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe.get() >= 0 && connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
      throw std::runtime_error("Socket " + path + ": " + std::strerror(EADDRINUSE) +
                               " (another milter is listening on it; not taken over)");
    }
    if (errno != ECONNREFUSED && errno != ENOENT) {
      fail("connect (is the socket in use?)", path, errno);
    }
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      fail("unlink stale socket", path, errno);
    }
  }
  FdGuard guard(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int raw = guard.get();
  if (raw < 0) {
    fail("socket", path, errno);
  }
  // bind applies the umask: create the socket with SocketMode, never wider.
  mode_t old = umask(static_cast<mode_t>(~mode & 0777));
  int rc = bind(raw, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  int bindError = errno;
  umask(old);
  if (rc != 0) {
    fail("bind", path, bindError);
  }
  if (listen(raw, SOMAXCONN) != 0) {
    fail("listen", path, errno);
  }
  return guard.release();
}

int openInet(const SocketSpec& where)
{
  addrinfo hints{};
  hints.ai_family = where.ipv6 ? AF_INET6 : AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  // No host: loopback only (anyone who reaches the port can feed reports); the admin names
  // an address, 0.0.0.0 or ::, to listen beyond it.
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string name = (where.ipv6 ? "inet6:" : "inet:") + where.port + (where.host.empty() ? "" : "@" + where.host);
  const std::string host = where.host.empty() ? (where.ipv6 ? "::1" : "127.0.0.1") : where.host;
  int rc = getaddrinfo(host.c_str(), where.port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    throw std::runtime_error("Socket " + name + ": " + gai_strerror(rc));
  }
  FdGuard owner(socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int fd = owner.get();
  if (fd < 0) {
    int error = errno;
    freeaddrinfo(found);
    fail("socket", name, error);
  }
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (where.ipv6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  }
  if (bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
    int error = errno;
    freeaddrinfo(found);
    fail("bind", name, error);
  }
  freeaddrinfo(found);
  if (listen(fd, SOMAXCONN) != 0) {
    fail("listen", name, errno);
  }
  return owner.release();
}

} // namespace

int openListenSocket(const SocketSpec& where, mode_t mode)
{
  return where.unixPath.empty() ? openInet(where) : openUnix(where.unixPath, mode);
}

bool acceptsTcp(int listenFd)
{
  sockaddr_storage addr{};
  socklen_t length = sizeof addr;
  if (getsockname(listenFd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    return false;
  }
  return addr.ss_family == AF_INET || addr.ss_family == AF_INET6;
}

void acknowledgeNow(int fd)
{
  int on = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
}

} // namespace dmarcwatch::milter
