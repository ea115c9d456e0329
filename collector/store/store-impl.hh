/*
 * store-impl.hh - what the parts of the store share (store.cc: open, schema,
 * queries; writer.cc: the report writer; aggregates.cc: the totals; upgrade.cc;
 * verify.cc).  Internal to collector/store.
 *
 * Thread-safety: Store::Impl is shared by threads; its members are set at open
 * and then only read (the LMDB handles are thread-safe, transactions are not).
 */
#pragma once

#include "collector/common/text.hh"
#include "collector/store/lmdb.hh"
#include "collector/store/notify.hh"
#include "collector/store/store-format.hh"
#include "collector/store/store.hh"

#include <atomic>
#include <ctime>
#include <mutex>
#include <memory>
#include <set>
#include <unordered_map>

namespace dmarcwatch::collector
{

namespace storekeys
{
inline constexpr const char* schema = "schema-version";
inline constexpr const char* nextSequence = "next-sequence";
inline constexpr const char* nextDictId = "next-dict-id";
inline constexpr const char* nextPayload = "next-payload";
} // namespace storekeys

//! UTC days since the epoch (0 for times before it).
inline uint32_t dayOfTime(int64_t epochSeconds)
{
  return epochSeconds <= 0 ? 0 : static_cast<uint32_t>(epochSeconds / 86400);
}

//! The start time of a process (clock ticks since boot, /proc/PID/stat field 22); 0 when gone.
uint64_t processStartTime(int64_t pid);

struct Store::Impl
{
  std::string dir;
  Options options;
  std::shared_ptr<lmdb::Env> env;
  MDB_dbi meta = 0;
  MDB_dbi dict = 0;
  MDB_dbi dedup = 0;
  MDB_dbi contents = 0;
  MDB_dbi reports = 0;
  MDB_dbi bydomain = 0;
  MDB_dbi loading = 0;
  MDB_dbi rows = 0;
  MDB_dbi payloads = 0;
  MDB_dbi facts = 0;
  MDB_dbi days = 0;
  MDB_dbi sources = 0;
  MDB_dbi cursors = 0;
  MDB_dbi alerts = 0;
  // The enrichment tables (additive): nullopt on a read-only open of a store without them.
  std::optional<MDB_dbi> ipinfo;
  std::optional<MDB_dbi> spfauth;
  std::optional<MDB_dbi> livepolicy;
  std::optional<MDB_dbi> dnscache;
  std::optional<MDB_dbi> alertlog; //!< additive too (alert-log.cc)
  std::optional<MDB_dbi> senders;  //!< additive too: the per-day sender counters (sender-limits.cc)
  uint32_t upgradedFrom = 0;
  std::optional<MDB_dbi> raw; //!< schema 1's raw table, opened for the upgrade only
  //! DIR/dmarcwatch.lock, held shared (or exclusive) by read-write opens; -1 read-only.
  int lockFd = -1;
  //! Wakes dmarcwatchd when a report is made active (read-write opens; notify.hh).
  std::unique_ptr<StoreNotifier> notifier;
  ~Impl();
  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  //! \brief Take the sharing lock (Options::sharing). \throw StoreError (EWOULDBLOCK: in use)
  void lockSharing();
  std::atomic<uint64_t> writersBegun{0};
  //! Loading reports of this process whose writer could not take its rows out (retried later).
  std::mutex abandonedMutex;
  std::set<uint64_t> abandoned;

  [[nodiscard]] int64_t now() const
  {
    return options.clock ? options.clock() : static_cast<int64_t>(::time(nullptr));
  }

  void openDatabases(bool schema1Only);
  //! Open the enrichment tables (a read-write open creates them).
  void openEnrichmentTables();
  //! \brief The table for a write. \throw StoreError on a read-only open
  [[nodiscard]] MDB_dbi writable(const std::optional<MDB_dbi>& table, const char* name) const;
  void checkSchema();
  //! \brief Upgrade schema `from` to from + 1 inside txn (upgrade.cc). \throw StoreError
  void upgradeStep(lmdb::WriteTxn& txn, uint32_t from);

  template <typename Txn>
  std::optional<uint32_t> domainId(const Txn& txn, std::string_view domain) const
  {
    return findDictId(txn, lowerAscii(domain));
  }

  template <typename Txn>
  std::optional<StoredReport> loadReport(const Txn& txn, uint64_t sequence) const
  {
    auto value = txn.get(reports, storeformat::sequenceKey(sequence));
    if (!value) {
      return std::nullopt;
    }
    StoredReport report = storeformat::decodeStoredReport(*value);
    report.sequence = sequence;
    return report;
  }

