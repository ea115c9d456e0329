/*
 * resolver-spec.hh - the Resolver setting: where dmarcwatchd's DNS questions go.
 *
 *   none          offline: nothing is sent, every result is unknown
 *   system        the servers of /etc/resolv.conf
 *   ADDR[@PORT]   forward every question to that server (an IPv4 or IPv6 address; libunbound
 *                 forwards to addresses only), e.g. 127.0.0.1@5353
 *
 * Users: config.cc (checks the setting when it is read, so a bad one is an error naming the
 * file and line), collector/dns/resolver.cc (sets libunbound up from it).
 * Thread-safety: value type.  Errors: ConfigError naming the setting.
 */
#pragma once

#include <string>
#include <string_view>

namespace dmarcwatch::collector
{

struct ResolverSpec
{
  enum class Kind
  {
    None,
    System,
    Forward
  };
  Kind kind = Kind::None;
  std::string forwarder; //!< "127.0.0.1@5353" (libunbound's form)
  bool loopback = false; //!< the forwarder is on 127.0.0.0/8 or ::1
  //! \brief Parse a Resolver setting (none and system in any case). \throw ConfigError
  static ResolverSpec parse(std::string_view text);
};

} // namespace dmarcwatch::collector
