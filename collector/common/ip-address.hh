/*
 * ip-address.hh - source addresses as 16 bytes (IPv4 mapped into ::ffff:0:0/96),
 * the form the store keys on.
 *
 * Thread-safety: value type.
 */
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dmarcwatch::collector
{

struct IpAddress
{
  std::array<uint8_t, 16> bytes{};

  [[nodiscard]] bool isV4() const;
  //! 127.0.0.0/8 or ::1.
  [[nodiscard]] bool isLoopback() const;
  //! Canonical text: dotted quad for IPv4, RFC 5952 for IPv6.
  [[nodiscard]] std::string toString() const;
  //! \brief Parse dotted quad or IPv6 text; surrounding whitespace and an IPv6 zone/brackets are not accepted.
  static std::optional<IpAddress> parse(std::string_view text);
  auto operator<=>(const IpAddress&) const = default;
};

} // namespace dmarcwatch::collector
