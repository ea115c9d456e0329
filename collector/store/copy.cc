/*
 * copy.cc - Store::copyReport: one report of another store copied as it is,
 * dictionary ids translated, for `dmarcwatch reindex` (reports it cannot
 * re-parse: payload not archived, or schema-1 aggregates).
 *
 * Thread-safety: as any writer (one write transaction in the caller's thread).
 */
#include "config.h"

#include "collector/store/store-impl.hh"

#include <cstring>
#include <unordered_map>

namespace dmarcwatch::collector
{

namespace fmt = storeformat;

uint64_t Store::copyReport(const Store& from, uint64_t sequence, std::map<uint64_t, uint64_t>& payloadIds)
{
  Impl& to = *d_impl;
  const Impl& source = *from.d_impl;
  lmdb::ReadTxn read(source.env);
  auto report = source.loadReport(read, sequence);
  if (!report) {
    throw StoreError("copy report", MDB_NOTFOUND, "no report " + std::to_string(sequence));
  }
  return to.withWriteTxn([&](lmdb::WriteTxn& txn) {
  Interner interner(to, txn);
  const uint64_t newSequence = to.takeCounter(txn, storekeys::nextSequence);
  const uint32_t domainId = interner.id(lowerAscii(report->header.policy.domain));

  // Step: the rows, ids translated (a cache: a report's strings repeat).
  std::unordered_map<uint32_t, uint32_t> ids;
  auto translate = [&](uint32_t id) {
    auto found = ids.find(id);
    if (found == ids.end()) {
      found = ids.emplace(id, interner.id(source.dictString(read, id))).first;
    }
    return found->second;
  };
  {
    std::string out;
    size_t inBlock = 0;
    uint32_t blockIndex = 0;
    auto flush = [&] {
      fmt::finishRowBlock(out, inBlock);
      txn.put(to.rows, fmt::rowKey(newSequence, blockIndex++), out);
      inBlock = 0;
    };
    source.forEachStoredRow(read, sequence, [&](ReportRow row) {
      if (inBlock == 0) {
        fmt::beginRowBlock(out);
      }
      row.headerFromId = translate(row.headerFromId);
      row.outcomeId = translate(row.outcomeId);
      row.identityId = row.identityId == 0 ? 0 : translate(row.identityId);
      fmt::appendRow(out, row);
      if (++inBlock == fmt::s_rowsPerBlock) {
        flush();
      }
    });
    if (inBlock > 0) {
      flush();
    }
  }
  interner.finish();

  // Step: its payload, once.
  if (report->payloadId != 0) {
    auto copied = payloadIds.find(report->payloadId);
    if (copied == payloadIds.end()) {
      if (auto bytes = read.get(source.payloads, fmt::sequenceKey(report->payloadId))) {
        const uint64_t id = to.takeCounter(txn, storekeys::nextPayload);
        txn.put(to.payloads, fmt::sequenceKey(id), *bytes);
        copied = payloadIds.emplace(report->payloadId, id).first;
      }
    }
    report->payloadId = copied != payloadIds.end() ? copied->second : 0;
  }

  // Step: the record, its indexes, its totals.
  const uint64_t oldSequence = report->sequence;
  report->sequence = newSequence;
  report->related = 0; // sequences of the other store mean nothing here
  if (report->state == ReportState::Loading) {
    throw StoreError("copy report", EINVAL, "report " + std::to_string(oldSequence) + " is still loading");
  }
  to.putReport(txn, *report, domainId);
  if (report->state != ReportState::Legacy) {
    txn.put(to.contents, fmt::contentKey(report->contentHash, newSequence),
            std::string(1, static_cast<char>(fmt::s_valueVersion)));
  }
  if (report->state != ReportState::Conflict && report->state != ReportState::Superseded) {
    const std::string key = Impl::storedDedupKey(*report);
    uint32_t freeIndex = 0;
    if (!to.findDedup(txn, key, &freeIndex)) {
      txn.put(to.dedup, fmt::dedupStoreKey(key, freeIndex), fmt::encodeCounter(newSequence));
    }
  }
  if (report->counted()) {
    to.applyReportRows(txn, *report, +1);
  }
  txn.commit();
  return newSequence;
  });
}

} // namespace dmarcwatch::collector
