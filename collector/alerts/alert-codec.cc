/*
 * alert-codec.cc - the alert log's payload and alert ids (alert-codec.hh).
 */
#include "config.h"

#include "collector/alerts/alert-codec.hh"

#include "collector/common/errors.hh"
#include "collector/store/store-format.hh"

#include <cstdio>

namespace dmarcwatch::collector
{

namespace
{

constexpr uint8_t s_version = 1;
//! More strings than this in one payload is corruption, not an alert.
constexpr uint64_t s_maxStrings = 256;

using storeformat::putString;
using storeformat::putVarint;

} // namespace

std::string encodeAlert(const Alert& alert)
{
  std::string out(1, static_cast<char>(s_version));
  out.push_back(static_cast<char>(alert.severity));
  putVarint(out, 4 + 2 * alert.fields.size());
  putString(out, alert.id);
  putString(out, alert.rule);
  putString(out, alert.domain);
  putString(out, alert.message);
  for (const auto& [name, value] : alert.fields) {
    putString(out, name);
    putString(out, value);
  }
  return out;
}

Alert decodeAlert(std::string_view payload, int64_t time)
{
  storeformat::Reader in(payload, "alert log payload");
  if (in.u8() != s_version) {
    in.corrupt("unknown version");
  }
  Alert alert;
  alert.time = time;
  const uint8_t severity = in.u8();
  if (severity < static_cast<uint8_t>(AlertSeverity::Error) || severity > static_cast<uint8_t>(AlertSeverity::Info)) {
    in.corrupt("bad severity");
  }
  alert.severity = static_cast<AlertSeverity>(severity);
  const uint64_t strings = in.varint();
  if (strings < 4 || strings % 2 != 0 || strings > s_maxStrings) {
    in.corrupt("bad field count");
  }
  alert.id = std::string(in.string());
  alert.rule = std::string(in.string());
  alert.domain = std::string(in.string());
  alert.message = std::string(in.string());
  for (uint64_t i = 4; i < strings; i += 2) {
    std::string name(in.string());
    alert.fields.emplace_back(std::move(name), std::string(in.string()));
  }
  if (!in.atEnd()) {
    in.corrupt("trailing bytes");
  }
  return alert;
}

std::string alertId(std::string_view key, int64_t raisedAt)
{
  // FNV-1a over the key and the time: stable, and distinct per sending.
  uint64_t hash = 0xcbf29ce484222325ULL;
  auto add = [&hash](uint8_t byte) { hash = (hash ^ byte) * 0x100000001b3ULL; };
  for (char c : key) {
    add(static_cast<uint8_t>(c));
  }
  add('@');
  for (int shift = 0; shift < 64; shift += 8) {
    add(static_cast<uint8_t>(static_cast<uint64_t>(raisedAt) >> shift));
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

} // namespace dmarcwatch::collector
