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

//! A zip of entries: local headers, data, central directory, end record (sizes as given).
inline std::string makeZip(const std::vector<Entry>& entries)
{
  std::string out;
  std::string central;
  for (const auto& e : entries) {
    const auto offset = static_cast<uint32_t>(out.size());
    const uint32_t crc = e.crc ? *e.crc : crcOf(e.data);
    put32(out, 0x04034b50);
    put16(out, 20);
    put16(out, e.flags);
    put16(out, e.method);
    put32(out, 0);
    put32(out, crc);
    put32(out, static_cast<uint32_t>(e.data.size()));
    put32(out, static_cast<uint32_t>(e.data.size()));
    put16(out, static_cast<uint32_t>(e.name.size()));
    put16(out, 0);
    out += e.name;
    out += e.data;

    put32(central, 0x02014b50);
    put16(central, 20);
    put16(central, 20);
    put16(central, e.flags);
    put16(central, e.method);
    put32(central, 0);
    put32(central, crc);
    put32(central, static_cast<uint32_t>(e.data.size()));
    put32(central, static_cast<uint32_t>(e.data.size()));
    put16(central, static_cast<uint32_t>(e.name.size()));
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put32(central, 0);
    put32(central, offset);
    central += e.name;
  }
  const auto cdOffset = static_cast<uint32_t>(out.size());
  out += central;
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<uint32_t>(entries.size()));
  put16(out, static_cast<uint32_t>(entries.size()));
  put32(out, static_cast<uint32_t>(central.size()));
  put32(out, cdOffset);
  put16(out, 0);
  return out;
}

} // namespace dmarcwatch::test
