/*
 * status-view.hh - what `dmarcwatch status` shows, computed from the store.
 *
 * Per policy domain over a day range: messages, DMARC pass/fail, messages
 * that would be blocked under enforcement (DMARC fail delivered under p=none
 * or a quarantine that reject would refuse), the top source IPs, and the
 * sending services.  A service is summed by its authenticated identity: the
 * first passing DKIM d= domain, else the SPF domain, else "unknown"; category
 * "unclassified" until status-naming.hh names it from the catalog.
 *
 * The window ends today (UTC), taken from the caller's clock, never from the
 * data: a report dated in the future cannot move it (statusWindow).
 *
 * How much of the window's data is authenticated (AuthenticityCounts) comes with the rows the
 * scan reads anyway (each row carries its report's verdict: store/row-reader.hh); only the
 * merge path reads the window's rows once more for it.
 *
 * Memory: what sums the sources is bounded (a table of at most
 * Options::maxTableSources, else a batch per day of the window), plus the top N
 * and the domain's distinct outcomes and services: a million distinct source
 * IPs take no more heap than a hundred.  The pages of a big window's facts are
 * handed back to the page cache as they are read (status-view.cc has figures).
 *
 * Thread-safety: plain functions over a Store (read transactions).
 * Errors: StoreError from the store.
 */
#pragma once

#include "collector/store/row-reader.hh"
#include "collector/store/store.hh"

#include <array>
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
  std::string service;  //!< its authenticated identity until named (status-naming.hh)
  std::string identity; //!< its authenticated identity ("unknown": none), kept when named
  std::string category; //!< set by nameStatus
  std::string cls;      //!< set by nameStatus: authorized, forwarder, ...
  uint64_t messages = 0;
  uint64_t dmarcPass = 0;
  uint64_t dmarcFail = 0;
  // What the daemon learnt of the address (set by nameStatus when given a look-up; "" unknown).
  std::string country;
  uint32_t asn = 0;
  std::string asOrg;
  std::string ptr; //!< forward-confirmed PTR name
  std::string spfInclude; //!< the include of the domain's live SPF record that authorizes it
};

/*!
 * How a service's mail authenticated, in messages, in the reporters' words (auth_results and
 * policy_evaluated).  Sums of its outcomes; a message counts once in each field it meets.
 */
struct AuthCounts
{
  uint64_t spfPass = 0;     //!< an SPF result "pass", for any domain
  uint64_t spfAligned = 0;  //!< policy_evaluated spf=pass (SPF passed and aligned)
  uint64_t dkimPass = 0;    //!< some DKIM signature passed, for any domain
  uint64_t dkimAligned = 0; //!< policy_evaluated dkim=pass
  uint64_t overridden = 0;  //!< DMARC-failing messages a reporter applied an override to (any but sampled_out)
  uint64_t forwarded = 0;   //!< of those: forwarded, trusted_forwarder or mailing_list
  uint64_t quarantined = 0; //!< disposition quarantine (what receivers did)
  uint64_t rejected = 0;    //!< disposition reject

  void add(const AuthCounts& other);
};

//! The largest DMARC-failing outcome of a service: what its words and fix are made of.
struct FailureSample
{
  struct Result
  {
    std::string domain; //!< lower case
    std::string result; //!< pass, fail, none, ... lower case
    std::string selector; //!< DKIM only
  };
  uint64_t messages = 0; //!< of this outcome in the window; 0: the service never fails
  std::vector<Result> dkim;
  std::vector<Result> spf;
  std::vector<std::string> overrides; //!< reason types
};

struct ServiceSummary
{
  std::string name;     //!< its authenticated identity until named (status-naming.hh)
  std::string category;
  std::string id;       //!< catalog id, "" when no catalog service (set by nameStatus)
  std::string cls;      //!< authorized, forwarder, known-not-authorized, suspicious, unknown
  unsigned confidence = 0; //!< kinds of evidence that agree (status: 1 at most, report evidence)
  std::vector<std::string> evidence; //!< the identities it was named from ("d=sendgrid.net")
  uint64_t messages = 0;
  uint64_t dmarcPass = 0;
  uint64_t dmarcFail = 0;
  uint64_t sources = 0; //!< distinct source IPs
  AuthCounts auth;
  FailureSample failing;
  std::string failure; //!< why it fails, in words (readiness.hh describeFailure); "" when it does not
  std::string fix;     //!< the fix in one phrase (readiness.hh fixFor); "" when nothing to fix
};

/*!
 * The window's messages and counted reports by the authenticity of the reports (index:
 * Authenticity, store/row-reader.hh s_authenticities): a report's messages are those it adds
 * to the window, so the three message counts add up to DomainStatus::messages.
 */
struct AuthenticityCounts
{
  std::array<uint64_t, s_authenticities> messages{};
  std::array<uint64_t, s_authenticities> reports{}; //!< counted reports overlapping the window

