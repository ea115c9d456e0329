/*
 * html-escape.cc - text from the store made safe for the HTML report (html-escape.hh).
 */
#include "config.h"

#include "collector/views/html-escape.hh"

#include <cstdint>

namespace dmarcwatch::collector
{

namespace
{

constexpr std::string_view s_replacement = "\xEF\xBF\xBD"; // U+FFFD
constexpr std::string_view s_ellipsis = "\xE2\x80\xA6";    // U+2026

//! \brief The length of the valid UTF-8 sequence at the start of text; 0 when it is not one.
size_t utf8Length(std::string_view text)
{
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(0);
  size_t length = 0;
  uint32_t code = 0;
  if (lead < 0x80) {
    return 1;
  }
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code = lead & 0x1F;
  }
  else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code = lead & 0x0F;
  }
  else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code = lead & 0x07;
  }
  else {
    return 0;
  }
  if (text.size() < length) {
    return 0;
  }
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) {
      return 0;
    }
    code = (code << 6) | (byte(i) & 0x3F);
  }
  // Overlong forms, surrogates and what lies past U+10FFFF are not UTF-8 (nor XML characters:
  // U+FFFE and U+FFFF neither).
  const bool overlong = (length == 3 && code < 0x800) || (length == 4 && code < 0x10000);
  if (overlong || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF || code == 0xFFFE || code == 0xFFFF) {
    return 0;
  }
  return length;
}

} // namespace

void appendEscaped(std::string& out, std::string_view text, size_t maxChars)
{
  size_t chars = 0;
  while (!text.empty()) {
    if (chars == maxChars) {
      out += s_ellipsis;
      return;
    }
    ++chars;
    const size_t length = utf8Length(text);
    if (length == 0) {
      out += s_replacement;
      text.remove_prefix(1);
      continue;
    }
    if (length > 1) {
      out += text.substr(0, length);
      text.remove_prefix(length);
      continue;
    }
    const char c = text.front();
    text.remove_prefix(1);
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      // Control characters (tab and newline too: names have none worth keeping) and DEL.
      if (static_cast<uint8_t>(c) < 0x20 || c == 0x7F) {
        out += s_replacement;
      }
      else {
        out.push_back(c);
      }
    }
  }
}

std::string escapeHtml(std::string_view text, size_t maxChars)
{
  std::string out;
  out.reserve(text.size() + 8);
  appendEscaped(out, text, maxChars);
  return out;
}

} // namespace dmarcwatch::collector
