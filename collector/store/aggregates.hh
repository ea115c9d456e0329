/*
 * aggregates.hh - keeping the totals (facts, days, sources) equal to the sum of
 * the rows of the counted reports.
 *
 * An AggregateBatch adds the rows of one report (or a chunk of them) to the
 * totals, or takes them out again, inside the caller's write transaction:
 * fact updates are buffered, sorted and merged (sorted puts touch few pages,
 * equal keys cost one put); day totals and sources are summed per batch.
 * Arithmetic is checked: an addition that would overflow 64 bits throws
 * ReportRefused (the report is refused, nothing of the transaction is kept);
 * a subtraction that finds less than the rows say throws StoreError
 * (MDB_CORRUPTED): the store no longer matches its rows.
 *
 * Thread-safety: one batch per write transaction, in its thread.
 */
#pragma once

#include "collector/store/store-impl.hh"

#include <map>
#include <vector>

namespace dmarcwatch::collector
{

class AggregateBatch
{
public:
  /*!
   * \param report the report the rows belong to: its sequence, its domain (by id) and the
   *        days its rows are spread over (firstDay, dayCount)
   * \param sign +1 to add, -1 to take out
   */
  AggregateBatch(const Store::Impl& store, lmdb::WriteTxn& txn, uint32_t domainId, const StoredReport& report,
                 int sign);
  AggregateBatch(const AggregateBatch&) = delete;
  AggregateBatch& operator=(const AggregateBatch&) = delete;

  //! \brief One row (its dmarcPass counts toward the day's passes). \throw ReportRefused, StoreError
  void add(const ReportRow& row);
  //! \brief Write everything buffered. \throw ReportRefused, StoreError
  void finish();

private:
  struct PendingFact
  {
    storeformat::FactKeyBytes key;
    uint64_t messages;
  };
  struct DayDelta
  {
    uint64_t messages = 0;
    uint64_t dmarcPass = 0;
    uint64_t records = 0;
  };
  struct SourceDays
  {
    uint32_t first = UINT32_MAX;
    uint32_t last = 0;
  };

  void flushFacts();
  void flushDays();
  void flushSources();
  [[noreturn]] void overflow(const std::string& what) const;

  const Store::Impl& d_store;
  lmdb::WriteTxn& d_txn;
  uint32_t d_domainId;
  uint64_t d_sequence;
  uint32_t d_firstDay;
  uint32_t d_dayCount;
  int d_sign;
  std::vector<PendingFact> d_facts;
  std::map<uint32_t, DayDelta> d_days;
  std::vector<std::pair<std::array<uint8_t, 16>, SourceDays>> d_sources;
};

/*!
 * \brief The day split of a row (aggregates.cc file comment): visit(day, share) for each day
 * that gets a record of it (share 0 only for a row of count 0, on its first day).
 */
template <typename Visit>
void forEachDayShare(const ReportRow& row, uint32_t firstDay, uint32_t dayCount, Visit&& visit)
{
  const uint32_t first = row.day ? *row.day : firstDay;
  const uint32_t ndays = row.day ? 1 : std::max<uint32_t>(dayCount, 1);
  const uint64_t base = row.count / ndays;
  const uint64_t extra = row.count % ndays;
  for (uint32_t i = 0; i < ndays; ++i) {
    const uint64_t share = base + (i < extra ? 1 : 0);
    if (share == 0 && !(row.count == 0 && i == 0)) {
      continue;
    }
    visit(first + i, share);
  }
}

} // namespace dmarcwatch::collector
