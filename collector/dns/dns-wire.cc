/*
 * dns-wire.cc - wire-format decoders (dns-wire.hh).  Every read checks what
 * remains of the rdata first.
 */
#include "config.h"

#include "collector/dns/dns-wire.hh"

#include "collector/common/text.hh"

#include <algorithm>

namespace dmarcwatch::collector
{

namespace
{

//! A byte a host name label may hold.  Security: anything else (a NUL, a dot inside a label)
//! would make the name we show or ask for differ from the one DNS holds: a PTR of
//! "x.attacker.test\0.sendgrid.net" must not be checked as x.attacker.test and shown as
//! a sendgrid.net name.
bool isLabelByte(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

//! Longest name as text (RFC 1035: 255 bytes on the wire).
constexpr size_t s_maxNameText = 253;

} // namespace

std::optional<std::string> dnsNameFromWire(std::string_view wire)
{
  std::string out;
  size_t at = 0;
  while (at < wire.size()) {
    const auto length = static_cast<uint8_t>(wire[at++]);
    if (length == 0) {
      return at == wire.size() ? std::optional<std::string>(lowerAscii(out)) : std::nullopt;
    }
    if (length > 63 || length > wire.size() - at) {
      return std::nullopt;
    }
    const std::string_view label = wire.substr(at, length);
    if (!std::all_of(label.begin(), label.end(), isLabelByte)) {
      return std::nullopt;
    }
    if (!out.empty()) {
      out += '.';
    }
    out.append(label);
    if (out.size() > s_maxNameText) {
      return std::nullopt;
    }
    at += length;
  }
  return std::nullopt; // no root label
}

std::optional<std::string> txtFromWire(std::string_view wire)
{
  std::string out;
  size_t at = 0;
  while (at < wire.size()) {
    const auto length = static_cast<uint8_t>(wire[at++]);
    if (length > wire.size() - at) {
      return std::nullopt;
    }
    out.append(wire.substr(at, length));
    at += length;
  }
  return out;
}

std::optional<IpAddress> addressFromWire(std::string_view wire)
{
  IpAddress ip;
  if (wire.size() == 4) {
    ip.bytes[10] = 0xff;
    ip.bytes[11] = 0xff;
    std::copy(wire.begin(), wire.end(), ip.bytes.begin() + 12);
    return ip;
  }
  if (wire.size() == 16) {
    std::copy(wire.begin(), wire.end(), ip.bytes.begin());
    return ip;
  }
  return std::nullopt;
}

std::string reverseName(const IpAddress& ip)
{
  std::string out;
  if (ip.isV4()) {
    for (int i = 15; i >= 12; --i) {
      out += std::to_string(ip.bytes[static_cast<size_t>(i)]);
      out += '.';
    }
    return out + "in-addr.arpa";
  }
  static constexpr char s_hex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    const uint8_t byte = ip.bytes[static_cast<size_t>(i)];
    out += s_hex[byte & 0x0f];
    out += '.';
    out += s_hex[byte >> 4];
    out += '.';
  }
  return out + "ip6.arpa";
}

} // namespace dmarcwatch::collector
