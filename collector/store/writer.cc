/*
 * writer.cc - the report writer (store.hh ReportWriter): rows buffered while
 * the parser runs, written in short transactions, and the dedup decision at
 * commit.
 *
 * Decisions worth knowing:
 * - The parse never holds the write lock.  Rows wait in memory (local string
 *   tables, no LMDB); a report of up to Options::chunkRows rows is written in
 *   one transaction at commit().  A bigger one is written chunk by chunk in
 *   state "loading", each chunk sorted by source IP (a run), and added to the
 *   totals after the decision by loading.cc's merge (store.hh has the two
 *   phases), so the milter's reports get the lock between chunks; its memory
 *   stays bounded by one chunk.
 * - A big report's totals are checked for overflow at the decision, from its
 *   messages per day (a fact is part of its day's total, so no fact can
 *   overflow when no day does): refused then, nothing is stored.
 * - Dedup: a report is the same as a stored one when its dedup key (report.hh
 *   dedupKey; for an empty report id the content too) and its content hash
 *   match.  A complete copy supersedes a recovered (partial) one; a recovered
 *   copy of a complete report is a duplicate; equal key and other content is a
 *   conflict, kept out of the totals and listed.  A report with the same key as
 *   one stored before begin() is only hashed until commit() (no writes).
 * - Trust (issue 14, store.hh): an authenticated copy supersedes an unauthenticated one with
 *   other content, and upgrades its verdict when the content is the same; a report to be
 *   quarantined (its verdict, a per-day limit) keeps its rows out of the totals from the
 *   start: a big one's runs are never applied and it never enters state loading's phase 2.
 * - A missing source IP is the all-zero address "::" (a real "::" source is
 *   meaningless and counts as "no source IP" too); header_from and the policy
 *   domain are lower-cased (ASCII) before interning.
 *
 * Thread-safety: a Writer belongs to the thread that created it (each of its
 * write transactions is bound to that thread) and must not outlive its Store.
 */
#include "config.h"

#include "collector/store/aggregates.hh"
#include "collector/store/identity.hh"
#include "collector/store/store-impl.hh"

#include "collector/common/config-keys.hh"
#include "collector/common/text.hh"

#include <cstring>
#include <unistd.h>
#include <unordered_map>

namespace dmarcwatch::collector
{

namespace fmt = storeformat;

namespace
{

//! How much a copy's mail proved: forged 0, unauthenticated 1, authenticated 2.
int trustRank(Authenticity authenticity)
{
  switch (authenticity) {
  case Authenticity::Forged:
    return 0;
  case Authenticity::Unauthenticated:
    return 1;
  case Authenticity::Authenticated:
    return 2;
  }
  return 0;
}

//! Interned strings a writer remembers across chunks before it starts over.
constexpr size_t s_idCacheEntries = 16384;
//! Longest raw payload kind kept.
constexpr size_t s_maxRawKind = 64;
//! PendingRow::identity of a record without an authenticated identity (dictionary id 0).
constexpr uint32_t s_noIdentity = UINT32_MAX;

//! Transparent string hash: local tables are probed with string_views into reused buffers.
struct StringHash
{
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
using StringIds = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

class Writer final : public ReportWriter
{
public:
  Writer(Store::Impl& store, const ReportHeader& header);
  ~Writer() override;
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  [[nodiscard]] bool probablyDuplicate() const override { return d_probablyDuplicate; }
  void addRecord(const Record& record) override;
  StoreResult commit(const ReportSummary& summary) override;

private:
  //! A row waiting for the store: strings by local index (d_strings).
  struct PendingRow
  {
    std::array<uint8_t, 16> ip;
    uint32_t headerFrom;
    uint32_t outcome;
    uint32_t identity; //!< s_noIdentity: none
    uint64_t count;
    bool pass;
  };

