/*
 * resolver-spec.cc - parsing the Resolver setting (resolver-spec.hh).
 */
#include "config.h"

#include "collector/common/resolver-spec.hh"

#include "collector/common/errors.hh"
#include "collector/common/ip-address.hh"
#include "collector/common/text.hh"

#include <charconv>

namespace dmarcwatch::collector
{

ResolverSpec ResolverSpec::parse(std::string_view text)
{
  ResolverSpec spec;
  const std::string lowered = lowerAscii(text);
  if (lowered == "none") {
    return spec;
  }
  if (lowered == "system") {
    spec.kind = Kind::System;
    return spec;
  }
  // HOST[@PORT]: an address (libunbound forwards to addresses only), a port 1..65535.
  std::string_view host = text;
  std::string_view port;
  if (auto at = text.rfind('@'); at != std::string_view::npos) {
    host = text.substr(0, at);
    port = text.substr(at + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      throw ConfigError("Resolver: bad port '" + std::string(port) + "' (1-65535)");
    }
  }
  auto address = IpAddress::parse(host);
  if (!address) {
    throw ConfigError("Resolver: '" + std::string(text) +
                      "' must be none, system, or the address of a DNS server with an optional @PORT");
  }
  spec.kind = Kind::Forward;
  spec.forwarder = std::string(host);
  if (!port.empty()) {
    spec.forwarder += '@';
    spec.forwarder += port;
  }
  const auto& b = address->bytes;
  spec.loopback = address->isV4() ? b[12] == 127 : *address == *IpAddress::parse("::1");
  return spec;
}

} // namespace dmarcwatch::collector
