/*
 * store-fixture.hh - making reports for store tests: a fixed "now", store
 * options for a test (small map, no fsync, the fixed clock), report headers,
 * records, and one-day reports stored in one call.
 *
 * Used by test-store.cc and test-status-view.cc.  Header-only; the
 * helpers are inline and touch nothing but their arguments.
 */
#pragma once

#include "collector/common/warnings.hh"
#include "collector/store/store.hh"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmarcwatch::test
{

constexpr int64_t s_day = 86400;
//! 2024-03-10 12:00:00 UTC: "now" for every test.
constexpr int64_t s_now = 1710072000;
constexpr uint32_t s_today = s_now / s_day;

inline collector::Store::Options testOptions()
{
  collector::Store::Options options;
  options.mapSize = 16ULL << 20; // allocated at open: small, and grown on demand
  options.maxMapSize = 4ULL << 30;
  options.sync = false;
  options.clock = [] { return s_now; };
  return options;
}

inline collector::ReportHeader makeHeader(const std::string& org, const std::string& id, const std::string& domain,
                                          int64_t begin, int64_t end)
{
  collector::ReportHeader header;
  header.metadata.orgName = org;
  header.metadata.reportId = id;
  header.metadata.email = "noreply@" + org;
  header.metadata.begin = begin;
  header.metadata.end = end;
  header.policy.domain = domain;
  header.policy.p = "none";
  header.policy.pct = 100;
  return header;
}

//! An IPv4 address (IPv4-mapped, as the parser stores it).
inline collector::IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
  collector::IpAddress ip;
  ip.bytes[10] = 0xff;
  ip.bytes[11] = 0xff;
  ip.bytes[12] = a;
  ip.bytes[13] = b;
  ip.bytes[14] = c;
  ip.bytes[15] = d;
  return ip;
}

//! A record whose DKIM result for dkimDomain passes or fails (and DMARC with it); SPF soft-fails.
inline collector::Record makeRecord(std::optional<collector::IpAddress> ip, uint64_t count, bool pass,
                                    const std::string& dkimDomain = "example.com",
                                    const std::string& headerFrom = "example.com")
{
  collector::Record record;
  record.sourceIp = ip;
  record.count = count;
  record.disposition = "none";
  record.dkim = pass ? "pass" : "fail";
  record.spf = "fail";
  record.headerFrom = headerFrom;
  record.dkimResults.push_back(collector::DkimResult{dkimDomain, "s1", pass ? "pass" : "fail", ""});
  record.spfResults.push_back(collector::SpfResult{"bounce." + dkimDomain, "mfrom", "softfail", ""});
  return record;
}

//! Begin of a UTC day (days since the epoch).
inline int64_t dayStart(uint32_t day) { return int64_t{day} * s_day; }

//! Commit a writer with these totals; the store's answer.
inline collector::StoreResult commitWith(collector::ReportWriter& writer, uint64_t records, uint64_t messages,
                                         const std::string& source = "t", collector::PayloadArchive* payload = nullptr,
                                         bool recovered = false, const collector::Warnings* warnings = nullptr)
{
  collector::ReportSummary summary;
  summary.records = records;
  summary.messages = messages;
  summary.warnings = warnings;
  summary.recovered = recovered;
  summary.source = source;
  summary.payload = payload;
  return writer.commit(summary);
}

//! A payload to archive (bytes kept alive by the caller).
inline collector::PayloadArchive payloadOf(const std::string& kind, const std::string& bytes)
{
  collector::PayloadArchive payload;
  payload.kind = kind;
  payload.bytes = bytes;
  payload.size = bytes.size();
  return payload;
}

//! One-day report for domain on day with the given records; the store's answer.
inline collector::StoreResult storeReportResult(collector::Store& store, const std::string& id,
                                                const std::string& domain, uint32_t day,
                                                const std::vector<collector::Record>& records,
                                                const std::string& org = "google.com", bool recovered = false)
{
  auto writer = store.beginReport(makeHeader(org, id, domain, dayStart(day), dayStart(day) + s_day - 1));
  uint64_t messages = 0;
  for (const auto& record : records) {
    writer->addRecord(record);
    messages += record.count;
  }
  return commitWith(*writer, records.size(), messages, "test", nullptr, recovered);
}

//! One-day report for domain on day with the given records; returns the sequence.
inline uint64_t storeReport(collector::Store& store, const std::string& id, const std::string& domain, uint32_t day,
                            const std::vector<collector::Record>& records, const std::string& org = "google.com")
{
  return storeReportResult(store, id, domain, day, records, org).sequence;
}

/*!
 * A report of domain over days [firstDay, firstDay + days) with this verdict (as the ingester
 * sets ReportSummary::authenticity); returns the sequence.
 */
inline uint64_t storeVerdictReport(collector::Store& store, const std::string& id, const std::string& domain,
                                   uint32_t firstDay, uint32_t days, collector::Authenticity verdict,
                                   const std::vector<collector::Record>& records, const std::string& org = "google.com")
{
  auto writer = store.beginReport(makeHeader(org, id, domain, dayStart(firstDay), dayStart(firstDay + days) - 1));
  collector::ReportSummary summary;
  for (const auto& record : records) {
    writer->addRecord(record);
    summary.messages += record.count;
  }
  summary.records = records.size();
  summary.source = "test";
  summary.authenticity = verdict;
  summary.authReason = std::string(collector::authenticityName(verdict)) + " (test)";
  return writer->commit(summary).sequence;
}

} // namespace dmarcwatch::test
