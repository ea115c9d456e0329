/*
 * loading.cc - phase 2 of a big report (store.hh): its rows, written as runs
 * sorted by source IP, merged and added to the totals a step at a time.
 *
 * Why merged: the facts and sources trees are keyed by address.  Adding a
 * chunk of random addresses rewrites (copy-on-write) most of their leaf pages,
 * so chunks added one after another rewrote both trees once per chunk, and the
 * cost per record grew with the store (2M records: 14x the CPU of 200k, a
 * quarter of it the kernel writing back those pages).  Merged, each step adds
 * one range of addresses and touches only that range's leaves.
 *
 * A step ends between two addresses, so "how far" is one address: the loading
 * entry's appliedThrough.  Rows of an address are never split between steps.
 *
 * Thread-safety: finishLoading runs its own write transactions, on the calling
 * thread.  Errors: StoreError, ReportRefused (store-impl.hh).
 */
#include "config.h"

#include "collector/store/aggregates.hh"
#include "collector/store/store-impl.hh"

#include <algorithm>
#include <optional>

namespace dmarcwatch::collector
{

namespace fmt = storeformat;

namespace
{

/*!
 * The merge over a report's runs.  Positions advance only when a step's transaction has
 * committed, so a step run again (the map grew) starts where the last one ended.
 */
class LoadingApplier
{
public:
  LoadingApplier(const Store::Impl& store, uint64_t sequence) :
    d_store(store), d_sequence(sequence)
  {
  }

  //! \brief Add the next rows (at least maxRows, whole addresses) in one transaction.
  //! \return true when there is more to add.
  bool step(size_t maxRows)
  {
    return d_store.withWriteTxn([&](lmdb::WriteTxn& txn) { return stepIn(txn, maxRows); });
  }

private:
  //! Where a run is: the block, and the row in it.
  struct Position
  {
    uint32_t block = 0;
    uint32_t end = 0; //!< the run's end block
    uint32_t row = 0;
  };

  //! A run's current block, decoded.
  struct Head
  {
    std::vector<ReportRow> rows;
  };

  bool stepIn(lmdb::WriteTxn& txn, size_t maxRows)
  {
    // Step: still ours to apply?  (A complete copy may have superseded it meanwhile.)
    auto report = d_store.loadReport(txn, d_sequence);
    auto value = txn.get(d_store.loading, fmt::sequenceKey(d_sequence));
    if (!report || report->state != ReportState::Loading || !value) {
      return false;
    }
    fmt::LoadingEntry entry = fmt::decodeLoading(*value);
    if (!entry.applying) {
      return false;
    }

    // Step: the runs' heads; the first step skips what an earlier owner added.
    std::vector<Position> positions = d_positions;
    if (!d_started) {
      for (size_t i = 0; i + 1 < entry.runBounds.size(); ++i) {
        positions.push_back(Position{entry.runBounds[i], entry.runBounds[i + 1], 0});
      }
    }
    // LMDB frees a write transaction's cursors when it commits: this one is closed before that.
    std::optional<lmdb::Cursor> rowCursor;
    rowCursor.emplace(txn.get(), d_store.rows);
    lmdb::Cursor& cursor = *rowCursor;
    std::vector<Head> heads(positions.size());
    std::vector<uint32_t> heap;
    for (uint32_t run = 0; run < positions.size(); ++run) {
      bool live = load(cursor, positions[run], heads[run]);
      while (live && !d_started && entry.appliedThrough &&
             heads[run].rows[positions[run].row].ip <= *entry.appliedThrough) {
        live = advance(cursor, positions[run], heads[run]);
      }
      if (live) {
        heap.push_back(run);
      }
    }
    auto later = [&](uint32_t a, uint32_t b) {
      return fmt::compareKeys(heads[a].rows[positions[a].row].ip, heads[b].rows[positions[b].row].ip) > 0;
    };
    std::make_heap(heap.begin(), heap.end(), later);

    // Step: the least addresses of all runs, up to maxRows rows and the end of an address.
    AggregateBatch batch(d_store, txn, d_store.reportDomainId(txn, *report), *report, +1);
    size_t taken = 0;
    std::optional<std::array<uint8_t, 16>> last;
    while (!heap.empty()) {
      const uint32_t run = heap.front();
      const ReportRow& row = heads[run].rows[positions[run].row];
      if (taken >= maxRows && last && row.ip != *last) {
        break;
      }
      batch.add(row);
      ++taken;
      last = row.ip;
      std::pop_heap(heap.begin(), heap.end(), later);
      if (advance(cursor, positions[run], heads[run])) {
        std::push_heap(heap.begin(), heap.end(), later);
      }
      else {
        heap.pop_back();
      }
    }
    batch.finish();

    // Step: how far, or done: the report is active.
    const bool more = !heap.empty();
    if (more) {
      entry.appliedThrough = last;
      txn.put(d_store.loading, fmt::sequenceKey(d_sequence), fmt::encodeLoading(entry));
    }
    else {
      report->state = ReportState::Active;
      report->ownerPid = 0;
      report->ownerStart = 0;
      d_store.putReport(txn, *report, d_store.reportDomainId(txn, *report));
      txn.del(d_store.loading, fmt::sequenceKey(d_sequence));
    }
    rowCursor.reset();
    txn.commit();
    d_positions = std::move(positions);
    d_started = true;
    return more;
  }

  //! Decode the block at position (skipping empty blocks). \return false when the run has ended.
  bool load(lmdb::Cursor& cursor, Position& at, Head& head) const
  {
    for (; at.block < at.end; ++at.block, at.row = 0) {
      const std::string key = fmt::rowKey(d_sequence, at.block);
      MDB_val k = lmdb::toVal(std::string_view(key));
      MDB_val found{};
      if (!cursor.get(MDB_SET_KEY, k, found)) {
        throw StoreError("add rows", MDB_CORRUPTED,
                         "block " + std::to_string(at.block) + " of report " + std::to_string(d_sequence) + " missing");
      }
      fmt::decodeRowBlock(lmdb::toView(found), head.rows);
      if (at.row < head.rows.size()) {
        return true;
      }
    }
    return false;
  }

  //! Move a run on by one row. \return false when it has ended.
  bool advance(lmdb::Cursor& cursor, Position& at, Head& head) const
  {
    if (++at.row < head.rows.size()) {
      return true;
    }
    ++at.block;
    at.row = 0;
    return load(cursor, at, head);
  }

  const Store::Impl& d_store;
  const uint64_t d_sequence;
  std::vector<Position> d_positions; //!< as of the last committed step
  bool d_started = false;
};

} // namespace

void Store::Impl::finishLoading(uint64_t sequence) const
{
  LoadingApplier applier(*this, sequence);
  try {
    while (applier.step(options.chunkRows)) {
      if (options.afterApplyStep) {
        options.afterApplyStep(sequence);
      }
    }
  }
  catch (const ReportRefused& e) {
    // Another report filled a total after this one's decision checked it.
    withWriteTxn([&](lmdb::WriteTxn& txn) {
      quarantineLoading(txn, sequence, e.what());
      txn.commit();
    });
    throw;
  }
}

void Store::Impl::quarantineLoading(lmdb::WriteTxn& txn, uint64_t sequence, const std::string& why) const
{
  auto report = loadReport(txn, sequence);
  if (!report || report->state != ReportState::Loading) {
    return;
  }
  applyReportRows(txn, *report, -1);
  report->state = ReportState::Quarantined;
  report->stateReason = why;
  putReport(txn, *report, reportDomainId(txn, *report));
  txn.del(loading, fmt::sequenceKey(sequence));
}

} // namespace dmarcwatch::collector
