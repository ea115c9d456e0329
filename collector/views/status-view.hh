/*
 * status-view.hh - what `dmarcwatch status` shows, computed from the store.
 *
 * Per policy domain over a day range: messages, DMARC pass/fail, messages
 * that would be blocked under enforcement (DMARC fail delivered under p=none
 * or a quarantine that reject would refuse), the top source IPs, and the
 * sending services.  Until the naming daemon exists, a service is named by
 * its authenticated identity: the first passing DKIM d= domain, else the SPF
 * domain, else "unknown"; category "unclassified".
 *
 * Thread-safety: plain functions over a Store (read transactions).
 */
#pragma once

#include "collector/store/store.hh"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dmarcwatch::collector
{

struct SourceSummary
{
  std::optional<IpAddress> ip;
  std::string headerFrom;
  std::string service;
  uint64_t messages = 0;
  uint64_t dmarcPass = 0;
  uint64_t dmarcFail = 0;
};

struct ServiceSummary
{
  std::string name;
  std::string category;
  uint64_t messages = 0;
  uint64_t dmarcPass = 0;
  uint64_t dmarcFail = 0;
  uint64_t sources = 0; //!< distinct source IPs
};

struct DomainStatus
{
  std::string domain;
  uint32_t fromDay = 0;
  uint32_t toDay = 0;
  uint64_t messages = 0;
  uint64_t dmarcPass = 0;
  uint64_t dmarcFail = 0;
  uint64_t wouldBlock = 0; //!< DMARC-failing messages that p=reject would refuse
  std::vector<SourceSummary> topSources;
  std::vector<ServiceSummary> services;
};

//! Days since the epoch of a UTC time.
uint32_t utcDay(int64_t epochSeconds);
//! "YYYY-MM-DD" of a UTC day.
std::string formatDay(uint32_t day);
//! \brief Parse "7d" (relative to today) or "YYYY-MM-DD". \return nullopt on junk.
std::optional<uint32_t> parseSince(std::string_view text, int64_t now);

/*!
 * Status queries over one consistent snapshot of the store (a read transaction),
 * reusing their working memory from one domain to the next: for showing many
 * domains.  Thread-safety: one thread at a time; must not outlive the Store; keep it
 * short-lived (it pins a reader slot).  Errors: StoreError.
 */
class StatusView
{
public:
  explicit StatusView(const Store& store);
  ~StatusView();
  StatusView(const StatusView&) = delete;
  StatusView& operator=(const StatusView&) = delete;

  //! Policy domains with at least one report, sorted.
  [[nodiscard]] std::vector<std::string> domains() const;
  //! The first and last day with data of a domain within [fromDay, toDay], nullopt when none.
  [[nodiscard]] std::optional<std::pair<uint32_t, uint32_t>> dataDays(std::string_view domain, uint32_t fromDay,
                                                                      uint32_t toDay) const;
  //! Status of one domain (lower-cased) for days [fromDay, toDay], topN sources.
  DomainStatus compute(std::string_view domain, uint32_t fromDay, uint32_t toDay, size_t topN);

private:
  struct Impl;
  std::unique_ptr<Impl> d_impl;
};

/*!
 * \brief Status of one domain (or all, when domain is empty) for days [fromDay, toDay].
 * \param topN number of source IPs kept per domain (by messages).
 */
std::vector<DomainStatus> computeStatus(const Store& store, std::string_view domain, uint32_t fromDay,
                                        uint32_t toDay, size_t topN);

} // namespace dmarcwatch::collector
