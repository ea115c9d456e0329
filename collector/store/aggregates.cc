/*
 * aggregates.cc - AggregateBatch (aggregates.hh).
 *
 * The day split of a row: a report's rows are spread over its days
 * [firstDay, firstDay + dayCount): each day gets count / days, the first
 * count % days days one more, so the sums are exact; a day whose share is zero
 * gets nothing (but a row of count 0 still counts as a record on the first
 * day).  Rows with their own day (the schema-1 aggregates) go to that day.
 */
#include "config.h"

#include "collector/store/aggregates.hh"

#include <algorithm>
#include <cstring>

namespace dmarcwatch::collector
{

namespace fmt = storeformat;

namespace
{

//! Facts buffered before a sorted flush (40 bytes each).
constexpr size_t s_pendingFacts = 32768;

} // namespace

AggregateBatch::AggregateBatch(const Store::Impl& store, lmdb::WriteTxn& txn, uint32_t domainId,
                               const StoredReport& report, int sign) :
  d_store(store),
  d_txn(txn),
  d_domainId(domainId),
  d_sequence(report.sequence),
  d_firstDay(report.firstDay),
  d_dayCount(std::max<uint32_t>(report.dayCount, 1)),
  d_sign(sign)
{
  d_facts.reserve(1024);
}

void AggregateBatch::overflow(const std::string& what) const
{
  throw ReportRefused("message counts would overflow 64 bits: " + what + " (report refused, nothing stored)");
}

void AggregateBatch::add(const ReportRow& row)
{
  fmt::FactKey key;
  key.domainId = d_domainId;
  key.ip = row.ip;
  key.headerFromId = row.headerFromId;
  key.outcomeId = row.outcomeId;

  // Step: the share of each day (see the file comment).
  forEachDayShare(row, d_firstDay, d_dayCount, [&](uint32_t day, uint64_t share) {
    key.day = day;
    if (share > 0) {
      d_facts.push_back(PendingFact{fmt::encodeFactKey(key), share});
    }
    DayDelta& delta = d_days[day];
    if (__builtin_add_overflow(delta.messages, share, &delta.messages)) {
      overflow("day total");
    }
    delta.dmarcPass += row.dmarcPass ? share : 0; // <= messages
    delta.records += 1;
  });

  // Step: first/last seen of the source (added reports only: "seen" is history).
  if (d_sign > 0 && row.ip != std::array<uint8_t, 16>{}) {
    const uint32_t first = row.day ? *row.day : d_firstDay;
    const uint32_t last = row.day ? *row.day : d_firstDay + d_dayCount - 1;
    d_sources.push_back({row.ip, SourceDays{first, last}});
  }
  if (d_facts.size() >= s_pendingFacts) {
    flushFacts();
  }
}

void AggregateBatch::flushFacts()
{
  if (d_facts.empty()) {
    return;
  }
  // Sorted and merged: equal rows cost one put, neighbours share pages.  (A big report's
  // merged runs come in address order: then the check is all there is to it.)
  auto factBefore = [](const PendingFact& a, const PendingFact& b) { return fmt::compareKeys(a.key, b.key) < 0; };
  if (!std::is_sorted(d_facts.begin(), d_facts.end(), factBefore)) {
    std::sort(d_facts.begin(), d_facts.end(), factBefore);
  }
  lmdb::Cursor cursor(d_txn.get(), d_store.facts);
  for (size_t i = 0; i < d_facts.size();) {
    const auto& key = d_facts[i].key;
    uint64_t messages = 0;
    size_t j = i;
    for (; j < d_facts.size() && fmt::compareKeys(d_facts[j].key, key) == 0; ++j) {
      if (__builtin_add_overflow(messages, d_facts[j].messages, &messages)) {
        overflow("one source's messages");
      }
    }
    auto value = fmt::encodeFactValue(messages);
    MDB_val newKey = lmdb::toVal(std::span<const uint8_t>(key));
    MDB_val newValue = lmdb::toVal(std::span<const uint8_t>(value));
    if (d_sign > 0) {
      // One search for a new key: NOOVERWRITE stores it, or leaves the cursor on the
      // existing row and hands back its value, which is then updated in place.
      int rc = mdb_cursor_put(cursor.get(), &newKey, &newValue, MDB_NOOVERWRITE);
      if (rc == MDB_KEYEXIST) {
        if (__builtin_add_overflow(messages, fmt::decodeFactValue(lmdb::toView(newValue)), &messages)) {
          overflow("a source's total for one day");
        }
        value = fmt::encodeFactValue(messages);
        newKey = lmdb::toVal(std::span<const uint8_t>(key));
        newValue = lmdb::toVal(std::span<const uint8_t>(value));
        rc = mdb_cursor_put(cursor.get(), &newKey, &newValue, MDB_CURRENT);
      }
      lmdb::checkWrite(rc, "put fact", *d_store.env);
    }
    else {
      MDB_val found{};
      if (!cursor.get(MDB_SET_KEY, newKey, found)) {
        throw StoreError("take out fact", MDB_CORRUPTED, "a fact of report " + std::to_string(d_sequence) + " is missing");
      }
      const uint64_t stored = fmt::decodeFactValue(lmdb::toView(found));
      if (stored < messages) {
        throw StoreError("take out fact", MDB_CORRUPTED,
                         "a fact holds less than the rows of report " + std::to_string(d_sequence));
      }
      if (stored == messages) {
        lmdb::checkWrite(mdb_cursor_del(cursor.get(), 0), "delete fact", *d_store.env);
      }
      else {
        value = fmt::encodeFactValue(stored - messages);
        newValue = lmdb::toVal(std::span<const uint8_t>(value));
        lmdb::checkWrite(mdb_cursor_put(cursor.get(), &newKey, &newValue, MDB_CURRENT), "put fact", *d_store.env);
      }
    }
    i = j;
  }
  d_facts.clear();
}

void AggregateBatch::flushDays()
{
  for (const auto& [day, delta] : d_days) {
    const std::string key = fmt::domainDayKey(d_domainId, day);
    DayTotals totals;
    totals.day = day;
    if (auto value = d_txn.get(d_store.days, key)) {
      totals = fmt::decodeDayTotals(*value, day);
    }
    if (d_sign > 0) {
      if (__builtin_add_overflow(totals.messages, delta.messages, &totals.messages) ||
          __builtin_add_overflow(totals.dmarcPass, delta.dmarcPass, &totals.dmarcPass) ||
          __builtin_add_overflow(totals.records, delta.records, &totals.records)) {
        overflow("the day total of " + std::to_string(day));
      }
    }
    else {
      if (totals.messages < delta.messages || totals.dmarcPass < delta.dmarcPass || totals.records < delta.records) {
        throw StoreError("take out day totals", MDB_CORRUPTED,
                         "day " + std::to_string(day) + " holds less than the rows of report " +
                           std::to_string(d_sequence));
      }
      totals.messages -= delta.messages;
      totals.dmarcPass -= delta.dmarcPass;
      totals.records -= delta.records;
    }
    if (totals.records == 0 && totals.messages == 0) {
      d_txn.del(d_store.days, key);
    }
    else {
      d_txn.put(d_store.days, key, fmt::encodeDayTotals(totals));
    }
  }
  d_days.clear();
}

void AggregateBatch::flushSources()
{
  if (d_sources.empty()) {
    return;
  }
  auto sourceBefore = [](const auto& a, const auto& b) { return fmt::compareKeys(a.first, b.first) < 0; };
  if (!std::is_sorted(d_sources.begin(), d_sources.end(), sourceBefore)) {
    std::sort(d_sources.begin(), d_sources.end(), sourceBefore);
  }
  lmdb::Cursor cursor(d_txn.get(), d_store.sources);
  for (size_t i = 0; i < d_sources.size();) {
    const auto& ip = d_sources[i].first;
    SourceDays days;
    size_t j = i;
    for (; j < d_sources.size() && d_sources[j].first == ip; ++j) {
      days.first = std::min(days.first, d_sources[j].second.first);
      days.last = std::max(days.last, d_sources[j].second.last);
    }
    // One search: NOOVERWRITE stores a new source, or hands back the existing one.
    const std::string key = fmt::sourceKey(d_domainId, ip);
    std::string value = fmt::encodeSource({days.first, days.last, d_sequence, d_sequence});
    MDB_val k = lmdb::toVal(std::string_view(key));
    MDB_val v = lmdb::toVal(std::string_view(value));
    int rc = mdb_cursor_put(cursor.get(), &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
      const fmt::SourceSeen seen = fmt::decodeSource(lmdb::toView(v));
      fmt::SourceSeen updated = seen;
      updated.firstDay = std::min(seen.firstDay, days.first);
      updated.lastDay = std::max(seen.lastDay, days.last);
      updated.lastReport = std::max(seen.lastReport, d_sequence);
      rc = MDB_SUCCESS;
      if (updated.firstDay != seen.firstDay || updated.lastDay != seen.lastDay ||
          updated.lastReport != seen.lastReport) {
        value = fmt::encodeSource(updated);
        k = lmdb::toVal(std::string_view(key));
        v = lmdb::toVal(std::string_view(value));
        rc = mdb_cursor_put(cursor.get(), &k, &v, MDB_CURRENT);
      }
    }
    lmdb::checkWrite(rc, "put source", *d_store.env);
    i = j;
  }
  d_sources.clear();
}

void AggregateBatch::finish()
{
  flushFacts();
  flushDays();
  flushSources();
}

} // namespace dmarcwatch::collector
