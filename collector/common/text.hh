/*
 * text.hh - the small ASCII text helpers every module needs.
 *
 * ASCII only on purpose: report fields (domains, result words) and mail
 * header names are ASCII, and locale-dependent tolower() must not change how
 * a domain compares.
 *
 * Thread-safety: pure functions.
 */
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

constexpr char lowerAscii(char c)
{
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

//! \brief Append text lower-cased (ASCII letters only) to out: no copy of its own.
inline void appendLowerAscii(std::string& out, std::string_view text)
{
  for (char c : text) {
    out.push_back(lowerAscii(c));
  }
}

//! \brief A lower-cased copy (ASCII letters only).
inline std::string lowerAscii(std::string_view text)
{
  std::string out;
  out.reserve(text.size());
  appendLowerAscii(out, text);
  return out;
}

//! \brief items with separator between each two ("a, b, c").
inline std::string joined(const std::vector<std::string>& items, std::string_view separator)
{
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) {
      out += separator;
    }
    out += item;
  }
  return out;
}

//! \brief A count with its thousands grouped ("1,234,567"): counts shown to be read, never parsed.
inline std::string groupedCount(uint64_t value)
{
  const std::string digits = std::to_string(value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out += ',';
    }
    out += digits[i];
  }
  return out;
}

/*!
 * \brief part of whole in percent with one decimal, rounded down as thresholds judge it
 * (97.99 % is "97.9", never the "98.0" that would pass a 98 % rule); "-" of nothing.
 */
inline std::string percentDecimal(uint64_t part, uint64_t whole)
{
  if (whole == 0) {
    return "-";
  }
  const uint64_t clamped = part < whole ? part : whole;
  const auto tenths = static_cast<uint64_t>(static_cast<unsigned __int128>(clamped) * 1000 / whole);
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10);
}

//! \brief ASCII case-insensitive equality (domains, header and key names), without allocating.
constexpr bool equalsIgnoreCaseAscii(std::string_view a, std::string_view b)
{
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) {
      return false;
    }
  }
  return true;
}

//! \brief A lower-case DNS name as configuration and catalog files accept it: minLabels to 127
//! labels of 1-63 [a-z0-9_-] (no '-' at either end), at most 253 characters, no trailing dot.
constexpr bool isDomainName(std::string_view name, size_t minLabels = 2)
{
  if (name.empty() || name.size() > 253) {
    return false;
  }
  size_t labels = 0;
  while (true) {
    auto label = name.substr(0, name.find('.'));
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' || ++labels > 127) {
      return false;
    }
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
        return false;
      }
    }
    if (label.size() == name.size()) {
      return labels >= minLabels;
    }
    name.remove_prefix(label.size() + 1);
  }
}

constexpr bool isSpaceAscii(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

//! \brief text without leading and trailing ASCII white space.
constexpr std::string_view trimAscii(std::string_view text)
{
  while (!text.empty() && isSpaceAscii(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && isSpaceAscii(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

//! \brief Split off the first white-space separated word of text (text keeps the trimmed rest).
constexpr std::string_view nextWord(std::string_view& text)
{
  text = trimAscii(text);
  size_t end = 0;
  while (end < text.size() && !isSpaceAscii(text[end])) {
    ++end;
  }
  auto word = text.substr(0, end);
  text = trimAscii(text.substr(end));
  return word;
}

//! \brief No control characters (a line of a catalog file): UTF-8 bytes pass, C0 and DEL do not.
constexpr bool isPrintableLine(std::string_view text)
{
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return false;
    }
  }
  return true;
}

//! A time (seconds since the epoch) as UTC text, in a strftime format ("%Y-%m-%d %H:%M").
//! Callers pass a literal format; the attribute has the compiler check it at each call.
__attribute__((format(strftime, 2, 0))) inline std::string formatUtc(int64_t epochSeconds, const char* format)
{
  const auto t = static_cast<time_t>(epochSeconds);
  struct tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  return std::string(buf, std::strftime(buf, sizeof buf, format, &tm));
#pragma GCC diagnostic pop
}

} // namespace dmarcwatch::collector