  //! What commit() worked out before taking the lock.
  struct Decision
  {
    const ReportSummary* summary = nullptr;
    ContentHash content{};
    std::string key;         //!< the dedup key (with the content for an empty report id)
    std::string payloadNote; //!< why the payload is not archived ("" when it is)
  };

  uint32_t localString(std::string_view text, uint64_t& hash);
  //! The report's sequence and domain id: its own once a chunk is written, else taken now in txn.
  [[nodiscard]] std::pair<uint64_t, uint32_t> numberAndDomain(lmdb::WriteTxn& txn) const;
  //! The chunk's transaction body: \return the report's sequence and domain id.
  std::pair<uint64_t, uint32_t> writeChunk(lmdb::WriteTxn& txn);
  //! A duplicate that is authenticated: the stored copy's verdict becomes authenticated, in txn.
  void upgradeVerdict(lmdb::WriteTxn& txn, const ReportSummary& summary, const ContentHash& content,
                      StoredReport& existing) const;
  //! commit()'s transaction body; payloadId: the payload archived by it (0: none).
  StoreResult decideAndWrite(lmdb::WriteTxn& txn, const Decision& decision, uint64_t& payloadId);
  /*!
   * Write the pending rows (interned, packed) in txn, from block d_nextBlock on; add them
   * to the totals through batch when given (a big report's runs are added later).
   */
  void writePending(lmdb::WriteTxn& txn, uint64_t sequence, AggregateBatch* batch);
  //! Sort the pending rows into a run and count their messages per day (the overflow check).
  void prepareRun();
  //! \brief Refuse a big report whose messages would overflow a day total. \throw ReportRefused
  void checkDayTotals(lmdb::WriteTxn& txn, uint32_t domainId) const;
  void flushChunk();
  [[nodiscard]] StoredReport baseRecord(uint64_t sequence) const;

  Store::Impl& d_store;
  ReportHeader d_header;
  std::string d_domain; //!< lower-cased policy domain
  std::string d_key;    //!< dedup key (the content is added at commit for an empty report id)
  bool d_probablyDuplicate = false;
  bool d_hashOnly = false; //!< rows only hashed (the stored copy cannot be superseded by this one)
  bool d_committed = false;
  DaySpan d_span;
  Warnings d_warnings;
  int64_t d_storedAt = 0;

  fmt::ContentHasher d_content;
  uint64_t d_records = 0;

  // Rows not yet in the store, their strings by local index (reset at each flush).
  std::vector<PendingRow> d_pending;
  StringIds d_local;
  std::vector<std::string_view> d_strings; //!< views of d_local's keys
  std::vector<uint64_t> d_stringHashes;
  StringIds d_ids; //!< strings interned by earlier chunks -> dictionary id
  std::string d_headerFrom; //!< reused per record
  std::string d_outcome;    //!< reused per record
  std::string d_reporterOutcome; //!< reused: the outcome as the reporter wrote it (content hash)
  std::string d_identity;   //!< reused per record

