/*
 * mmdb-file.hh - one MMDB file opened through libmaxminddb, as a move-only
 * RAII value (MMDB_close in the destructor), and the typed reads GeoIp needs.
 *
 * Users: collector/geo/geoip.cc only; nothing outside geo sees libmaxminddb.
 *
 * Thread-safety: open and close belong to one thread; once open, find() and
 * the reads run on any number of threads at once (libmaxminddb keeps no
 * state between look-ups: the file is mmap'ed read-only).
 *
 * Error policy: a file that cannot be opened or is not an MMDB is a
 * ConfigError naming the configuration key and the path.  An address not in
 * the file and a field that is absent or of another type are values (nullopt).
 * A tree or data section that turns out corrupt at a look-up is a ConfigError
 * too: the file is broken and must be replaced.
 */
#pragma once

#include "collector/common/ip-address.hh"

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>

struct MMDB_s;

namespace dmarcwatch::collector
{

class MmdbFile
{
public:
  //! A record found for an address (opaque: an offset into the data section).
  struct Entry
  {
    uint32_t offset = 0;
  };

  MmdbFile() = default;
  /*!
   * \brief Open (mmap) an MMDB file and check its metadata.
   * \param key the configuration key that named it, for messages ("GeoIPCountry")
   * \throw ConfigError "KEY PATH: cannot open MMDB file: REASON"
   */
  MmdbFile(const std::string& key, const std::string& path);

  [[nodiscard]] bool isOpen() const { return d_db != nullptr; }
  [[nodiscard]] const std::string& path() const { return d_path; }
  //! The metadata's database_type ("GeoLite2-ASN", "country ipvAll", ...).
  [[nodiscard]] std::string databaseType() const;

  /*!
   * \brief The record for an address; nullopt when the file has none (or an
   * IPv6 address is asked of an IPv4-only file).  No lock, no allocation.
   * \throw ConfigError on a corrupt search tree
   */
  [[nodiscard]] std::optional<Entry> find(const IpAddress& ip) const;
  /*!
   * \brief A UTF-8 string at a path of map keys inside a record ({"country", "iso_code"}).
   * \return nullopt when absent or not a string. \throw ConfigError on corrupt data
   */
  [[nodiscard]] std::optional<std::string> string(Entry entry, std::initializer_list<const char*> path) const;
  /*!
   * \brief An unsigned number (uint16/32/64, or a non-negative int32) that fits 32 bits.
   * \return nullopt when absent, of another type or out of range. \throw ConfigError on corrupt data
   */
  [[nodiscard]] std::optional<uint32_t> number(Entry entry, std::initializer_list<const char*> path) const;

private:
  //! MMDB_close, then free the MMDB_s (move-only through unique_ptr).
  struct Closer
  {
    void operator()(MMDB_s* db) const noexcept;
  };
  std::unique_ptr<MMDB_s, Closer> d_db;
  std::string d_key;
  std::string d_path;
};

} // namespace dmarcwatch::collector
