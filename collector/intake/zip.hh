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

#include <cstdint>
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
  //! Compressed bytes, pointing into the archive buffer (valid while it lives).
  std::span<const uint8_t> data;
};

//! \brief The file members worth reading (directories and __MACOSX/ entries removed). \throw ParseError when not a readable zip
std::vector<ZipMember> listZipMembers(std::span<const uint8_t> archive, const Limits& limits, Warnings& warnings);

} // namespace dmarcwatch::collector
