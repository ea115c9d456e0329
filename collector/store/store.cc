/*
 * store.cc - the LMDB store (store.hh): opening and schema upgrades, the
 * totals' bookkeeping (taking reports out, recovery of interrupted loads),
 * consumer state, and the read queries.  The writer is in writer.cc, the
 * upgrade steps in upgrade.cc, verification in verify.cc.
 *
 * Thread-safety: Store is shared by threads; every function opens its own
 * transaction.  Errors: StoreError; "not found" is a value.
 */
#include "config.h"

#include "collector/store/aggregates.hh"
#include "collector/store/store-impl.hh"

#include "collector/common/text.hh"

#include <sys/mman.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sys/file.h>
#include <signal.h>
#include <sstream>
#include <unistd.h>
#include <unordered_map>

namespace dmarcwatch::collector
{

namespace fmt = storeformat;

namespace
{

//! Writers begun between two looks for loading reports of dead processes.
constexpr uint64_t s_recoveryInterval = 128;

//! The tables schema 2 added to schema 1's (opened by name; created inside the upgrade).
const std::pair<const char*, MDB_dbi Store::Impl::*> s_schema2Tables[] = {
  {"contents", &Store::Impl::contents}, {"loading", &Store::Impl::loading},   {"rows", &Store::Impl::rows},
  {"payloads", &Store::Impl::payloads}, {"sources", &Store::Impl::sources},   {"cursors", &Store::Impl::cursors},
  {"alerts", &Store::Impl::alerts},
};

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

} // namespace

std::string_view stateName(ReportState state)
{
  switch (state) {
  case ReportState::Active:
    return "active";
  case ReportState::Superseded:
    return "superseded";
  case ReportState::Quarantined:
    return "quarantined";
  case ReportState::Conflict:
    return "conflict";
  case ReportState::Loading:
    return "loading";
  case ReportState::Legacy:
    return "schema-1";
  }
  return "unknown";
}

uint64_t processStartTime(int64_t pid)
{
  // /proc/PID/stat: "pid (comm) state ..." - comm may hold spaces and parentheses: skip to the last ')'.
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) {
    return 0;
  }
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  // Field 3 (state) is the first after the name; the start time is field 22.
  for (int i = 3; i <= 22 && (fields >> field); ++i) {
    if (i == 22) {
      return std::strtoull(field.c_str(), nullptr, 10);
    }
  }
  return 0;
}

