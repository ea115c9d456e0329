/*
 * store.hh - the LMDB store shared by the milter, the daemon and the CLI.
 *
 * One environment (a directory) per installation.  LMDB gives one writer at
 * a time and lock-free readers across processes, so three programs share it
 * with no server.  Schema 2 (store-format.hh has every byte):
 *
 *   meta      "schema-version" -> 2; counters (next report sequence, dictionary id, payload id)
 *   dict      interned strings (header_from, outcome tuples, domains) <-> u32 ids
 *   dedup     dedup key (+ chain index for long keys) -> the report that holds the key
 *   contents  content hash + sequence -> (empty): reports by what they say
 *   reports   u64 sequence -> metadata, policy, warnings, totals, state, payload id, days
 *   bydomain  u32 domain id, i64 begin, u64 sequence -> (empty): reports of a domain in time order
 *   loading   u64 sequence -> owner: reports whose rows are being written in several transactions
 *   rows      u64 sequence, u32 block -> up to s_rowsPerBlock normalised records of that report
 *             (its contribution: source IP, header_from id, outcome id, count; and what status
 *             needs of the outcome: the authenticated identity's id and DMARC pass)
 *   payloads  u64 payload id -> a raw payload as received (once, however many reports it holds)
 *   facts     u32 domain id, u32 UTC day, 16-byte source IP, u32 header_from id, u32 outcome id
 *             -> message count
 *   days      u32 domain id, u32 UTC day -> day totals (messages, dmarc pass, records)
 *   sources   u32 domain id, 16-byte IP -> first/last seen (day, report); a source is new in
 *             the report that first saw it, so the daemon finds new sources through the rows
 *             of the reports after its cursor
 *   cursors   name -> u64 position of a consumer (the daemon) on a sequence
 *   alerts    alert key -> first/last seen, last emitted, count, severity, value, note
 *   alertlog  u64 BE number -> an alert the daemon raised: time, domain, key, sent or not,
 *             the alert (additive, like the enrichment tables)
 *   senders   UTC day, kind, name -> what one reporter or policy domain stored that day (the
 *             per-day sender limits; additive like the enrichment tables; pruned after a day)
 * and the enrichment tables (enrichment.hh: additive, created by a read-write open; absent
 * means not enriched), written by dmarcwatchd:
 *   ipinfo     16-byte IP -> PTR state and name (forward-confirmed), ASN, AS org, country
 *   spfauth    domain, 16-byte IP -> SPF result of the domain's live record, authorizing include
 *   livepolicy domain -> the live DMARC record (p, sp, np, pct, t, rua) and SPF record (look-ups, error)
 *   dnscache   qtype, name -> rcode, records, expiry (the daemon's resolver cache)
 *
 * Invariant: facts and days are exactly the sum of the counted rows (CountedRows) of
 * the reports in state active or loading (`dmarcwatch db verify` recomputes them).  A
 * report leaves the totals (superseded, quarantined) by subtracting its rows in one
 * transaction.
 *
 * Storing a report: the parse runs without the write lock.  Rows are buffered; a
 * report of up to Options::chunkRows rows is stored in one write transaction at commit().
 * A bigger one is stored in short transactions (state "loading", so other writers - the
 * milter - get the lock in between), in two phases:
 *  1. parsing: each chunk's rows, sorted by source IP (a run), in a transaction of its
 *     own; none of them counted yet.  commit() decides the report's fate - stored, a
 *     duplicate or a conflict (its rows are then deleted) - and writes the last run.
 *  2. applying: the runs are merged by source IP and added to the totals a chunk of
 *     addresses at a time, the loading entry recording how far; the last step makes the
 *     report active.  Each step touches one range of the facts and sources trees, so
 *     every page of them is rewritten about once per report, not once per chunk (which
 *     made a 2M-record report cost 14x a 200k one).
 * A writer destroyed without commit() deletes its rows; a loading report whose process
 * died is rolled back (parsing) or finished (applying) by the next read-write open.
 *
 * Thread-safety: a Store may be shared by threads (MDB_NOTLS); each thread
 * uses its own ReportWriter; LMDB serialises writers.  Errors: StoreError
 * (transient() for map full, readers full, disk full) - never for "not found";
 * ReportRefused (a ParseError) for a report that must not be stored (its counts
 * would make a total overflow).
 */
