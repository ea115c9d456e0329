/*
 * sender-limits.cc - the per-day sender limits (issue 14; store.hh has the rules): what
 * one reporter and one policy domain stored per UTC day, in the additive senders table,
 * counted in the report's own write transaction.
 *
 * Decisions worth knowing:
 * - The day is the day the report is stored (storedAt), not the days it covers: the limit is
 *   on what a sender can make the store do today.
 * - A report over a limit is counted when it is stored anyway (quarantined): a sender past
 *   its limit stays past it for the day, whatever it sends.  A tempfailed report is not.
 * - noticed is per key and day: the first report over any limit of that key that day gets
 *   the notice, so callers log once per window.
 * - Days before yesterday are pruned by each writer, a bounded batch per transaction (keys
 *   start with the day, so the old ones are the table's first keys).
 *
 * Thread-safety: runs inside the caller's write transaction.
 */
#include "config.h"

#include "collector/store/store-impl.hh"

#include "collector/common/config-keys.hh"

namespace dmarcwatch::collector
{

namespace fmt = storeformat;

namespace
{

//! Old keys one writer deletes at most (bounds the transaction; later writers go on).
constexpr size_t s_pruneBatch = 256;

//! One key's limits, by config key name.
struct KeyLimits
{
  const char* reportsKey;
  uint64_t reports;
  const char* recordsKey;
  uint64_t records;
  const char* bytesKey;
  uint64_t bytes;
};

//! The first limit `after` passes ("" none): "over KEY (LIMIT) for NAME on DAY".
std::string firstOver(const KeyLimits& limits, const fmt::SenderDay& after, std::string_view name, int64_t storedAt)
{
  auto over = [&](const char* key, uint64_t limit) {
    return "over " + std::string(key) + " (" + std::to_string(limit) + ") for " + std::string(name) + " on " +
           formatUtc(storedAt, "%Y-%m-%d");
  };
  if (limits.reports != 0 && after.reports > limits.reports) {
    return over(limits.reportsKey, limits.reports);
  }
  if (limits.records != 0 && after.records > limits.records) {
    return over(limits.recordsKey, limits.records);
  }
  if (limits.bytes != 0 && after.bytes > limits.bytes) {
    return over(limits.bytesKey, limits.bytes);
  }
  return {};
}

uint64_t saturatingAdd(uint64_t a, uint64_t b)
{
  uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? UINT64_MAX : sum;
}

} // namespace

Store::Impl::SenderCharge Store::Impl::chargeSender(lmdb::WriteTxn& txn, const ReportHeader& header,
                                                     const SenderLimits& limits, uint64_t records, uint64_t bytes,
                                                     int64_t storedAt, bool addWhenOver) const
{
  const MDB_dbi table = writable(senders, "senders");
  const uint32_t day = dayOfTime(storedAt);

  // Step: prune days before yesterday.
  {
    lmdb::Cursor cursor(txn.get(), table);
    MDB_val key{};
    MDB_val value{};
    size_t pruned = 0;
    while (pruned < s_pruneBatch && cursor.get(MDB_FIRST, key, value) &&
           fmt::decodeSenderDayKey(lmdb::toView(key)) + 1 < day) {
      lmdb::check(mdb_cursor_del(cursor.get(), 0), "prune senders");
      ++pruned;
    }
  }

  // Step: both keys after this report, and the first limit passed.
  struct Key
  {
    std::string storeKey;
    std::string name;
    KeyLimits limits;
    fmt::SenderDay before;
    fmt::SenderDay after;
  };
  std::string reporter;
  appendLowerAscii(reporter, trimAscii(header.metadata.orgName));
  std::string domain;
  appendLowerAscii(domain, trimAscii(header.policy.domain));
  Key both[] = {
    {fmt::senderDayKey(day, 'r', reporter), reporter,
     KeyLimits{keys::reporterReportsPerDay, limits.reporterReports, keys::reporterRecordsPerDay,
               limits.reporterRecords, keys::reporterBytesPerDay, limits.reporterBytes},
     {},
     {}},
    {fmt::senderDayKey(day, 'd', domain), domain,
     KeyLimits{keys::domainReportsPerDay, limits.domainReports, keys::domainRecordsPerDay, limits.domainRecords,
               keys::domainBytesPerDay, limits.domainBytes},
     {},
     {}},
  };
  SenderCharge charge;
  for (Key& key : both) {
    if (auto value = txn.get(table, key.storeKey)) {
      key.before = fmt::decodeSenderDay(*value);
    }
    key.after = key.before;
    key.after.reports = saturatingAdd(key.after.reports, 1);
    key.after.records = saturatingAdd(key.after.records, records);
    key.after.bytes = saturatingAdd(key.after.bytes, bytes);
    std::string over = firstOver(key.limits, key.after, key.name.empty() ? "(no name)" : key.name, storedAt);
    if (over.empty()) {
      continue;
    }
    if (!key.before.noticed) {
      key.after.noticed = true;
      if (charge.notice.empty()) {
        charge.notice = over;
      }
    }
    if (charge.over.empty()) {
      charge.over = over;
    }
  }

  // Step: write back: the counts when the report is kept, else only a new noticed flag.
  const bool add = charge.over.empty() || addWhenOver;
  for (Key& key : both) {
    if (!add) {
      if (key.after.noticed == key.before.noticed) {
        continue;
      }
      key.after = key.before;
      key.after.noticed = true;
    }
    txn.put(table, key.storeKey, fmt::encodeSenderDay(key.after));
  }
  return charge;
}

} // namespace dmarcwatch::collector
