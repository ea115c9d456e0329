/*
 * inflate.cc - streaming zlib inflation with size and ratio caps.
 *
 * Users: unpack.cc (gzip, zlib and zip-member streams), the store's raw
 * archive (deflateBytes/inflateBytes).
 * Thread-safety: one thread per object; the free functions keep no state.
 * Error policy: truncated or corrupt data throws ParseError; passing a cap
 * throws LimitError naming the configuration key; zlib out of memory throws
 * ParseError too (the report is dropped, the process goes on).
 * Security: the input is untrusted.  A decompression bomb is stopped by
 * maxDecompressedBytes and by maxCompressionRatio once ratioGraceBytes have
 * been produced; what remains is the CPU time to inflate up to the caps.
 */
#include "config.h"

#include "collector/intake/inflate.hh"

#include "collector/common/config-keys.hh"
#include "collector/common/errors.hh"

#include <algorithm>
#include <cstring>
#include <limits>

namespace dmarcwatch::collector
{

namespace
{

// Configuration keys named in LimitError messages (the admin raises these).
constexpr const char* kKeyDecompressed = keys::maxDecompressedSize;
constexpr const char* kKeyRatio = keys::maxCompressionRatio;

const char* formatName(CompressionFormat format)
{
  switch (format) {
  case CompressionFormat::Gzip:
    return "gzip";
  case CompressionFormat::Zlib:
    return "zlib";
  case CompressionFormat::RawDeflate:
    return "deflate";
  }
  return "deflate";
}

int windowBitsFor(CompressionFormat format)
{
  switch (format) {
  case CompressionFormat::Gzip:
    return 16 + MAX_WBITS;
  case CompressionFormat::Zlib:
    return MAX_WBITS;
  case CompressionFormat::RawDeflate:
    return -MAX_WBITS;
  }
  return MAX_WBITS;
}

std::string zlibMessage(const z_stream& stream, int rc)
{
  if (stream.msg != nullptr) {
    return stream.msg;
  }
  return "zlib error " + std::to_string(rc);
}

//! RAII owner of a z_stream set up for deflation (file-local: only deflateBytes needs it).
class Deflater
{
public:
  Deflater()
  {
    if (deflateInit(&d_stream, 6) != Z_OK) {
      throw ParseError("zlib: cannot initialise deflate (out of memory)");
    }
  }
  ~Deflater() { deflateEnd(&d_stream); }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  z_stream& stream() { return d_stream; }

private:
  z_stream d_stream{};
};

} // namespace

Inflater::Inflater(int windowBits)
{
  // zlib reads next_in/avail_in at init: they are zero from value-initialisation.
  const int rc = inflateInit2(&d_stream, windowBits);
  if (rc != Z_OK) {
    throw ParseError("zlib: cannot initialise inflate: " + zlibMessage(d_stream, rc));
  }
}

Inflater::~Inflater()
{
  inflateEnd(&d_stream);
}

void Inflater::reset()
{
  inflateReset(&d_stream);
}

InflateSource::InflateSource(ByteSource& compressed, CompressionFormat format, const Limits& limits, Warnings& warnings) :
  d_in(compressed),
  d_format(format),
  d_limits(limits),
  d_warnings(warnings),
  d_inflater(windowBitsFor(format)),
  d_buffer(std::make_unique<std::array<uint8_t, 65536>>())
{
}

bool InflateSource::refill()
{
  // Keep any unread input (at most a few bytes when called at a member boundary) and append more.
  z_stream& zs = d_inflater.stream();
  if (d_inputEnded) {
    return false;
  }
  size_t keep = zs.avail_in;
  if (keep > 0 && zs.next_in != d_buffer->data()) {
    std::memmove(d_buffer->data(), zs.next_in, keep);
  }
  if (keep >= d_buffer->size()) {
    return true;
  }
  const size_t got = d_in.read(std::span<uint8_t>(d_buffer->data() + keep, d_buffer->size() - keep));
  if (got == 0) {
    d_inputEnded = true;
  }
  d_compressedIn += got;
  zs.next_in = d_buffer->data();
  zs.avail_in = static_cast<uInt>(keep + got);
  return got > 0;
}

size_t InflateSource::read(std::span<uint8_t> out)
{
  z_stream& zs = d_inflater.stream();
  const char* name = formatName(d_format);
  if (d_done || out.empty()) {
    return 0;
  }
  for (;;) {
    // Feed zlib when its input is empty; the end of input is detected by inflate below.
    if (zs.avail_in == 0) {
      refill();
    }

    // Inflate into the caller's buffer (capped to what a uInt holds).
    const size_t room = std::min<size_t>(out.size(), std::numeric_limits<uInt>::max());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const size_t produced = room - zs.avail_out;

    // Caps first, whatever happened: the bomb defence must not be skipped on any path.
    d_produced += produced;
    if (d_produced > d_limits.maxDecompressedBytes) {
      throw LimitError(std::string("decompressed size over ") + kKeyDecompressed + " (" +
                       std::to_string(d_limits.maxDecompressedBytes) + " bytes)");
    }
    const uint64_t compressedUsed = std::max<uint64_t>(1, d_compressedIn - zs.avail_in);
    if (d_produced > d_limits.ratioGraceBytes && d_limits.maxCompressionRatio > 0 &&
        d_produced / compressedUsed > d_limits.maxCompressionRatio) {
      throw LimitError(std::string("compression ratio over ") + kKeyRatio + " (" +
                       std::to_string(d_limits.maxCompressionRatio) + ")");
    }

    switch (rc) {
    case Z_STREAM_END: {
      // End of one stream.  Gzip: a following gzip header starts the next member.
      // Anything else after the end is trailing garbage (real Mimecast reports have it).
      if (zs.avail_in < 2) {
        refill();
      }
      if (zs.avail_in == 0) {
        d_done = true;
        return produced;
      }
      if (d_format == CompressionFormat::Gzip && zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
        d_inflater.reset();
        if (produced > 0) {
          return produced;
        }
        continue;
      }
      uint64_t garbage = zs.avail_in;
      zs.avail_in = 0;
      while (!d_inputEnded) {
        const size_t got = d_in.read(std::span<uint8_t>(d_buffer->data(), d_buffer->size()));
        if (got == 0) {
          d_inputEnded = true;
        }
        garbage += got;
      }
      d_warnings.add(std::string(name) + ": " + std::to_string(garbage) + " bytes of trailing garbage ignored");
      d_done = true;
      return produced;
    }
    case Z_OK:
    case Z_BUF_ERROR:
      // Progress, or no progress possible: the latter at end of input means truncation.
      if (produced > 0) {
        return produced;
      }
      if (zs.avail_in == 0 && d_inputEnded) {
        throw ParseError(std::string(name) + " data truncated");
      }
      continue;
    case Z_NEED_DICT:
      throw ParseError(std::string(name) + " data corrupt: preset dictionary required");
    case Z_MEM_ERROR:
      throw ParseError(std::string(name) + ": out of memory");
    default:
      throw ParseError(std::string(name) + " data corrupt: " + zlibMessage(zs, rc));
    }
  }
}

std::string deflateBytes(std::string_view data, uint64_t limit)
{
  // Feed the input in uInt-sized pieces; stop as soon as the output passes the limit.
  Deflater deflater;
  z_stream& zs = deflater.stream();
  std::string result;
  std::array<uint8_t, 65536> chunk{};
  size_t offset = 0;
  for (;;) {
    const size_t piece = std::min<size_t>(data.size() - offset, std::numeric_limits<uInt>::max());
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + offset));
    zs.avail_in = static_cast<uInt>(piece);
    const bool last = offset + piece == data.size();
    int rc = Z_OK;
    do {
      zs.next_out = chunk.data();
      zs.avail_out = chunk.size();
      rc = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
      if (rc == Z_STREAM_ERROR) {
        throw ParseError("zlib: deflate failed");
      }
      const size_t produced = chunk.size() - zs.avail_out;
      if (result.size() + produced > limit) {
        return {};
      }
      result.append(reinterpret_cast<const char*>(chunk.data()), produced);
    } while (zs.avail_out == 0 || (last && rc != Z_STREAM_END));
    offset += piece;
    if (last) {
      return result;
    }
  }
}