#pragma once

#include "collector/common/config.hh"
#include "collector/common/errors.hh"
#include "collector/common/warnings.hh"
#include "collector/intake/report.hh"
#include "collector/store/enrichment.hh"

#include <array>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{
namespace lmdb
{
class WriteTxn;
}

//! Where a report stands.  Only active and loading reports count in the totals.
enum class ReportState : uint8_t
{
  Active = 0,
  Superseded = 1,  //!< a complete copy replaced this recovered one (related: the copy)
  Quarantined = 2, //!< taken out of the totals (stateReason says why)
  Conflict = 3,    //!< same dedup key as a stored report (related), other content: not counted
  Loading = 4,     //!< rows being written, then added in several transactions (counted as far as added)
  Legacy = 5,      //!< stored by schema 1: counted in its domain's schema-1 aggregates report
};
//! A report in this state counts in the totals (active, loading).
constexpr bool countedState(ReportState state)
{
  return state == ReportState::Active || state == ReportState::Loading;
}
//! "active", "superseded", ... as `dmarcwatch reports` shows it.
std::string_view stateName(ReportState state);

//! A report refused by the store (its counts would overflow a total): the input's error, nothing stored.
class ReportRefused : public ParseError
{
public:
  using ParseError::ParseError;
};

/*!
 * A per-day sender limit passed with OverLimitAction tempfail: nothing stored.  A StoreError
 * (transient: EAGAIN), so a caller that knows nothing of limits tempfails; the milter catches
 * it to log notice() once.
 */
class SenderLimitExceeded : public StoreError
{
public:
  SenderLimitExceeded(const std::string& reason, std::string notice) :
    StoreError("report", EAGAIN, reason), d_reason(reason), d_notice(std::move(notice))
  {
  }
  //! "over DomainReportsPerDay (10000) for example.com on 2026-12-07"
  [[nodiscard]] const std::string& reason() const { return d_reason; }
  //! The reason when this report is the first over that key that day ("" otherwise): log it.
  [[nodiscard]] const std::string& notice() const { return d_notice; }

private:
  std::string d_reason;
  std::string d_notice;
};

using ContentHash = std::array<uint8_t, 16>;

//! What one stored report was, as `dmarcwatch reports` lists it.
struct StoredReport
{
  uint64_t sequence = 0;
  ReportHeader header;
  uint64_t records = 0;
  uint64_t messages = 0;
  int64_t storedAt = 0;              //!< seconds since the epoch
  std::string source;                //!< where it came from ("mail <message-id>", a path, ...)
  std::vector<std::string> warnings;
  bool recovered = false;
  uint64_t rawBytes = 0;             //!< bytes of its archived payload (0: not archived)
  // Schema 2 (a schema-1 report reads as Legacy with the defaults below).
  ReportState state = ReportState::Active;
  uint64_t related = 0;              //!< superseded by / in conflict with this sequence
  std::string stateReason;           //!< why quarantined; what the conflict is
  ContentHash contentHash{};         //!< hash of the normalised rows (dedup of equal content)
  uint64_t payloadId = 0;            //!< its payload in the archive (0: none)
  std::string payloadMember;         //!< which document of the payload ("zip:a.xml"; "" when the only one)
  uint32_t firstDay = 0;             //!< the UTC days its rows are spread over: [firstDay, firstDay + dayCount)
  uint32_t dayCount = 0;
  uint64_t rows = 0;                 //!< rows kept in the rows table
  int64_t ownerPid = 0;              //!< loading: the process writing it, and that process's start time
  uint64_t ownerStart = 0;
  Authenticity authenticity = Authenticity::Unauthenticated;
  std::string authReason; //!< what the checks found ("dkim=pass d=google.com; dmarc=pass", why forged)

  //! Counted in the totals.
  [[nodiscard]] bool counted() const { return countedState(state); }
};

