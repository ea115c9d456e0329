/*
 * classify.cc - what an input is (see classify.hh).
 *
 * Thread-safety: pure functions, no state.
 * Error policy: none; any bytes are classified, unknown ones as Unknown.
 * Security: the input is untrusted; at most s_sniffBytes of it are looked at,
 * each once but for the HTML probe (one lower-cased copy of the window).
 */
#include "config.h"

#include "collector/intake/classify.hh"

#include "collector/common/text.hh"

#include <algorithm>
#include <string>

namespace dmarcwatch::collector
{

namespace
{

bool isBlank(uint8_t c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

//! Binary containers by magic number, or Unknown.
InputKind containerKind(std::span<const uint8_t> head)
{
  if (head.size() >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
    return InputKind::Gzip;
  }
  if (head.size() >= 4 && head[0] == 'P' && head[1] == 'K' &&
      ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6))) {
    return InputKind::Zip;
  }
  // Raw zlib: deflate method, 32 KiB window at most, header checksum valid, no preset dictionary.
  if (head.size() >= 2 && (head[0] & 0x0f) == 8 && (head[0] >> 4) <= 7 &&
      (head[0] * 256 + head[1]) % 31 == 0 && (head[1] & 0x20) == 0) {
    return InputKind::Zlib;
  }
  return InputKind::Unknown;
}

//! XML that opens an HTML page (a mail's summary): "<html" or "<!doctype html" in the window.
bool looksLikeHtml(std::span<const uint8_t> head)
{
  const std::string probe = lowerAscii(std::string_view(reinterpret_cast<const char*>(head.data()), head.size()));
  return probe.find("<html") != std::string::npos || probe.find("<!doctype html") != std::string::npos;
}

} // namespace

Classified classify(std::span<const uint8_t> input)
{
  const auto head = input.first(std::min(input.size(), s_sniffBytes));

  // Compressed containers first: their magic numbers are binary.
  if (const InputKind kind = containerKind(head); kind != InputKind::Unknown) {
    return {kind, 0};
  }

  // UTF-16 XML: by BOM, or by "<" next to a zero byte.
  if (head.size() >= 2 && ((head[0] == 0xff && head[1] == 0xfe) || (head[0] == 0xfe && head[1] == 0xff))) {
    return {InputKind::Xml, 0};
  }
  if (head.size() >= 2 && ((head[0] == '<' && head[1] == 0) || (head[0] == 0 && head[1] == '<'))) {
    return {InputKind::Xml, 0};
  }

  // UTF-8 XML (or HTML): optional BOM, optional whitespace, then '<'.
  const bool bom = head.size() >= 3 && head[0] == 0xef && head[1] == 0xbb && head[2] == 0xbf;
  size_t pos = bom ? 3 : 0;
  while (pos < head.size() && isBlank(head[pos])) {
    ++pos;
  }
  if (pos < head.size() && head[pos] == '<') {
    return {looksLikeHtml(head) ? InputKind::Html : InputKind::Xml, 0};
  }

  // Mail: blank lines, then a line that starts at its first byte with "From " (an mbox) or a
  // header field.  A BOM or an indented first line is neither.
  const size_t lineStart = pos == 0 ? 0 : std::string_view(reinterpret_cast<const char*>(head.data()), pos).rfind('\n') + 1;
  if (bom || pos == head.size() || lineStart != pos) {
    return {};
  }
  const std::string_view text(reinterpret_cast<const char*>(head.data()) + pos, head.size() - pos);
  if (text.starts_with("From ")) {
    return {InputKind::Mbox, pos};
  }
  if (headerFieldNameLength(text.substr(0, text.find('\n')))) {
    return {InputKind::Mail, pos};
  }
  return {};
}

Classified classify(std::string_view input)
{
  return classify(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(input.data()), input.size()));
}

std::optional<size_t> headerFieldNameLength(std::string_view line)
{
  // Field-name characters, then blanks (tolerated), then the colon.
  size_t n = 0;
  while (n < line.size() && line[n] >= 33 && line[n] <= 126 && line[n] != ':') {
    ++n;
  }
  if (n == 0) {
    return std::nullopt;
  }
  size_t colon = n;
  while (colon < line.size() && (line[colon] == ' ' || line[colon] == '\t')) {
    ++colon;
  }
  if (colon >= line.size() || line[colon] != ':') {
    return std::nullopt;
  }
  return n;
}

bool isPayloadKind(InputKind kind)
{
  return kind == InputKind::Gzip || kind == InputKind::Zip || kind == InputKind::Zlib || kind == InputKind::Xml;
}

const char* inputKindName(InputKind kind)
{
  switch (kind) {
  case InputKind::Mbox:
    return "mbox";
  case InputKind::Mail:
    return "mail";
  case InputKind::Gzip:
    return "gzip";
  case InputKind::Zip:
    return "zip";
  case InputKind::Zlib:
    return "zlib";
  case InputKind::Xml:
    return "xml";
  case InputKind::Html:
    return "html";
  case InputKind::Unknown:
    return "unknown";
  }
  return "unknown";
}

} // namespace dmarcwatch::collector
