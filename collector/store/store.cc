/*
 * store.cc - the LMDB store (store.hh): opening and schema upgrades, the
 * report writer (one write transaction per report), and the read queries.
 *
 * Key and value encodings are in store-format.hh.  Decisions worth knowing:
 * - A missing source IP is the all-zero address "::" in the fact key (a real
 *   "::" source is meaningless and is counted as "no source IP" too).
 * - header_from and the policy domain are lower-cased (ASCII) before interning.
 * - A record's count is split over the report's days (reportDaySpan): each day
 *   gets count / days, the first count % days days one more, so sums are exact.
 * - Facts are buffered (bounded), sorted and merged before they go to LMDB:
 *   sorted puts touch few pages, and repeated rows cost one put.
 * - During a long write transaction the writer checks the process's resident
 *   file pages every 64 puts or dict lookups (closer together near the limit)
 *   and, when they grew past Options::releaseMappedBytes, drops the map's pages
 *   (madvise DONTNEED); the pages of a raw payload are dropped as soon as it is
 *   copied.  The map is MAP_SHARED (MDB_WRITEMAP): dirty pages stay in the page
 *   cache, so this is safe and keeps RSS flat however big the report is.
 *
 * Thread-safety: Store is shared by threads; a ReportWriter belongs to the
 * thread that created it (its LMDB write transaction is bound to the thread)
 * and must not outlive its Store.
 * Errors: StoreError; "not found" is a value.
 */
#include "config.h"

#include "collector/store/store.hh"

#include "collector/common/config-keys.hh"

#include "collector/common/text.hh"

#include "collector/common/errors.hh"
#include "collector/store/lmdb.hh"
#include "collector/store/store-format.hh"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <unordered_map>

namespace dmarcwatch::collector
{

namespace fmt = storeformat;

namespace
{

constexpr const char* s_schemaKey = "schema-version";
constexpr const char* s_nextSequenceKey = "next-sequence";
constexpr const char* s_nextDictIdKey = "next-dict-id";

//! Facts buffered before a sorted flush (40 bytes each).
constexpr size_t s_pendingFacts = 32768;
//! Most puts between two checks of the resident size: a read fault maps up to 16 neighbouring
//! pages (fault-around), so 64 puts may map 4 MiB at worst.
constexpr uint64_t s_releaseCheckPuts = 64;
//! What one put may map at worst (fault-around of a leaf read, the page LMDB copies it to, a
//! split): near the threshold the checks come closer, so the resident size overshoots it by
//! about this much, not by s_releaseCheckPuts puts' worth.
constexpr uint64_t s_worstPutBytes = 128 * 1024;
//! Without /proc, release the map every this many puts.
constexpr uint64_t s_releaseBlindPuts = 65536;
//! Interned strings a writer caches before it starts over (about 200 bytes of heap each: a
//! few MiB at most; a report's outcomes are few, or a handful of them are most of its records).
constexpr size_t s_dictCacheEntries = 16384;
//! Longest raw payload kind kept.
constexpr size_t s_maxRawKind = 64;

uint32_t dayOf(int64_t epochSeconds)
{
  if (epochSeconds <= 0) {
    return 0;
  }
  return static_cast<uint32_t>(epochSeconds / 86400);
}

std::string encodeU32Value(uint32_t value)
{
  std::string out(1, static_cast<char>(fmt::s_valueVersion));
  fmt::putU32(out, value);
  return out;
}

uint32_t decodeU32Value(std::string_view value, const char* what)
{
  fmt::Reader in(value, what);
  in.version();
  return in.u32();
}

//! Transparent string hash: the intern cache is probed with string_views into reused buffers.
//! Not noexcept on purpose: libstdc++ then keeps each node's hash code, so a probe compares
//! codes before it touches (and compares) the strings of other entries in the bucket.
struct StringHash
{
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

//! Byte order of two fact keys (the order LMDB keeps them in), 8 bytes at a time.
int compareFactKeys(const fmt::FactKeyBytes& a, const fmt::FactKeyBytes& b)
{
  for (size_t i = 0; i < fmt::s_factKeySize; i += 8) {
    uint64_t x = 0;
    uint64_t y = 0;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) {
      return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
    }
  }
  return 0;
}

/*!
 * Look up an interned string.  Short strings key on themselves; long ones on a hash
 * chain ('h' + hash + index) whose entries are confirmed against the 'i' record.
 * \return the id, or nullopt; freeIndex gets the first unused chain index.
 */
template <typename Txn>
std::optional<uint32_t> findDictId(const Txn& txn, MDB_dbi dict, std::string_view text, uint32_t* freeIndex)
{
  if (text.size() <= fmt::s_maxInlineDictKey) {
    auto value = txn.get(dict, fmt::dictStringKey(text));
    if (!value) {
      return std::nullopt;
    }
    return fmt::decodeDictId(*value);
  }
  for (uint32_t index = 0;; ++index) {
    auto value = txn.get(dict, fmt::dictHashKey(text, index));
    if (!value) {
      if (freeIndex != nullptr) {
        *freeIndex = index;
      }
      return std::nullopt;
    }
    uint32_t id = fmt::decodeDictId(*value);
    auto stored = txn.get(dict, fmt::dictIdKey(id));
    if (stored && fmt::decodeDictString(*stored) == text) {
      return id;
    }
  }
}

} // namespace

DaySpan reportDaySpan(int64_t begin, int64_t end, int64_t now, uint32_t maxDays, Warnings& warnings)
{
  const uint32_t today = dayOf(now);
  uint32_t first = 0;
  uint32_t last = 0;
  const std::string range = std::to_string(begin) + ".." + std::to_string(end);
  if (begin > 0 && end > begin) {
    // [begin, end): an end at the next midnight, or at 23:59:59, stays on the same day.
    first = dayOf(begin);
    last = dayOf(end - 1);
  }
  else if (begin > 0) {
    first = last = dayOf(begin);
    warnings.add("report date range " + range + " is empty or reversed: counted on its begin day");
  }
  else if (end > 0) {
    first = last = dayOf(end);
    warnings.add("report date range " + range + " has no begin: counted on its end day");
  }
  else {
    first = last = today;
    warnings.add("report has no date range: counted on the day it was stored");
  }
  if (last > today + 1 && first <= today + 1) {
    last = today + 1;
    warnings.add("report date range " + range + " ends in the future: clamped to tomorrow");
  }
  maxDays = std::max<uint32_t>(maxDays, 1);
  if (last - first + 1 > maxDays) {
    warnings.add("report spans " + std::to_string(last - first + 1) + " days, more than MaxReportDays " +
                 std::to_string(maxDays) + ": counted on its last " + std::to_string(maxDays) + " days");
    first = last - maxDays + 1;
  }
  return DaySpan{first, last - first + 1};
}

struct Store::Impl
{
  std::string dir;
  Options options;
  std::shared_ptr<lmdb::Env> env;
  MDB_dbi meta = 0;
  MDB_dbi dict = 0;
  MDB_dbi dedup = 0;
  MDB_dbi reports = 0;
  MDB_dbi bydomain = 0;
  MDB_dbi raw = 0;
  MDB_dbi facts = 0;
  MDB_dbi days = 0;
  //! Resident file bytes at open (shared libraries): the writer's release threshold is above it.
  uint64_t residentBase = 0;
  std::atomic<uint64_t> writersBegun{0};

