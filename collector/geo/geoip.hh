/*
 * geoip.hh - country and autonomous system of a source address, from the
 * MMDB files the admin configures (GeoIPCountry, GeoIPAsn).  Evidence for
 * naming the senders (issue 11): "AS11377" corroborates a DKIM d=sendgrid.net.
 *
 * Users: the daemon's enrichment pass; the CLI may show the answers.
 *
 * Layouts read (a file may use either; the first field found wins):
 *   country  "country_code"                      ip-location-db (geo-whois-asn-country-mmdb)
 *            "country" -> "iso_code"             MaxMind GeoLite2-Country / GeoIP2-City, DB-IP
 *            "registered_country" -> "iso_code"  GeoLite2, for addresses with no "country"
 *   ASN      "autonomous_system_number"          GeoLite2-ASN, DB-IP ASN Lite, our converter
 *            "asn"                               (uint or "AS123"/"123" string)
 *   AS org   "autonomous_system_organization"    GeoLite2-ASN, our converter
 *            "as_name", "asOrg"                  other converters
 * Both files may be the same (a GeoIP2-ISP-like file with both layouts).
 *
 * Thread-safety: open() before sharing; lookup() is const and read-only and
 * may run on any number of threads at once (the files are mmap'ed read-only;
 * libmaxminddb keeps no per-look-up state).  A reload builds a new GeoIp.
 *
 * Error policy: a configured file that is missing, unreadable or not an MMDB
 * is a ConfigError at open naming the key and the path.  Not configured (an
 * empty path) is fine: that half of every answer stays unknown.  An address
 * the data does not hold is an unknown answer, not an error.
 *
 * Speed (t/bench/geoip-rate, 2026-12-07): 1.2 to 2.1 million look-ups/s on one
 * thread (country + AS number + organisation each; 1,000,000 random addresses,
 * 3/4 IPv4, 1/4 in 2000::/4) with ip-location-db's country MMDB (7.8 MB) and
 * its asn CSV converted by csv-to-mmdb.py (15 MB), g++ 12 -O2, a shared 2-core VM
 * (load 3.9 for the low end).  Naming 1,000,000 sources offline (issue 11: under
 * 2 s) would spend 0.5-0.8 s of that here: keep the answer with the source.
 */
#pragma once

#include "collector/common/ip-address.hh"
#include "collector/geo/mmdb-file.hh"

#include <cstdint>
#include <string>

namespace dmarcwatch::collector
{

struct Config;

//! What the files say of one address; empty/0 fields are unknown.
struct GeoAnswer
{
  std::string country; //!< ISO 3166-1 alpha-2, upper case ("US"); "" unknown
  uint32_t asn = 0;    //!< 0 unknown (AS 0 is reserved, RFC 7607)
  std::string asOrg;   //!< "" unknown
  bool operator==(const GeoAnswer&) const = default;
};

class GeoIp
{
public:
  GeoIp() = default; //!< nothing configured: every answer is unknown

  /*!
   * \brief Open the configured files (either path may be empty: not configured).
   * Blocks for the open and mmap only.
   * \throw ConfigError "GeoIPCountry PATH: cannot open MMDB file: ..." (or GeoIPAsn)
   */
  void open(const std::string& countryPath, const std::string& asnPath);
  //! \brief open() with the paths of a Config (GeoIPCountry, GeoIPAsn). \throw ConfigError
  void open(const Config& config);

  [[nodiscard]] bool hasCountry() const { return d_country.isOpen(); }
  [[nodiscard]] bool hasAsn() const { return d_asn.isOpen(); }

  /*!
   * \brief Country and AS of an address. Takes no lock; allocates only the strings; the
   * first touch of a page of a file may read it from disk (mmap).
   * \return unknown fields when not configured or not in the data.
   * \throw ConfigError when a file turns out corrupt at this look-up (replace it).
   */
  [[nodiscard]] GeoAnswer lookup(const IpAddress& ip) const;

private:
  MmdbFile d_country;
  MmdbFile d_asn;
};

} // namespace dmarcwatch::collector