  [[nodiscard]] uint64_t messagesOf(Authenticity a) const { return messages[static_cast<size_t>(a)]; }
  [[nodiscard]] uint64_t reportsOf(Authenticity a) const { return reports[static_cast<size_t>(a)]; }
  [[nodiscard]] uint64_t allReports() const;
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
  AuthenticityCounts authenticity; //!< how much of the window's data authenticated reports carry
  std::vector<SourceSummary> topSources;
  bool sourcesCounted = true; //!< false: asked for no top sources, so services' `sources` are 0 (not counted)
  //! The sources with most DMARC-failing messages (as many as topSources), most first.
  std::vector<SourceSummary> failingSources;
  //! Messages and DMARC pass per day with data in the window (days without data left out).
  std::vector<DayTotals> trend;
  std::vector<ServiceSummary> services;
  std::optional<uint32_t> newestDay; //!< the domain's newest day with data, in any window; nullopt: none
  //! The first and last day with data within the window; nullopt: none.
  std::optional<std::pair<uint32_t, uint32_t>> dataDays;
};

//! The service name status gives mail with no passing DKIM or SPF identity.
inline constexpr std::string_view s_noIdentityService = "unknown";

//! Days since the epoch of a UTC time.
uint32_t utcDay(int64_t epochSeconds);
//! "YYYY-MM-DD" of a UTC day.
std::string formatDay(uint32_t day);
//! \brief Parse "7d" (relative to today) or "YYYY-MM-DD". \return nullopt on junk.
std::optional<uint32_t> parseSince(std::string_view text, int64_t now);

//! The days a status query covers.
struct StatusWindow
{
  uint32_t fromDay = 0;
  uint32_t toDay = 0;
  bool all = false; //!< every stored day (the caller shows the days the data covers)
};

//! Days in the default status window (today and the six before it).
constexpr uint32_t s_defaultStatusDays = 7;

/*!
 * \brief The window of --since: "" the 7 days ending today (UTC: the default of sources and
 * services; status and report pass "30d"), "Nd"
 * the N days ending today, "YYYY-MM-DD" that day to today, "all" every stored day (days after
 * today included: a report dated in the future is shown there, nowhere else).  Today comes
 * from now, so no report can move a window.
 * \return nullopt on junk and for a date after today.
 */
std::optional<StatusWindow> statusWindow(std::string_view since, int64_t now);

/*!
 * Status queries over one consistent snapshot of the store (a read transaction),
 * reusing their working memory from one domain to the next: for showing many
 * domains.  Thread-safety: one thread at a time; must not outlive the Store; keep it
 * short-lived (it pins a reader slot).  Errors: StoreError.
 */
class StatusView
{
public:
  struct Options
  {
    /*!
     * A domain's merge hands the store's pages back to the page cache (they fault back in
     * when read again) after every this many bytes of its facts (about 100 bytes a fact),
     * so one big window keeps a flat RSS.  The dictionary pages that outcome lookups map
     * count for nothing: a domain's next lookups would fault them all back.  The table path
     * reads at most maxTableSources rows (about 40 bytes each) and hands nothing back.  0: never.
     */
    uint64_t releaseMappedBytes = 32ULL << 20;
    /*!
     * Windows of a domain whose days hold at most this many records (so at most as many
     * sources) are summed in a table by address from the reports' rows (64 bytes a source:
     * 4 MiB at 64Ki); larger ones by merging their days' facts (a few KiB per day, however
     * many sources).
     */
    uint64_t maxTableSources = 64 * 1024;
    /*!
     * Sum each service's AuthCounts and keep its FailureSample: every distinct outcome of the
     * window is decoded once (the table path otherwise decodes none: about 2 ms per 1,000
     * outcomes).  For one domain's detail, not for the overview of many.
     */
    bool countAuth = false;
  };

  explicit StatusView(const Store& store);
  StatusView(const Store& store, const Options& options);
  ~StatusView();
  StatusView(const StatusView&) = delete;
  StatusView& operator=(const StatusView&) = delete;

  //! Policy domains with at least one report, sorted.
  [[nodiscard]] std::vector<std::string> domains() const;
  //! The store version the view sees (StoreSnapshot::version).
  [[nodiscard]] uint64_t version() const;
  /*!
   * \brief Status of one domain (lower-cased) for days [fromDay, toDay], topN sources.
   * Reads every row (or fact) of the window once.  topN 0: the services only, summed from the
   * rows without a table of sources (several times faster; no source counts).  \throw StoreError
   */
  DomainStatus compute(std::string_view domain, uint32_t fromDay, uint32_t toDay, size_t topN);

private:
  struct Impl;
  std::unique_ptr<Impl> d_impl;
};

/*!
 * \brief Status of one domain (or all, when domain is empty) for days [fromDay, toDay].
 * \param topN number of source IPs kept per domain (by messages).
 * \param threads domains are computed on up to this many threads (a StatusView each; all of
 * them see the same version of the store), in the order of the domains either way.
 * \param options of each thread's StatusView.
 * \throw StoreError (the first one any thread met)
 */
std::vector<DomainStatus> computeStatus(const Store& store, std::string_view domain, uint32_t fromDay,
                                        uint32_t toDay, size_t topN, unsigned threads = 1,
                                        const StatusView::Options& options = {});

} // namespace dmarcwatch::collector