//! One normalised record as a report contributes it (rows table).
struct ReportRow
{
  std::array<uint8_t, 16> ip{}; //!< all zero: no source IP
  uint32_t headerFromId = 0;
  uint32_t outcomeId = 0;
  //! What status needs of the outcome, so it never decodes one (identity.hh has the rule):
  //! the authenticated identity's dictionary id (0: none, "unknown"), and DMARC pass.
  uint32_t identityId = 0;
  bool dmarcPass = false;
  uint64_t count = 0;
  //! Set for rows on one exact day (the schema-1 aggregates); otherwise spread over the report's days.
  std::optional<uint32_t> day;
};

/*!
 * Which rows of a stored report the totals hold: all of an active one; of a loading one
 * that is applying its rows, those whose source IP is at most `through`; none otherwise.
 * Store::Impl::countedRows decides; everything that sums rows (verify, status) asks it.
 */
struct CountedRows
{
  enum class Kind
  {
    None,
    All,
    Through
  };
  Kind kind = Kind::None;
  std::array<uint8_t, 16> through{};

  [[nodiscard]] bool counts(const ReportRow& row) const
  {
    return kind == Kind::All || (kind == Kind::Through && row.ip <= through);
  }
};

//! A raw payload as received, archived once for all the reports in it.
struct PayloadArchive
{
  std::string kind;        //!< "gzip", "zip", "zlib", "xml+zlib"; "" when it cannot be archived
  std::string_view bytes;  //!< what to archive (kept alive by the caller until the last commit)
  uint64_t size = 0;       //!< size of the payload as received (for the "not archived" note)
  uint64_t id = 0;         //!< set by the first commit that archives it
};

//! What commit() did with a report.
enum class StoreStatus
{
  Stored,    //!< counted now (perhaps superseding an earlier partial copy: StoreResult::related)
  Duplicate, //!< the same report is stored already (StoreResult::related): nothing written
  Conflict,  //!< same dedup key, other content: kept, not counted (StoreResult::related is the stored one)
};

struct StoreResult
{
  StoreStatus status = StoreStatus::Stored;
  uint64_t sequence = 0; //!< this report's (the existing one for a duplicate)
  uint64_t related = 0;  //!< the earlier copy superseded by a stored report, or the report a conflict is with
  StoredReport existing; //!< for a duplicate: the stored report (its verdict upgraded, see ReportSummary)
  bool quarantined = false; //!< stored out of the totals (ReportSummary::quarantine, a per-day limit)
  std::string stateReason;  //!< why quarantined
  std::string limitNotice;  //!< a per-day limit this report is the first to pass that day ("": none)
};

//! The auth outcome part of a fact key (interned as one string).
struct Outcome
{
  std::string disposition;
  std::string dkim; //!< policy_evaluated
  std::string spf;  //!< policy_evaluated
  std::vector<DkimResult> dkimResults;
  std::vector<SpfResult> spfResults;
  std::string envelopeFrom;
  std::vector<std::string> reasons; //!< override types

  [[nodiscard]] bool dmarcPass() const { return dkim == "pass" || spf == "pass"; }
};

struct Fact
{
  uint32_t day = 0; //!< UTC days since the epoch
  std::optional<IpAddress> sourceIp;
  std::string headerFrom;
  Outcome outcome;
  uint64_t messages = 0;
};

struct DayTotals
{
  uint32_t day = 0;
  uint64_t messages = 0;
  uint64_t dmarcPass = 0;
  uint64_t records = 0;
};

class Store;

//! The UTC days a report's facts are spread over: [first, first + count).
struct DaySpan
{
  uint32_t first = 0;
  uint32_t count = 1;
};

/*!
 * \brief The days of a report's [begin, end) range (an end of 23:59:59 or of the next
 * midnight is the same day).  A missing (<= 0) or reversed range uses the begin day, else
 * the end day, else today, with a warning.  A range ending after tomorrow is clamped to
 * tomorrow; a range longer than maxDays keeps its last maxDays days (the recent end is the
 * trustworthy one: bogus begins like 0 are common), both with a warning.
 */
DaySpan reportDaySpan(int64_t begin, int64_t end, int64_t now, uint32_t maxDays, Warnings& warnings);

