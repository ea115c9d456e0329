/*
 * socket-util.hh - the receiving end of a syslog target in unit tests: a
 * socket closed at scope exit, loopback and unix binds, one datagram, and
 * RFC 6587 octet-counted frames off a TCP connection.
 *
 * Users: test-log.cc, test-alert-emitter.cc.  Every wait is bounded (2 s), so
 * a test whose message never comes fails instead of hanging.
 */
#pragma once

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace dmarcwatch::test
{

//! A socket, closed at scope exit.
struct Socket
{
  int fd;
  explicit Socket(int domain, int type) :
    fd(socket(domain, type, 0))
  {
    BOOST_REQUIRE(fd >= 0);
  }
  ~Socket() { close(fd); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
};

//! \brief One datagram, "" when none comes within 2 s.
inline std::string receiveDatagram(int fd)
{
  pollfd pfd{fd, POLLIN, 0};
  if (poll(&pfd, 1, 2000) != 1) {
    return "";
  }
  char buf[4096];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

//! \brief Bind to 127.0.0.1 on a port the kernel picks. \return the port
inline uint16_t bindLoopback(int fd)
{
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE_EQUAL(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  BOOST_REQUIRE_EQUAL(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  return ntohs(addr.sin_port);
}

//! \brief The address of a unix socket path (the test fails when the path is too long).
inline sockaddr_un unixAddress(const std::string& path)
{
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  BOOST_REQUIRE_LT(path.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

//! \brief Bind fd to the unix socket path.
inline void bindUnix(int fd, const std::string& path)
{
  sockaddr_un addr = unixAddress(path);
  BOOST_REQUIRE_EQUAL(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
}

/*!
 * \brief Read "LEN SP MSG" frames (RFC 6587 octet counting) from a connection until count of
 * them arrived, the peer closed, nothing came for 2 s or a frame header is malformed.
 * \return the messages, without their lengths
 */
inline std::vector<std::string> receiveFrames(int conn, size_t count)
{
  std::string stream;
  std::vector<std::string> frames;
  size_t pos = 0;
  char buf[4096];
  while (frames.size() < count) {
    // Step 1: take the complete frames that arrived.
    size_t space = stream.find(' ', pos);
    if (space != std::string::npos) {
      std::string length = stream.substr(pos, space - pos);
      if (length.empty() || length.find_first_not_of("0123456789") != std::string::npos) {
        break;
      }
      size_t len = std::stoul(length);
      if (space + 1 + len <= stream.size()) {
        frames.push_back(stream.substr(space + 1, len));
        pos = space + 1 + len;
        continue;
      }
    }
    // Step 2: wait for more.
    pollfd pfd{conn, POLLIN, 0};
    if (poll(&pfd, 1, 2000) != 1) {
      break;
    }
    ssize_t n = recv(conn, buf, sizeof buf, 0);
    if (n <= 0) {
      break;
    }
    stream.append(buf, static_cast<size_t>(n));
  }
  return frames;
}

} // namespace dmarcwatch::test