  [[nodiscard]] int64_t now() const
  {
    return options.clock ? options.clock() : static_cast<int64_t>(::time(nullptr));
  }

  void openDatabases();
  void checkSchema();

  template <typename Txn>
  std::optional<StoredReport> loadReport(const Txn& txn, uint64_t sequence) const
  {
    auto value = txn.get(reports, fmt::sequenceKey(sequence));
    if (!value) {
      return std::nullopt;
    }
    StoredReport report = fmt::decodeStoredReport(*value);
    report.sequence = sequence;
    return report;
  }

  template <typename Txn>
  std::optional<uint32_t> domainId(const Txn& txn, std::string_view domain) const
  {
    return findDictId(txn, dict, lowerAscii(domain), nullptr);
  }

  template <typename Txn>
  std::string dictString(const Txn& txn, uint32_t id) const
  {
    auto value = txn.get(dict, fmt::dictIdKey(id));
    if (!value) {
      throw StoreError("read", MDB_CORRUPTED, "dictionary id " + std::to_string(id) + " missing");
    }
    return std::string(fmt::decodeDictString(*value));
  }
};

void Store::Impl::openDatabases()
{
  auto open = [this](const char* name) {
    auto handle = env->dbi(name);
    if (!handle) {
      throw StoreError("open", MDB_NOTFOUND, "no store at " + dir + ": run dmarcwatch ingest first");
    }
    return *handle;
  };
  meta = open("meta");
  dict = open("dict");
  dedup = open("dedup");
  reports = open("reports");
  bydomain = open("bydomain");
  raw = open("raw");
  facts = open("facts");
  days = open("days");
}

void Store::Impl::checkSchema()
{
  // Upgrade steps, index v-1 upgrades schema v to v+1 inside the caller's write transaction.
  using UpgradeStep = void (*)(lmdb::WriteTxn&, Store::Impl&);
  static const std::vector<UpgradeStep> s_upgrades{};
  static_assert(Store::s_currentSchema == 1, "add an upgrade step and a t/data/lmdb-v<N> dump");

  auto tooNew = [this](uint32_t version) {
    return StoreError("open", MDB_VERSION_MISMATCH,
                      dir + " has store schema " + std::to_string(version) + ", newer than this dmarcwatch (" +
                        std::to_string(s_currentSchema) + ")");
  };
  std::optional<uint32_t> version;
  {
    lmdb::ReadTxn txn(env);
    if (auto value = txn.get(meta, s_schemaKey)) {
      version = decodeU32Value(*value, s_schemaKey);
    }
  }
  if (version && *version == s_currentSchema) {
    return;
  }
  if (version && *version > s_currentSchema) {
    throw tooNew(*version);
  }
  if (env->readOnly()) {
    if (!version) {
      throw StoreError("open", MDB_NOTFOUND, "no store at " + dir + ": run dmarcwatch ingest first");
    }
    throw StoreError("open", MDB_VERSION_MISMATCH,
                     dir + " has store schema " + std::to_string(*version) +
                       ": open it read-write once (dmarcwatch ingest) to upgrade");
  }

  // Read-write: initialise or upgrade under the write lock (another process may race us).
  lmdb::WriteTxn txn(env);
  version.reset();
  if (auto value = txn.get(meta, s_schemaKey)) {
    version = decodeU32Value(*value, s_schemaKey);
  }
  if (!version) {
    txn.put(meta, s_schemaKey, encodeU32Value(s_currentSchema));
  }
  else if (*version > s_currentSchema) {
    throw tooNew(*version);
  }
  else {
    for (uint32_t v = *version; v < s_currentSchema; ++v) {
      s_upgrades.at(v - 1)(txn, *this);
    }
    txn.put(meta, s_schemaKey, encodeU32Value(s_currentSchema));
  }
  txn.commit();
}

namespace
{

class Writer final : public ReportWriter
{
public:
  Writer(Store::Impl& store, const ReportHeader& header);
  [[nodiscard]] const std::optional<StoredReport>& duplicateOf() const override { return d_duplicate; }
  void addRecord(const Record& record) override;
  void setRaw(std::string_view kind, std::string_view bytes) override;
  uint64_t commit(uint64_t records, uint64_t messages, const Warnings& warnings, bool recovered,
                  const std::string& source) override;

private:
  struct PendingFact
  {
    fmt::FactKeyBytes key;
    uint64_t messages;
  };