DaySpan reportDaySpan(int64_t begin, int64_t end, int64_t now, uint32_t maxDays, Warnings& warnings)
{
  const uint32_t today = dayOfTime(now);
  uint32_t first = 0;
  uint32_t last = 0;
  const std::string range = std::to_string(begin) + ".." + std::to_string(end);
  if (begin > 0 && end > begin) {
    // [begin, end): an end at the next midnight, or at 23:59:59, stays on the same day.
    first = dayOfTime(begin);
    last = dayOfTime(end - 1);
  }
  else if (begin > 0) {
    first = last = dayOfTime(begin);
    warnings.add("report date range " + range + " is empty or reversed: counted on its begin day");
  }
  else if (end > 0) {
    first = last = dayOfTime(end);
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


Interner::Interner(const Store::Impl& store, lmdb::WriteTxn& txn) :
  d_store(store), d_txn(txn)
{
  auto next = txn.get(store.meta, storekeys::nextDictId);
  d_next = next ? static_cast<uint32_t>(fmt::decodeCounter(*next, storekeys::nextDictId)) : 1;
  d_first = d_next;
}

uint32_t Interner::id(std::string_view text)
{
  uint32_t freeIndex = 0;
  if (auto id = d_store.findDictId(d_txn, text, &freeIndex)) {
    return *id;
  }
  if (d_next == UINT32_MAX) {
    throw StoreError("intern", MDB_MAP_FULL, "dictionary ids exhausted");
  }
  const uint32_t id = d_next++;
  if (text.size() <= fmt::s_maxInlineDictKey) {
    d_txn.put(d_store.dict, fmt::dictStringKey(text), fmt::encodeDictId(id));
  }
  else {
    d_txn.put(d_store.dict, fmt::dictHashKey(text, freeIndex), fmt::encodeDictId(id));
  }
  d_txn.put(d_store.dict, fmt::dictIdKey(id), fmt::encodeDictString(text));
  return id;
}

void Interner::finish()
{
  if (d_next != d_first) {
    d_txn.put(d_store.meta, storekeys::nextDictId, fmt::encodeCounter(d_next));
    d_first = d_next;
  }
}

uint32_t Store::Impl::intern(lmdb::WriteTxn& txn, std::string_view text) const
{
  Interner interner(*this, txn);
  uint32_t id = interner.id(text);
  interner.finish();
  return id;
}

uint64_t Store::Impl::takeCounter(lmdb::WriteTxn& txn, const char* name) const
{
  auto value = txn.get(meta, name);
  const uint64_t current = value ? fmt::decodeCounter(*value, name) : 1;
  txn.put(meta, name, fmt::encodeCounter(current + 1));
  return current;
}

std::string Store::Impl::dedupKeyOf(const ReportHeader& header, const ContentHash& content)
{
  std::string key = dedupKey(header);
  if (header.metadata.reportId.empty()) {
    // No report id: reports differ by what they say (two such reports never collide).
    key.push_back('\x1f');
    for (uint8_t byte : content) {
      static constexpr char s_hex[] = "0123456789abcdef";
      key.push_back(s_hex[byte >> 4]);
      key.push_back(s_hex[byte & 15]);
    }
  }
  return key;
}

std::string Store::Impl::storedDedupKey(const StoredReport& report)
{
  // A schema-1 report has no content hash: its key is the plain one, as schema 1 filed it.
  return report.state == ReportState::Legacy ? dedupKey(report.header) : dedupKeyOf(report.header, report.contentHash);
}

uint32_t Store::Impl::reportDomainId(const lmdb::WriteTxn& txn, const StoredReport& report) const
{
  auto domainId = findDictId(txn, lowerAscii(report.header.policy.domain));
  if (!domainId) {
    throw StoreError("apply rows", MDB_CORRUPTED, "domain of report " + std::to_string(report.sequence) + " not interned");
  }
  return *domainId;
}

void Store::Impl::putReport(lmdb::WriteTxn& txn, const StoredReport& report, uint32_t domainId) const
{
  // Step: a report made active (stored, its rows all added, superseding a partial copy,
  // restored from quarantine, copied by reindex) wakes dmarcwatchd once txn has committed.
  if (report.state == ReportState::Active && notifier) {
    txn.afterCommit([wake = notifier.get()] { wake->notify(); });
  }
  txn.put(reports, fmt::sequenceKey(report.sequence), fmt::encodeStoredReport(report));
  txn.put(bydomain, fmt::byDomainKey(domainId, report.header.metadata.begin, report.sequence),
          fmt::encodeByDomainValue(report));
}

void Store::Impl::applyReportRows(lmdb::WriteTxn& txn, const StoredReport& report, int sign) const
{
  // Adding counts every row; taking out, the rows the totals hold (a loading report: some).
  const CountedRows counted = sign > 0 ? CountedRows{CountedRows::Kind::All, {}} : countedRows(txn, report);
  if (counted.kind == CountedRows::Kind::None) {
    return;
  }
  AggregateBatch batch(*this, txn, reportDomainId(txn, report), report, sign);
  forEachStoredRow(txn, report.sequence, [&](const ReportRow& row) {
    if (counted.counts(row)) {
      batch.add(row);
    }
  });
  batch.finish();
}

void Store::Impl::deleteRows(lmdb::WriteTxn& txn, uint64_t sequence) const
{
  const std::string prefix = fmt::sequenceKey(sequence);
  lmdb::Cursor cursor(txn.get(), rows);
  MDB_val key{};
  MDB_val value{};
  for (bool ok = cursor.seek(prefix, key, value); ok && lmdb::toView(key).starts_with(prefix);
       ok = cursor.seek(prefix, key, value)) {
    lmdb::check(mdb_cursor_del(cursor.get(), 0), "delete rows");
  }
}

void Store::Impl::rollBackLoading(lmdb::WriteTxn& txn, uint64_t sequence) const
{
  auto report = loadReport(txn, sequence);
  if (report && report->state == ReportState::Loading) {
    applyReportRows(txn, *report, -1);
    deleteRows(txn, sequence);
    txn.del(reports, fmt::sequenceKey(sequence));
  }
  txn.del(loading, fmt::sequenceKey(sequence));
}

void Store::Impl::recoverLoadingNow(bool always)
{
  // Step: this process's own abandoned loads (their writer could not take them out).
  std::set<uint64_t> mine;
  {
    std::lock_guard lock(abandonedMutex);
    mine.swap(abandoned);
  }
  const bool look = always || writersBegun.load() % s_recoveryInterval == 0;
  if (mine.empty() && !look) {
    return;
  }
  // Step: loads of processes that are gone (a pid reused since has another start time).
  std::vector<uint64_t> dead;
  if (look) {
    lmdb::ReadTxn read(env);
    lmdb::Cursor cursor(read.get(), loading);
    MDB_val key{};
    MDB_val value{};
    for (bool ok = cursor.get(MDB_FIRST, key, value); ok; ok = cursor.get(MDB_NEXT, key, value)) {
      const fmt::LoadingEntry entry = fmt::decodeLoading(lmdb::toView(value));
      const int64_t pid = entry.pid;
      const uint64_t start = entry.start;
      const uint64_t sequence = fmt::decodeSequenceKey(lmdb::toView(key));
      const bool alive = pid == ::getpid() || (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0 &&
                                                processStartTime(pid) == start) ||
                         (pid > 0 && errno == EPERM);
      if (!alive && mine.count(sequence) == 0) {
        dead.push_back(sequence);
      }
    }
  }
  if (mine.empty() && dead.empty()) {
    return;
  }
  // Step: roll back the parsing ones (nothing counted yet) in one transaction; finish the
  // applying ones (decided, every row written: the report is kept).
  dead.insert(dead.end(), mine.begin(), mine.end());
  std::vector<uint64_t> applying;
  try {
    withWriteTxn([&](lmdb::WriteTxn& txn) {
      applying.clear();
      for (uint64_t sequence : dead) {
        auto value = txn.get(loading, fmt::sequenceKey(sequence));
        if (value && fmt::decodeLoading(*value).applying) {
          applying.push_back(sequence);
        }
        else {
          rollBackLoading(txn, sequence);
        }
      }
      txn.commit();
    });
    for (uint64_t sequence : applying) {
      try {
        finishLoading(sequence);
      }
      catch (const ReportRefused&) {
        // Quarantined by finishLoading, with the reason: nothing more to do here.
      }
    }
  }
  catch (...) {
    // Try this process's own again with the next writer.
    std::lock_guard lock(abandonedMutex);
    abandoned.insert(mine.begin(), mine.end());
    throw;
  }
}

void Store::Impl::openDatabases(bool schema1Only)
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
  facts = open("facts");
  days = open("days");
  if (schema1Only) {
    return;
  }
  for (const auto& [name, member] : s_schema2Tables) {
    this->*member = open(name);
  }
}

void Store::Impl::checkSchema()
{
  auto tooNew = [this](uint32_t version) {
    return StoreError("open", MDB_VERSION_MISMATCH,
                      dir + " has store schema " + std::to_string(version) + ", newer than this dmarcwatch (" +
                        std::to_string(s_currentSchema) + ")");
  };
  // Step: what the store says it is (an empty environment has no meta table yet).
  std::optional<uint32_t> version;
  if (auto metaDbi = env->dbi("meta")) {
    meta = *metaDbi;
    lmdb::ReadTxn txn(env);
    if (auto value = txn.get(meta, storekeys::schema)) {
      version = decodeU32Value(*value, storekeys::schema);
    }
  }
  if (version && *version > s_currentSchema) {
    throw tooNew(*version);
  }
  if (env->readOnly()) {
    if (!version) {
      throw StoreError("open", MDB_NOTFOUND, "no store at " + dir + ": run dmarcwatch ingest first");
    }
    if (*version < s_currentSchema) {
      throw StoreError("open", MDB_VERSION_MISMATCH,
                       dir + " has store schema " + std::to_string(*version) + ", this dmarcwatch reads schema " +
                         std::to_string(s_currentSchema) + ": run dmarcwatch db upgrade");
    }
    openDatabases(false);
    return;
  }
  if (version && *version == s_currentSchema) {
    openDatabases(false);
    recoverLoadingNow(true);
    return;
  }

  // Step: read-write, new or older: create or upgrade under the write lock, in one transaction
  // (another process may race us: the version is read again inside it).  A new store gets
  // its tables first; an older one gets the tables of the newer schema inside the upgrade
  // transaction, so a failed upgrade leaves the store as it was.
  const bool older = version.has_value();
  if (older) {
    openDatabases(true);
    raw = env->dbi("raw");
  }
  else {
    openDatabases(false);
  }
  lmdb::WriteTxn txn(env);
  if (older) {
    for (const auto& [name, member] : s_schema2Tables) {
      lmdb::check(mdb_dbi_open(txn.get(), name, MDB_CREATE, &(this->*member)), "create table", name);
    }
  }
  version.reset();
  if (auto value = txn.get(meta, storekeys::schema)) {
    version = decodeU32Value(*value, storekeys::schema);
  }
  if (version && *version > s_currentSchema) {
    throw tooNew(*version);
  }
  if (version && *version < s_currentSchema) {
    for (uint32_t v = *version; v < s_currentSchema; ++v) {
      upgradeStep(txn, v);
    }
    upgradedFrom = *version;
  }
  txn.put(meta, storekeys::schema, encodeU32Value(s_currentSchema));
  txn.commit();
  if (older) {
    openDatabases(false); // the same handles, now in the Env's table of names
  }
}

Store::Impl::~Impl()
{
  if (lockFd >= 0) {
    ::close(lockFd);
  }
}

void Store::Impl::lockSharing()
{
  const std::string path = dir + "/dmarcwatch.lock";
  lockFd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (lockFd < 0) {
    throw StoreError("open", errno, path);
  }
  const bool exclusive = options.sharing == Sharing::Exclusive;
  if (::flock(lockFd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
    const int error = errno;
    throw StoreError("open", error,
                     exclusive ? dir + " is open read-write in another process (dmarcwatch-milter, an ingest): stop "
                                       "it first"
                               : dir + " is being rebuilt (dmarcwatch reindex): try again when it is done");
  }
}

Store::Store(const std::string& dir, const Options& options) :
  d_impl(std::make_unique<Impl>())
{
  d_impl->dir = dir;
  d_impl->options = options;
  lmdb::Env::Options envOptions;
  envOptions.readOnly = options.readOnly;
  envOptions.mapSize = options.mapSize;
  envOptions.maxMapSize = options.maxMapSize;
  envOptions.sync = options.sync;
  d_impl->env = lmdb::Env::open(dir, envOptions);
  if (!options.readOnly) {
    d_impl->lockSharing();
    d_impl->notifier = std::make_unique<StoreNotifier>(dir);
  }
  d_impl->checkSchema();
  d_impl->openEnrichmentTables();
}

Store::~Store() = default;

const std::string& Store::dir() const
{
  return d_impl->dir;
}

int64_t Store::now() const
{
  return d_impl->now();
}

uint32_t Store::upgradedFrom() const
{
  return d_impl->upgradedFrom;
}

void Store::setReportState(uint64_t sequence, ReportState state, const std::string& reason)
{
  if (d_impl->env->readOnly()) {
    throw StoreError("set report state", EACCES, d_impl->dir + " is open read-only");
  }
  d_impl->withWriteTxn([&](lmdb::WriteTxn& txn) { setReportStateIn(txn, sequence, state, reason); });
}

void Store::setReportStateIn(lmdb::WriteTxn& txn, uint64_t sequence, ReportState state, const std::string& reason)
{
  auto report = d_impl->loadReport(txn, sequence);
  if (!report) {
    throw StoreError("set report state", MDB_NOTFOUND, "no report " + std::to_string(sequence));
  }
  if (report->state == ReportState::Legacy) {
    throw StoreError("set report state", EINVAL,
                     "report " + std::to_string(sequence) +
                       " was stored by schema 1 and has no rows of its own: run dmarcwatch reindex first");
  }
  const bool wasCounted = report->state == ReportState::Active;
  const bool counted = state == ReportState::Active;
  const bool allowed = (wasCounted && (state == ReportState::Superseded || state == ReportState::Quarantined)) ||
                       (report->state == ReportState::Quarantined && counted);
  if (!allowed) {
    throw StoreError("set report state", EINVAL,
                     "report " + std::to_string(sequence) + " is " + std::string(stateName(report->state)) +
                       ": cannot make it " + std::string(stateName(state)));
  }
  d_impl->applyReportRows(txn, *report, counted ? +1 : -1);
  report->state = state;
  report->stateReason = reason;
  d_impl->putReport(txn, *report, d_impl->reportDomainId(txn, *report));
  txn.commit();
}

std::optional<StoredReport> Store::report(uint64_t sequence) const
{
  lmdb::ReadTxn txn(d_impl->env);
  return d_impl->loadReport(txn, sequence);
}

void Store::forEachRow(uint64_t sequence, const std::function<void(const ReportRow&)>& visit) const
{
  lmdb::ReadTxn txn(d_impl->env);
  d_impl->forEachStoredRow(txn, sequence, visit);
}

std::string Store::dictString(uint32_t id) const
{
  lmdb::ReadTxn txn(d_impl->env);
  return d_impl->dictString(txn, id);
}

std::optional<std::pair<std::string, std::string>> Store::payload(uint64_t payloadId) const
{
  if (payloadId == 0) {
    return std::nullopt;
  }
  lmdb::ReadTxn txn(d_impl->env);
  auto value = txn.get(d_impl->payloads, fmt::sequenceKey(payloadId));
  if (!value) {
    return std::nullopt;
  }
  return fmt::decodeRaw(*value);
}

std::optional<std::pair<std::string, std::string>> Store::rawPayload(uint64_t sequence) const
{
  auto stored = report(sequence);
  return stored ? payload(stored->payloadId) : std::nullopt;
}

std::optional<uint64_t> Store::cursor(std::string_view name) const
{
  lmdb::ReadTxn txn(d_impl->env);
  auto value = txn.get(d_impl->cursors, name);
  if (!value) {
    return std::nullopt;
  }
  return fmt::decodeCounter(*value, "cursor");
}

void Store::setCursor(std::string_view name, uint64_t position)
{
  d_impl->withWriteTxn([&](lmdb::WriteTxn& txn) {
    txn.put(d_impl->cursors, name, fmt::encodeCounter(position));
    txn.commit();
  });
}

std::optional<Store::AlertState> Store::alertState(std::string_view key) const
{
  lmdb::ReadTxn txn(d_impl->env);
  auto value = txn.get(d_impl->alerts, key);
  if (!value) {
    return std::nullopt;
  }
  return fmt::decodeAlertState(*value);
}

void Store::setAlertState(std::string_view key, const AlertState& state)
{
  d_impl->withWriteTxn([&](lmdb::WriteTxn& txn) {
    txn.put(d_impl->alerts, key, fmt::encodeAlertState(state));
    txn.commit();
  });
}

std::optional<Store::Source> Store::source(std::string_view domain, const IpAddress& ip) const
{
  lmdb::ReadTxn txn(d_impl->env);
  auto domainId = d_impl->findDictId(txn, lowerAscii(domain));
  if (!domainId) {
    return std::nullopt;
  }
  auto value = txn.get(d_impl->sources, fmt::sourceKey(*domainId, ip.bytes));
  if (!value) {
    return std::nullopt;
  }
  const auto seen = fmt::decodeSource(*value);
  return Source{lowerAscii(domain), ip, seen.firstDay, seen.lastDay, seen.firstReport, seen.lastReport};
}

std::vector<StoredReport> Store::listReports(std::string_view domain, size_t newest) const
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
    if (newest == SIZE_MAX) {
      for (bool ok = cursor.seek(prefix, key, value); ok && lmdb::toView(key).starts_with(prefix);
           ok = cursor.get(MDB_NEXT, key, value)) {
        sequences.push_back(fmt::byDomainSequence(lmdb::toView(key)));
      }
    }
    else {
      // The keys sort by (domain, begin, sequence): the newest are the last of the domain's,
      // walked backwards from the first key after them.
      bool ok = *id == UINT32_MAX ? false : cursor.seek(fmt::domainKey(*id + 1), key, value);
      ok = cursor.get(ok ? MDB_PREV : MDB_LAST, key, value);
      for (; ok && sequences.size() < newest && lmdb::toView(key).starts_with(prefix); ok = cursor.get(MDB_PREV, key, value)) {
        sequences.push_back(fmt::byDomainSequence(lmdb::toView(key)));
      }
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

std::vector<StoredReport> Store::reportsAfter(uint64_t after, size_t limit) const
{
  lmdb::ReadTxn txn(d_impl->env);
  std::vector<StoredReport> out;
  if (after == UINT64_MAX) {
    return out; // nothing is above, and after + 1 would wrap to the first report
  }
  MDB_val key{};
  MDB_val value{};
  lmdb::Cursor cursor(txn.get(), d_impl->reports);
  for (bool ok = cursor.seek(fmt::sequenceKey(after + 1), key, value); ok && out.size() < limit;
       ok = cursor.get(MDB_NEXT, key, value)) {
    StoredReport report = fmt::decodeStoredReport(lmdb::toView(value));
    report.sequence = fmt::decodeSequenceKey(lmdb::toView(key));
    out.push_back(std::move(report));
  }
  return out;
}

std::vector<std::string> Store::listDomains() const
{
  return StoreSnapshot(*this).listDomains();
}

void Store::forEachFact(std::string_view domain, uint32_t fromDay, uint32_t toDay,
                        const std::function<void(const Fact&)>& visit) const
{
  StoreSnapshot snapshot(*this);
  auto id = snapshot.domainId(domain);
  if (!id) {
    return;
  }
  std::unordered_map<uint32_t, Outcome> outcomes;
  Fact fact;
  snapshot.forEachRawFact(*id, fromDay, toDay, [&](const RawFact& raw) {
    auto outcome = outcomes.find(raw.outcomeId);
    if (outcome == outcomes.end()) {
      outcome = outcomes.emplace(raw.outcomeId, snapshot.outcome(raw.outcomeId)).first;
    }
    fact.day = raw.day;
    if (raw.ip == std::array<uint8_t, 16>{}) {
      fact.sourceIp.reset();
    }
    else {
      fact.sourceIp = IpAddress{raw.ip};
    }
    fact.headerFrom = snapshot.dictString(raw.headerFromId);
    fact.outcome = outcome->second;
    fact.messages = raw.messages;
    visit(fact);
  });
}

std::vector<DayTotals> Store::dayTotals(std::string_view domain, uint32_t fromDay, uint32_t toDay) const
{
  StoreSnapshot snapshot(*this);
  auto id = snapshot.domainId(domain);
  return id ? snapshot.dayTotals(*id, fromDay, toDay) : std::vector<DayTotals>{};
}

uint32_t Store::schemaVersion() const
{
  lmdb::ReadTxn txn(d_impl->env);
  auto value = txn.get(d_impl->meta, storekeys::schema);
  return value ? decodeU32Value(*value, storekeys::schema) : 0;
}


// StoreSnapshot: the read side for queries that visit many facts (store.hh).

namespace
{

//! A big-endian u32 (storeformat::readU32, inlined for the per-fact loop).
inline uint32_t loadU32(const uint8_t* p)
{
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

/*!
 * A fact read in place (the key and value layout of store-format.hh): the per-fact floor of
 * every status query, so no Reader and no copies.  \return false past the domain or toDay.
 * \throw StoreError for a key or value of the wrong size
 */
inline bool decodeRawFact(const MDB_val& key, const MDB_val& value, uint32_t domainId, uint32_t toDay, RawFact& fact)
{
  if (key.mv_size != fmt::s_factKeySize) {
    throw StoreError("decode", MDB_CORRUPTED, "fact key of " + std::to_string(key.mv_size) + " bytes");
  }
  const auto* p = static_cast<const uint8_t*>(key.mv_data);
  fact.day = loadU32(p + 4);
  if (loadU32(p) != domainId || fact.day > toDay) {
    return false;
  }
  std::memcpy(fact.ip.data(), p + 8, 16);
  fact.headerFromId = loadU32(p + 24);
  fact.outcomeId = loadU32(p + 28);
  const auto* v = static_cast<const uint8_t*>(value.mv_data);
  if (value.mv_size < fmt::s_factValueSize || v[0] != fmt::s_valueVersion) {
    throw StoreError("decode", MDB_CORRUPTED, "fact value");
  }
  fact.messages = (uint64_t{loadU32(v + 1)} << 32) | loadU32(v + 5);
  return true;
}

} // namespace

StoreSnapshot::StoreSnapshot(const Store& store) :
  d_impl(std::make_unique<Impl>(*store.d_impl))
{
}

StoreSnapshot::~StoreSnapshot() = default;

std::optional<uint32_t> StoreSnapshot::domainId(std::string_view domain) const
{
  return d_impl->store.domainId(d_impl->txn, domain);
}

uint64_t StoreSnapshot::version() const
{
  return mdb_txn_id(d_impl->txn.get());
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
    if (!decodeRawFact(key, value, domainId, toDay, fact)) {
      break;
    }
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
  fmt::decodeOutcomeView(fmt::decodeDictString(lmdb::toView(v)), out);
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
    RawFact& fact = out[count];
    if (!decodeRawFact(key, value, impl.domainId, impl.toDay, fact)) {
      impl.done = true;
      break;
    }
    const auto* p = static_cast<const uint8_t*>(key.mv_data);
    const auto* v = static_cast<const uint8_t*>(value.mv_data);
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
