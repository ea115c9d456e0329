/*
 * mmdb-file.cc - libmaxminddb behind MmdbFile: open with MMDB_MODE_MMAP,
 * look-ups by sockaddr (no text parsing, no getaddrinfo), typed value reads.
 *
 * Thread-safety and errors: see mmdb-file.hh.
 */
#include "config.h"

#include "collector/geo/mmdb-file.hh"

#include "collector/common/errors.hh"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <cstring>
#include <maxminddb.h>
#include <netinet/in.h>

namespace dmarcwatch::collector
{

namespace
{

//! The deepest map path we read ({"registered_country", "iso_code"} is 2) plus the terminator.
constexpr size_t s_maxPath = 4;

} // namespace

void MmdbFile::Closer::operator()(MMDB_s* db) const noexcept
{
  MMDB_close(db);
  delete db; // NOLINT(cppcoreguidelines-owning-memory): allocated by new in the constructor
}

MmdbFile::MmdbFile(const std::string& key, const std::string& path) :
  d_key(key), d_path(path)
{
  // Allocate first, then open: the unique_ptr frees the struct if MMDB_open fails, and
  // MMDB_open releases what it mapped itself before returning an error.
  auto db = std::make_unique<MMDB_s>();
  errno = 0;
  int rc = MMDB_open(path.c_str(), MMDB_MODE_MMAP, db.get());
  if (rc != MMDB_SUCCESS) {
    // open/fstat/mmap failures leave errno set: say which ("No such file or directory").
    std::string reason = MMDB_strerror(rc);
    if ((rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR) && errno != 0) {
      reason += std::string(" (") + std::strerror(errno) + ")";
    }
    throw ConfigError(key + " " + path + ": cannot open MMDB file: " + reason);
  }
  d_db.reset(db.release());
}

std::string MmdbFile::databaseType() const
{
  return d_db && d_db->metadata.database_type != nullptr ? d_db->metadata.database_type : "";
}

std::optional<MmdbFile::Entry> MmdbFile::find(const IpAddress& ip) const
{
  if (!d_db) {
    return std::nullopt;
  }
  // A sockaddr from the 16 bytes: IPv4-mapped addresses are asked as IPv4, which
  // libmaxminddb answers from an IPv4 file or the ::/96 subtree of an IPv6 file.
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  const sockaddr* address = nullptr;
  if (ip.isV4()) {
    v4.sin_family = AF_INET;
    std::memcpy(&v4.sin_addr, ip.bytes.data() + 12, 4);
    address = reinterpret_cast<const sockaddr*>(&v4); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
  }
  else {
    v6.sin6_family = AF_INET6;
    std::memcpy(&v6.sin6_addr, ip.bytes.data(), 16);
    address = reinterpret_cast<const sockaddr*>(&v6); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
  }
  int rc = MMDB_SUCCESS;
  MMDB_lookup_result_s result = MMDB_lookup_sockaddr(d_db.get(), address, &rc);
  if (rc == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR) {
    return std::nullopt; // an IPv4-only file knows nothing of IPv6
  }
  if (rc != MMDB_SUCCESS) {
    throw ConfigError(d_key + " " + d_path + ": look-up of " + ip.toString() + " failed: " + MMDB_strerror(rc));
  }
  if (!result.found_entry) {
    return std::nullopt;
  }
  return Entry{result.entry.offset};
}

namespace
{

//! \brief The value at a path in a record; nullopt when absent. \throw ConfigError on corrupt data
std::optional<MMDB_entry_data_s> valueAt(MMDB_s* db, MmdbFile::Entry entry, std::initializer_list<const char*> path,
                                         const std::string& key, const std::string& file)
{
  std::array<const char*, s_maxPath> keys{};
  if (path.size() >= keys.size()) {
    throw std::logic_error("MmdbFile: map path too deep");
  }
  std::copy(path.begin(), path.end(), keys.begin()); // the rest stays nullptr: the terminator
  MMDB_entry_s record{db, entry.offset};
  MMDB_entry_data_s data{};
  int rc = MMDB_aget_value(&record, &data, keys.data());
  // A path that does not exist, or walks into a non-map, is an absent field.
  if (rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR || rc == MMDB_INVALID_LOOKUP_PATH_ERROR) {
    return std::nullopt;
  }
  if (rc != MMDB_SUCCESS) {
    throw ConfigError(key + " " + file + ": bad data record: " + MMDB_strerror(rc));
  }
  if (!data.has_data) {
    return std::nullopt;
  }
  return data;
}

} // namespace

std::optional<std::string> MmdbFile::string(Entry entry, std::initializer_list<const char*> path) const
{
  auto data = valueAt(d_db.get(), entry, path, d_key, d_path);
  if (!data || data->type != MMDB_DATA_TYPE_UTF8_STRING) {
    return std::nullopt;
  }
  return std::string(data->utf8_string, data->data_size);
}

std::optional<uint32_t> MmdbFile::number(Entry entry, std::initializer_list<const char*> path) const
{
  auto data = valueAt(d_db.get(), entry, path, d_key, d_path);
  if (!data) {
    return std::nullopt;
  }
  switch (data->type) {
  case MMDB_DATA_TYPE_UINT16:
    return data->uint16;
  case MMDB_DATA_TYPE_UINT32:
    return data->uint32;
  case MMDB_DATA_TYPE_UINT64:
    return data->uint64 <= UINT32_MAX ? std::optional<uint32_t>(static_cast<uint32_t>(data->uint64)) : std::nullopt;
  case MMDB_DATA_TYPE_INT32:
    return data->int32 >= 0 ? std::optional<uint32_t>(static_cast<uint32_t>(data->int32)) : std::nullopt;
  default:
    return std::nullopt;
  }
}

} // namespace dmarcwatch::collector
