/*
 * row-reader.cc - RowReader (row-reader.hh).
 *
 * The walk: the domain's bydomain entries in begin order (each carries its
 * report's state and days: no record is read), up to the first that begins
 * after the window's last day (a report's first day is never before the
 * day it begins: reportDaySpan; `db verify` checks it), then the row blocks of
 * each that counts, overlaps the window and has a verdict asked for, in order.
 */
#include "config.h"

#include "collector/store/row-reader.hh"

#include "collector/common/arithmetic.hh"
#include "collector/store/aggregates.hh"
#include "collector/store/store-impl.hh"

#include <algorithm>
#include <cstring>

namespace dmarcwatch::collector
{

namespace fmt = storeformat;

struct RowReader::Impl
{
  Impl(const StoreSnapshot::Impl& of, uint32_t domain, uint32_t from, uint32_t to, AuthenticitySet asked) :
    snapshot(of),
    byDomain(of.txn.get(), of.store.bydomain),
    reports(of.txn.get(), of.store.reports),
    rows(of.txn.get(), of.store.rows),
    domainId(domain),
    fromDay(from),
    toDay(to),
    // Reports that begin on a day after the window cannot reach into it (see the file comment).
    endKey(fmt::byDomainKey(domain, (int64_t{to} + 1) * 86400, 0)),
    verdicts(asked),
    done(from > to)
  {
  }

  //! \brief Move to the next report that counts and overlaps the window. \return false at the end.
  bool nextReport()
  {
    MDB_val key{};
    MDB_val value{};
    for (;;) {
      const bool found = started ? byDomain.get(MDB_NEXT, key, value)
                                 : byDomain.seek(fmt::domainKey(domainId), key, value);
      started = true;
      const std::string_view bytes = lmdb::toView(key);
      // Past the domain, or at a report that begins after the window (keys without the sequence).
      const size_t prefix = endKey.size() - 8;
      if (!found || bytes.size() < endKey.size() || bytes.compare(0, prefix, endKey, 0, prefix) >= 0) {
        return false;
      }
      sequence = fmt::byDomainSequence(bytes);
      // The entry carries the report's state and days; an older one sends us to the record.
      if (auto carried = fmt::decodeByDomainValue(lmdb::toView(value))) {
        days = *carried;
      }
      else {
        const std::string reportKey = fmt::sequenceKey(sequence);
        MDB_val k = lmdb::toVal(std::string_view(reportKey));
        MDB_val v{};
        if (!reports.get(MDB_SET, k, v)) {
          throw StoreError("read rows", MDB_CORRUPTED, "bydomain names missing report " + std::to_string(sequence));
        }
        days = fmt::decodeReportDays(lmdb::toView(v));
      }
      days.dayCount = std::max<uint32_t>(days.dayCount, 1);
      const uint64_t lastDay = uint64_t{days.firstDay} + days.dayCount - 1;
      if (days.firstDay > toDay || lastDay < fromDay || (verdicts & authenticityBit(days.authenticity)) == 0) {
        continue;
      }
      counted = snapshot.store.countedRows(snapshot.txn, sequence, days.state);
      if (counted.kind == CountedRows::Kind::None) {
        continue;
      }
      ++reportsRead[static_cast<size_t>(days.authenticity)];
      whole = days.firstDay >= fromDay && lastDay <= toDay;
      blockKey = fmt::rowKey(sequence, 0);
      blocksStarted = false;
      return true;
    }
  }

  //! \brief The current report's next row block into block. \return false after its last.
  bool nextBlock()
  {
    MDB_val key{};
    MDB_val value{};
    const bool found = blocksStarted ? rows.get(MDB_NEXT, key, value) : rows.seek(blockKey, key, value);
    blocksStarted = true;
    // Its blocks share the 8-byte sequence prefix of blockKey.
    if (!found || !lmdb::toView(key).starts_with(std::string_view(blockKey).substr(0, 8))) {
      return false;
    }
    fmt::decodeRowBlock(snapshot.store.env->readValue(value, blockBytes), block);
    next = 0;
    return true;
  }

