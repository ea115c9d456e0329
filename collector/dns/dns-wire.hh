/*
 * dns-wire.hh - record data in DNS wire format (as libunbound returns it) to
 * text and addresses, and the reverse name of an address.
 *
 * Users: resolver, ptr-check, live-dmarc, spf-check (the libspf2 layer), spf-record.
 * Thread-safety: pure functions.  Errors: malformed data is nullopt, never an
 * exception (answers come from the network).
 */
#pragma once

#include "collector/common/ip-address.hh"

#include <optional>
#include <string>
#include <string_view>

namespace dmarcwatch::collector
{

//! \brief A wire-format domain name (uncompressed, as libunbound returns rdata) as text:
//! lower case, no trailing dot.  nullopt when malformed, when a label holds a byte other than
//! letters, digits, '-' and '_' (a NUL or a dot inside a label would make another name), or
//! when the name is longer than 253 characters.
std::optional<std::string> dnsNameFromWire(std::string_view wire);
//! \brief TXT rdata (character-strings) concatenated.  nullopt when malformed.
std::optional<std::string> txtFromWire(std::string_view wire);
//! The most of a published record's text (DMARC, SPF) that is kept: a TXT record may hold
//! 64 KB, a real DMARC or SPF record a few hundred bytes.
inline constexpr size_t s_maxRecordText = 2048;
//! \brief A or AAAA rdata as an address; nullopt for any other length.
std::optional<IpAddress> addressFromWire(std::string_view wire);
//! \brief The reverse name of an address: "10.2.0.192.in-addr.arpa", nibbles for IPv6.
std::string reverseName(const IpAddress& ip);

} // namespace dmarcwatch::collector
