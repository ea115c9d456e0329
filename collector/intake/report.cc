/*
 * report.cc - helpers over the report data model: the dedup key, and the
 * check of a report's dates against the clock.
 *
 * Users: the store (dedup), ingest (status lines, the date check of every
 * report header).
 * Thread-safety: pure functions.
 * Error policy: none throws; a report refused for its dates is a value (the
 * reason), for the caller to turn into its ParseError.
 *
 * Security: begin/end come from the Internet.  A forged or broken range must
 * not put counts on days far in the future or the distant past, where they
 * would stay unnoticed or skew totals.  What remains: a range that reaches
 * into [2000, now + s_futureAllowance] is believed, however wrong (the store
 * clamps its end to tomorrow and caps its length: reportDaySpan).
 */
#include "config.h"

#include "collector/intake/report.hh"

#include "collector/common/text.hh"

#include <algorithm>
#include <ctime>
#include <string_view>

namespace dmarcwatch::collector
{

std::string emailDomain(std::string_view email)
{
  auto at = email.find('@');
  if (at == std::string_view::npos) {
    return {};
  }
  auto rest = email.substr(at + 1);
  size_t end = 0;
  while (end < rest.size() && end <= 254) {
    char c = lowerAscii(rest[end]);
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
      break;
    }
    ++end;
  }
  std::string domain = lowerAscii(trimAscii(rest.substr(0, end)));
  if (!domain.empty() && domain.back() == '.') {
    domain.pop_back();
  }
  return isDomainName(domain) ? domain : std::string();
}

std::string_view authenticityName(Authenticity authenticity)
{
  switch (authenticity) {
  case Authenticity::Authenticated:
    return "authenticated";
  case Authenticity::Forged:
    return "forged";
  case Authenticity::Unauthenticated:
    break;
  }
  return "unauthenticated";
}

namespace
{

constexpr char s_keySeparator = '\x1f'; // ASCII unit separator: cannot occur in XML text


constexpr int64_t s_millisecondsPerSecond = 1000;
constexpr int64_t s_microsecondsPerSecond = 1'000'000;

//! "2024-03-01T00:00:00Z"; "(none)" for a missing time.
std::string isoUtc(int64_t seconds)
{
  if (seconds <= 0) {
    return "(none)";
  }
  const auto time = static_cast<std::time_t>(seconds);
  std::tm utc{};
  char text[32];
  if (gmtime_r(&time, &utc) == nullptr || std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc) == 0) {
    return std::to_string(seconds);
  }
  return text;
}

bool isPlausibleSeconds(int64_t seconds)
{
  return seconds >= s_minReportTime && seconds <= s_maxReportSeconds;
}

/*
 * Step 1 of checkReportDates for one value: seconds stay, milliseconds are
 * converted (with a warning), anything else that big is refused.  No
 * reporter is known to send microseconds; guessing would store a wrong day.
 */
std::optional<std::string> readAsSeconds(int64_t& value, const char* which, Warnings& warnings)
{
  if (value <= s_maxReportSeconds) {
    return std::nullopt;
  }
  const std::string what = std::string("date_range ") + which + " " + std::to_string(value);
  if (isPlausibleSeconds(value / s_millisecondsPerSecond)) {
    value /= s_millisecondsPerSecond;
    warnings.add(what + " looks like milliseconds: read as " + std::to_string(value));
    return std::nullopt;
  }
  if (isPlausibleSeconds(value / s_microsecondsPerSecond)) {
    return what + " looks like microseconds: refused";
  }
  return what + " is not a time in seconds or milliseconds";
}

} // namespace

std::optional<std::string> checkReportDates(ReportMetadata& metadata, int64_t now, Warnings& warnings)
{
  // Units first, so the range checks below compare seconds with seconds.
  if (auto refused = readAsSeconds(metadata.begin, "begin", warnings)) {
    return refused;
  }
  if (auto refused = readAsSeconds(metadata.end, "end", warnings)) {
    return refused;
  }

  // The range as reportDaySpan counts it: first = begin (end when begin is missing),
  // last = end when it comes after begin, else first.  No dates at all: nothing to check.
  const int64_t begin = std::max<int64_t>(metadata.begin, 0);
  const int64_t end = std::max<int64_t>(metadata.end, 0);
  const int64_t first = begin > 0 ? begin : end;
  const int64_t last = end > begin ? end : first;
  if (first == 0) {
    return std::nullopt;
  }
  const std::string range = "date_range " + isoUtc(begin) + " .. " + isoUtc(end);

  // Wholly in the future: no reporter can have seen those messages yet.  (first <= 10^11 here: no overflow.)
  if (first - s_futureAllowance > now) {
    return range + " is in the future (now " + isoUtc(now) + ")";
  }
  // Wholly before 2000, long before DMARC: a broken clock or a forged report.
  if (last < s_minReportTime) {
    return range + " ends before " + isoUtc(s_minReportTime);
  }
  return std::nullopt;
}

std::string dedupKey(const ReportHeader& header)
{
  std::string key;
  appendLowerAscii(key, trimAscii(header.metadata.orgName));
  key.push_back(s_keySeparator);

  // Some reporters wrap the id like a Message-ID ("<abc@host>") in one copy and not in another.
  std::string_view id = trimAscii(header.metadata.reportId);
  while (!id.empty() && (id.front() == '<' || isSpaceAscii(id.front()))) {
    id.remove_prefix(1);
  }
  while (!id.empty() && (id.back() == '>' || isSpaceAscii(id.back()))) {
    id.remove_suffix(1);
  }
  key.append(id);
  key.push_back(s_keySeparator);

  appendLowerAscii(key, trimAscii(header.policy.domain));
  key.push_back(s_keySeparator);
  key.append(std::to_string(header.metadata.begin));
  key.push_back(s_keySeparator);
  key.append(std::to_string(header.metadata.end));
  return key;
}

} // namespace dmarcwatch::collector