std::string inflateBytes(std::string_view data, uint64_t limit)
{
  // Inflate a complete zlib stream held in memory; anything after its end is an error.
  Inflater inflater(MAX_WBITS);
  z_stream& zs = inflater.stream();
  std::string result;
  std::array<uint8_t, 65536> chunk{};
  size_t offset = 0;
  for (;;) {
    if (zs.avail_in == 0 && offset < data.size()) {
      const size_t piece = std::min<size_t>(data.size() - offset, std::numeric_limits<uInt>::max());
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + offset));
      zs.avail_in = static_cast<uInt>(piece);
      offset += piece;
    }
    zs.next_out = chunk.data();
    zs.avail_out = chunk.size();
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const size_t produced = chunk.size() - zs.avail_out;
    if (result.size() + produced > limit) {
      throw LimitError("inflated data over " + std::to_string(limit) + " bytes");
    }
    result.append(reinterpret_cast<const char*>(chunk.data()), produced);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in != 0 || offset != data.size()) {
        throw ParseError("zlib: trailing data after end of stream");
      }
      return result;
    }
    if (rc == Z_OK || rc == Z_BUF_ERROR) {
      if (produced == 0 && zs.avail_in == 0 && offset == data.size()) {
        throw ParseError("zlib data truncated");
      }
      continue;
    }
    throw ParseError("zlib data corrupt: " + zlibMessage(zs, rc));
  }
}

} // namespace dmarcwatch::collector
