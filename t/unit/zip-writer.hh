/*
 * zip-writer.hh - a minimal zip writer for tests: members stored or deflated, with the
 * flags, method and CRC a test wants (shapes tools will not make).
 */
#pragma once

#include <zlib.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dmarcwatch::test
{

inline void put16(std::string& out, uint32_t v)
{
  out += static_cast<char>(v & 0xff);
  out += static_cast<char>((v >> 8) & 0xff);
}

inline void put32(std::string& out, uint32_t v)
{
  put16(out, v & 0xffff);
  put16(out, v >> 16);
}

struct Entry
{
  std::string name;
  std::string data; //!< the member's bytes as stored (already compressed for method 8)
  uint16_t method = 0;
  uint16_t flags = 0;
  std::optional<uint32_t> crc = std::nullopt; //!< default: CRC-32 of data
};

inline uint32_t crcOf(const std::string& data)
{
  return static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

//! data as a raw deflate stream (what a zip's method 8 member holds).
inline std::string rawDeflate(const std::string& data)
{
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2");
  }
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    throw std::runtime_error("deflate");
  }
  return out;
}

inline void put64(std::string& out, uint64_t v)
{
  put32(out, static_cast<uint32_t>(v));
  put32(out, static_cast<uint32_t>(v >> 32));
}

/*!
 * A zip of entries: local headers, data, central directory, end record (sizes as given).
 * zip64: every size and offset in zip64 extra fields (the 32-bit fields say 0xffffffff), the
 * counts and the directory in the zip64 end record found through its locator, as tools write
 * archives over 4 GiB or 65535 members.
 */
inline std::string makeZip(const std::vector<Entry>& entries, bool zip64 = false)
{
  const uint32_t marker = 0xffffffff;
  std::string out;
  std::string central;
  for (const auto& e : entries) {
    const uint64_t offset = out.size();
    const uint32_t crc = e.crc ? *e.crc : crcOf(e.data);
    const auto size32 = zip64 ? marker : static_cast<uint32_t>(e.data.size());
    // The fields local header and directory entry share, from "version needed" to the name length.
    auto common = [&](std::string& to) {
      put16(to, zip64 ? 45 : 20);
      put16(to, e.flags);
      put16(to, e.method);
      put32(to, 0);
      put32(to, crc);
      put32(to, size32);
      put32(to, size32);
      put16(to, static_cast<uint32_t>(e.name.size()));
    };
    put32(out, 0x04034b50);
    common(out);
    put16(out, zip64 ? 20 : 0);
    out += e.name;
    if (zip64) {
      put16(out, 1);
      put16(out, 16);
      put64(out, e.data.size());
      put64(out, e.data.size());
    }
    out += e.data;

    put32(central, 0x02014b50);
    put16(central, zip64 ? 45 : 20);
    common(central);
    put16(central, zip64 ? 28 : 0);
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put32(central, 0);
    put32(central, zip64 ? marker : static_cast<uint32_t>(offset));
    central += e.name;
    if (zip64) {
      put16(central, 1);
      put16(central, 24);
      put64(central, e.data.size());
      put64(central, e.data.size());
      put64(central, offset);
    }
  }
  const uint64_t cdOffset = out.size();
  out += central;
  if (zip64) {
    const uint64_t record = out.size();
    put32(out, 0x06064b50);
    put64(out, 44);
    put16(out, 45);
    put16(out, 45);
    put32(out, 0);
    put32(out, 0);
    put64(out, entries.size());
    put64(out, entries.size());
    put64(out, central.size());
    put64(out, cdOffset);
    put32(out, 0x07064b50);
    put32(out, 0);
    put64(out, record);
    put32(out, 1);
  }
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, zip64 ? 0xffff : static_cast<uint32_t>(entries.size()));
  put16(out, zip64 ? 0xffff : static_cast<uint32_t>(entries.size()));
  put32(out, zip64 ? marker : static_cast<uint32_t>(central.size()));
  put32(out, zip64 ? marker : static_cast<uint32_t>(cdOffset));
  put16(out, 0);
  return out;
}

inline std::string makeZip64(const std::vector<Entry>& entries) { return makeZip(entries, true); }

} // namespace dmarcwatch::test