  // Written by earlier chunks (state loading).
  uint64_t d_sequence = 0;
  uint32_t d_domainId = 0;
  uint32_t d_nextBlock = 0;
  uint64_t d_rowsWritten = 0;
  std::vector<uint32_t> d_runBounds;          //!< first block of each run written
  std::map<uint32_t, uint64_t> d_dayMessages; //!< a big report's messages per day
};

Writer::Writer(Store::Impl& store, const ReportHeader& header) :
  d_store(store), d_header(header), d_domain(lowerAscii(header.policy.domain))
{
  if (store.writersBegun.fetch_add(1) % 128 == 127) {
    store.env->readerCheck();
  }
  d_storedAt = store.now();
  d_span = reportDaySpan(header.metadata.begin, header.metadata.end, d_storedAt, store.options.maxReportDays,
                         d_warnings);
  d_key = dedupKey(header);
  // A complete, authenticated (or schema-1) report stored under this key already: hash only;
  // commit() tells duplicate from conflict.  (A recovered or unauthenticated one may be
  // superseded by this copy: that needs the rows.)
  if (!header.metadata.reportId.empty()) {
    lmdb::ReadTxn txn(store.env);
    if (auto sequence = store.findDedup(txn, d_key)) {
      auto existing = store.loadReport(txn, *sequence);
      d_probablyDuplicate = existing && !existing->recovered;
      d_hashOnly = d_probablyDuplicate &&
                   (existing->authenticity == Authenticity::Authenticated || existing->state == ReportState::Legacy);
    }
  }
  if (!d_hashOnly) {
    d_pending.reserve(std::min<size_t>(store.options.chunkRows, 4096));
  }
}

Writer::~Writer()
{
  if (d_sequence == 0 || d_committed) {
    return;
  }
  // Not committed (a parse error, an exception): take the chunks written so far out again.
  try {
    d_store.withWriteTxn([&](lmdb::WriteTxn& txn) {
      d_store.rollBackLoading(txn, d_sequence);
      txn.commit();
    });
  }
  catch (...) {
    // The store is unwritable now; the next writer of this process tries again.
    std::lock_guard lock(d_store.abandonedMutex);
    d_store.abandoned.insert(d_sequence);
  }
}

uint32_t Writer::localString(std::string_view text, uint64_t& hash)
{
  if (auto found = d_local.find(text); found != d_local.end()) {
    hash = d_stringHashes[found->second];
    return found->second;
  }
  const auto index = static_cast<uint32_t>(d_strings.size());
  auto inserted = d_local.emplace(std::string(text), index).first;
  d_strings.push_back(inserted->first);
  hash = fmt::hash64(text);
  d_stringHashes.push_back(hash);
  return index;
}

void Writer::addRecord(const Record& record)
{
  if (d_committed) {
    throw StoreError("add record", EINVAL, "report already committed");
  }
  PendingRow row{};
  if (record.sourceIp) {
    row.ip = record.sourceIp->bytes;
  }
  d_headerFrom.clear();
  appendLowerAscii(d_headerFrom, record.headerFrom);
  fmt::encodeRecordOutcome(record, d_outcome);
  row.count = record.count;
  row.pass = record.dmarcPass();

  // Step: the content hash, from the strings' own hashes (computed once per chunk).  It is of
  // the reporter's words: where our verdict fills a missing policy_evaluated in (judge), the
  // stored outcome differs, yet a copy stored before records were judged is the same report.
  uint64_t headerFromHash = 0;
  uint64_t outcomeHash = 0;
  row.headerFrom = localString(d_headerFrom, headerFromHash);
  row.outcome = localString(d_outcome, outcomeHash);
  if (record.effectiveDkim() != record.dkim || record.effectiveSpf() != record.spf) {
    fmt::encodeReporterOutcome(record, d_reporterOutcome);
    outcomeHash = fmt::hash64(d_reporterOutcome);
  }
  uint8_t bytes[16 + 8 * 3];
  std::memcpy(bytes, row.ip.data(), 16);
  fmt::writeU64(bytes + 16, headerFromHash);
  fmt::writeU64(bytes + 24, outcomeHash);
  fmt::writeU64(bytes + 32, row.count);
  d_content.add(std::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
  ++d_records;

  if (d_hashOnly) {
    if (d_strings.size() >= s_idCacheEntries) {
      d_local.clear();
      d_strings.clear();
      d_stringHashes.clear();
    }
    return;
  }
  // Step: the authenticated identity (derived from the outcome, so not part of the content
  // hash), interned like header_from.
  authenticatedIdentity(record.dkimResults, record.spfResults, d_identity);
  uint64_t identityHash = 0;
  row.identity = d_identity.empty() ? s_noIdentity : localString(d_identity, identityHash);
  d_pending.push_back(row);
  if (d_pending.size() >= d_store.options.chunkRows) {
    flushChunk();
  }
}

StoredReport Writer::baseRecord(uint64_t sequence) const
{
  StoredReport record;
  record.sequence = sequence;
  record.header = d_header;
  record.storedAt = d_storedAt;
  record.firstDay = d_span.first;
  record.dayCount = d_span.count;
  return record;
}

void Writer::writePending(lmdb::WriteTxn& txn, uint64_t sequence, AggregateBatch* batch)
{
  // Step: dictionary ids of the chunk's strings (one interner: the id counter is written once).
  Interner interner(d_store, txn);
  std::vector<uint32_t> ids(d_strings.size());
  for (size_t i = 0; i < d_strings.size(); ++i) {
    auto cached = d_ids.find(d_strings[i]);
    ids[i] = cached != d_ids.end() ? cached->second : interner.id(d_strings[i]);
  }
  interner.finish();

  // Step: rows, packed in blocks, and their totals.
  std::string block;
  uint32_t nextBlock = d_nextBlock;
  lmdb::Cursor cursor(txn.get(), d_store.rows);
  for (size_t i = 0; i < d_pending.size(); i += fmt::s_rowsPerBlock) {
    const size_t end = std::min(d_pending.size(), i + fmt::s_rowsPerBlock);
    fmt::beginRowBlock(block);
    for (size_t r = i; r < end; ++r) {
      const PendingRow& pending = d_pending[r];
      ReportRow row;
      row.ip = pending.ip;
      row.headerFromId = ids[pending.headerFrom];
      row.outcomeId = ids[pending.outcome];
      row.identityId = pending.identity == s_noIdentity ? 0 : ids[pending.identity];
      row.dmarcPass = pending.pass;
      row.count = pending.count;
      fmt::appendRow(block, row);
      if (batch != nullptr) {
        batch->add(row);
      }
    }
    fmt::finishRowBlock(block, end - i);
    cursor.put(fmt::rowKey(sequence, nextBlock++), block);
  }
}

void Writer::prepareRun()
{
  std::sort(d_pending.begin(), d_pending.end(),
            [](const PendingRow& a, const PendingRow& b) { return fmt::compareKeys(a.ip, b.ip) < 0; });
  for (const PendingRow& pending : d_pending) {
    ReportRow row;
    row.count = pending.count;
    forEachDayShare(row, d_span.first, std::max<uint32_t>(d_span.count, 1), [&](uint32_t day, uint64_t share) {
      uint64_t& messages = d_dayMessages[day];
      if (__builtin_add_overflow(messages, share, &messages)) {
        throw ReportRefused("message counts would overflow 64 bits: the report's total for one day (report "
                            "refused, nothing stored)");
      }
    });
  }
}

void Writer::checkDayTotals(lmdb::WriteTxn& txn, uint32_t domainId) const
{
  for (const auto& [day, messages] : d_dayMessages) {
    auto value = txn.get(d_store.days, fmt::domainDayKey(domainId, day));
    uint64_t sum = 0;
    if (value && __builtin_add_overflow(fmt::decodeDayTotals(*value, day).messages, messages, &sum)) {
      throw ReportRefused("message counts would overflow 64 bits: the day total of " + std::to_string(day) +
                          " (report refused, nothing stored)");
    }
  }
}

std::pair<uint64_t, uint32_t> Writer::numberAndDomain(lmdb::WriteTxn& txn) const
{
  if (d_sequence != 0) {
    return {d_sequence, d_domainId};
  }
  return {d_store.takeCounter(txn, storekeys::nextSequence), d_store.intern(txn, d_domain)};
}

std::pair<uint64_t, uint32_t> Writer::writeChunk(lmdb::WriteTxn& txn)
{
  const auto [sequence, domainId] = numberAndDomain(txn);
  if (d_sequence == 0) {
    StoredReport record = baseRecord(sequence);
    record.state = ReportState::Loading;
    record.ownerPid = ::getpid();
    record.ownerStart = processStartTime(record.ownerPid);
    record.source = "(loading)";
    txn.put(d_store.reports, fmt::sequenceKey(sequence), fmt::encodeStoredReport(record));
    txn.put(d_store.loading, fmt::sequenceKey(sequence),
            fmt::encodeLoading(fmt::LoadingEntry{record.ownerPid, record.ownerStart, false, {}, {}}));
  }
  writePending(txn, sequence, nullptr);
  txn.commit();
  return {sequence, domainId};
}

void Writer::flushChunk()
{
  prepareRun();
  // One short write transaction: the report (loading) on the first chunk, the rows, their totals.
  const auto [sequence, domainId] = d_store.withWriteTxn([this](lmdb::WriteTxn& txn) { return writeChunk(txn); });

  // Committed: only now does the writer own what it wrote.
  d_sequence = sequence;
  d_domainId = domainId;
  d_runBounds.push_back(d_nextBlock);
  d_nextBlock += static_cast<uint32_t>((d_pending.size() + fmt::s_rowsPerBlock - 1) / fmt::s_rowsPerBlock);
  d_rowsWritten += d_pending.size();
  if (d_ids.size() + d_strings.size() > s_idCacheEntries) {
    d_ids.clear();
  }
  else {
    lmdb::ReadTxn read(d_store.env);
    for (auto text : d_strings) {
      if (auto id = d_store.findDictId(read, text)) {
        d_ids.emplace(std::string(text), *id);
      }
    }
  }
  d_pending.clear();
  d_local.clear();
  d_strings.clear();
  d_stringHashes.clear();
}

StoreResult Writer::commit(const ReportSummary& summary)
{
  if (d_committed) {
    throw StoreError("commit", EINVAL, "report already committed");
  }
  // Step: what is known without the lock.
  Decision decision;
  decision.summary = &summary;
  decision.content = d_content.digest();
  decision.key = Store::Impl::dedupKeyOf(d_header, decision.content);
  PayloadArchive* payload = summary.payload;
  if (payload != nullptr && payload->id == 0 && payload->bytes.size() > d_store.options.maxRawArchiveBytes) {
    decision.payloadNote = "raw payload not archived: " + std::to_string(payload->bytes.size()) + " bytes over " +
                           std::string(keys::maxRawArchive) + " (" +
                           std::to_string(d_store.options.maxRawArchiveBytes) + ")";
  }
  else if (payload != nullptr && payload->id == 0 && payload->kind.empty()) {
    decision.payloadNote = "raw payload not archived: not a kind the archive keeps";
  }

  // Step: the decision and its writes, in one transaction (run again if the map had to grow).
  uint64_t payloadId = 0;
  const bool runs = d_sequence != 0;
  if (runs && !d_hashOnly) {
    prepareRun();
  }
  StoreResult result;
  try {
    result = d_store.withWriteTxn([&](lmdb::WriteTxn& txn) { return decideAndWrite(txn, decision, payloadId); });
  }
  catch (const SenderLimitExceeded&) {
    d_committed = true; // its rows were taken out in the transaction that said so
    throw;
  }
  d_committed = true;
  if (payloadId != 0) {
    payload->id = payloadId;
  }

  // Step: a big report, decided and stored: its runs into the totals (it is kept either way).
  if (runs && result.status == StoreStatus::Stored && !result.quarantined) {
    try {
      d_store.finishLoading(result.sequence);
    }
    catch (const StoreError& e) {
      std::lock_guard lock(d_store.abandonedMutex);
      d_store.abandoned.insert(result.sequence);
      throw StoreError("commit", e.rc(),
                       std::string(e.what()) + " (report " + std::to_string(result.sequence) +
                         " is stored; the next write of the store finishes adding its rows to the totals)");
    }
  }
  return result;
}

void Writer::upgradeVerdict(lmdb::WriteTxn& txn, const ReportSummary& summary, const ContentHash& content,
                            StoredReport& existing) const
{
  // Only the same records: a damaged (recovered) copy is a duplicate too, but vouches for nothing
  // it does not hold.
  if (existing.contentHash != content) {
    return;
  }
  if (summary.authenticity != Authenticity::Authenticated || existing.authenticity == Authenticity::Authenticated ||
      existing.state == ReportState::Legacy || existing.state == ReportState::Superseded ||
      existing.state == ReportState::Conflict) {
    return;
  }
  // Quarantined for its verdict (the reason starts with the verdict's name): back in the totals.
  const std::string verdictPrefix = std::string(authenticityName(existing.authenticity)) + ": ";
  if (existing.state == ReportState::Quarantined && existing.stateReason.starts_with(verdictPrefix)) {
    d_store.applyReportRows(txn, existing, +1);
    existing.state = ReportState::Active;
    existing.stateReason.clear();
  }
  existing.authenticity = Authenticity::Authenticated;
  existing.authReason = summary.authReason;
  d_store.putReport(txn, existing, d_store.reportDomainId(txn, existing));
}

StoreResult Writer::decideAndWrite(lmdb::WriteTxn& txn, const Decision& decision, uint64_t& payloadId)
{
  const ReportSummary& summary = *decision.summary;
  const ContentHash& content = decision.content;
  const std::string& key = decision.key;
  PayloadArchive* payload = summary.payload;
  payloadId = 0;
  StoreResult result;

  // Step: the report under this key, if any, and what this copy is to it.
  uint32_t freeIndex = 0;
  std::optional<uint64_t> existingSeq = d_store.findDedup(txn, key, &freeIndex);
  std::optional<StoredReport> existing;
  if (existingSeq) {
    existing = d_store.loadReport(txn, *existingSeq);
    if (!existing) {
      throw StoreError("commit", MDB_CORRUPTED, "dedup entry names missing report " + std::to_string(*existingSeq));
    }
  }
  bool supersede = false;
  std::string supersedeReason;
  if (existing) {
    // Mail that proves more wins a key with other content: authenticated over unauthenticated over
    // forged (a forger who got there first, a copy stored without a mail); never the reverse.
    const int newTrust = trustRank(summary.authenticity);
    const int oldTrust = trustRank(existing->authenticity);
    // Only a copy from the same reporter address domain: the dedup key holds org_name, which is free
    // text a mail proven as any domain could claim.
    const bool betterCopy = newTrust > oldTrust && emailDomain(existing->header.metadata.email) == emailDomain(d_header.metadata.email) &&
                            (existing->counted() || existing->state == ReportState::Quarantined);
    if (existing->state == ReportState::Legacy || existing->contentHash == content ||
        (summary.recovered && !existing->recovered)) {
      // The same report (a schema-1 one cannot be compared: its key decides, as it did then),
      // or a damaged copy of a complete one.
      result.status = StoreStatus::Duplicate;
    }
    else if (existing->recovered && !summary.recovered && newTrust >= oldTrust) {
      supersede = true;
      supersedeReason = "a complete copy replaced this recovered one";
    }
    else if (betterCopy) {
      supersede = true;
      supersedeReason = "an " + std::string(authenticityName(summary.authenticity)) + " copy replaced this " +
                        std::string(authenticityName(existing->authenticity)) + " one";
    }
    else {
      result.status = StoreStatus::Conflict;
      // The same conflicting copy again: a duplicate of that one.
      lmdb::Cursor cursor(txn.get(), d_store.contents);
      const std::string prefix(reinterpret_cast<const char*>(content.data()), content.size());
      MDB_val k{};
      MDB_val v{};
      for (bool ok = cursor.seek(prefix, k, v); ok && lmdb::toView(k).starts_with(prefix);
           ok = cursor.get(MDB_NEXT, k, v)) {
        auto other = d_store.loadReport(txn, fmt::decodeSequenceKey(lmdb::toView(k).substr(16)));
        if (other && Store::Impl::storedDedupKey(*other) == key) {
          result.status = StoreStatus::Duplicate;
          existing = other;
          break;
        }
      }
    }
  }

  if (result.status == StoreStatus::Duplicate) {
    if (d_sequence != 0) {
      d_store.rollBackLoading(txn, d_sequence);
    }
    upgradeVerdict(txn, summary, content, *existing);
    txn.commit();
    result.sequence = existing->sequence;
    result.related = existing->sequence;
    result.existing = std::move(*existing);
    return result;
  }
  if (d_hashOnly && result.status == StoreStatus::Stored) {
    // Hashed only, but the stored copy became a partial one meanwhile: the rows are needed.
    throw StoreError("commit", EAGAIN, "report must be parsed again to supersede its partial copy");
  }

  // Step: the per-day sender limits (duplicates are free; a conflict is stored, so it counts).
  std::string quarantine = summary.quarantine;
  if (summary.limits != nullptr) {
    const bool tempfail = summary.limits->action == OverLimitAction::Tempfail;
    auto charge = d_store.chargeSender(txn, d_header, *summary.limits, summary.records, summary.bytes, d_storedAt,
                                       !tempfail);
    // The keys are what the report claims (its org_name, its policy domain): unproven mail could
    // fill them.  So the limits hold back only what is not authenticated; an authenticated report
    // counts towards them and is never held back by them.
    if (summary.authenticity == Authenticity::Authenticated) {
      charge.over.clear();
    }
    if (!charge.over.empty() && tempfail) {
      if (d_sequence != 0) {
        d_store.rollBackLoading(txn, d_sequence);
      }
      txn.commit(); // the noticed flag, so the next report over it is not noticed again
      throw SenderLimitExceeded(charge.over, charge.notice);
    }
    result.limitNotice = charge.notice;
    if (!charge.over.empty() && quarantine.empty()) {
      quarantine = charge.over;
    }
  }
  const bool quarantined = result.status == StoreStatus::Stored && !quarantine.empty();

  // Step: the report's number and domain (taken by the first chunk already for a big one).
  const auto [sequence, domainId] = numberAndDomain(txn);
  StoredReport record = baseRecord(sequence);
  if (quarantined) {
    // Rows kept, never in the totals (a big one's runs are not applied: no loading entry).
    writePending(txn, sequence, nullptr);
    record.rows = d_rowsWritten + d_pending.size();
    record.state = ReportState::Quarantined;
    record.stateReason = quarantine;
    txn.del(d_store.loading, fmt::sequenceKey(sequence));
    result.quarantined = true;
    result.stateReason = quarantine;
  }
  else if (result.status == StoreStatus::Stored && d_sequence == 0) {
    AggregateBatch batch(d_store, txn, domainId, record, +1);
    writePending(txn, sequence, &batch);
    batch.finish();
    record.rows = d_pending.size();
  }
  else if (result.status == StoreStatus::Stored) {
    // A big report: the last run; then every run is added to the totals (commit, loading.cc).
    checkDayTotals(txn, domainId);
    writePending(txn, sequence, nullptr);
    record.rows = d_rowsWritten + d_pending.size();
    record.state = ReportState::Loading;
    record.ownerPid = ::getpid();
    record.ownerStart = processStartTime(record.ownerPid);
    std::vector<uint32_t> bounds = d_runBounds;
    bounds.push_back(d_nextBlock);
    bounds.push_back(d_nextBlock + static_cast<uint32_t>((d_pending.size() + fmt::s_rowsPerBlock - 1) /
                                                         fmt::s_rowsPerBlock));
    txn.put(d_store.loading, fmt::sequenceKey(sequence),
            fmt::encodeLoading(fmt::LoadingEntry{record.ownerPid, record.ownerStart, true, bounds, {}}));
  }
  else if (d_sequence != 0) {
    // A conflict is not counted (nor were its chunks): delete them.
    d_store.deleteRows(txn, sequence);
    txn.del(d_store.loading, fmt::sequenceKey(sequence));
  }

  // Step: the payload, archived once for all the reports in it.
  Warnings warnings(256);
  if (summary.warnings != nullptr) {
    warnings.merge(*summary.warnings);
  }
  warnings.merge(d_warnings);
  if (payload != nullptr && decision.payloadNote.empty()) {
    if (payload->id == 0) {
      payloadId = d_store.takeCounter(txn, storekeys::nextPayload);
      const std::string header = fmt::encodeRawHeader(std::string_view(payload->kind).substr(0, s_maxRawKind));
      auto space = txn.reserve(d_store.payloads, fmt::sequenceKey(payloadId), header.size() + payload->bytes.size());
      std::memcpy(space.data(), header.data(), header.size());
      if (!payload->bytes.empty()) {
        std::memcpy(space.data() + header.size(), payload->bytes.data(), payload->bytes.size());
      }
    }
    record.payloadId = payload->id != 0 ? payload->id : payloadId;
    record.rawBytes = payload->bytes.size();
    record.payloadMember = summary.payloadMember;
  }
  else if (!decision.payloadNote.empty()) {
    warnings.add(decision.payloadNote);
  }

  // Step: the report, its indexes, the state of the copy it supersedes or conflicts with.
  record.records = summary.records;
  record.messages = summary.messages;
  record.source = summary.source;
  record.recovered = summary.recovered;
  record.authenticity = summary.authenticity;
  record.authReason = summary.authReason;
  record.contentHash = content;
  record.warnings = warnings.items();
  if (summary.warnings != nullptr && summary.warnings->dropped() > 0) {
    record.warnings.push_back(std::to_string(summary.warnings->dropped()) + " more warnings not kept");
  }
  if (result.status == StoreStatus::Conflict) {
    record.state = ReportState::Conflict;
    record.related = existing->sequence;
    record.stateReason = "same reporter, report id, domain and dates as report " + std::to_string(existing->sequence) +
                         ", other records: not counted";
    record.rows = 0;
    result.related = existing->sequence;
  }
  else if (supersede) {
    d_store.applyReportRows(txn, *existing, -1);
    txn.del(d_store.loading, fmt::sequenceKey(existing->sequence)); // its loader, if any, stops
    existing->state = ReportState::Superseded;
    existing->related = sequence;
    existing->stateReason = supersedeReason;
    d_store.putReport(txn, *existing, domainId);
    // The key now names the complete copy: overwrite the chain entry that named the old one.
    uint32_t index = 0;
    while (true) {
      auto value = txn.get(d_store.dedup, fmt::dedupStoreKey(key, index));
      if (!value || fmt::decodeCounter(*value, "dedup") == existing->sequence) {
        break;
      }
      ++index;
    }
    txn.put(d_store.dedup, fmt::dedupStoreKey(key, index), fmt::encodeCounter(sequence));
    result.related = existing->sequence;
  }
  else {
    txn.put(d_store.dedup, fmt::dedupStoreKey(key, freeIndex), fmt::encodeCounter(sequence));
  }
  d_store.putReport(txn, record, domainId);
  txn.put(d_store.contents, fmt::contentKey(content, sequence), std::string(1, static_cast<char>(fmt::s_valueVersion)));
  txn.commit();
  result.sequence = sequence;
  return result;
}

} // namespace

std::unique_ptr<ReportWriter> Store::beginReport(const ReportHeader& header)
{
  if (d_impl->env->readOnly()) {
    throw StoreError("begin report", EACCES, d_impl->dir + " is open read-only");
  }
  d_impl->recoverLoading();
  return std::make_unique<Writer>(*d_impl, header);
}

} // namespace dmarcwatch::collector
