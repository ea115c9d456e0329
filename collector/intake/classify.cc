/*
 * classify.cc - what an input is (see classify.hh).
 *
 * Thread-safety: pure functions, no state.
 * Error policy: none; any bytes are classified, unknown ones as Unknown.
 * Security: the input is untrusted; only the given bytes are looked at.
 */
#include "config.h"

#include "collector/intake/classify.hh"

namespace dmarcwatch::collector
{

PayloadKind sniffPayload(std::span<const uint8_t> head)
{
  // Compressed containers by magic number.
  if (head.size() >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
    return PayloadKind::Gzip;
  }
  if (head.size() >= 4 && head[0] == 'P' && head[1] == 'K' &&
      ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6))) {
    return PayloadKind::Zip;
  }
  // Raw zlib: deflate method, 32 KiB window at most, header checksum valid, no preset dictionary.
  if (head.size() >= 2 && (head[0] & 0x0f) == 8 && (head[0] >> 4) <= 7 &&
      (head[0] * 256 + head[1]) % 31 == 0 && (head[1] & 0x20) == 0) {
    return PayloadKind::Zlib;
  }

  // UTF-16 XML: by BOM, or by "<" next to a zero byte.
  if (head.size() >= 2 && ((head[0] == 0xff && head[1] == 0xfe) || (head[0] == 0xfe && head[1] == 0xff))) {
    return PayloadKind::Xml;
  }
  if (head.size() >= 2 && ((head[0] == '<' && head[1] == 0) || (head[0] == 0 && head[1] == '<'))) {
    return PayloadKind::Xml;
  }

  // UTF-8 XML: optional BOM, optional whitespace, then '<'.
  size_t pos = 0;
  if (head.size() >= 3 && head[0] == 0xef && head[1] == 0xbb && head[2] == 0xbf) {
    pos = 3;
  }
  while (pos < head.size() && (head[pos] == ' ' || head[pos] == '\t' || head[pos] == '\r' || head[pos] == '\n')) {
    ++pos;
  }
  if (pos < head.size() && head[pos] == '<') {
    return PayloadKind::Xml;
  }
  return PayloadKind::Unknown;
}

const char* payloadKindName(PayloadKind kind)
{
  switch (kind) {
  case PayloadKind::Gzip:
    return "gzip";
  case PayloadKind::Zip:
    return "zip";
  case PayloadKind::Zlib:
    return "zlib";
  case PayloadKind::Xml:
    return "xml";
  case PayloadKind::Unknown:
    return "unknown";
  }
  return "unknown";
}

} // namespace dmarcwatch::collector
