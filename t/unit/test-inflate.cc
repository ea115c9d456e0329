/*
 * test-inflate.cc - InflateSource (gzip members, trailing garbage, truncation,
 * corruption, bomb caps) and deflateBytes/inflateBytes.
 */
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/errors.hh"
#include "collector/intake/inflate.hh"
#include "t/unit/test-util.hh"

#include <zlib.h>

#include <array>

using namespace dmarcwatch::collector;
using dmarcwatch::test::readData;

namespace
{

//! Compress with zlib in the given format (windowBits as for deflateInit2).
std::string compress(std::string_view data, int windowBits)
{
  z_stream zs{};
  if (deflateInit2(&zs, 9, Z_DEFLATED, windowBits, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2");
  }
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    throw std::runtime_error("deflate");
  }
  return out;
}

std::string gzip(std::string_view data) { return compress(data, 16 + 15); }

//! Gzip of size bytes of c, fed in 1 MiB pieces so the test never holds the plain text.
std::string gzipRepeated(uint64_t size, char c)
{
  z_stream zs{};
  if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + 15, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2");
  }
  const std::string piece(1 << 20, c);
  std::string out;
  std::array<char, 65536> chunk{};
  for (uint64_t left = size;;) {
    const uint64_t n = std::min<uint64_t>(left, piece.size());
    left -= n;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(piece.data()));
    zs.avail_in = static_cast<uInt>(n);
    int rc = Z_OK;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
      zs.avail_out = chunk.size();
      rc = deflate(&zs, left == 0 ? Z_FINISH : Z_NO_FLUSH);
      out.append(chunk.data(), chunk.size() - zs.avail_out);
    } while (zs.avail_out == 0);
    if (left == 0 && rc == Z_STREAM_END) {
      break;
    }
  }
  deflateEnd(&zs);
  return out;
}

//! Inflate everything through an InflateSource.
std::string inflateAll(std::string_view compressed, CompressionFormat format, const Limits& limits, Warnings& warnings)
{
  MemorySource source(compressed);
  InflateSource inflated(source, format, limits, warnings);
  return readAll(inflated, UINT64_MAX, "inflated");
}

std::string limitMessage(std::string_view compressed, CompressionFormat format, const Limits& limits)
{
  Warnings warnings;
  try {
    inflateAll(compressed, format, limits, warnings);
  }
  catch (const LimitError& e) {
    return e.what();
  }
  return "(no LimitError)";
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_inflate)

BOOST_AUTO_TEST_CASE(gzip_roundtrip)
{
  const std::string want = "<feedback>hello</feedback>\n";
  Warnings warnings;
  BOOST_CHECK_EQUAL(inflateAll(gzip(want), CompressionFormat::Gzip, Limits{}, warnings), want);
  BOOST_CHECK(warnings.empty());
}

BOOST_AUTO_TEST_CASE(zlib_and_raw_deflate)
{
  const std::string want(100000, 'z');
  Warnings warnings;
  BOOST_CHECK(inflateAll(compress(want, 15), CompressionFormat::Zlib, Limits{}, warnings) == want);
  BOOST_CHECK(inflateAll(compress(want, -15), CompressionFormat::RawDeflate, Limits{}, warnings) == want);
  BOOST_CHECK(warnings.empty());
}

BOOST_AUTO_TEST_CASE(gzip_multi_member_file)
{
  // Two members, each holding half of the document.
  Warnings warnings;
  const std::string got = inflateAll(readData("gzip-multi-member.xml.gz"), CompressionFormat::Gzip, Limits{}, warnings);
  BOOST_CHECK(got.starts_with("<?xml"));
  BOOST_CHECK(got.ends_with("</feedback>\n"));
  BOOST_CHECK(warnings.empty());
}

BOOST_AUTO_TEST_CASE(gzip_many_members_in_memory)
{
  std::string compressed;
  std::string want;
  for (int i = 0; i < 50; ++i) {
    const std::string piece = "member " + std::to_string(i) + ";";
    want += piece;
    compressed += gzip(piece);
  }
  Warnings warnings;
  BOOST_CHECK_EQUAL(inflateAll(compressed, CompressionFormat::Gzip, Limits{}, warnings), want);
}

BOOST_AUTO_TEST_CASE(gzip_trailing_garbage_warns)
{
  Warnings warnings;
  const std::string got = inflateAll(readData("gzip-trailing-garbage.xml.gz"), CompressionFormat::Gzip, Limits{}, warnings);
  BOOST_CHECK(got.ends_with("</feedback>\n"));
  BOOST_REQUIRE_EQUAL(warnings.items().size(), 1U);
  BOOST_CHECK_EQUAL(warnings.items()[0], "gzip: 6 bytes of trailing garbage ignored");
}

BOOST_AUTO_TEST_CASE(gzip_single_trailing_byte)
{
  Warnings warnings;
  BOOST_CHECK_EQUAL(inflateAll(gzip("abc") + "\n", CompressionFormat::Gzip, Limits{}, warnings), "abc");
  BOOST_REQUIRE_EQUAL(warnings.items().size(), 1U);
  BOOST_CHECK_EQUAL(warnings.items()[0], "gzip: 1 bytes of trailing garbage ignored");
}

