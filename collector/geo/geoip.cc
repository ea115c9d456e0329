/*
 * geoip.cc - GeoIp: the two MMDB files and the field layouts listed in geoip.hh.
 *
 * Thread-safety and errors: see geoip.hh.
 */
#include "config.h"

#include "collector/geo/geoip.hh"

#include "collector/common/config-keys.hh"
#include "collector/common/config.hh"

#include <charconv>
#include <string_view>

namespace dmarcwatch::collector
{

namespace
{

//! "us" / "US" -> "US"; anything but two ASCII letters, and "ZZ" (unknown territory), is unknown.
std::string countryCode(std::string_view code)
{
  if (code.size() != 2) {
    return {};
  }
  std::string out;
  for (char c : code) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
    if (c < 'A' || c > 'Z') {
      return {};
    }
    out += c;
  }
  return out == "ZZ" ? std::string() : out;
}

//! "AS13335", "as13335" or "13335" -> 13335; 0 for anything else.
uint32_t asnFromText(std::string_view text)
{
  if (text.size() > 2 && (text[0] == 'A' || text[0] == 'a') && (text[1] == 'S' || text[1] == 's')) {
    text.remove_prefix(2);
  }
  uint32_t asn = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), asn);
  return ec == std::errc() && ptr == text.data() + text.size() ? asn : 0;
}

} // namespace

void GeoIp::open(const std::string& countryPath, const std::string& asnPath)
{
  // Open both before replacing either: a failure leaves this GeoIp as it was.
  MmdbFile country = countryPath.empty() ? MmdbFile() : MmdbFile(keys::geoIpCountry, countryPath);
  MmdbFile asn = asnPath.empty() ? MmdbFile() : MmdbFile(keys::geoIpAsn, asnPath);
  d_country = std::move(country);
  d_asn = std::move(asn);
}

void GeoIp::open(const Config& config)
{
  open(config.geoIpCountry, config.geoIpAsn);
}

GeoAnswer GeoIp::lookup(const IpAddress& ip) const
{
  GeoAnswer answer;

  // Country: ip-location-db's flat field first (its files have nothing else), then GeoLite2's.
  if (auto entry = d_country.find(ip)) {
    for (auto path : {std::initializer_list<const char*>{"country_code"}, {"country", "iso_code"},
                      {"registered_country", "iso_code"}}) {
      if (auto code = d_country.string(*entry, path)) {
        answer.country = countryCode(*code);
        if (!answer.country.empty()) {
          break;
        }
      }
    }
  }

  // AS number and organisation: GeoLite2-ASN names (our converter writes them too), then others.
  if (auto entry = d_asn.find(ip)) {
    if (auto number = d_asn.number(*entry, {"autonomous_system_number"})) {
      answer.asn = *number;
    }
    else if (auto asn = d_asn.number(*entry, {"asn"})) {
      answer.asn = *asn;
    }
    else if (auto text = d_asn.string(*entry, {"asn"})) {
      answer.asn = asnFromText(*text);
    }
    for (const char* field : {"autonomous_system_organization", "as_name", "asOrg"}) {
      if (auto org = d_asn.string(*entry, {field}); org && !org->empty()) {
        answer.asOrg = std::move(*org);
        break;
      }
    }
  }
  return answer;
}

} // namespace dmarcwatch::collector
