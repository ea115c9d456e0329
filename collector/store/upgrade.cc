/*
 * upgrade.cc - schema upgrade steps (Store::Impl::upgradeStep), each run in
 * the one write transaction that opens an older store read-write, so an
 * upgrade happens whole or not at all.
 *
 * Schema 1 -> 2.  Schema 1 kept the totals but not which report contributed
 * what, so its reports cannot be taken out of the totals one by one.  The
 * step keeps every number and makes that explicit:
 * - each schema-1 report stays, in state "schema-1" (Legacy): listed, still
 *   deduplicated, not counted on its own;
 * - per policy domain, one report "schema-1 aggregates" holds the old facts
 *   as rows of one exact day each, so the totals stay exactly the sum of the
 *   rows of the counted reports (`db verify`); `dmarcwatch reindex` replaces
 *   it by the re-parsed payloads where every schema-1 report of the domain has
 *   one;
 * - raw payloads move to the payload archive (id = the report's sequence);
 * - day totals count records as rows (schema 1 counted records before they were
 *   merged into facts; messages and DMARC passes are unchanged);
 * - the sources table is filled from the facts;
 * - each row gets its outcome's authenticated identity and DMARC pass (identity.hh),
 *   worked out once per distinct outcome.
 */
#include "config.h"

#include "collector/store/identity.hh"
#include "collector/store/store-impl.hh"

#include <map>
#include <unordered_map>

namespace dmarcwatch::collector
{

namespace fmt = storeformat;

namespace
{

//! Write one schema-1 aggregates report of a domain and its rows (facts in key order).
class LegacyDomain
{
public:
  LegacyDomain(const Store::Impl& store, lmdb::WriteTxn& txn, uint32_t domainId) :
    d_store(store), d_txn(txn), d_domainId(domainId)
  {
    d_report.sequence = store.takeCounter(txn, storekeys::nextSequence);
    d_report.header.metadata.orgName = "dmarcwatch";
    d_report.header.metadata.reportId = "schema-1 aggregates";
    d_report.header.policy.domain = store.dictString(txn, domainId);
    d_report.source = "upgrade from store schema 1";
    d_report.storedAt = store.now();
    fmt::beginRowBlock(d_block);
  }

  void add(const fmt::FactKey& key, uint64_t messages)
  {
    ReportRow row;
    row.ip = key.ip;
    row.headerFromId = key.headerFromId;
    row.outcomeId = key.outcomeId;
    const auto& [identityId, pass] = outcomeFacts(key.outcomeId);
    row.identityId = identityId;
    row.dmarcPass = pass;
    row.count = messages;
    row.day = key.day;
    fmt::appendRow(d_block, row);
    if (++d_inBlock == fmt::s_rowsPerBlock) {
      flushBlock();
    }
    d_first = std::min(d_first, key.day);
    d_last = std::max(d_last, key.day);
    ++d_report.records;
    d_report.messages += messages; // a sum of stored totals: cannot exceed what the days held
    ++d_recordsPerDay[key.day];
    if (key.ip != std::array<uint8_t, 16>{}) {
      touchSource(key.ip, key.day);
    }
  }

  void finish()
  {
    flushBlock();
    d_report.rows = d_report.records;
    d_report.header.metadata.begin = static_cast<int64_t>(d_first) * 86400;
    d_report.header.metadata.end = static_cast<int64_t>(d_last) * 86400 + 86399;
    d_report.firstDay = d_first;
    d_report.dayCount = d_last - d_first + 1;
    d_store.putReport(d_txn, d_report, d_domainId);
    // Day totals: records counted as rows now (see the file comment).
    for (const auto& [day, records] : d_recordsPerDay) {
      const std::string key = fmt::domainDayKey(d_domainId, day);
      DayTotals totals;
      if (auto value = d_txn.get(d_store.days, key)) {
        totals = fmt::decodeDayTotals(*value, day);
      }
      totals.records = records;
      d_txn.put(d_store.days, key, fmt::encodeDayTotals(totals));
    }
  }

private:
  //! The identity id (interned now when new) and DMARC pass of an outcome id, cached.
  const std::pair<uint32_t, bool>& outcomeFacts(uint32_t outcomeId)
  {
    auto found = d_outcomes.find(outcomeId);
    if (found == d_outcomes.end()) {
      d_outcomeBytes = d_store.dictString(d_txn, outcomeId); // d_outcome's views point into it
      fmt::decodeOutcomeView(d_outcomeBytes, d_outcome);
      authenticatedIdentity(d_outcome.dkimResults, d_outcome.spfResults, d_identity);
      const uint32_t id = d_identity.empty() ? 0 : d_store.intern(d_txn, d_identity);
      found = d_outcomes.emplace(outcomeId, std::make_pair(id, d_outcome.dmarcPass())).first;
    }
    return found->second;
  }

  void flushBlock()
  {
    if (d_inBlock == 0) {
      return;
    }
    fmt::finishRowBlock(d_block, d_inBlock);
    d_txn.put(d_store.rows, fmt::rowKey(d_report.sequence, d_nextBlock++), d_block);
    fmt::beginRowBlock(d_block);
    d_inBlock = 0;
  }

  void touchSource(const std::array<uint8_t, 16>& ip, uint32_t day)
  {
    const std::string key = fmt::sourceKey(d_domainId, ip);
    fmt::SourceSeen seen{day, day, d_report.sequence, d_report.sequence};
    if (auto value = d_txn.get(d_store.sources, key)) {
      seen = fmt::decodeSource(*value);
      seen.firstDay = std::min(seen.firstDay, day);
      seen.lastDay = std::max(seen.lastDay, day);
    }
    d_txn.put(d_store.sources, key, fmt::encodeSource(seen));
  }

