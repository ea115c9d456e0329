/*
 * alert-log.cc - the daemon's alert tables: alert states (per alert key, what
 * was last sent and what the rule remembers) and the alert log (every alert
 * raised, sent or not yet sent).
 *
 * Why a log and not just "send, then remember": a pass records its alerts, the
 * states and its cursor in one transaction, then sends them and marks them
 * sent.  A daemon killed before the transaction redoes the pass; killed after
 * it, sends the unsent ones at start.  So every alert is sent, and sent once
 * (but for one killed between handing a line to syslog and marking it: that
 * one goes again, with the same id).
 *
 * Thread-safety: as Store.  Errors: StoreError.
 */
#include "config.h"

#include "collector/store/store-impl.hh"

#include <cerrno>

namespace dmarcwatch::collector
{

namespace fmt = storeformat;

void Store::forEachAlertState(std::string_view prefix,
                              const std::function<void(std::string_view, const AlertState&)>& visit) const
{
  lmdb::ReadTxn txn(d_impl->env);
  lmdb::Cursor cursor(txn.get(), d_impl->alerts);
  MDB_val key{};
  MDB_val value{};
  const bool all = prefix.empty();
  for (bool ok = all ? cursor.get(MDB_FIRST, key, value) : cursor.seek(prefix, key, value);
       ok && lmdb::toView(key).starts_with(prefix); ok = cursor.get(MDB_NEXT, key, value)) {
    visit(lmdb::toView(key), fmt::decodeAlertState(lmdb::toView(value)));
  }
}

std::optional<std::vector<uint64_t>> Store::commitAlerts(const AlertCommit& commit)
{
  std::vector<uint64_t> numbers;
  bool moved = false;
  d_impl->withWriteTxn([&](lmdb::WriteTxn& txn) {
    numbers.clear();
    if (commit.expectCursor) {
      auto value = txn.get(d_impl->cursors, commit.expectCursor->first);
      const uint64_t position = value ? fmt::decodeCounter(*value, "cursor") : 0;
      moved = position != commit.expectCursor->second;
      if (moved) {
        return; // the transaction aborts: nothing written
      }
    }
    const MDB_dbi log = d_impl->writable(d_impl->alertlog, "alertlog");
    uint64_t next = 1;
    {
      lmdb::Cursor cursor(txn.get(), log);
      MDB_val key{};
      MDB_val value{};
      if (cursor.get(MDB_LAST, key, value)) {
        next = fmt::readU64(lmdb::toSpan(key).data()) + 1;
      }
    }
    for (const auto& alert : commit.alerts) {
      AlertLogEntry entry = alert;
      entry.number = next++;
      txn.put(log, fmt::sequenceKey(entry.number), fmt::encodeAlertLogEntry(entry));
      numbers.push_back(entry.number);
    }
    // The history's oldest sent alerts go, a batch per pass: the log stays bounded.
    if (commit.pruneBefore != INT64_MIN) {
      lmdb::Cursor cursor(txn.get(), log);
      MDB_val key{};
      MDB_val value{};
      size_t dropped = 0;
      for (bool ok = cursor.get(MDB_FIRST, key, value); ok && dropped < s_alertPruneBatch;
           ok = cursor.get(MDB_NEXT, key, value)) {
        const AlertLogEntry entry = fmt::decodeAlertLogEntry(0, lmdb::toView(value));
        if (!entry.emitted || entry.time >= commit.pruneBefore) {
          break;
        }
        lmdb::check(mdb_cursor_del(cursor.get(), 0), "delete alert");
        ++dropped;
      }
    }
    for (const auto& [key, state] : commit.states) {
      txn.put(d_impl->alerts, key, fmt::encodeAlertState(state));
    }
    for (const auto& [name, position] : commit.cursors) {
      txn.put(d_impl->cursors, name, fmt::encodeCounter(position));
    }
    txn.commit();
  });
  if (moved) {
    return std::nullopt;
  }
  return numbers;
}

void Store::markAlertsEmitted(const std::vector<uint64_t>& numbers, int64_t when)
{
  if (numbers.empty()) {
    return;
  }
  d_impl->withWriteTxn([&](lmdb::WriteTxn& txn) {
    const MDB_dbi log = d_impl->writable(d_impl->alertlog, "alertlog");
    for (uint64_t number : numbers) {
      const std::string key = fmt::sequenceKey(number);
      auto value = txn.get(log, key);
      if (!value) {
        continue;
      }
      AlertLogEntry entry = fmt::decodeAlertLogEntry(number, *value);
      entry.emitted = true;
      entry.emittedAt = when;
      txn.put(log, key, fmt::encodeAlertLogEntry(entry));
    }
    txn.commit();
  });
}

std::vector<Store::AlertLogEntry> Store::pendingAlerts() const
{
  std::vector<AlertLogEntry> pending;
  forEachAlert(INT64_MIN, [&](const AlertLogEntry& entry) {
    if (!entry.emitted) {
      pending.push_back(entry);
    }
  });
  return pending;
}

void Store::forEachAlert(int64_t since, const std::function<void(const AlertLogEntry&)>& visit) const
{
  if (!d_impl->alertlog) {
    return;
  }
  lmdb::ReadTxn txn(d_impl->env);
  lmdb::Cursor cursor(txn.get(), *d_impl->alertlog);
  MDB_val key{};
  MDB_val value{};
  for (bool ok = cursor.get(MDB_FIRST, key, value); ok; ok = cursor.get(MDB_NEXT, key, value)) {
    auto bytes = lmdb::toSpan(key);
    if (bytes.size() != 8) {
      throw StoreError("read", MDB_CORRUPTED, "alertlog key of " + std::to_string(bytes.size()) + " bytes");
    }
    AlertLogEntry entry = fmt::decodeAlertLogEntry(fmt::readU64(bytes.data()), lmdb::toView(value));
    if (entry.time >= since) {
      visit(entry);
    }
  }
}

} // namespace dmarcwatch::collector
