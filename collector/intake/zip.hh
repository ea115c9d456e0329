/*
 * zip.hh - reading report members out of a zip archive held in memory.
 *
 * Real-world report zips carry one XML member, sometimes several, sometimes
 * directories, __MACOSX resource forks, or a member with an empty name.
 * Members are located through the central directory when it is intact and by
 * scanning local headers otherwise.  Methods: stored (0) and deflate (8);
 * others are skipped with a warning.  Encrypted members are skipped with a
 * warning.  Members beyond Limits::maxArchiveMembers throw LimitError.
 *
 * Thread-safety: plain functions over immutable input.
 */
#pragma once

#include "collector/common/limits.hh"
#include "collector/common/warnings.hh"
#include "collector/intake/byte-source.hh"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace dmarcwatch::collector
{

struct ZipMember
{
  std::string name;
  uint16_t method = 0;
  uint64_t uncompressedSize = 0;
  //! CRC-32 of the uncompressed bytes, as the archive records it; nullopt when it does not say.
  std::optional<uint32_t> crc32;
  //! Compressed bytes, pointing into the archive buffer (valid while it lives).
  std::span<const uint8_t> data;
};

//! \brief The file members worth reading (directories and __MACOSX/ entries removed). \throw ParseError when not a readable zip
std::vector<ZipMember> listZipMembers(std::span<const uint8_t> archive, const Limits& limits, Warnings& warnings);

/*!
 * A member's uncompressed bytes as they are read, checked against the CRC-32 the archive
 * records for it when the end is reached (a damaged member must not be stored as a report:
 * a stored member has no other check, and one flipped digit is a false count).
 * Errors: read() throws ParseError at the end when the CRC differs.
 */
class ZipCrcSource : public ByteSource
{
public:
  ZipCrcSource(ByteSource& inner, const ZipMember& member) :
    d_inner(inner), d_name(member.name), d_expected(member.crc32) {}
  size_t read(std::span<uint8_t> out) override;
  [[nodiscard]] uint64_t consumed() const override { return d_inner.consumed(); }
  //! \brief Read to the end (what the reader left), so that the check runs. \throw ParseError
  void finish();

private:
  ByteSource& d_inner;
  std::string d_name;
  std::optional<uint32_t> d_expected;
  unsigned long d_crc = 0;
  bool d_checked = false;
};

} // namespace dmarcwatch::collector