BOOST_AUTO_TEST_CASE(gzip_truncated_is_parse_error)
{
  Warnings warnings;
  try {
    inflateAll(readData("gzip-truncated.xml.gz"), CompressionFormat::Gzip, Limits{}, warnings);
    BOOST_FAIL("no ParseError");
  }
  catch (const ParseError& e) {
    BOOST_CHECK_EQUAL(std::string(e.what()), "gzip data truncated");
  }
  // Cut inside the header, and cut after the data but before the trailer.
  const std::string full = gzip("some text that compresses");
  for (const size_t cut : {size_t{1}, size_t{5}, full.size() - 4}) {
    BOOST_CHECK_THROW(inflateAll(full.substr(0, cut), CompressionFormat::Gzip, Limits{}, warnings), ParseError);
  }
  BOOST_CHECK_THROW(inflateAll("", CompressionFormat::Gzip, Limits{}, warnings), ParseError);
}

BOOST_AUTO_TEST_CASE(gzip_corrupt_is_parse_error)
{
  Warnings warnings;
  try {
    inflateAll(readData("gzip-corrupt.xml.gz"), CompressionFormat::Gzip, Limits{}, warnings);
    BOOST_FAIL("no ParseError");
  }
  catch (const LimitError&) {
    BOOST_FAIL("LimitError for corrupt data");
  }
  catch (const ParseError& e) {
    const std::string got = e.what();
    BOOST_CHECK_MESSAGE(got.starts_with("gzip data corrupt: "), "got: " << got);
  }
}

BOOST_AUTO_TEST_CASE(bomb_hits_size_cap)
{
  // 20 MB of zeros compress to about 20 KB; a 1 MB cap must stop it.
  const std::string bomb = gzipRepeated(20 << 20, '\0');
  Limits limits;
  limits.maxDecompressedBytes = 1 << 20;
  limits.maxCompressionRatio = 100000;
  const std::string got = limitMessage(bomb, CompressionFormat::Gzip, limits);
  BOOST_CHECK_MESSAGE(got.starts_with("decompressed size over MaxDecompressedSize"), "got: " << got);
}

BOOST_AUTO_TEST_CASE(bomb_hits_ratio_cap)
{
  const std::string bomb = gzipRepeated(20 << 20, '<');
  Limits limits;
  limits.maxCompressionRatio = 50;
  limits.ratioGraceBytes = 64 << 10;
  const std::string got = limitMessage(bomb, CompressionFormat::Gzip, limits);
  BOOST_CHECK_MESSAGE(got.starts_with("compression ratio over MaxCompressionRatio (50)"), "got: " << got);
}

BOOST_AUTO_TEST_CASE(bomb_of_200_mb_stopped_early)
{
  // The classic bomb: 200 MB of zeros (~200 KB compressed), default ratio cap and a small grace.
  const std::string bomb = gzipRepeated(200ULL << 20, '\0');
  BOOST_CHECK_LT(bomb.size(), 1U << 20);
  Limits limits;
  limits.ratioGraceBytes = 256 << 10;
  const std::string got = limitMessage(bomb, CompressionFormat::Gzip, limits);
  BOOST_CHECK_MESSAGE(got.starts_with("compression ratio over MaxCompressionRatio"), "got: " << got);
}

BOOST_AUTO_TEST_CASE(ratio_grace_lets_small_documents_through)
{
  // Highly compressible but small: under the grace size, no ratio check.
  const std::string want(512 << 10, 'a');
  Limits limits;
  limits.maxCompressionRatio = 2;
  limits.ratioGraceBytes = 1 << 20;
  Warnings warnings;
  BOOST_CHECK(inflateAll(gzip(want), CompressionFormat::Gzip, limits, warnings) == want);
}

BOOST_AUTO_TEST_CASE(deflate_bytes_roundtrip)
{
  std::string want;
  for (int i = 0; i < 10000; ++i) {
    want += "<row>" + std::to_string(i) + "</row>";
  }
  const std::string packed = deflateBytes(want, UINT64_MAX);
  BOOST_CHECK_LT(packed.size(), want.size());
  BOOST_CHECK(inflateBytes(packed, want.size()) == want);
  BOOST_CHECK_THROW(inflateBytes(packed, want.size() - 1), LimitError);
  BOOST_CHECK_EQUAL(inflateBytes(deflateBytes("", 100), 0), "");
}

BOOST_AUTO_TEST_CASE(deflate_bytes_over_limit_is_empty)
{
  std::string noise;
  uint32_t x = 12345;
  for (int i = 0; i < 100000; ++i) {
    x = x * 1103515245 + 12345;
    noise += static_cast<char>(x >> 24);
  }
  BOOST_CHECK(deflateBytes(noise, 1000).empty());
}

BOOST_AUTO_TEST_CASE(inflate_bytes_errors)
{
  const std::string packed = deflateBytes("hello hello hello", 1000);
  BOOST_CHECK_THROW(inflateBytes(packed.substr(0, packed.size() - 3), 1000), ParseError);
  BOOST_CHECK_THROW(inflateBytes("not zlib at all", 1000), ParseError);
  BOOST_CHECK_THROW(inflateBytes(packed + "x", 1000), ParseError);
}

BOOST_AUTO_TEST_SUITE_END()