//! What commit() needs besides the rows.
struct ReportSummary
{
  uint64_t records = 0;
  uint64_t messages = 0;
  const Warnings* warnings = nullptr;
  bool recovered = false;
  std::string source;
  PayloadArchive* payload = nullptr; //!< nullptr: streamed, not archived
  std::string payloadMember;
  Authenticity authenticity = Authenticity::Unauthenticated;
  std::string authReason;
  /*!
   * Not empty: store the report quarantined with this reason (its verdict's action, issue 14:
   * "forged: ..." or "unauthenticated: ...", the verdict's name first; a later authenticated
   * copy with the same content puts such a report back in the totals).
   */
  std::string quarantine;
  uint64_t bytes = 0;                   //!< the report's XML bytes (the per-day byte limits)
  const SenderLimits* limits = nullptr; //!< per-day sender limits (nullptr: none)
};

/*!
 * What the verdicts and limits do at commit (issue 14):
 * - An authenticated report with the dedup key of a stored report that is not authenticated
 *   (counted or quarantined) and other content supersedes it ("an authenticated copy replaced
 *   this unauthenticated one"); with the same content it is a duplicate, and the stored one's
 *   verdict becomes authenticated (quarantined for its verdict: back in the totals).  Any other
 *   copy with the key of an authenticated report and other content is a conflict.
 * - Per-day sender limits (ReportSummary::limits): per reporter (the dedup key's normalised
 *   org_name) and per policy domain, per UTC day of storedAt: reports, records, XML bytes.
 *   Every report stored (counted, quarantined or a conflict) counts; duplicates do not.  Over
 *   a limit: OverLimitAction quarantine stores it quarantined (and counts it), tempfail stores
 *   nothing and throws SenderLimitExceeded.
 */

//! One report being stored (see the file comment).  Parsing runs between the calls without the lock.
class ReportWriter
{
public:
  virtual ~ReportWriter() = default;
  /*!
   * \brief True when a complete report with the same dedup key was stored before this one began:
   * commit() tells a duplicate from a conflict.  When that report is authenticated (or of schema
   * 1) the rows are only hashed (no writes); else they are kept, since an authenticated copy
   * supersedes it.
   */
  [[nodiscard]] virtual bool probablyDuplicate() const = 0;
  /*!
   * \brief Add one record (may write a chunk of rows in a short write transaction).
   * \throw StoreError; ReportRefused when a count would overflow a total
   */
  virtual void addRecord(const Record& record) = 0;
  //! \brief Decide and finish (see StoreStatus). \throw StoreError, ReportRefused
  virtual StoreResult commit(const ReportSummary& summary) = 0;
};

class Store
{
public:
  /*!
   * Who else may have the store open read-write.  Every read-write open holds a shared lock
   * on DIR/dmarcwatch.lock; Exclusive (reindex) needs it alone and fails at once otherwise.
   */
  enum class Sharing
  {
    Shared,
    Exclusive,
  };

  struct Options
  {
    bool readOnly = false;
    uint64_t mapSize = 64ULL << 20;   //!< LMDB map size to start with (the file grows as used)
    uint64_t maxMapSize = 8ULL << 30; //!< the most the map may grow to on MAP_FULL (MaxDatabaseSize)
    uint64_t maxRawArchiveBytes = 16ULL << 20;
    uint32_t maxReportDays = 31;
    //! Seconds since the epoch "now" (storedAt, clamping future report ranges); empty: time().
    std::function<int64_t()> clock;
    //! false: no fsync at commit (MDB_NOSYNC) - tests and benchmarks only.
    bool sync = true;
    //! Rows a report may buffer before they go to the store in a transaction of their own:
    //! a commit rewrites the leaf pages its random source IPs touch, so fewer, bigger chunks cost
    //! less CPU at 2M records (131072: 0.75x the CPU of 32768); each still holds the write lock
    //! well under a second (max 611 ms in make bench's milter-latency run).
    size_t chunkRows = 131072;
    //! Read-write opens: share the store with other processes, or need it alone (reindex).
    Sharing sharing = Sharing::Shared;
    //! Tests: called after each transaction that adds a big report's rows to the totals but
    //! the last (the report's sequence), so a test can look at, or die in, the middle.
    std::function<void(uint64_t)> afterApplyStep;
  };