  void requireActive(const char* operation) const;
  uint32_t intern(std::string_view text);
  void flushFacts();
  void countPut();

  Store::Impl& d_store;
  std::unique_ptr<lmdb::WriteTxn> d_txn; //!< null for a duplicate and after commit
  std::optional<StoredReport> d_duplicate;
  ReportHeader d_header;
  std::string d_dedupStoreKey;
  bool d_overwriteDedup = false;
  uint64_t d_sequence = 0;
  uint32_t d_domainId = 0;
  uint32_t d_nextDictId = 1;
  uint32_t d_firstDictId = 1;
  DaySpan d_span;
  std::vector<DayTotals> d_days;
  Warnings d_warnings;
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> d_cache;
  std::string d_headerFrom; //!< reused per record: lower-cased header_from
  std::string d_outcome;    //!< reused per record: encoded outcome
  std::vector<PendingFact> d_pending;
  uint64_t d_rawBytes = 0;
  uint64_t d_rawSkipped = 0;
  uint64_t d_puts = 0;
  uint64_t d_putsUntilCheck = s_releaseCheckPuts;
  bool d_released = false; //!< a big transaction: release pages during commit too
  int64_t d_storedAt = 0;
};

Writer::Writer(Store::Impl& store, const ReportHeader& header) :
  d_store(store), d_header(header)
{
  // Step 1: the write transaction (blocks while another writer, in any process, runs).
  if (store.writersBegun.fetch_add(1) % 128 == 127) {
    store.env->readerCheck();
  }
  d_txn = std::make_unique<lmdb::WriteTxn>(store.env);
  d_storedAt = store.now();

  // Step 2: a duplicate writes nothing; drop the write lock at once.
  const std::string key = dedupKey(header);
  d_dedupStoreKey = fmt::dedupStoreKey(key);
  if (auto value = d_txn->get(store.dedup, d_dedupStoreKey)) {
    uint64_t sequence = fmt::decodeCounter(*value, "dedup");
    auto stored = store.loadReport(*d_txn, sequence);
    // Long keys are hashed: confirm with the stored report's own key.
    if (stored && dedupKey(stored->header) == key) {
      d_duplicate = std::move(stored);
      d_txn.reset();
      return;
    }
    d_overwriteDedup = true;
  }

  // Step 3: counters, the domain, the days.
  auto nextSeq = d_txn->get(store.meta, s_nextSequenceKey);
  d_sequence = nextSeq ? fmt::decodeCounter(*nextSeq, s_nextSequenceKey) : 1;
  auto nextId = d_txn->get(store.meta, s_nextDictIdKey);
  d_nextDictId = nextId ? static_cast<uint32_t>(fmt::decodeCounter(*nextId, s_nextDictIdKey)) : 1;
  d_firstDictId = d_nextDictId;
  d_domainId = intern(lowerAscii(header.policy.domain));
  d_span = reportDaySpan(header.metadata.begin, header.metadata.end, d_storedAt, store.options.maxReportDays,
                         d_warnings);
  d_days.resize(d_span.count);
  for (uint32_t i = 0; i < d_span.count; ++i) {
    d_days[i].day = d_span.first + i;
  }
  d_pending.reserve(1024);
}

void Writer::requireActive(const char* operation) const
{
  if (!d_txn) {
    throw StoreError(operation, EINVAL, "report already committed");
  }
}

uint32_t Writer::intern(std::string_view text)
{
  if (auto found = d_cache.find(text); found != d_cache.end()) {
    return found->second;
  }
  uint32_t freeIndex = 0;
  auto id = findDictId(*d_txn, d_store.dict, text, &freeIndex);
  // A lookup in the map maps pages like a put does (and a new string adds two puts).
  countPut();
  if (!id) {
    if (d_nextDictId == UINT32_MAX) {
      throw StoreError("intern", MDB_MAP_FULL, "dictionary ids exhausted");
    }
    id = d_nextDictId++;
    if (text.size() <= fmt::s_maxInlineDictKey) {
      d_txn->put(d_store.dict, fmt::dictStringKey(text), fmt::encodeDictId(*id));
    }
    else {
      d_txn->put(d_store.dict, fmt::dictHashKey(text, freeIndex), fmt::encodeDictId(*id));
    }
    d_txn->put(d_store.dict, fmt::dictIdKey(*id), fmt::encodeDictString(text));
  }
  if (d_cache.size() >= s_dictCacheEntries) {
    d_cache.clear();
  }
  d_cache.emplace(std::string(text), *id);
  return *id;
}

void Writer::addRecord(const Record& record)
{
  if (d_duplicate) {
    return;
  }
  requireActive("add record");
  fmt::FactKey key;
  key.domainId = d_domainId;
  if (record.sourceIp) {
    key.ip = record.sourceIp->bytes;
  }
  d_headerFrom.assign(record.headerFrom);
  for (char& c : d_headerFrom) {
    c = lowerAscii(c);
  }
  key.headerFromId = intern(d_headerFrom);
  fmt::encodeRecordOutcome(record, d_outcome);
  key.outcomeId = intern(d_outcome);
  const bool pass = record.dmarcPass();

  // Split the count evenly; the first count % days days get one more.
  const uint64_t ndays = d_span.count;
  const uint64_t base = record.count / ndays;
  const uint64_t extra = record.count % ndays;
  for (uint32_t i = 0; i < d_span.count; ++i) {
    uint64_t share = base + (i < extra ? 1 : 0);
    if (share == 0 && !(record.count == 0 && i == 0)) {
      continue;
    }
    key.day = d_span.first + i;
    if (share > 0) {
      d_pending.push_back(PendingFact{fmt::encodeFactKey(key), share});
    }
    auto& day = d_days[i];
    day.messages += share;
    day.dmarcPass += pass ? share : 0;
    day.records += 1;
  }
  if (d_pending.size() >= s_pendingFacts) {
    flushFacts();
  }
}

void Writer::countPut()
{
  ++d_puts;
  if (--d_putsUntilCheck > 0) {
    return;
  }
  uint64_t resident = d_store.env->residentFileBytes();
  if (resident == 0) {
    // No /proc: check at every multiple of s_releaseCheckPuts, release every s_releaseBlindPuts.
    d_putsUntilCheck = s_releaseCheckPuts - d_puts % s_releaseCheckPuts;
    if (d_puts % s_releaseBlindPuts == 0) {
      d_store.env->releaseMappedPages();
      d_released = true;
    }
    return;
  }
  const uint64_t limit = d_store.residentBase + d_store.options.releaseMappedBytes;
  if (resident > limit) {
    d_store.env->releaseMappedPages();
    d_released = true;
    d_putsUntilCheck = s_releaseCheckPuts;
    return;
  }
  d_putsUntilCheck = std::clamp<uint64_t>((limit - resident) / s_worstPutBytes, 1, s_releaseCheckPuts);
}

void Writer::flushFacts()
{
  if (d_pending.empty()) {
    return;
  }
  // Sorted and merged: equal rows cost one put, neighbours share pages.
  std::sort(d_pending.begin(), d_pending.end(),
            [](const PendingFact& a, const PendingFact& b) { return compareFactKeys(a.key, b.key) < 0; });
  lmdb::Cursor cursor(d_txn->get(), d_store.facts);
  for (size_t i = 0; i < d_pending.size();) {
    const auto& key = d_pending[i].key;
    uint64_t messages = 0;
    size_t j = i;
    for (; j < d_pending.size() && compareFactKeys(d_pending[j].key, key) == 0; ++j) {
      messages += d_pending[j].messages;
    }
    // One search for a new key: NOOVERWRITE stores it, or leaves the cursor on the
    // existing row and hands back its value, which is then updated in place.
    auto value = fmt::encodeFactValue(messages);
    MDB_val newKey = lmdb::toVal(std::span<const uint8_t>(key));
    MDB_val newValue = lmdb::toVal(std::span<const uint8_t>(value));
    int rc = mdb_cursor_put(cursor.get(), &newKey, &newValue, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
      messages += fmt::decodeFactValue(lmdb::toView(newValue));
      value = fmt::encodeFactValue(messages);
      newKey = lmdb::toVal(std::span<const uint8_t>(key));
      newValue = lmdb::toVal(std::span<const uint8_t>(value));
      rc = mdb_cursor_put(cursor.get(), &newKey, &newValue, MDB_CURRENT);
    }
    lmdb::check(rc, "put fact");
    countPut();
    i = j;
  }
  d_pending.clear();
}

void Writer::setRaw(std::string_view kind, std::string_view bytes)
{
  if (d_duplicate) {
    return;
  }
  requireActive("set raw payload");
  const std::string seqKey = fmt::sequenceKey(d_sequence);
  if (bytes.size() > d_store.options.maxRawArchiveBytes) {
    d_rawSkipped = bytes.size();
    d_rawBytes = 0;
    d_txn->del(d_store.raw, seqKey);
    return;
  }
  // MDB_RESERVE: the payload is copied once, straight into the map.
  const std::string header = fmt::encodeRawHeader(kind.substr(0, s_maxRawKind));
  auto space = d_txn->reserve(d_store.raw, seqKey, header.size() + bytes.size());
  std::memcpy(space.data(), header.data(), header.size());
  if (!bytes.empty()) {
    std::memcpy(space.data() + header.size(), bytes.data(), bytes.size());
  }
  // The copy is done with: its pages stay in the page cache (MAP_SHARED) until written out,
  // and need not count in this process's resident size (a 5 MB report would be 5 MB of it).
  d_store.env->releasePages(space);
  d_rawBytes = bytes.size();
  d_rawSkipped = 0;
}

uint64_t Writer::commit(uint64_t records, uint64_t messages, const Warnings& warnings, bool recovered,
                        const std::string& source)
{
  if (d_duplicate) {
    return d_duplicate->sequence;
  }
  requireActive("commit");
  flushFacts();

  // Day totals: add this report's share to what the day holds already.
  for (const auto& day : d_days) {
    if (day.records == 0) {
      continue;
    }
    const std::string key = fmt::domainDayKey(d_domainId, day.day);
    DayTotals totals = day;
    if (auto value = d_txn->get(d_store.days, key)) {
      auto old = fmt::decodeDayTotals(*value, day.day);
      totals.messages += old.messages;
      totals.dmarcPass += old.dmarcPass;
      totals.records += old.records;
    }
    d_txn->put(d_store.days, key, fmt::encodeDayTotals(totals));
  }

  // The report, its index entries and the counters.
  StoredReport report;
  report.sequence = d_sequence;
  report.header = d_header;
  report.records = records;
  report.messages = messages;
  report.storedAt = d_storedAt;
  report.source = source;
  report.recovered = recovered;
  report.rawBytes = d_rawBytes;
  Warnings all(warnings.items().size() + d_warnings.items().size() + 2);
  all.merge(warnings);
  all.merge(d_warnings);
  if (d_rawSkipped > 0) {
    all.add("raw payload not archived: " + std::to_string(d_rawSkipped) + " bytes over " + std::string(keys::maxRawArchive) + " (" +
            std::to_string(d_store.options.maxRawArchiveBytes) + ")");
  }
  report.warnings = all.items();
  if (warnings.dropped() > 0) {
    report.warnings.push_back(std::to_string(warnings.dropped()) + " more warnings not kept");
  }
  const std::string seqKey = fmt::sequenceKey(d_sequence);
  d_txn->put(d_store.reports, seqKey, fmt::encodeStoredReport(report));
  d_txn->put(d_store.bydomain, fmt::byDomainKey(d_domainId, d_header.metadata.begin, d_sequence),
             std::string(1, static_cast<char>(fmt::s_valueVersion)));
  if (d_overwriteDedup) {
    d_txn->put(d_store.dedup, d_dedupStoreKey, fmt::encodeCounter(d_sequence));
  }
  else if (!d_txn->putNew(d_store.dedup, d_dedupStoreKey, fmt::encodeCounter(d_sequence))) {
    throw StoreError("commit", MDB_KEYEXIST, "dedup key appeared during the transaction");
  }
  d_txn->put(d_store.meta, s_nextSequenceKey, fmt::encodeCounter(d_sequence + 1));
  if (d_nextDictId != d_firstDictId) {
    d_txn->put(d_store.meta, s_nextDictIdKey, fmt::encodeCounter(d_nextDictId));
  }
  d_txn->commit(d_released);
  d_txn.reset();
  return d_sequence;
}

} // namespace

Store::Store(const std::string& dir, const Options& options) :
  d_impl(std::make_unique<Impl>())
{
  d_impl->dir = dir;
  d_impl->options = options;
  lmdb::Env::Options envOptions;
  envOptions.readOnly = options.readOnly;
  envOptions.mapSize = options.mapSize;
  envOptions.sync = options.sync;
  d_impl->env = lmdb::Env::open(dir, envOptions);
  d_impl->openDatabases();
  d_impl->checkSchema();
  d_impl->residentBase = d_impl->env->residentFileBytes();
}

Store::~Store() = default;

std::unique_ptr<ReportWriter> Store::beginReport(const ReportHeader& header)
{
  if (d_impl->env->readOnly()) {
    throw StoreError("begin report", EACCES, d_impl->dir + " is open read-only");
  }
  return std::make_unique<Writer>(*d_impl, header);
}

std::vector<StoredReport> Store::listReports(std::string_view domain) const
{
  lmdb::ReadTxn txn(d_impl->env);
  std::vector<StoredReport> out;
  MDB_val key{};
  MDB_val value{};
  if (domain.empty()) {
    lmdb::Cursor cursor(txn.get(), d_impl->reports);
    for (bool ok = cursor.get(MDB_FIRST, key, value); ok; ok = cursor.get(MDB_NEXT, key, value)) {
      StoredReport report = fmt::decodeStoredReport(lmdb::toView(value));
      report.sequence = fmt::decodeSequenceKey(lmdb::toView(key));
      out.push_back(std::move(report));
    }
    return out;
  }
  auto id = d_impl->domainId(txn, domain);
  if (!id) {
    return out;
  }
  std::vector<uint64_t> sequences;
  {
    const std::string prefix = fmt::domainKey(*id);
    lmdb::Cursor cursor(txn.get(), d_impl->bydomain);
    for (bool ok = cursor.seek(prefix, key, value); ok && lmdb::toView(key).starts_with(prefix);
         ok = cursor.get(MDB_NEXT, key, value)) {
      sequences.push_back(fmt::byDomainSequence(lmdb::toView(key)));
    }
  }
  std::sort(sequences.begin(), sequences.end());
  for (uint64_t sequence : sequences) {
    if (auto report = d_impl->loadReport(txn, sequence)) {
      out.push_back(std::move(*report));
    }
  }
  return out;
}

std::vector<std::string> Store::listDomains() const
{
  lmdb::ReadTxn txn(d_impl->env);
  std::vector<std::string> out;
  lmdb::Cursor cursor(txn.get(), d_impl->bydomain);
  MDB_val key{};
  MDB_val value{};
  // One seek per domain: jump to the first key of the next domain id.
  for (bool ok = cursor.get(MDB_FIRST, key, value); ok;) {
    auto view = lmdb::toSpan(key);
    if (view.size() < 4) {
      throw StoreError("read", MDB_CORRUPTED, "bydomain key");
    }
    uint32_t id = fmt::readU32(view.data());
    out.push_back(d_impl->dictString(txn, id));
    if (id == UINT32_MAX) {
      break;
    }
    ok = cursor.seek(fmt::domainKey(id + 1), key, value);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void Store::forEachFact(std::string_view domain, uint32_t fromDay, uint32_t toDay,
                        const std::function<void(const Fact&)>& visit) const
{
  lmdb::ReadTxn txn(d_impl->env);
  auto id = d_impl->domainId(txn, domain);
  if (!id || fromDay > toDay) {
    return;
  }
  std::unordered_map<uint32_t, std::string> headerFroms;
  std::unordered_map<uint32_t, Outcome> outcomes;
  lmdb::Cursor cursor(txn.get(), d_impl->facts);
  MDB_val key{};
  MDB_val value{};
  Fact fact;
  for (bool ok = cursor.seek(fmt::domainDayKey(*id, fromDay), key, value); ok;
       ok = cursor.get(MDB_NEXT, key, value)) {
    auto factKey = fmt::decodeFactKey(lmdb::toView(key));
    if (factKey.domainId != *id || factKey.day > toDay) {
      break;
    }
    auto hf = headerFroms.find(factKey.headerFromId);
    if (hf == headerFroms.end()) {
      hf = headerFroms.emplace(factKey.headerFromId, d_impl->dictString(txn, factKey.headerFromId)).first;
    }
    auto outcome = outcomes.find(factKey.outcomeId);
    if (outcome == outcomes.end()) {
      outcome = outcomes.emplace(factKey.outcomeId, fmt::decodeOutcome(d_impl->dictString(txn, factKey.outcomeId)))
                  .first;
    }
    fact.day = factKey.day;
    if (factKey.ip == std::array<uint8_t, 16>{}) {
      fact.sourceIp.reset();
    }
    else {
      fact.sourceIp = IpAddress{factKey.ip};
    }
    fact.headerFrom = hf->second;
    fact.outcome = outcome->second;
    fact.messages = fmt::decodeFactValue(lmdb::toView(value));
    visit(fact);
  }
}

std::vector<DayTotals> Store::dayTotals(std::string_view domain, uint32_t fromDay, uint32_t toDay) const
{
  lmdb::ReadTxn txn(d_impl->env);
  std::vector<DayTotals> out;
  auto id = d_impl->domainId(txn, domain);
  if (!id || fromDay > toDay) {
    return out;
  }
  lmdb::Cursor cursor(txn.get(), d_impl->days);
  MDB_val key{};
  MDB_val value{};
  for (bool ok = cursor.seek(fmt::domainDayKey(*id, fromDay), key, value); ok;
       ok = cursor.get(MDB_NEXT, key, value)) {
    auto bytes = lmdb::toSpan(key);
    if (bytes.size() != 8) {
      throw StoreError("read", MDB_CORRUPTED, "days key");
    }
    uint32_t day = fmt::readU32(bytes.data() + 4);
    if (fmt::readU32(bytes.data()) != *id || day > toDay) {
      break;
    }
    out.push_back(fmt::decodeDayTotals(lmdb::toView(value), day));
  }
  return out;
}

std::optional<std::pair<std::string, std::string>> Store::rawPayload(uint64_t sequence) const
{
  lmdb::ReadTxn txn(d_impl->env);
  auto value = txn.get(d_impl->raw, fmt::sequenceKey(sequence));
  if (!value) {
    return std::nullopt;
  }
  return fmt::decodeRaw(*value);
}

uint32_t Store::schemaVersion() const
{
  lmdb::ReadTxn txn(d_impl->env);
  auto value = txn.get(d_impl->meta, s_schemaKey);
  return value ? decodeU32Value(*value, s_schemaKey) : 0;
}


// StoreSnapshot: the read side for queries that visit many facts (store.hh).

namespace
{

//! A big-endian u32 (storeformat::readU32, inlined for the per-fact loop).
inline uint32_t loadU32(const uint8_t* p)
{
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

} // namespace

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

StoreSnapshot::StoreSnapshot(const Store& store) :
  d_impl(std::make_unique<Impl>(*store.d_impl))
{
}

StoreSnapshot::~StoreSnapshot() = default;

std::optional<uint32_t> StoreSnapshot::domainId(std::string_view domain) const
{
  return d_impl->store.domainId(d_impl->txn, domain);
}

std::vector<std::string> StoreSnapshot::listDomains() const
{
  const auto& store = d_impl->store;
  std::vector<std::string> out;
  lmdb::Cursor cursor(d_impl->txn.get(), store.bydomain);
  MDB_val key{};
  MDB_val value{};
  for (bool ok = cursor.get(MDB_FIRST, key, value); ok;) {
    auto view = lmdb::toSpan(key);
    if (view.size() < 4) {
      throw StoreError("read", MDB_CORRUPTED, "bydomain key");
    }
    uint32_t id = fmt::readU32(view.data());
    out.push_back(store.dictString(d_impl->txn, id));
    if (id == UINT32_MAX) {
      break;
    }
    ok = cursor.seek(fmt::domainKey(id + 1), key, value);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<DayTotals> StoreSnapshot::dayTotals(uint32_t domainId, uint32_t fromDay, uint32_t toDay) const
{
  std::vector<DayTotals> out;
  if (fromDay > toDay) {
    return out;
  }
  lmdb::Cursor cursor(d_impl->txn.get(), d_impl->store.days);
  MDB_val key{};
  MDB_val value{};
  for (bool ok = cursor.seek(fmt::domainDayKey(domainId, fromDay), key, value); ok;
       ok = cursor.get(MDB_NEXT, key, value)) {
    auto bytes = lmdb::toSpan(key);
    if (bytes.size() != 8) {
      throw StoreError("read", MDB_CORRUPTED, "days key");
    }
    uint32_t day = fmt::readU32(bytes.data() + 4);
    if (fmt::readU32(bytes.data()) != domainId || day > toDay) {
      break;
    }
    out.push_back(fmt::decodeDayTotals(lmdb::toView(value), day));
  }
  return out;
}

std::optional<std::pair<uint32_t, uint32_t>> StoreSnapshot::dayRange(uint32_t domainId, uint32_t fromDay,
                                                                       uint32_t toDay) const
{
  if (fromDay > toDay) {
    return std::nullopt;
  }
  lmdb::Cursor cursor(d_impl->txn.get(), d_impl->store.days);
  MDB_val key{};
  MDB_val value{};
  auto dayOfKey = [&](uint32_t& day) {
    auto bytes = lmdb::toSpan(key);
    if (bytes.size() != 8) {
      throw StoreError("read", MDB_CORRUPTED, "days key");
    }
    day = loadU32(bytes.data() + 4);
    return loadU32(bytes.data()) == domainId;
  };
  // First: the first key at or after (domain, fromDay).
  uint32_t first = 0;
  if (!cursor.seek(fmt::domainDayKey(domainId, fromDay), key, value) || !dayOfKey(first) || first > toDay) {
    return std::nullopt;
  }
  // Last: the key before the first one after (domain, toDay).
  bool after = false;
  if (toDay != UINT32_MAX) {
    after = cursor.seek(fmt::domainDayKey(domainId, toDay + 1), key, value);
  }
  else if (domainId != UINT32_MAX) {
    after = cursor.seek(fmt::domainKey(domainId + 1), key, value);
  }
  if (!(after ? cursor.get(MDB_PREV, key, value) : cursor.get(MDB_LAST, key, value))) {
    return std::nullopt;
  }
  uint32_t last = 0;
  if (!dayOfKey(last) || last < first) {
    return std::nullopt;
  }
  return std::make_pair(first, last);
}

void StoreSnapshot::forEachRawFact(uint32_t domainId, uint32_t fromDay, uint32_t toDay,
                                   const std::function<void(const RawFact&)>& visit) const
{
  if (fromDay > toDay) {
    return;
  }
  lmdb::Cursor cursor(d_impl->txn.get(), d_impl->store.facts);
  MDB_val key{};
  MDB_val value{};
  RawFact fact;
  for (bool ok = cursor.seek(fmt::domainDayKey(domainId, fromDay), key, value); ok;
       ok = cursor.get(MDB_NEXT, key, value)) {
    // The key layout of store-format.hh, read in place.
    if (key.mv_size != fmt::s_factKeySize) {
      throw StoreError("decode", MDB_CORRUPTED, "fact key of " + std::to_string(key.mv_size) + " bytes");
    }
    const auto* p = static_cast<const uint8_t*>(key.mv_data);
    fact.day = loadU32(p + 4);
    if (loadU32(p) != domainId || fact.day > toDay) {
      break;
    }
    std::memcpy(fact.ip.data(), p + 8, 16);
    fact.headerFromId = loadU32(p + 24);
    fact.outcomeId = loadU32(p + 28);
    // storeformat::decodeFactValue, inlined.
    const auto* v = static_cast<const uint8_t*>(value.mv_data);
    if (value.mv_size < fmt::s_factValueSize || v[0] != fmt::s_valueVersion) {
      throw StoreError("decode", MDB_CORRUPTED, "fact value");
    }
    fact.messages = (uint64_t{loadU32(v + 1)} << 32) | loadU32(v + 5);
    visit(fact);
  }
}

const std::string& StoreSnapshot::dictString(uint32_t id)
{
  auto found = d_impl->strings.find(id);
  if (found == d_impl->strings.end()) {
    found = d_impl->strings.emplace(id, d_impl->store.dictString(d_impl->txn, id)).first;
  }
  return found->second;
}

Outcome StoreSnapshot::outcome(uint32_t id) const
{
  auto value = d_impl->txn.get(d_impl->store.dict, fmt::dictIdKey(id));
  if (!value) {
    throw StoreError("read", MDB_CORRUPTED, "dictionary id " + std::to_string(id) + " missing");
  }
  return fmt::decodeOutcome(fmt::decodeDictString(*value));
}

void StoreSnapshot::outcomeView(uint32_t id, OutcomeView& out)
{
  if (!d_impl->dictCursor) {
    d_impl->dictCursor = std::make_unique<lmdb::Cursor>(d_impl->txn.get(), d_impl->store.dict);
  }
  const std::string key = fmt::dictIdKey(id);
  MDB_val k = lmdb::toVal(std::string_view(key));
  MDB_val v{};
  if (!d_impl->dictCursor->get(MDB_SET, k, v)) {
    throw StoreError("read", MDB_CORRUPTED, "dictionary id " + std::to_string(id) + " missing");
  }
  // storeformat::decodeOutcome, reading views instead of copying strings.
  const std::string_view bytes = fmt::decodeDictString(lmdb::toView(v));
  fmt::Reader in(bytes, "outcome");
  auto count = [&] {
    uint64_t n = in.varint();
    if (n > bytes.size()) {
      in.corrupt("count larger than the value");
    }
    return n;
  };
  in.version();
  out.disposition = in.string();
  out.dkim = in.string();
  out.spf = in.string();
  out.dkimResults.clear();
  for (uint64_t i = 0, n = count(); i < n; ++i) {
    OutcomeView::Dkim& dkim = out.dkimResults.emplace_back();
    dkim.domain = in.string();
    dkim.selector = in.string();
    dkim.result = in.string();
    dkim.humanResult = in.string();
  }
  out.spfResults.clear();
  for (uint64_t i = 0, n = count(); i < n; ++i) {
    OutcomeView::Spf& spf = out.spfResults.emplace_back();
    spf.domain = in.string();
    spf.scope = in.string();
    spf.result = in.string();
    spf.humanResult = in.string();
  }
  out.envelopeFrom = in.string();
  out.reasons.clear();
  for (uint64_t i = 0, n = count(); i < n; ++i) {
    out.reasons.push_back(in.string());
  }
}

struct FactReader::Impl
{
  Impl(const StoreSnapshot::Impl& snapshot, uint32_t domain, uint32_t from, uint32_t to) :
    cursor(snapshot.txn.get(), snapshot.store.facts), domainId(domain), fromDay(from), toDay(to), done(from > to)
  {
  }

  lmdb::Cursor cursor;
  uint32_t domainId;
  uint32_t fromDay;
  uint32_t toDay;
  bool started = false;
  bool done;
  //! The lowest and highest address of the map facts were read from since releasePages().
  uintptr_t lowest = UINTPTR_MAX;
  uintptr_t highest = 0;
};

FactReader::FactReader(const StoreSnapshot& snapshot, uint32_t domainId, uint32_t fromDay, uint32_t toDay) :
  d_impl(std::make_unique<Impl>(*snapshot.d_impl, domainId, fromDay, toDay))
{
}

FactReader::~FactReader() = default;

FactReader::FactReader(FactReader&& other) noexcept = default;

size_t FactReader::read(std::span<RawFact> out)
{
  Impl& impl = *d_impl;
  size_t count = 0;
  MDB_val key{};
  MDB_val value{};
  while (count < out.size() && !impl.done) {
    // The first call seeks to (domain, fromDay); later ones step on (mdb_cursor_get directly:
    // this loop is the floor of every status query).
    int rc = 0;
    if (!impl.started) {
      impl.started = true;
      const std::string start = fmt::domainDayKey(impl.domainId, impl.fromDay);
      key = lmdb::toVal(std::string_view(start));
      rc = mdb_cursor_get(impl.cursor.get(), &key, &value, MDB_SET_RANGE);
    }
    else {
      rc = mdb_cursor_get(impl.cursor.get(), &key, &value, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND) {
      impl.done = true;
      break;
    }
    lmdb::check(rc, "read facts");
    // The key layout of store-format.hh, read in place (as forEachRawFact).
    if (key.mv_size != fmt::s_factKeySize) {
      throw StoreError("decode", MDB_CORRUPTED, "fact key of " + std::to_string(key.mv_size) + " bytes");
    }
    const auto* p = static_cast<const uint8_t*>(key.mv_data);
    RawFact& fact = out[count];
    fact.day = loadU32(p + 4);
    if (loadU32(p) != impl.domainId || fact.day > impl.toDay) {
      impl.done = true;
      break;
    }
    std::memcpy(fact.ip.data(), p + 8, 16);
    fact.headerFromId = loadU32(p + 24);
    fact.outcomeId = loadU32(p + 28);
    const auto* v = static_cast<const uint8_t*>(value.mv_data);
    if (value.mv_size < fmt::s_factValueSize || v[0] != fmt::s_valueVersion) {
      throw StoreError("decode", MDB_CORRUPTED, "fact value");
    }
    fact.messages = (uint64_t{loadU32(v + 1)} << 32) | loadU32(v + 5);
    impl.lowest = std::min(impl.lowest, reinterpret_cast<uintptr_t>(p));
    impl.highest = std::max(impl.highest, reinterpret_cast<uintptr_t>(v));
    ++count;
  }
  return count;
}

void FactReader::releasePages()
{
  // Whole pages only: the span lies in LMDB's one shared map of the data file, so dropping
  // them loses nothing (a private or anonymous mapping would lose data).
  static const auto s_pageSize = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  Impl& impl = *d_impl;
  if (impl.highest < impl.lowest) {
    return;
  }
  const uintptr_t first = impl.lowest & ~(s_pageSize - 1);
  const uintptr_t end = (impl.highest & ~(s_pageSize - 1)) + s_pageSize;
  ::madvise(reinterpret_cast<void*>(first), end - first, MADV_DONTNEED);
  impl.lowest = UINTPTR_MAX;
  impl.highest = 0;
}

} // namespace dmarcwatch::collector
