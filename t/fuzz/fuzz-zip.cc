/*
 * fuzz-zip.cc - fuzz target: one zip archive through listZipMembers, every
 * member read to its end through ZipCrcSource.
 *
 * The input is a zip archive as attached to a report mail (seed corpus:
 * t/fuzz/corpus-zip/, the zips of t/data and small ones of the public
 * corpus).  listZipMembers walks the central directory or, when that is
 * broken, the local headers; each member is then read as unpackPayload reads
 * it (deflate through InflateSource, stored as is) with the CRC-32 checked at
 * the end, split into short uneven reads.  Contracts of zip.hh checked: no
 * more members than Limits::maxArchiveMembers, no directory or __MACOSX/
 * member, every member's bytes inside the archive, a member never inflating
 * past Limits::maxDecompressedBytes.
 *
 * Built with standalone-runner.cc for `make check` (replay) and with
 * libFuzzer by run-libfuzzer.sh.  ParseError (LimitError) is the expected
 * outcome of bad input, per archive or per member; anything else escapes and
 * aborts.
 */
#include "config.h"

#include "collector/common/errors.hh"
#include "collector/intake/inflate.hh"
#include "collector/intake/zip.hh"
#include "t/fuzz/fuzz-util.hh"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace dmarcwatch;

namespace
{

//! \brief Read a source to its end; \return the bytes read (checked against the cap on the way).
uint64_t drain(collector::ByteSource& source, const collector::Limits& limits)
{
  std::array<uint8_t, 4096> buffer{};
  uint64_t total = 0;
  for (;;) {
    const size_t n = source.read(buffer);
    if (n == 0) {
      return total;
    }
    fuzz::fuzzCheck(n <= buffer.size(), "ByteSource::read returned more than asked");
    total += n;
    fuzz::fuzzCheck(total <= limits.maxDecompressedBytes, "a zip member inflated past Limits::maxDecompressedBytes");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  static const collector::Limits s_limits = fuzz::fuzzLimits();
  const std::span<const uint8_t> archive(data, size);
  collector::Warnings warnings(s_limits.maxWarnings);

  // Step: the member list; a hopeless archive or too many members is a ParseError.
  std::vector<collector::ZipMember> members;
  try {
    members = collector::listZipMembers(archive, s_limits, warnings);
  }
  catch (const collector::ParseError&) {
    fuzz::checkWarnings(warnings, s_limits);
    return 0;
  }
  fuzz::fuzzCheck(members.size() <= s_limits.maxArchiveMembers, "more zip members than Limits::maxArchiveMembers");

  // Step: each member as unpackPayload reads it; one member's error never stops the next.
  for (const auto& member : members) {
    const std::string_view name(member.name);
    fuzz::fuzzCheck(!name.ends_with('/'), "listZipMembers kept a directory");
    fuzz::fuzzCheck(!name.starts_with("__MACOSX/"), "listZipMembers kept a __MACOSX/ member");
    fuzz::fuzzCheck(member.data.empty() ||
                      (member.data.data() >= archive.data() &&
                       member.data.data() + member.data.size() <= archive.data() + archive.size()),
                    "a zip member's bytes lie outside the archive");
    try {
      fuzz::ShortReadSource raw(member.data);
      if (member.method == 8) {
        collector::InflateSource inflated(raw, collector::CompressionFormat::RawDeflate, s_limits, warnings);
        collector::ZipCrcSource checked(inflated, member);
        (void)drain(checked, s_limits);
        checked.finish();
      }
      else {
        collector::ZipCrcSource checked(raw, member);
        const uint64_t n = drain(checked, s_limits);
        fuzz::fuzzCheck(n == member.data.size(), "a stored member read back a different size");
        checked.finish();
      }
    }
    catch (const collector::ParseError&) {
      // Expected: a corrupt deflate stream, a CRC mismatch, a cap.
    }
  }
  fuzz::checkWarnings(warnings, s_limits);
  return 0;
}
