/*
 * json.cc - JSON writer (see json.hh).
 */
#include "config.h"

#include "collector/common/json.hh"

#include <cmath>
#include <cstdio>

namespace dmarcwatch::collector
{
namespace
{

//! Length of the valid UTF-8 sequence at text[i], or 0 when it is not valid.
size_t utf8Length(std::string_view text, size_t i)
{
  auto c = static_cast<unsigned char>(text[i]);
  size_t len = 0;
  uint32_t min = 0;
  if (c < 0x80) {
    return 1;
  }
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    min = 0x80;
  }
  else if ((c & 0xF0) == 0xE0) {
    len = 3;
    min = 0x800;
  }
  else if ((c & 0xF8) == 0xF0) {
    len = 4;
    min = 0x10000;
  }
  else {
    return 0;
  }
  if (i + len > text.size()) {
    return 0;
  }
  uint32_t cp = c & (0xFF >> (len + 1));
  for (size_t k = 1; k < len; ++k) {
    auto cc = static_cast<unsigned char>(text[i + k]);
    if ((cc & 0xC0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return len;
}

} // namespace

std::string jsonQuote(std::string_view text)
{
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    }
    else if (c < 0x20) {
      char buf[8];
      switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      }
      ++i;
    }
    else {
      size_t len = utf8Length(text, i);
      if (len == 0) {
        out += "\xEF\xBF\xBD"; // U+FFFD: keep the output valid JSON whatever the reporter sent
        ++i;
      }
      else {
        out.append(text.substr(i, len));
        i += len;
      }
    }
  }
  out += '"';
  return out;
}

void JsonWriter::separator()
{
  if (d_afterKey) {
    d_afterKey = false;
    return;
  }
  if (!d_first.empty()) {
    if (!d_first.back()) {
      d_out += ',';
    }
    d_first.back() = false;
  }
}

JsonWriter& JsonWriter::beginObject()
{
  separator();
  d_out += '{';
  d_first.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::endObject()
{
  d_out += '}';
  d_first.pop_back();
  return *this;
}

JsonWriter& JsonWriter::beginArray()
{
  separator();
  d_out += '[';
  d_first.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::endArray()
{
  d_out += ']';
  d_first.pop_back();
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name)
{
  separator();
  d_out += jsonQuote(name);
  d_out += ':';
  d_afterKey = true;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view text)
{
  separator();
  d_out += jsonQuote(text);
  return *this;
}

JsonWriter& JsonWriter::value(uint64_t number)
{
  separator();
  d_out += std::to_string(number);
  return *this;
}

JsonWriter& JsonWriter::value(int64_t number)
{
  separator();
  d_out += std::to_string(number);
  return *this;
}

JsonWriter& JsonWriter::value(double number)
{
  separator();
  if (!std::isfinite(number)) {
    d_out += "null";
    return *this;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", number);
  d_out += buf;
  return *this;
}

JsonWriter& JsonWriter::value(bool flag)
{
  separator();
  d_out += flag ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null()
{
  separator();
  d_out += "null";
  return *this;
}

JsonWriter& JsonWriter::stringArray(const std::vector<std::string>& items)
{
  beginArray();
  for (const auto& item : items) {
    value(item);
  }
  return endArray();
}

} // namespace dmarcwatch::collector
