/*
 * store.hh - the LMDB store shared by the milter, the daemon and the CLI.
 *
 * One environment (a directory) per installation.  LMDB gives one writer at
 * a time and lock-free readers across processes, so three programs share it
 * with no server.  Layout (big-endian keys, a version byte first in every
 * value, see store-format.hh and the schema-version key):
 *
 *   meta      "schema-version" -> u32; counters (next report sequence, next dictionary id)
 *   dict      interned strings (header_from, outcome tuples, domains) <-> u32 ids
 *   dedup     dedup key (report.hh dedupKey) -> report sequence
 *   reports   u64 sequence -> report metadata, policy, warnings, totals (the daemon's cursor)
 *   bydomain  u32 domain id, i64 begin, u64 sequence -> (empty): reports of a domain in time order
 *   raw       u64 sequence -> the raw payload as received, compressed, capped
 *   facts     u32 domain id, u32 UTC day, 16-byte source IP, u32 header_from id, u32 outcome id -> message count
 *   days      u32 domain id, u32 UTC day -> day totals (messages, dmarc pass, records)
 *
 * Storing a report is one write transaction: the header opens it (and finds a
 * duplicate), each record adds facts, commit() makes all of it visible at
 * once.  Destroying a ReportWriter without commit() stores nothing.
 *
 * Memory: the environment uses MDB_WRITEMAP; a long write transaction
 * releases its mapped pages back to the page cache periodically, so a
 * two-million-record report is stored in flat memory.
 *
 * Thread-safety: a Store may be shared by threads (MDB_NOTLS); each thread
 * uses its own ReportWriter; LMDB serialises writers (a second writer blocks
 * until the first commits or aborts).  Errors: StoreError (transient() for
 * map full, readers full, disk full) - never for "not found".
 */
#pragma once

#include "collector/intake/report.hh"
#include "collector/common/warnings.hh"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

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
  uint64_t rawBytes = 0;             //!< bytes archived in raw (0: not archived)
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

//! One report being stored: one write transaction (see the file comment).
class ReportWriter
{
public:
  virtual ~ReportWriter() = default;
  //! The report already stored under the same dedup key, if any (then nothing is written).
  [[nodiscard]] virtual const std::optional<StoredReport>& duplicateOf() const = 0;
  //! \brief Add one record's messages to the facts (split across the report's days). \throw StoreError
  virtual void addRecord(const Record& record) = 0;
  //! \brief Keep the raw payload (already compressed, or deflated here); skipped with a warning over the cap.
  virtual void setRaw(std::string_view kind, std::string_view bytes) = 0;
  //! \brief Make the report visible. \return its sequence number. \throw StoreError
  virtual uint64_t commit(uint64_t records, uint64_t messages, const Warnings& warnings, bool recovered,
                          const std::string& source) = 0;
};

class Store
{
public:
  struct Options
  {
    bool readOnly = false;
    uint64_t mapSize = 8ULL << 30; //!< LMDB map size (address space; the file grows as used)
    uint64_t maxRawArchiveBytes = 16ULL << 20;
    uint32_t maxReportDays = 31;
    //! Seconds since the epoch "now" (storedAt, clamping future report ranges); empty: time().
    std::function<int64_t()> clock;
    //! false: no fsync at commit (MDB_NOSYNC) - tests and benchmarks only.
    bool sync = true;
    /*!
     * A long write transaction hands mapped pages back to the page cache when the
     * process's resident file pages grew by this much since the store was opened.
     * 0: at every check (tests).
     */
    uint64_t releaseMappedBytes = 16ULL << 20;
  };

  /*!
   * \brief Open (read-write: create) the store in dir, upgrading an older schema in place.
   * \throw StoreError (missing directory when read-only, permissions, a newer schema than this version knows)
   */
  Store(const std::string& dir, const Options& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  //! \brief Start storing a report: begins the write transaction (blocks while another writer runs).
  std::unique_ptr<ReportWriter> beginReport(const ReportHeader& header);

  //! Reports in sequence order, optionally of one policy domain.
  std::vector<StoredReport> listReports(std::string_view domain = {}) const;
  //! Policy domains with at least one report, sorted.
  std::vector<std::string> listDomains() const;
  //! \brief Visit the facts of a domain for days [fromDay, toDay], in key order (one read transaction).
  void forEachFact(std::string_view domain, uint32_t fromDay, uint32_t toDay,
                   const std::function<void(const Fact&)>& visit) const;
  //! Day totals of a domain for days [fromDay, toDay].
  std::vector<DayTotals> dayTotals(std::string_view domain, uint32_t fromDay, uint32_t toDay) const;
  //! \brief The raw payload of a report ("" when not archived): kind and bytes as given to setRaw.
  std::optional<std::pair<std::string, std::string>> rawPayload(uint64_t sequence) const;

  [[nodiscard]] uint32_t schemaVersion() const;
  static constexpr uint32_t s_currentSchema = 1;

  struct Impl;

private:
  friend class StoreSnapshot;
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

private:
  friend class FactReader;
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
