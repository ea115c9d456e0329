/*
 * report.cc - helpers over the report data model (dedup key).
 *
 * Users: the store (dedup), ingest (status lines).
 * Thread-safety: pure functions.
 * Error policy: none can fail.
 */
#include "config.h"

#include "collector/intake/report.hh"

#include <string_view>

namespace dmarcwatch::collector
{

namespace
{

constexpr char c_keySeparator = '\x1f'; // ASCII unit separator: cannot occur in XML text

bool isSpace(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view text)
{
  while (!text.empty() && isSpace(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && isSpace(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

void appendLower(std::string& out, std::string_view text)
{
  for (char c : text) {
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
}

} // namespace

std::string dedupKey(const ReportHeader& header)
{
  std::string key;
  appendLower(key, trim(header.metadata.orgName));
  key.push_back(c_keySeparator);

  // Some reporters wrap the id like a Message-ID ("<abc@host>") in one copy and not in another.
  std::string_view id = trim(header.metadata.reportId);
  while (!id.empty() && (id.front() == '<' || isSpace(id.front()))) {
    id.remove_prefix(1);
  }
  while (!id.empty() && (id.back() == '>' || isSpace(id.back()))) {
    id.remove_suffix(1);
  }
  key.append(id);
  key.push_back(c_keySeparator);

  appendLower(key, trim(header.policy.domain));
  key.push_back(c_keySeparator);
  key.append(std::to_string(header.metadata.begin));
  key.push_back(c_keySeparator);
  key.append(std::to_string(header.metadata.end));
  return key;
}

} // namespace dmarcwatch::collector