  template <typename Txn>
  std::string dictString(const Txn& txn, uint32_t id) const
  {
    auto value = txn.get(dict, storeformat::dictIdKey(id));
    if (!value) {
      throw StoreError("read", MDB_CORRUPTED, "dictionary id " + std::to_string(id) + " missing");
    }
    return std::string(storeformat::decodeDictString(*value));
  }

  /*!
   * Look up an interned string.  Short strings key on themselves; long ones on a hash
   * chain ('h' + hash + index) whose entries are confirmed against the 'i' record.
   * \return the id, or nullopt; freeIndex gets the first unused chain index.
   */
  template <typename Txn>
  std::optional<uint32_t> findDictId(const Txn& txn, std::string_view text, uint32_t* freeIndex = nullptr) const
  {
    if (text.size() <= storeformat::s_maxInlineDictKey) {
      auto value = txn.get(dict, storeformat::dictStringKey(text));
      if (!value) {
        return std::nullopt;
      }
      return storeformat::decodeDictId(*value);
    }
    for (uint32_t index = 0;; ++index) {
      auto value = txn.get(dict, storeformat::dictHashKey(text, index));
      if (!value) {
        if (freeIndex != nullptr) {
          *freeIndex = index;
        }
        return std::nullopt;
      }
      uint32_t id = storeformat::decodeDictId(*value);
      auto stored = txn.get(dict, storeformat::dictIdKey(id));
      if (stored && storeformat::decodeDictString(*stored) == text) {
        return id;
      }
    }
  }

  /*!
   * \brief Run fn(txn) in a write transaction (fn commits), again after the map grew when it
   * ran out of room (MDB_MAP_FULL): fn must keep its effects local until its commit succeeds.
   * \throw StoreError (MAP_FULL at MaxDatabaseSize, anything else at once)
   */
  template <typename Fn>
  auto withWriteTxn(Fn&& fn) const
  {
    // Enough doublings to go from any start to any maximum the map can have.
    constexpr int s_maxGrowths = 48;
    for (int grown = 0;; ++grown) {
      try {
        lmdb::WriteTxn txn(env);
        return fn(txn);
      }
      catch (const StoreError& e) {
        if (e.rc() != MDB_MAP_FULL || grown == s_maxGrowths) {
          throw;
        }
      }
      env->grow(); // the failed transaction has ended (it left the try block)
    }
  }

  //! \brief The id of text, interned now when new (counter in meta updated). \throw StoreError
  uint32_t intern(lmdb::WriteTxn& txn, std::string_view text) const;
  //! \brief Check every ~128 writers: roll back loading reports of processes that died. \throw StoreError
  void recoverLoadingNow(bool always);

  /*!
   * \brief The report holding dedup key `key`, walking the chain of long keys.
   * \return its sequence, or nullopt; freeIndex gets the chain index a new entry takes.
   */
  template <typename Txn>
  std::optional<uint64_t> findDedup(const Txn& txn, std::string_view key, uint32_t* freeIndex = nullptr) const
  {
    for (uint32_t index = 0;; ++index) {
      auto value = txn.get(dedup, storeformat::dedupStoreKey(key, index));
      if (!value) {
        if (freeIndex != nullptr) {
          *freeIndex = index;
        }
        return std::nullopt;
      }
      uint64_t sequence = storeformat::decodeCounter(*value, "dedup");
      if (key.size() <= storeformat::s_maxInlineDictKey) {
        return sequence;
      }
      auto stored = loadReport(txn, sequence);
      if (stored && storedDedupKey(*stored) == key) {
        return sequence;
      }
    }
  }

  //! \brief Visit the rows of report `sequence` in order, block by block. \throw StoreError
  template <typename Txn, typename Visit>
  void forEachStoredRow(const Txn& txn, uint64_t sequence, Visit&& visit) const
  {
    std::vector<ReportRow> block;
    const std::string prefix = storeformat::sequenceKey(sequence);
    lmdb::Cursor cursor(txn.get(), rows);
    MDB_val key{};
    MDB_val value{};
    for (bool ok = cursor.seek(prefix, key, value); ok && lmdb::toView(key).starts_with(prefix);
         ok = cursor.get(MDB_NEXT, key, value)) {
      storeformat::decodeRowBlock(lmdb::toView(value), block);
      for (const auto& row : block) {
        visit(row);
      }
    }
  }

  //! The dedup key of a report (report.hh dedupKey, plus the content for an empty report id).
  static std::string dedupKeyOf(const ReportHeader& header, const ContentHash& content);
  //! The dedup key a stored report was filed under (report.hh dedupKey, plus the content for an empty id).
  static std::string storedDedupKey(const StoredReport& report);

  //! \brief Next value of a meta counter (starting at 1), written back incremented. \throw StoreError
  uint64_t takeCounter(lmdb::WriteTxn& txn, const char* name) const;