  /*!
   * \brief Open (read-write: create) the store in dir, upgrading an older schema in place.
   * \throw StoreError (missing directory when read-only, permissions, a newer schema than this version knows)
   */
  Store(const std::string& dir, const Options& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  //! \brief Start storing a report (a short read transaction; takes no write lock). \throw StoreError
  std::unique_ptr<ReportWriter> beginReport(const ReportHeader& header);

  /*!
   * \brief Take a counted report out of the totals (superseded or quarantined), or put a
   * quarantined one back (Active), in one transaction.  \throw StoreError (unknown report, a
   * schema-1 report, a state change that makes no sense)
   */
  void setReportState(uint64_t sequence, ReportState state, const std::string& reason);
  /*!
   * \brief Copy a report of another store into this one as it is (record, rows, payload,
   * indexes; into the totals when counted): what `reindex` does with a report it cannot
   * re-parse.  \param payloadIds the other store's payload ids already copied -> this one's
   * (updated).  \return the new sequence.  \throw StoreError, ReportRefused
   */
  uint64_t copyReport(const Store& from, uint64_t sequence, std::map<uint64_t, uint64_t>& payloadIds);
  //! A stored report by sequence.
  [[nodiscard]] std::optional<StoredReport> report(uint64_t sequence) const;
  //! \brief Visit the rows of a report in order. \throw StoreError
  void forEachRow(uint64_t sequence, const std::function<void(const ReportRow&)>& visit) const;
  //! The string of a dictionary id (header_from, an encoded outcome, a domain). \throw StoreError when missing
  [[nodiscard]] std::string dictString(uint32_t id) const;

  //! \brief The archived payload of a report, nullopt when not archived: kind and bytes.
  std::optional<std::pair<std::string, std::string>> payload(uint64_t payloadId) const;

  // Consumer positions (the daemon's cursor on the report sequence) and alert state.
  [[nodiscard]] std::optional<uint64_t> cursor(std::string_view name) const;
  void setCursor(std::string_view name, uint64_t position);
  struct AlertState
  {
    int64_t firstSeen = 0;
    int64_t lastSeen = 0;
    int64_t lastEmitted = 0;
    uint64_t count = 0;
    // Added later (trailing fields; a value without them decodes with these defaults):
    uint8_t severity = 0; //!< syslog severity it was last sent with (0: never sent)
    uint64_t value = 0;   //!< the measure it was last sent with (messages), for escalation
    std::string note;     //!< what the rule remembers (a band, a record's text)
  };
  [[nodiscard]] std::optional<AlertState> alertState(std::string_view key) const;
  void setAlertState(std::string_view key, const AlertState& state);
  //! \brief Visit the alert states whose key starts with prefix, in key order. \throw StoreError
  void forEachAlertState(std::string_view prefix,
                         const std::function<void(std::string_view, const AlertState&)>& visit) const;

  /*!
   * One alert as the daemon recorded it (the alertlog table): an outbox and a history.  The
   * payload is the alert itself, encoded by collector/alerts; the store keeps what it needs
   * to list alerts and to send again those a crash left unsent.
   */
  struct AlertLogEntry
  {
    uint64_t number = 0;    //!< from 1, in the order recorded
    int64_t time = 0;       //!< when raised
    std::string domain;
    std::string key;        //!< the alert state key it belongs to
    bool emitted = false;   //!< handed to syslog
    int64_t emittedAt = 0;
    std::string payload;
  };
  //! What one pass of the daemon decided, written in one transaction (all or nothing).
  struct AlertCommit
  {
    std::vector<AlertLogEntry> alerts; //!< numbers are given here; emitted as the caller says (a
                                       //!< burst's alerts are covered by its summary line)
    std::vector<std::pair<std::string, AlertState>> states;
    std::vector<std::pair<std::string, uint64_t>> cursors;
    //! Write only while this cursor (name, position; absent = 0) is where the pass began.
    std::optional<std::pair<std::string, uint64_t>> expectCursor;
    //! Drop sent alerts raised before this time from the log's start (at most s_alertPruneBatch).
    int64_t pruneBefore = INT64_MIN;
  };
  /*!
   * \brief Write a pass's alerts, states and cursors in one write transaction.
   * \return the numbers given, or nullopt (nothing written) when expectCursor moved meanwhile
   */
  std::optional<std::vector<uint64_t>> commitAlerts(const AlertCommit& commit);
  static constexpr size_t s_alertPruneBatch = 1000;
  //! \brief Mark recorded alerts as sent (one transaction). \throw StoreError
  void markAlertsEmitted(const std::vector<uint64_t>& numbers, int64_t when);
  //! Recorded alerts not yet sent, oldest first.
  [[nodiscard]] std::vector<AlertLogEntry> pendingAlerts() const;
  //! \brief Visit recorded alerts raised at or after since, oldest first. \throw StoreError
  void forEachAlert(int64_t since, const std::function<void(const AlertLogEntry&)>& visit) const;

  //! A source IP of a policy domain as first and last seen.
  struct Source
  {
    std::string domain;
    std::optional<IpAddress> ip;
    uint32_t firstDay = 0;
    uint32_t lastDay = 0;
    uint64_t firstReport = 0;
    uint64_t lastReport = 0;
  };
  [[nodiscard]] std::optional<Source> source(std::string_view domain, const IpAddress& ip) const;
  //! \brief Visit every source (domain, IP) in key order, in one read transaction. \throw StoreError
  void forEachSource(const std::function<void(const Source&)>& visit) const;

  // What dmarcwatchd learned from DNS (enrichment.hh).  Writes throw StoreError on a read-only
  // open; reads answer nullopt when the table or the entry is missing (not enriched).
  void putIpEnrichment(const IpAddress& ip, const IpEnrichment& value);
  [[nodiscard]] std::optional<IpEnrichment> ipEnrichment(const IpAddress& ip) const;
  void putSpfAuthorization(std::string_view domain, const IpAddress& ip, const SpfAuthorization& value);
  [[nodiscard]] std::optional<SpfAuthorization> spfAuthorization(std::string_view domain, const IpAddress& ip) const;
  void putLivePolicy(std::string_view domain, const LivePolicy& value);
  [[nodiscard]] std::optional<LivePolicy> livePolicy(std::string_view domain) const;
  //! Many enrichments written in one transaction (the daemon's batches).
  struct EnrichmentBatch
  {
    std::vector<std::pair<IpAddress, IpEnrichment>> ips;
    struct Spf
    {
      std::string domain;
      IpAddress ip;
      SpfAuthorization value;
    };
    std::vector<Spf> spf;
    std::vector<std::pair<std::string, LivePolicy>> policies;
    std::vector<DnsCacheRecord> dns;
    [[nodiscard]] size_t size() const { return ips.size() + spf.size() + policies.size() + dns.size(); }
  };
  //! \brief Write a batch in one write transaction (blocks for the write lock). \throw StoreError
  void putEnrichment(const EnrichmentBatch& batch);
  //! The DNS cache entries that expire after `now`.
  [[nodiscard]] std::vector<DnsCacheRecord> dnsCache(int64_t now) const;
  //! \brief Drop the DNS cache entries that expired at or before `now`. \return how many
  size_t pruneDnsCache(int64_t now);
  //! \brief Visit the enrichment tables in key order (`dmarcwatch db enrichment`). \throw StoreError
  void forEachIpEnrichment(const std::function<void(const IpAddress&, const IpEnrichment&)>& visit) const;
  void forEachSpfAuthorization(
    const std::function<void(const std::string&, const IpAddress&, const SpfAuthorization&)>& visit) const;
  void forEachLivePolicy(const std::function<void(const std::string&, const LivePolicy&)>& visit) const;

  /*!
   * \brief Recompute the totals from the rows of the counted reports and decode every key and
   * value.  \return one line per difference or undecodable entry (empty: consistent). \throw StoreError
   */
  [[nodiscard]] std::vector<std::string> verify() const;

  /*!
   * Reports in sequence order, optionally of one policy domain; of a domain, only the `newest`
   * by the start of their period (a walk back over that many index keys: status's policy per domain).
   */
  std::vector<StoredReport> listReports(std::string_view domain = {}, size_t newest = SIZE_MAX) const;
  //! Up to limit reports with a sequence above `after`, in sequence order (a follower's next batch).
  std::vector<StoredReport> reportsAfter(uint64_t after, size_t limit) const;
  //! The schema this open upgraded the store from (0: none; a new store or already current).
  [[nodiscard]] uint32_t upgradedFrom() const;
  //! Policy domains with at least one report, sorted.
  std::vector<std::string> listDomains() const;
  //! \brief Visit the facts of a domain for days [fromDay, toDay], in key order (one read transaction).
  void forEachFact(std::string_view domain, uint32_t fromDay, uint32_t toDay,
                   const std::function<void(const Fact&)>& visit) const;
  //! Day totals of a domain for days [fromDay, toDay].
  std::vector<DayTotals> dayTotals(std::string_view domain, uint32_t fromDay, uint32_t toDay) const;
  //! \brief The archived payload of the report with this sequence, nullopt when not archived.
  std::optional<std::pair<std::string, std::string>> rawPayload(uint64_t sequence) const;

  [[nodiscard]] uint32_t schemaVersion() const;
  static constexpr uint32_t s_currentSchema = 2;
  //! The directory.
  [[nodiscard]] const std::string& dir() const;
  //! Seconds since the epoch by the store's clock (Options::clock; tests fix it).
  [[nodiscard]] int64_t now() const;

  struct Impl;

private:
  friend class StoreSnapshot;
  void setReportStateIn(lmdb::WriteTxn& txn, uint64_t sequence, ReportState state, const std::string& reason);
  std::unique_ptr<Impl> d_impl;
};

//! A fact as the store keys it: dictionary ids, not strings (StoreSnapshot::forEachRawFact).
struct RawFact
{
  uint32_t day = 0;              //!< UTC days since the epoch
  std::array<uint8_t, 16> ip{};  //!< IpAddress bytes; all zero: no source IP
  uint32_t headerFromId = 0;     //!< StoreSnapshot::dictString gives the header_from
  uint32_t outcomeId = 0;        //!< StoreSnapshot::outcome gives the Outcome
  uint64_t messages = 0;
};

/*!
 * An outcome as stored, without copies: views into the store's map, valid while the
 * StoreSnapshot that filled it lives (StoreSnapshot::outcomeView).  Same fields as Outcome.
 */
struct OutcomeView
{
  struct Dkim
  {
    std::string_view domain;
    std::string_view selector;
    std::string_view result;
    std::string_view humanResult;
  };
  struct Spf
  {
    std::string_view domain;
    std::string_view scope;
    std::string_view result;
    std::string_view humanResult;
  };
  std::string_view disposition;
  std::string_view dkim; //!< policy_evaluated
  std::string_view spf;  //!< policy_evaluated
  std::vector<Dkim> dkimResults;
  std::vector<Spf> spfResults;
  std::string_view envelopeFrom;
  std::vector<std::string_view> reasons; //!< override types

