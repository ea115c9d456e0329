/*
 * ip-address.cc - parse and print source addresses (IPv4 mapped into IPv6).
 *
 * Users: the report parser (source_ip), the store (16-byte keys), the CLI.
 * Thread-safety: pure functions over value types.
 * Error policy: parse() returns nullopt for anything inet_pton rejects; it
 * never throws.  toString() cannot fail for a 16-byte address.
 */
#include "config.h"

#include "collector/common/ip-address.hh"

#include <arpa/inet.h>
#include <cstring>

namespace dmarcwatch::collector
{

namespace
{

// The ::ffff:0:0/96 prefix of IPv4-mapped addresses (RFC 4291 section 2.5.5.2).
constexpr std::array<uint8_t, 12> s_v4MappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

} // namespace

bool IpAddress::isV4() const
{
  return std::memcmp(bytes.data(), s_v4MappedPrefix.data(), s_v4MappedPrefix.size()) == 0;
}

bool IpAddress::isLoopback() const
{
  if (isV4()) {
    return bytes[12] == 127;
  }
  static constexpr std::array<uint8_t, 16> s_v6Loopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return bytes == s_v6Loopback;
}

std::string IpAddress::toString() const
{
  // IPv4-mapped prints as a dotted quad: that is how reports and admins write it.
  char buf[INET6_ADDRSTRLEN];
  const char* text = isV4() ? inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof(buf))
                            : inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
  return text != nullptr ? std::string(text) : std::string();
}

std::optional<IpAddress> IpAddress::parse(std::string_view text)
{
  // inet_pton wants a NUL-terminated string; anything longer than the
  // longest IPv6 text cannot be an address, so a stack buffer is enough.
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf) || text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';

  IpAddress addr;
  // A dotted quad first (inet_pton AF_INET takes exactly a.b.c.d, no octal or short forms).
  if (text.find(':') == std::string_view::npos) {
    in_addr v4{};
    if (inet_pton(AF_INET, buf, &v4) != 1) {
      return std::nullopt;
    }
    std::memcpy(addr.bytes.data(), s_v4MappedPrefix.data(), s_v4MappedPrefix.size());
    std::memcpy(addr.bytes.data() + 12, &v4, 4);
    return addr;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) != 1) {
    return std::nullopt;
  }
  std::memcpy(addr.bytes.data(), &v6, 16);
  return addr;
}

} // namespace dmarcwatch::collector
