/*
 * socket-spec.cc - parse the Socket setting (see socket-spec.hh).
 */
#include "config.h"

#include "collector/common/socket-spec.hh"

#include <stdexcept>

namespace dmarcwatch::collector
{

SocketSpec parseSocketSpec(const std::string& spec)
{
  SocketSpec out;
  size_t colon = spec.find(':');
  std::string kind = colon == std::string::npos ? "" : spec.substr(0, colon);
  std::string rest = colon == std::string::npos ? spec : spec.substr(colon + 1);
  if (kind.empty() || kind == "unix" || kind == "local") {
    if (rest.empty() || rest.front() != '/') {
      throw std::invalid_argument("Socket: '" + spec + "': a unix socket needs an absolute path");
    }
    out.unixPath = rest;
    return out;
  }
  if (kind != "inet" && kind != "inet6") {
    throw std::invalid_argument("Socket: '" + spec + "': unknown kind '" + kind + "' (unix:, local:, inet:, inet6:)");
  }
  out.ipv6 = kind == "inet6";
  size_t at = rest.find('@');
  out.port = rest.substr(0, at);
  out.host = at == std::string::npos ? "" : rest.substr(at + 1);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  if (out.port.empty() || out.port.size() > 5 || out.port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(out.port) > 65535) {
    throw std::invalid_argument("Socket: '" + spec + "': the port must be a number up to 65535 (inet:PORT@HOST)");
  }
  return out;
}

} // namespace dmarcwatch::collector
