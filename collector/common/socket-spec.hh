/*
 * socket-spec.hh - the Socket setting: where the milter listens.
 *
 *   unix:/path, local:/path, /path   a unix socket
 *   inet:PORT@HOST, inet:PORT        TCP over IPv4 (no HOST: loopback only, milter/listener.cc)
 *   inet6:PORT@HOST, inet6:PORT      TCP over IPv6 (HOST may be in [brackets])
 * (the forms libmilter and its users' configurations know).
 *
 * Users: config.cc (checks the setting when it is read, so a bad one is an
 * error naming the file and line), milter/listener.cc (opens it).
 * Error policy: std::invalid_argument with a message naming the setting.
 */
#pragma once

#include <string>

namespace dmarcwatch::collector
{

struct SocketSpec
{
  std::string unixPath; //!< non-empty for a unix socket
  std::string host;     //!< inet: empty for loopback only
  std::string port;
  bool ipv6 = false;
};

//! \brief Parse a Socket setting. \throw std::invalid_argument for an unknown kind, a bad port or a relative path.
SocketSpec parseSocketSpec(const std::string& spec);

} // namespace dmarcwatch::collector
