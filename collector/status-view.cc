/*
 * status-view.cc - `dmarcwatch status` numbers from the store (status-view.hh).
 *
 * Totals come from the days database (one short scan per domain); sources and
 * services from the facts of the requested range only.  A service is named by
 * its authenticated identity until the naming daemon exists: the first passing
 * DKIM d= domain, else the first passing SPF domain, else "unknown".
 * wouldBlock counts every DMARC-failing message: under p=reject none of them
 * would be delivered.
 *
 * Thread-safety: plain functions; each store call is its own read transaction.
 * Errors: StoreError from the store.
 */
#include "config.h"

#include "collector/status-view.hh"

#include "collector/text.hh"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <set>

namespace dmarcwatch::collector
{

namespace
{

constexpr uint32_t s_maxRelativeDays = 36500;

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, UTC).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d)
{
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d)
{
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
}

bool parseNumber(std::string_view text, unsigned& value)
{
  if (text.empty()) {
    return false;
  }
  auto res = std::from_chars(text.data(), text.data() + text.size(), value);
  return res.ec == std::errc() && res.ptr == text.data() + text.size();
}

//! The authenticated identity of an outcome (see the file comment).
std::string serviceName(const Outcome& outcome)
{
  for (const auto& dkim : outcome.dkimResults) {
    if (lowerAscii(dkim.result) == "pass" && !dkim.domain.empty()) {
      return lowerAscii(dkim.domain);
    }
  }
  for (const auto& spf : outcome.spfResults) {
    if (lowerAscii(spf.result) == "pass" && !spf.domain.empty()) {
      return lowerAscii(spf.domain);
    }
  }
  return "unknown";
}

struct SourceAccumulator
{
  SourceSummary summary;
  std::map<std::pair<std::string, std::string>, uint64_t> labels; //!< (header_from, service) -> messages
};

struct ServiceAccumulator
{
  ServiceSummary summary;
  std::set<std::optional<IpAddress>> sources;
};

DomainStatus domainStatus(const Store& store, const std::string& domain, uint32_t fromDay, uint32_t toDay,
                          size_t topN)
{
  DomainStatus status;
  status.domain = domain;
  status.fromDay = fromDay;
  status.toDay = toDay;

  // Totals: the days database.
  for (const auto& day : store.dayTotals(domain, fromDay, toDay)) {
    status.messages += day.messages;
    status.dmarcPass += day.dmarcPass;
  }
  status.dmarcFail = status.messages - std::min(status.dmarcPass, status.messages);
  status.wouldBlock = status.dmarcFail;
  if (status.messages == 0) {
    return status;
  }

  // Sources and services: the facts of the range.
  std::map<std::optional<IpAddress>, SourceAccumulator> sources;
  std::map<std::string, ServiceAccumulator> services;
  store.forEachFact(domain, fromDay, toDay, [&](const Fact& fact) {
    const bool pass = fact.outcome.dmarcPass();
    std::string service = serviceName(fact.outcome);
    auto& source = sources[fact.sourceIp];
    source.summary.messages += fact.messages;
    (pass ? source.summary.dmarcPass : source.summary.dmarcFail) += fact.messages;
    source.labels[{fact.headerFrom, service}] += fact.messages;
    auto& svc = services[service];
    svc.summary.messages += fact.messages;
    (pass ? svc.summary.dmarcPass : svc.summary.dmarcFail) += fact.messages;
    svc.sources.insert(fact.sourceIp);
  });

  for (auto& [ip, source] : sources) {
    source.summary.ip = ip;
    // The label carrying most of the source's messages (first in order on a tie).
    auto best = std::max_element(source.labels.begin(), source.labels.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    if (best != source.labels.end()) {
      source.summary.headerFrom = best->first.first;
      source.summary.service = best->first.second;
    }
    status.topSources.push_back(std::move(source.summary));
  }
  std::sort(status.topSources.begin(), status.topSources.end(),
            [](const SourceSummary& a, const SourceSummary& b) {
              return a.messages != b.messages ? a.messages > b.messages : a.ip < b.ip;
            });
  if (status.topSources.size() > topN) {
    status.topSources.resize(topN);
  }
  for (auto& [name, svc] : services) {
    svc.summary.name = name;
    svc.summary.category = "unclassified";
    svc.summary.sources = svc.sources.size();
    status.services.push_back(std::move(svc.summary));
  }
  std::sort(status.services.begin(), status.services.end(),
            [](const ServiceSummary& a, const ServiceSummary& b) {
              return a.messages != b.messages ? a.messages > b.messages : a.name < b.name;
            });
  return status;
}

} // namespace

uint32_t utcDay(int64_t epochSeconds)
{
  if (epochSeconds <= 0) {
    return 0;
  }
  return static_cast<uint32_t>(epochSeconds / 86400);
}

std::string formatDay(uint32_t day)
{
  int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  civilFromDays(day, y, m, d);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  return buf;
}

std::optional<uint32_t> parseSince(std::string_view text, int64_t now)
{
  // "Nd": the last N days including today.
  if (text.size() >= 2 && text.back() == 'd') {
    unsigned count = 0;
    if (!parseNumber(text.substr(0, text.size() - 1), count) || count == 0 || count > s_maxRelativeDays) {
      return std::nullopt;
    }
    uint32_t today = utcDay(now);
    return today >= count - 1 ? today - (count - 1) : 0;
  }
  // "YYYY-MM-DD", a real calendar date from 1970 on.
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
    return std::nullopt;
  }
  unsigned y = 0;
  unsigned m = 0;
  unsigned d = 0;
  if (!parseNumber(text.substr(0, 4), y) || !parseNumber(text.substr(5, 2), m) || !parseNumber(text.substr(8, 2), d)) {
    return std::nullopt;
  }
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31) {
    return std::nullopt;
  }
  int64_t days = daysFromCivil(y, m, d);
  int64_t checkY = 0;
  unsigned checkM = 0;
  unsigned checkD = 0;
  civilFromDays(days, checkY, checkM, checkD);
  if (checkY != y || checkM != m || checkD != d) {
    return std::nullopt; // 2023-02-30 and the like
  }
  return static_cast<uint32_t>(days);
}

std::vector<DomainStatus> computeStatus(const Store& store, std::string_view domain, uint32_t fromDay,
                                        uint32_t toDay, size_t topN)
{
  std::vector<DomainStatus> out;
  std::vector<std::string> domains;
  if (domain.empty()) {
    domains = store.listDomains();
  }
  else {
    domains.push_back(lowerAscii(domain));
  }
  for (const auto& name : domains) {
    out.push_back(domainStatus(store, name, fromDay, toDay, topN));
  }
  return out;
}

} // namespace dmarcwatch::collector
