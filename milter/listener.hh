/*
 * listener.hh - the milter's listening socket from a Socket setting.
 *
 *   unix:/path, local:/path, /path   a unix socket (a stale one is replaced)
 *   inet:PORT@HOST, inet:PORT        TCP over IPv4 (no HOST: every address)
 *   inet6:PORT@HOST, inet6:PORT      TCP over IPv6
 * (the forms libmilter and its users' configurations know).
 *
 * Users: main.cc.  Error policy: std::runtime_error naming the socket.
 * Thread-safety: call before any thread starts (the unix socket is created
 * under a temporary umask).
 */
#pragma once

#include <string>

#include <sys/types.h>

namespace dmarcwatch::milter
{

//! A parsed Socket setting.
struct SocketSpec
{
  std::string unixPath; //!< non-empty for a unix socket
  std::string host;     //!< inet: empty for every address
  std::string port;
  bool ipv6 = false;
};

//! \brief Parse a Socket setting. \throw std::runtime_error on an unknown kind or a missing port/path.
SocketSpec parseSocketSpec(const std::string& spec);

/*!
 * \brief Bind and listen (non-blocking, close-on-exec).  A unix socket gets
 * `mode` from the moment it exists (bind under a matching umask).
 * \return the listening descriptor. \throw std::runtime_error
 */
int openListenSocket(const SocketSpec& where, mode_t mode);

} // namespace dmarcwatch::milter