  [[nodiscard]] bool dmarcPass() const { return dkim == "pass" || spf == "pass"; }
};

/*!
 * One read transaction over a Store for queries that visit many facts (status):
 * facts come with their dictionary ids, and ids are turned into strings and
 * outcomes on demand (strings cached).  Everything a snapshot returns is of the
 * same consistent state of the store.
 *
 * Thread-safety: one thread at a time; must not outlive its Store.  It holds an
 * LMDB reader slot (writers cannot reuse pages freed after it began): keep it short.
 * Errors: StoreError.
 */
class StoreSnapshot
{
public:
  explicit StoreSnapshot(const Store& store);
  ~StoreSnapshot();
  StoreSnapshot(const StoreSnapshot&) = delete;
  StoreSnapshot& operator=(const StoreSnapshot&) = delete;

  //! The dictionary id of a policy domain (lower-cased here), nullopt when unknown.
  [[nodiscard]] std::optional<uint32_t> domainId(std::string_view domain) const;
  //! Policy domains with at least one report, sorted (as Store::listDomains).
  [[nodiscard]] std::vector<std::string> listDomains() const;
  //! The store version this snapshot sees (LMDB's transaction id): equal ids, equal data.
  [[nodiscard]] uint64_t version() const;
  //! Day totals of a domain for days [fromDay, toDay] (as Store::dayTotals).
  [[nodiscard]] std::vector<DayTotals> dayTotals(uint32_t domainId, uint32_t fromDay, uint32_t toDay) const;
  //! The first and last day with day totals in [fromDay, toDay] (two seeks), nullopt when none.
  [[nodiscard]] std::optional<std::pair<uint32_t, uint32_t>> dayRange(uint32_t domainId, uint32_t fromDay,
                                                                       uint32_t toDay) const;
  //! \brief Visit the facts of a domain for days [fromDay, toDay] in key order (day, IP, header_from id, outcome id).
  void forEachRawFact(uint32_t domainId, uint32_t fromDay, uint32_t toDay,
                      const std::function<void(const RawFact&)>& visit) const;
  //! \brief The string of a dictionary id (cached; the reference lives as long as the snapshot). \throw StoreError when missing
  const std::string& dictString(uint32_t id);
  /*!
   * \brief The outcome an outcome id stands for, decoded on each call (not cached: a year of
   * reports holds hundreds of thousands; callers keep what they derive, by id). \throw StoreError
   */
  [[nodiscard]] Outcome outcome(uint32_t id) const;
  /*!
   * \brief The outcome of an id as views into the map (no allocation once out's vectors have
   * grown): the cheap way to look at many outcomes.  Lookups in ascending id order are the
   * fastest (one cursor walks the dictionary).  \throw StoreError
   */
  void outcomeView(uint32_t id, OutcomeView& out);

