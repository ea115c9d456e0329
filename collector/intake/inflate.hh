/*
 * inflate.hh - zlib decompression as a ByteSource, with caps.
 *
 * InflateSource reads compressed bytes from an inner source and hands out the
 * inflated bytes.  Gzip streams may hold several members (concatenated); bytes
 * after the last member that are not a gzip header are "trailing garbage":
 * ignored with a warning, as real Mimecast reports need.  Truncated or corrupt
 * data throws ParseError.  Output beyond Limits::maxDecompressedBytes, or a
 * ratio above Limits::maxCompressionRatio (after a grace size), throws
 * LimitError: that is the decompression-bomb defence.
 *
 * Thread-safety: one thread per object.  Memory: one 64 KiB input buffer plus
 * zlib's 32 KiB window, whatever the data size.
 */
#pragma once

#include "collector/intake/byte-source.hh"
#include "collector/common/limits.hh"
#include "collector/common/warnings.hh"

#include <zlib.h>

#include <array>
#include <memory>

namespace dmarcwatch::collector
{

//! RAII owner of a z_stream set up for inflation; the destructor calls inflateEnd.
class Inflater
{
public:
  //! \param windowBits as for inflateInit2: 16+15 gzip, 15 zlib, -15 raw deflate. \throw ParseError (out of memory)
  explicit Inflater(int windowBits);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  z_stream& stream() { return d_stream; }
  //! Start a new stream with the same format (next gzip member).
  void reset();

private:
  z_stream d_stream{};
};

enum class CompressionFormat
{
  Gzip,
  Zlib,
  RawDeflate
};

class InflateSource : public ByteSource
{
public:
  //! \brief limits and warnings are kept by reference: they must outlive the source. \throw ParseError (out of memory)
  InflateSource(ByteSource& compressed, CompressionFormat format, const Limits& limits, Warnings& warnings);
  //! A temporary Limits would dangle.
  InflateSource(ByteSource& compressed, CompressionFormat format, const Limits&& limits, Warnings& warnings) = delete;
  size_t read(std::span<uint8_t> out) override;
  [[nodiscard]] uint64_t consumed() const override { return d_produced; }

private:
  bool refill();

  ByteSource& d_in;
  CompressionFormat d_format;
  const Limits& d_limits;
  Warnings& d_warnings;
  Inflater d_inflater;
  std::unique_ptr<std::array<uint8_t, 65536>> d_buffer;
  uint64_t d_produced = 0;
  uint64_t d_compressedIn = 0;
  bool d_inputEnded = false;
  bool d_done = false;
};

//! \brief Deflate bytes (zlib format, level 6) for the raw archive. \return empty when the result exceeds limit.
std::string deflateBytes(std::string_view data, uint64_t limit);
//! \brief Inverse of deflateBytes (used by reindex and tests). \throw ParseError
std::string inflateBytes(std::string_view data, uint64_t limit);

} // namespace dmarcwatch::collector