  /*!
   * \brief Add (sign +1) or take out (-1) the rows of a report from the totals, in txn.
   * \throw ReportRefused when adding would overflow a total; StoreError when taking out finds less
   * than the rows say (a corrupt store)
   */
  void applyReportRows(lmdb::WriteTxn& txn, const StoredReport& report, int sign) const;
  //! \brief Delete the rows of a report. \throw StoreError
  void deleteRows(lmdb::WriteTxn& txn, uint64_t sequence) const;
  /*!
   * \brief Write a decided report's record and its bydomain entry, which carries its state and
   * days (status reads them there): every change of a decided report goes through here.
   */
  void putReport(lmdb::WriteTxn& txn, const StoredReport& report, uint32_t domainId) const;
  //! \brief The dictionary id of a report's policy domain. \throw StoreError when not interned
  uint32_t reportDomainId(const lmdb::WriteTxn& txn, const StoredReport& report) const;

  //! Which rows of a report the totals hold (store.hh CountedRows): the one place that decides.
  template <typename Txn>
  CountedRows countedRows(const Txn& txn, uint64_t sequence, ReportState state) const
  {
    if (state == ReportState::Active) {
      return CountedRows{CountedRows::Kind::All, {}};
    }
    if (state != ReportState::Loading) {
      return CountedRows{};
    }
    auto value = txn.get(loading, storeformat::sequenceKey(sequence));
    if (!value) {
      return CountedRows{};
    }
    const storeformat::LoadingEntry entry = storeformat::decodeLoading(*value);
    if (!entry.applying || !entry.appliedThrough) {
      return CountedRows{};
    }
    return CountedRows{CountedRows::Kind::Through, *entry.appliedThrough};
  }
  template <typename Txn>
  CountedRows countedRows(const Txn& txn, const StoredReport& report) const
  {
    return countedRows(txn, report.sequence, report.state);
  }

  /*!
   * \brief Add the rows of an applying report to the totals, a step (Options::chunkRows rows)
   * per transaction, and make it active (loading.cc).  Returns early when the report stops
   * being an applying loading report (superseded meanwhile).
   * \throw ReportRefused when a total would overflow (the report is then quarantined, its
   * added rows taken out again); StoreError (the report stays applying: finished later)
   */
  void finishLoading(uint64_t sequence) const;
  //! \brief Take what an applying report added out again and quarantine it (why), in txn.
  void quarantineLoading(lmdb::WriteTxn& txn, uint64_t sequence, const std::string& why) const;
  //! What chargeSender found: the first limit the report passes, and whether it is the first today.
  struct SenderCharge
  {
    std::string over;   //!< "over DomainReportsPerDay (10000) for example.com on 2026-12-07" ("": none)
    std::string notice; //!< = over when no report went over a limit of that key before that day
  };
  /*!
   * \brief Count a report against the per-day limits of its reporter and policy domain (day: of
   * storedAt), in txn: added to both keys' counters unless it passes a limit and !addWhenOver
   * (the noticed flag is written either way); old days pruned.  \throw StoreError
   */
  SenderCharge chargeSender(lmdb::WriteTxn& txn, const ReportHeader& header, const SenderLimits& limits,
                            uint64_t records, uint64_t bytes, int64_t storedAt, bool addWhenOver) const;
  //! \brief Roll back this process's abandoned loading reports, and now and then those of dead processes.
  void recoverLoading() { recoverLoadingNow(false); }
  //! \brief Take a loading report out again in txn: rows out of the totals, rows and record deleted.
  void rollBackLoading(lmdb::WriteTxn& txn, uint64_t sequence) const;
};

//! A snapshot's read transaction and caches (FactReader and RowReader read through it).
struct StoreSnapshot::Impl
{
  explicit Impl(const Store::Impl& of) :
    store(of), txn(of.env)
  {
  }

  const Store::Impl& store;
  lmdb::ReadTxn txn;
  std::unordered_map<uint32_t, std::string> strings;
  //! outcomeView's: a positioned cursor finds a key on its current page without a descent.
  std::unique_ptr<lmdb::Cursor> dictCursor;
};

/*!
 * Interns many strings in one write transaction: the next-id counter is read
 * once and written back by finish() (forgetting finish() loses nothing but
 * leaves the counter behind, so the next interner would reuse ids: call it).
 */
class Interner
{
public:
  Interner(const Store::Impl& store, lmdb::WriteTxn& txn);
  //! \brief The id of text, a new one when it is not interned yet. \throw StoreError
  uint32_t id(std::string_view text);
  //! \brief Write the counter back. \throw StoreError
  void finish();

private:
  const Store::Impl& d_store;
  lmdb::WriteTxn& d_txn;
  uint32_t d_next = 1;
  uint32_t d_first = 1;
};

} // namespace dmarcwatch::collector