  //! The enrichment of a source IP (as Store::ipEnrichment), in this snapshot.
  [[nodiscard]] std::optional<IpEnrichment> ipEnrichment(const std::array<uint8_t, 16>& ip) const;
  //! The SPF authorization of an IP for a domain (as Store::spfAuthorization), in this snapshot.
  [[nodiscard]] std::optional<SpfAuthorization> spfAuthorization(std::string_view domain,
                                                                 const std::array<uint8_t, 16>& ip) const;
  //! The live DMARC record of a domain (as Store::livePolicy), in this snapshot.
  [[nodiscard]] std::optional<LivePolicy> livePolicy(std::string_view domain) const;

private:
  friend class FactReader;
  friend class RowReader;
  struct Impl;
  std::unique_ptr<Impl> d_impl;
};

/*!
 * The facts of a domain for days [fromDay, toDay] in key order (day, IP, header_from id,
 * outcome id), read in batches in place from the map: no allocation and no call per fact.
 * Several readers over single days walk them side by side (status merges days by source IP).
 *
 * Thread-safety: as its StoreSnapshot, which it must not outlive.  Holds an LMDB cursor
 * (about 400 bytes).  Errors: StoreError (a fact key or value of the wrong size).
 */
class FactReader
{
public:
  FactReader(const StoreSnapshot& snapshot, uint32_t domainId, uint32_t fromDay, uint32_t toDay);
  ~FactReader();
  FactReader(FactReader&& other) noexcept;
  FactReader& operator=(FactReader&&) = delete;
  FactReader(const FactReader&) = delete;
  FactReader& operator=(const FactReader&) = delete;

  //! \brief The next facts, up to out.size() of them. \return how many were read; 0 at the end.
  size_t read(std::span<RawFact> out);
  /*!
   * \brief Hand the pages this reader read facts from back to the page cache: madvise
   * DONTNEED over the span of the map from the lowest to the highest of them since the last
   * call (other pages in it go too).  They fault back in when read again, and pointers into
   * the map stay valid.  A long scan calls it now and then: every page it read would
   * otherwise stay in its RSS.  Does not block.
   */
  void releasePages();

private:
  struct Impl;
  std::unique_ptr<Impl> d_impl;
};

} // namespace dmarcwatch::collector