  //! \brief The next counted row of the window's reports (days: its report's). \return nullptr at the end.
  const ReportRow* nextRow()
  {
    while (!done) {
      // Step: the current block's rows, as far as they count.
      if (inReport && next < block.size()) {
        const ReportRow& row = block[next++];
        if (counted.counts(row)) {
          return &row;
        }
        continue; // a loading report's row not added yet
      }
      // Step: the next block of the report, else the next report.
      if (inReport && nextBlock()) {
        continue;
      }
      next = block.size(); // the block's memory is kept for the next report's
      inReport = nextReport();
      done = !inReport;
    }
    return nullptr;
  }

  //! The messages a row adds to the window: its day shares on the window's days.
  [[nodiscard]] uint64_t windowMessages(const ReportRow& row) const
  {
    if (whole && !row.day) {
      return row.count; // every share lies in the window, and they add up to the count
    }
    uint64_t sum = 0;
    forEachDayShare(row, days.firstDay, days.dayCount, [&](uint32_t day, uint64_t share) {
      if (day >= fromDay && day <= toDay) {
        sum += share; // shares add up to at most the count: no overflow
      }
    });
    return sum;
  }

  const StoreSnapshot::Impl& snapshot;
  lmdb::Cursor byDomain;
  lmdb::Cursor reports;
  lmdb::Cursor rows;
  uint32_t domainId;
  uint32_t fromDay;
  uint32_t toDay;
  std::string endKey;
  AuthenticitySet verdicts;
  bool done;
  bool started = false;
  // The current report.
  bool inReport = false;
  uint64_t sequence = 0;
  fmt::ReportDays days;
  CountedRows counted;
  bool whole = false;
  std::string blockKey;
  bool blocksStarted = false;
  std::vector<ReportRow> block;
  std::string blockBytes; //!< a block read from the file (Env::readValue)
  size_t next = 0;
  std::array<uint64_t, s_authenticities> reportsRead{}; //!< entered, by verdict
};

RowReader::RowReader(const StoreSnapshot& snapshot, uint32_t domainId, uint32_t fromDay, uint32_t toDay,
                     AuthenticitySet verdicts) :
  d_impl(std::make_unique<Impl>(*snapshot.d_impl, domainId, fromDay, toDay, verdicts))
{
}

const std::array<uint64_t, s_authenticities>& RowReader::reportsRead() const
{
  return d_impl->reportsRead;
}

RowReader::~RowReader() = default;

void RowReader::readDayShares(std::vector<RawFact>& out)
{
  Impl& impl = *d_impl;
  while (const ReportRow* row = impl.nextRow()) {
    forEachDayShare(*row, impl.days.firstDay, impl.days.dayCount, [&](uint32_t day, uint64_t share) {
      if (day >= impl.fromDay && day <= impl.toDay && share > 0) {
        out.push_back(RawFact{day, row->ip, row->headerFromId, row->outcomeId, share});
      }
    });
  }
}

size_t RowReader::read(std::span<WindowRow> out)
{
  Impl& impl = *d_impl;
  size_t count = 0;
  while (count < out.size()) {
    const ReportRow* row = impl.nextRow();
    if (row == nullptr) {
      break;
    }
    const uint64_t messages = impl.windowMessages(*row);
    if (messages > 0) {
      out[count++] = WindowRow{*row, messages, impl.days.authenticity};
    }
  }
  return count;
}

std::vector<RawFact> windowFactsOf(const StoreSnapshot& snapshot, uint32_t domainId, uint32_t fromDay,
                                   uint32_t toDay, AuthenticitySet verdicts)
{
  std::vector<RawFact> facts;
  RowReader reader(snapshot, domainId, fromDay, toDay, verdicts);
  reader.readDayShares(facts);
  // Step: the facts' key order, equal keys summed (as the facts table sums them).
  std::sort(facts.begin(), facts.end(), [](const RawFact& a, const RawFact& b) { return factOrder(a) < factOrder(b); });
  size_t kept = 0;
  for (size_t i = 0; i < facts.size(); ++i) {
    if (kept > 0 && factOrder(facts[kept - 1]) == factOrder(facts[i])) {
      facts[kept - 1].messages = saturatingAdd(facts[kept - 1].messages, facts[i].messages);
    }
    else {
      facts[kept++] = facts[i];
    }
  }
  facts.resize(kept);
  return facts;
}

} // namespace dmarcwatch::collector