  const Store::Impl& d_store;
  lmdb::WriteTxn& d_txn;
  uint32_t d_domainId;
  StoredReport d_report;
  std::string d_block;
  size_t d_inBlock = 0;
  uint32_t d_nextBlock = 0;
  uint32_t d_first = UINT32_MAX;
  uint32_t d_last = 0;
  std::map<uint32_t, uint64_t> d_recordsPerDay;
  std::unordered_map<uint32_t, std::pair<uint32_t, bool>> d_outcomes;
  std::string d_outcomeBytes;
  OutcomeView d_outcome;
  std::string d_identity;
};

void upgrade1To2(const Store::Impl& store, lmdb::WriteTxn& txn)
{
  // Step: raw payloads into the payload archive, id = report sequence.
  const auto& raw = store.raw;
  uint64_t nextPayload = 1;
  std::map<uint64_t, uint64_t> payloadOf;
  if (raw) {
    lmdb::Cursor cursor(txn.get(), *raw);
    MDB_val key{};
    MDB_val value{};
    for (bool ok = cursor.get(MDB_FIRST, key, value); ok; ok = cursor.get(MDB_NEXT, key, value)) {
      const uint64_t sequence = fmt::decodeSequenceKey(lmdb::toView(key));
      txn.put(store.payloads, lmdb::toView(key), lmdb::toView(value));
      payloadOf[sequence] = fmt::decodeRaw(lmdb::toView(value)).second.size();
      nextPayload = std::max(nextPayload, sequence + 1);
    }
  }
  txn.put(store.meta, storekeys::nextPayload, fmt::encodeCounter(nextPayload));

  // Step: every report rewritten with the schema-2 block (state schema-1, its payload).
  std::vector<StoredReport> legacy;
  {
    lmdb::Cursor cursor(txn.get(), store.reports);
    MDB_val key{};
    MDB_val value{};
    for (bool ok = cursor.get(MDB_FIRST, key, value); ok; ok = cursor.get(MDB_NEXT, key, value)) {
      StoredReport report = fmt::decodeStoredReport(lmdb::toView(value));
      report.sequence = fmt::decodeSequenceKey(lmdb::toView(key));
      legacy.push_back(std::move(report));
    }
  }
  for (auto& report : legacy) {
    report.state = ReportState::Legacy;
    if (auto found = payloadOf.find(report.sequence); found != payloadOf.end()) {
      report.payloadId = report.sequence;
      report.rawBytes = found->second;
    }
    txn.put(store.reports, fmt::sequenceKey(report.sequence), fmt::encodeStoredReport(report));
  }

  // Step: long dedup keys gain the chain index of schema 2 (prefix + length + hash + index).
  {
    std::vector<std::pair<std::string, uint64_t>> longKeys;
    lmdb::Cursor cursor(txn.get(), store.dedup);
    MDB_val key{};
    MDB_val value{};
    for (bool ok = cursor.get(MDB_FIRST, key, value); ok; ok = cursor.get(MDB_NEXT, key, value)) {
      const uint64_t sequence = fmt::decodeCounter(lmdb::toView(value), "dedup");
      auto report = store.loadReport(txn, sequence);
      if (report && dedupKey(report->header).size() > fmt::s_maxInlineDictKey) {
        longKeys.emplace_back(std::string(lmdb::toView(key)), sequence);
      }
    }
    for (const auto& [oldKey, sequence] : longKeys) {
      txn.del(store.dedup, oldKey);
    }
    for (const auto& [oldKey, sequence] : longKeys) {
      auto report = store.loadReport(txn, sequence);
      uint32_t freeIndex = 0;
      if (!store.findDedup(txn, dedupKey(report->header), &freeIndex)) {
        txn.put(store.dedup, fmt::dedupStoreKey(dedupKey(report->header), freeIndex), fmt::encodeCounter(sequence));
      }
    }
  }

  // Step: the facts become the rows of one aggregates report per domain.
  std::unique_ptr<LegacyDomain> domain;
  uint32_t domainId = 0;
  lmdb::Cursor cursor(txn.get(), store.facts);
  MDB_val key{};
  MDB_val value{};
  for (bool ok = cursor.get(MDB_FIRST, key, value); ok; ok = cursor.get(MDB_NEXT, key, value)) {
    const fmt::FactKey fact = fmt::decodeFactKey(lmdb::toView(key));
    if (!domain || fact.domainId != domainId) {
      if (domain) {
        domain->finish();
      }
      domainId = fact.domainId;
      domain = std::make_unique<LegacyDomain>(store, txn, domainId);
    }
    domain->add(fact, fmt::decodeFactValue(lmdb::toView(value)));
  }
  if (domain) {
    domain->finish();
  }

  // Step: the raw table is empty from now on (its entries live on as payloads).
  if (raw) {
    lmdb::check(mdb_drop(txn.get(), *raw, 0), "drop raw");
  }
}

} // namespace

void Store::Impl::upgradeStep(lmdb::WriteTxn& txn, uint32_t from)
{
  switch (from) {
  case 1:
    upgrade1To2(*this, txn);
    return;
  default:
    throw StoreError("upgrade", MDB_VERSION_MISMATCH, "no upgrade from store schema " + std::to_string(from));
  }
}

} // namespace dmarcwatch::collector
