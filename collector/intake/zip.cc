/*
 * zip.cc - locating the members of a zip archive held in memory.
 *
 * Users: unpack.cc (zip payloads, at any nesting level).
 * Thread-safety: plain functions over immutable input, no state.
 * Error policy: an archive with no usable structure throws ParseError; a
 * member that cannot be read (method, encryption, bad offsets) is skipped
 * with a warning; too many members throws LimitError.
 * Security: every offset and length comes from the attacker.  Each one is
 * checked against the bytes that remain before it is used, with 64-bit
 * arithmetic so no sum can wrap.  Decompression is not done here (unpack.cc
 * streams it through InflateSource with its caps), except to find the end of
 * a deflate member with no recorded size in the local-header fallback, which
 * is bounded by maxDecompressedBytes.
 */
#include "config.h"

#include "collector/intake/zip.hh"

#include "collector/common/config-keys.hh"
#include "collector/common/errors.hh"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>

namespace dmarcwatch::collector
{

namespace
{

// Record signatures and fixed sizes (APPNOTE.TXT 4.3).
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr size_t kZip64EndSize = 56;
constexpr uint16_t kZip64ExtraId = 0x0001;
//! A 32-bit size or offset field that says "see the zip64 extra field".
constexpr uint32_t kZip64Marker = 0xffffffff;
//! Data descriptor signature 0x08074b50 as it stands in the file, for searching.
constexpr std::string_view kDescriptorSig("PK\x07\x08", 4);
constexpr size_t kLocalSize = 30;
constexpr size_t kCentralSize = 46;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64LocatorSize = 20;
constexpr uint16_t kFlagEncrypted = 0x0001;
constexpr uint16_t kFlagDescriptor = 0x0008;
constexpr const char* kKeyMembers = keys::maxArchiveMembers;

//! Bounds-checked little-endian reader over the archive.
class Reader
{
public:
  explicit Reader(std::span<const uint8_t> bytes) :
    d_bytes(bytes) {}
  [[nodiscard]] uint64_t size() const { return d_bytes.size(); }
  //! True when [offset, offset+length) lies inside the archive (no overflow possible).
  [[nodiscard]] bool has(uint64_t offset, uint64_t length) const
  {
    return offset <= d_bytes.size() && length <= d_bytes.size() - offset;
  }
  [[nodiscard]] uint16_t u16(uint64_t offset) const
  {
    return static_cast<uint16_t>(d_bytes[offset] | (d_bytes[offset + 1] << 8));
  }
  [[nodiscard]] uint32_t u32(uint64_t offset) const
  {
    return static_cast<uint32_t>(d_bytes[offset]) | (static_cast<uint32_t>(d_bytes[offset + 1]) << 8) |
      (static_cast<uint32_t>(d_bytes[offset + 2]) << 16) | (static_cast<uint32_t>(d_bytes[offset + 3]) << 24);
  }
  [[nodiscard]] uint64_t u64(uint64_t offset) const { return u32(offset) | (uint64_t{u32(offset + 4)} << 32); }
  [[nodiscard]] bool sigAt(uint64_t offset, uint32_t sig) const { return has(offset, 4) && u32(offset) == sig; }
  [[nodiscard]] std::span<const uint8_t> slice(uint64_t offset, uint64_t length) const
  {
    return d_bytes.subspan(static_cast<size_t>(offset), static_cast<size_t>(length));
  }
  //! Bytes from offset to the end, for fast signature searches (offset <= size()).
  [[nodiscard]] std::string_view view(uint64_t offset) const
  {
    return {reinterpret_cast<const char*>(d_bytes.data() + offset), static_cast<size_t>(d_bytes.size() - offset)};
  }
  [[nodiscard]] std::string text(uint64_t offset, uint64_t length) const
  {
    return {reinterpret_cast<const char*>(d_bytes.data() + offset), static_cast<size_t>(length)};
  }

private:
  std::span<const uint8_t> d_bytes;
};

//! Names shown in warnings: printable ASCII only, cut short.
std::string shownName(std::string_view name)
{
  std::string out;
  for (const char c : name.substr(0, 80)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

//! Directories, macOS resource forks and AppleDouble files carry no report.
bool isIgnoredName(std::string_view name)
{
  if (!name.empty() && (name.back() == '/' || name.back() == '\\')) {
    return true;
  }
  if (name.starts_with("__MACOSX/") || name == "__MACOSX") {
    return true;
  }
  const size_t slash = name.find_last_of('/');
  const std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  return base.starts_with("._");
}

struct RawEntry
{
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;
  uint64_t uncompressedSize = 0;
  std::optional<uint32_t> crc32; //!< nullopt: not known (a local header whose descriptor was not found)
  std::span<const uint8_t> data;
};

//! Filters entries into members, with warnings and the member cap.
class Collector
{
public:
  Collector(const Limits& limits, Warnings& warnings) :
    d_limits(limits), d_warnings(warnings) {}

  void add(RawEntry entry)
  {
    // Skip what cannot hold a report, then what we cannot read, then enforce the cap.
    if (isIgnoredName(entry.name)) {
      return;
    }
    if ((entry.flags & kFlagEncrypted) != 0) {
      d_warnings.add("zip: encrypted member " + shownName(entry.name) + " skipped");
      return;
    }
    if (entry.method != 0 && entry.method != 8) {
      d_warnings.add("zip: member " + shownName(entry.name) + " uses unsupported method " +
                     std::to_string(entry.method) + ", skipped");
      return;
    }
    if (d_members.size() >= d_limits.maxArchiveMembers) {
      throw LimitError(std::string("zip: more members than ") + kKeyMembers + " (" +
                       std::to_string(d_limits.maxArchiveMembers) + ")");
    }
    ZipMember member;
    member.name = std::move(entry.name);
    member.method = entry.method;
    member.uncompressedSize = entry.uncompressedSize;
    member.crc32 = entry.crc32;
    member.data = entry.data;
    d_members.push_back(std::move(member));
  }
  std::vector<ZipMember> take() { return std::move(d_members); }

private:
  const Limits& d_limits;
  Warnings& d_warnings;
  std::vector<ZipMember> d_members;
};

//! Offset of the end-of-central-directory record, searched backwards over the comment window.
std::optional<uint64_t> findEnd(const Reader& in)
{
  if (in.size() < kEndSize) {
    return std::nullopt;
  }
  const uint64_t last = in.size() - kEndSize;
  const uint64_t first = last > 0xffff ? last - 0xffff : 0;
  for (uint64_t pos = last + 1; pos-- > first;) {
    if (in.u32(pos) == kEndSig) {
      return pos;
    }
  }
  return std::nullopt;
}

/*!
 * The 8-byte values of an extra field's zip64 block (id 1), in order; next() fails past its
 * end or when there is no such block.
 */
class ExtraValues
{
public:
  ExtraValues(const Reader& in, uint64_t pos, uint64_t length) :
    d_in(in)
  {
    if (!in.has(pos, length)) {
      return;
    }
    for (uint64_t at = pos; at + 4 <= pos + length;) {
      const uint16_t id = in.u16(at);
      const uint16_t size = in.u16(at + 2);
      if (at + 4 + size > pos + length) {
        return;
      }
      if (id == kZip64ExtraId) {
        d_pos = at + 4;
        d_end = at + 4 + size;
        return;
      }
      at += 4 + size;
    }
  }

  bool next(uint64_t& value)
  {
    if (d_end - d_pos < 8) {
      return false;
    }
    value = d_in.u64(d_pos);
    d_pos += 8;
    return true;
  }

private:
  const Reader& d_in;
  uint64_t d_pos = 0;
  uint64_t d_end = 0;
};

/*!
 * Members through the central directory.  \return nullopt when the directory
 * is not where the end record says (the caller then scans local headers).
 */
std::optional<std::vector<RawEntry>> readCentral(const Reader& in, uint64_t endPos, Warnings& warnings)
{
  // End record: entry count, directory size and offset; a zip64 archive has them in its zip64
  // end record, found through the locator right before the end record.
  uint64_t entries = in.u16(endPos + 10);
  uint64_t cdSize = in.u32(endPos + 12);
  uint64_t cdOffset = in.u32(endPos + 16);
  const bool zip64Marker = entries == 0xffff || cdSize == kZip64Marker || cdOffset == kZip64Marker;
  if (endPos >= kZip64LocatorSize && in.sigAt(endPos - kZip64LocatorSize, kZip64LocatorSig)) {
    const uint64_t locator = endPos - kZip64LocatorSize;
    uint64_t record = in.u64(locator + 8);
    // Data prepended to the archive moves the record too: then it sits right before the locator.
    if (!in.has(record, kZip64EndSize) || !in.sigAt(record, kZip64EndSig)) {
      record = locator >= kZip64EndSize ? locator - kZip64EndSize : in.size();
    }
    if (!in.has(record, kZip64EndSize) || !in.sigAt(record, kZip64EndSig)) {
      throw ParseError("zip: the zip64 end record is missing or damaged");
    }
    entries = in.u64(record + 32);
    cdSize = in.u64(record + 40);
    cdOffset = in.u64(record + 48);
    endPos = record; // the directory ends before the zip64 records
  }
  else if (zip64Marker) {
    throw ParseError("zip: zip64 sizes without a zip64 end record");
  }

  // The directory normally sits at cdOffset; data prepended to the archive shifts everything,
  // which shows as the directory ending right before the end record instead.
  uint64_t base = 0;
  if (!in.has(cdOffset, cdSize) || cdOffset + cdSize > endPos || (entries > 0 && !in.sigAt(cdOffset, kCentralSig))) {
    if (cdSize > endPos || !in.sigAt(endPos - cdSize, kCentralSig) || endPos - cdSize < cdOffset) {
      return std::nullopt;
    }
    base = endPos - cdSize - cdOffset;
    warnings.add("zip: " + std::to_string(base) + " bytes before the archive ignored");
  }

  // Walk the directory entries, each checked against the directory's own bounds.
  std::vector<RawEntry> result;
  uint64_t pos = base + cdOffset;
  const uint64_t cdEnd = base + cdOffset + cdSize;
  for (uint64_t i = 0; i < entries; ++i) {
    if (pos > cdEnd || cdEnd - pos < kCentralSize || !in.sigAt(pos, kCentralSig)) {
      return std::nullopt;
    }
    RawEntry entry;
    entry.flags = in.u16(pos + 8);
    entry.method = in.u16(pos + 10);
    entry.crc32 = in.u32(pos + 16);
    const uint64_t csize = in.u32(pos + 20);
    entry.uncompressedSize = in.u32(pos + 24);
    const uint64_t nameLen = in.u16(pos + 28);
    const uint64_t extraLen = in.u16(pos + 30);
    const uint64_t commentLen = in.u16(pos + 32);
    const uint64_t localOffset = in.u32(pos + 42);
    const uint64_t entrySize = kCentralSize + nameLen + extraLen + commentLen;
    if (cdEnd - pos < entrySize) {
      return std::nullopt;
    }
    entry.name = in.text(pos + kCentralSize, nameLen);
    const uint64_t extraPos = pos + kCentralSize + nameLen;
    pos += entrySize;

    // Zip64: each field that says so comes from the zip64 extra field, in this order.
    uint64_t csize64 = csize;
    uint64_t localOffset64 = localOffset;
    if (csize == kZip64Marker || entry.uncompressedSize == kZip64Marker || localOffset == kZip64Marker) {
      ExtraValues zip64(in, extraPos, extraLen);
      const bool ok = (entry.uncompressedSize != kZip64Marker || zip64.next(entry.uncompressedSize)) &&
                      (csize != kZip64Marker || zip64.next(csize64)) &&
                      (localOffset != kZip64Marker || zip64.next(localOffset64));
      if (!ok) {
        warnings.add("zip: member " + shownName(entry.name) + " lacks its zip64 sizes, skipped");
        continue;
      }
    }
    if (isIgnoredName(entry.name)) {
      continue;
    }

    // The data follows the local header, whose name and extra lengths may differ from the directory's.
    if (localOffset64 > in.size() - base) {
      warnings.add("zip: member " + shownName(entry.name) + " has a bad local header offset, skipped");
      continue;
    }
    const uint64_t local = base + localOffset64;
    if (!in.has(local, kLocalSize) || !in.sigAt(local, kLocalSig)) {
      warnings.add("zip: member " + shownName(entry.name) + " has a bad local header offset, skipped");
      continue;
    }
    const uint64_t dataStart = local + kLocalSize + in.u16(local + 26) + in.u16(local + 28);
    if (!in.has(dataStart, csize64)) {
      warnings.add("zip: member " + shownName(entry.name) + " runs past the end of the archive, skipped");
      continue;
    }
    entry.data = in.slice(dataStart, csize64);
    result.push_back(std::move(entry));
  }
  return result;
}

//! Compressed length of a raw deflate stream starting at data (its end found by inflating, output discarded).
std::optional<uint64_t> deflateLength(std::span<const uint8_t> data, const Limits& limits)
{
  // zlib reports the end of the stream; output is thrown away but still counted against the cap.
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
    throw ParseError("zlib: cannot initialise inflate (out of memory)");
  }
  struct End
  {
    z_stream* s;
    ~End() { inflateEnd(s); }
  } guard{&zs};
  std::array<uint8_t, 32768> sink{};
  uint64_t offset = 0;
  uint64_t produced = 0;
  for (;;) {
    if (zs.avail_in == 0) {
      const uint64_t piece = std::min<uint64_t>(data.size() - offset, std::numeric_limits<uInt>::max());
      if (piece == 0) {
        return std::nullopt;
      }
      zs.next_in = const_cast<Bytef*>(data.data() + offset);
      zs.avail_in = static_cast<uInt>(piece);
      offset += piece;
    }
    zs.next_out = sink.data();
    zs.avail_out = sink.size();
    const int rc = inflate(&zs, Z_NO_FLUSH);
    produced += sink.size() - zs.avail_out;
    if (produced > limits.maxDecompressedBytes) {
      throw LimitError("decompressed size over " + std::string(keys::maxDecompressedSize) + " (" + std::to_string(limits.maxDecompressedBytes) + " bytes)");
    }
    if (rc == Z_STREAM_END) {
      return offset - zs.avail_in;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return std::nullopt;
    }
  }
}

/*!
 * Members by scanning local headers front to back: the fallback for archives
 * whose central directory is missing or damaged (truncated downloads).
 */
std::vector<RawEntry> scanLocal(const Reader& in, const Limits& limits, Warnings& warnings)
{
  // Each header may cost a scan of the rest of the archive (descriptor search, deflate end):
  // the number of headers looked at is capped so a hostile archive cannot make this quadratic.
  const uint64_t maxHeaders = uint64_t{limits.maxArchiveMembers} + 16;
  uint64_t headers = 0;
  std::vector<RawEntry> result;
  uint64_t pos = 0;
  while (in.has(pos, kLocalSize)) {
    // Find the next local header signature.
    if (in.u32(pos) != kLocalSig) {
      ++pos;
      continue;
    }
    if (++headers > maxHeaders) {
      warnings.add("zip: too many local headers, scan stopped");
      break;
    }
    RawEntry entry;
    entry.flags = in.u16(pos + 6);
    entry.method = in.u16(pos + 8);
    const uint32_t headerCrc = in.u32(pos + 14);
    uint64_t csize = in.u32(pos + 18);
    entry.uncompressedSize = in.u32(pos + 22);
    const uint64_t nameLen = in.u16(pos + 26);
    const uint64_t extraLen = in.u16(pos + 28);
    if (!in.has(pos + kLocalSize, nameLen + extraLen)) {
      break;
    }
    entry.name = in.text(pos + kLocalSize, nameLen);
    const uint64_t dataStart = pos + kLocalSize + nameLen + extraLen;

    // Sizes come from the header, or when bit 3 is set, from the data descriptor after the data:
    // a "PK\7\8" whose size field matches the distance, else the deflate stream's own end.
    std::optional<uint64_t> length;
    if (csize == kZip64Marker) {
      // Zip64: uncompressed then compressed size in the extra field.
      ExtraValues zip64(in, pos + kLocalSize + nameLen, extraLen);
      uint64_t usize = 0;
      if (zip64.next(usize) && zip64.next(csize)) {
        entry.uncompressedSize = usize;
      }
    }
    if ((entry.flags & kFlagDescriptor) == 0 || csize != 0) {
      if (csize != kZip64Marker && in.has(dataStart, csize)) {
        length = csize;
        entry.crc32 = headerCrc;
      }
    }
    if (!length && (entry.flags & kFlagDescriptor) != 0) {
      const std::string_view rest = in.view(dataStart);
      for (size_t at = rest.find(kDescriptorSig); at != std::string_view::npos; at = rest.find(kDescriptorSig, at + 1)) {
        const uint64_t p = dataStart + at;
        if (!in.has(p, 16)) {
          break;
        }
        if (in.u32(p + 8) == at) {
          length = at;
          entry.crc32 = in.u32(p + 4);
          entry.uncompressedSize = in.u32(p + 12);
          break;
        }
      }
      if (!length && entry.method == 8) {
        length = deflateLength(in.slice(dataStart, in.size() - dataStart), limits);
      }
    }
    if (!length) {
      if (!isIgnoredName(entry.name)) {
        warnings.add("zip: member " + shownName(entry.name) + " has no readable size, skipped");
      }
      pos += 4;
      continue;
    }
    entry.data = in.slice(dataStart, *length);
    result.push_back(std::move(entry));
    pos = dataStart + *length;
  }
  return result;
}

} // namespace

std::vector<ZipMember> listZipMembers(std::span<const uint8_t> archive, const Limits& limits, Warnings& warnings)
{
  const Reader in(archive);

  // Prefer the central directory: it has the real sizes even when the local headers defer them.
  std::optional<std::vector<RawEntry>> entries;
  if (const auto endPos = findEnd(in)) {
    entries = readCentral(in, *endPos, warnings);
    if (!entries) {
      warnings.add("zip: central directory unreadable, local headers scanned");
    }
  }
  else if (in.sigAt(0, kLocalSig)) {
    warnings.add("zip: no central directory, local headers scanned");
  }

  // Fall back to the local headers when the directory is missing or broken.
  if (!entries) {
    entries = scanLocal(in, limits, warnings);
    if (entries->empty() && !in.sigAt(0, kLocalSig)) {
      throw ParseError("zip: not a readable archive");
    }
  }

  Collector collector(limits, warnings);
  for (auto& entry : *entries) {
    collector.add(std::move(entry));
  }
  return collector.take();
}

size_t ZipCrcSource::read(std::span<uint8_t> out)
{
  const size_t got = d_inner.read(out);
  if (got > 0) {
    d_crc = ::crc32(d_crc, out.data(), static_cast<uInt>(got));
    return got;
  }
  if (!d_checked && d_expected && d_crc != *d_expected) {
    d_checked = true;
    char text[64];
    std::snprintf(text, sizeof text, "CRC-32 %08lx, the archive says %08x", d_crc, static_cast<unsigned>(*d_expected));
    throw ParseError("zip: member " + shownName(d_name) + " is damaged (" + text + ")");
  }
  d_checked = true;
  return 0;
}

void ZipCrcSource::finish()
{
  std::array<uint8_t, 16384> rest{};
  while (read(rest) > 0) {
  }
}

} // namespace dmarcwatch::collector
