/*
 * status-view.cc - `dmarcwatch status` numbers from the store (status-view.hh).
 *
 * Totals come from the days database (one short scan per domain); sources and
 * services from the window only.  A service is named by its authenticated
 * identity until the naming daemon exists (store/identity.hh has the rule;
 * none: "unknown").
 * wouldBlock counts every DMARC-failing message: under p=reject none of them
 * would be delivered.
 *
 * Sources are summed exactly, in memory that does not grow with their number
 * (DomainScan has the two ways); only the top N are kept, and their
 * (header_from, service) label is worked out from what was summed.  The table
 * path reads the window's rows (store/row-reader.hh), which carry their
 * identity and DMARC result: no outcome is decoded.  The merge path reads the
 * facts (sorted by address per day) and decodes each distinct outcome id once
 * per domain, without copies.  Working memory is reused from one domain to the
 * next.
 *
 * Figures (t/bench year store, 3.65M rows, 100 domains, medians of 5 warm runs
 * on a busy 2-core machine): `--since all` 482 ms (facts and outcomes: 621 ms),
 * 90 days 237 ms (342), 7 days 77 ms (82).  Of `--since all` (perf): summing
 * sources in the table about a third (a cache miss or two per row: a domain's
 * table is bigger than L2), decoding row blocks and LMDB a quarter, the kernel
 * mapping and unmapping the store's pages (64 KiB of fault-around each) about a
 * fifth.  The pages of a big window's facts are handed back as the merge goes
 * (Options::releaseMappedBytes).
 *
 * Thread-safety: a StatusView is one read transaction, used by one thread at a
 * time; computeStatus makes its own.  Errors: StoreError from the store.
 */
#include "config.h"

#include "collector/views/status-view.hh"

#include "collector/common/arithmetic.hh"
#include "collector/common/text.hh"
#include "collector/store/identity.hh"
#include "collector/store/row-reader.hh"

#include <algorithm>
#include <array>
#include <atomic>
#include <exception>
#include <bit>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <span>
#include <tuple>
#include <system_error>
#include <thread>
#include <unordered_map>

namespace dmarcwatch::collector
{

namespace
{

constexpr uint32_t s_maxRelativeDays = 36500;
//! Times computeStatus starts its threads' read transactions again to see one store version.
constexpr int s_sameVersionAttempts = 8;
//! Facts a day's reader fetches at once (40 bytes each): 2.5 KiB per day of the window.
constexpr size_t s_readBatch = 64;
//! Map a fact takes in the store: 32-byte key, 9-byte value, node header, and leaf pages
//! half to three quarters full (mdb_stat: 104 bytes on the bench's year store, 75 when a
//! report's facts were appended in one go).
constexpr uint64_t s_mappedBytesPerFact = 100;
//! Facts the table path reads at once.
constexpr size_t s_tableBatch = 256;

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, UTC).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d)
{
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d)
{
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
}

bool parseNumber(std::string_view text, unsigned& value)
{
  if (text.empty()) {
    return false;
  }
  auto res = std::from_chars(text.data(), text.data() + text.size(), value);
  return res.ec == std::errc() && res.ptr == text.data() + text.size();
}

using IpBytes = std::array<uint8_t, 16>;

//! A source address as two big-endian halves: comparing the pairs compares the bytes.
struct IpKey
{
  uint64_t hi = 0;
  uint64_t lo = 0;

  friend bool operator==(const IpKey&, const IpKey&) = default;
  friend bool operator<(const IpKey& a, const IpKey& b) { return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo; }
};

IpKey ipKey(const IpBytes& ip)
{
  uint64_t hi = 0;
  uint64_t lo = 0;
  std::memcpy(&hi, ip.data(), 8);
  std::memcpy(&lo, ip.data() + 8, 8);
  if constexpr (std::endian::native == std::endian::little) {
    hi = __builtin_bswap64(hi);
    lo = __builtin_bswap64(lo);
  }
  return IpKey{hi, lo};
}

//! What status needs of an outcome id: decoded once per domain.
struct OutcomeInfo
{
  uint32_t service = 0; //!< index into the domain's services
  uint32_t tally = 0;   //!< merge path: index into the domain's outcome tallies
  bool pass = false;
  uint8_t auth = 0;     //!< the *Bit flags (merge path: decoded with it)
};

// What an outcome adds to its service's AuthCounts, as bits of OutcomeInfo::auth (authBits).
constexpr unsigned SpfPassBit = 1U << 0;
constexpr unsigned SpfAlignedBit = 1U << 1;
constexpr unsigned DkimPassBit = 1U << 2;
constexpr unsigned DkimAlignedBit = 1U << 3;
constexpr unsigned OverriddenBit = 1U << 4;
constexpr unsigned ForwardedBit = 1U << 5;
constexpr unsigned QuarantinedBit = 1U << 6;
constexpr unsigned RejectedBit = 1U << 7;

//! Sums never wrap: a store's counts are a reporter's word, summed over days and reports.
inline void addTo(uint64_t& sum, uint64_t more)
{
  sum = saturatingAdd(sum, more);
}

//! Lower-cased copy of a view.
std::string lowered(std::string_view text)
{
  std::string out;
  appendLowerAscii(out, text);
  return out;
}

//! An override a receiver applies to mail that went through a forwarder or list.
bool isForwardingReason(std::string_view reason)
{
  return equalsIgnoreCaseAscii(reason, "forwarded") || equalsIgnoreCaseAscii(reason, "trusted_forwarder") ||
         equalsIgnoreCaseAscii(reason, "mailing_list");
}

//! The AuthBit flags of an outcome.
uint8_t authBits(const OutcomeView& view)
{
  auto passes = [](const auto& results) {
    return std::any_of(results.begin(), results.end(), [](const auto& r) { return equalsIgnoreCaseAscii(r.result, "pass"); });
  };
  unsigned bits = 0;
  bits |= passes(view.spfResults) ? SpfPassBit : 0U;
  bits |= passes(view.dkimResults) ? DkimPassBit : 0U;
  bits |= equalsIgnoreCaseAscii(view.spf, "pass") ? SpfAlignedBit : 0U;
  bits |= equalsIgnoreCaseAscii(view.dkim, "pass") ? DkimAlignedBit : 0U;
  bits |= equalsIgnoreCaseAscii(view.disposition, "quarantine") ? QuarantinedBit : 0U;
  bits |= equalsIgnoreCaseAscii(view.disposition, "reject") ? RejectedBit : 0U;
  // sampled_out is pct at work, not a receiver's exception: p=reject at 100 % refuses that mail.
  const bool overridden = std::any_of(view.reasons.begin(), view.reasons.end(),
                                      [](std::string_view r) { return !equalsIgnoreCaseAscii(r, "sampled_out"); });
  if (!view.dmarcPass() && overridden) {
    bits |= OverriddenBit;
    bits |= std::any_of(view.reasons.begin(), view.reasons.end(), isForwardingReason) ? ForwardedBit : 0U;
  }
  return static_cast<uint8_t>(bits);
}

/*!
 * Outcome id -> OutcomeInfo: open addressing, linear probing, 12 bytes a slot.  Dictionary
 * ids start at 1, so id 0 marks a free slot.  Holds a domain's distinct outcomes in the
 * window (thousands for a year of a busy domain), not its facts.
 */
class OutcomeTable
{
public:
  OutcomeTable() { clear(); }

  //! Forget every outcome; keeps the memory.
  void clear()
  {
    d_slots.assign(s_initialSlots, Slot{});
    d_used = 0;
  }

  //! \return the info of id, or nullptr when it is not there yet.
  [[nodiscard]] const OutcomeInfo* find(uint32_t id) const
  {
    const size_t mask = d_slots.size() - 1;
    for (size_t i = hash(id) & mask;; i = (i + 1) & mask) {
      if (d_slots[i].id == id) {
        return &d_slots[i].info;
      }
      if (d_slots[i].id == 0) {
        return nullptr;
      }
    }
  }

  //! Add id (not there yet).
  void add(uint32_t id, const OutcomeInfo& info)
  {
    if ((d_used + 1) * 2 > d_slots.size()) {
      grow();
    }
    place(Slot{id, info});
    ++d_used;
  }

private:
  struct Slot
  {
    uint32_t id = 0;
    OutcomeInfo info;
  };

  static size_t hash(uint32_t id) { return (uint64_t{id} * 0x9e3779b97f4a7c15ULL) >> 32; }

  void place(const Slot& slot)
  {
    const size_t mask = d_slots.size() - 1;
    size_t i = hash(slot.id) & mask;
    while (d_slots[i].id != 0) {
      i = (i + 1) & mask;
    }
    d_slots[i] = slot;
  }

  void grow()
  {
    std::vector<Slot> old(d_slots.size() * 2);
    old.swap(d_slots);
    for (const auto& slot : old) {
      if (slot.id != 0) {
        place(slot);
      }
    }
  }

  static constexpr size_t s_initialSlots = 1024;
  std::vector<Slot> d_slots;
  size_t d_used = 0;
};

struct ServiceAccumulator
{
  std::string name;
  uint64_t messages = 0;
  uint64_t dmarcPass = 0;
  uint64_t dmarcFail = 0;
  uint64_t sources = 0;
  uint64_t lastSource = 0; //!< merge: serial of the last source counted (distinct sources)
  AuthCounts auth;
  FailureSample failing;
};

//! The messages of one outcome id in the window (what AuthCounts are summed from, after the scan).
struct OutcomeTally
{
  uint32_t id = 0;
  uint64_t messages = 0;
};

//! One (header_from, service) label of a source and its messages.
struct Label
{
  uint32_t headerFromId = 0;
  uint32_t service = 0;
  uint64_t messages = 0;
};

//! A source in a top N: its totals and its label (the one carrying most of its messages).
struct TopSource
{
  IpKey key;
  uint64_t messages = 0;
  uint64_t dmarcPass = 0;
  Label label;
  uint64_t rank = 0; //!< what its top N ranks it by: messages, or failing messages

  [[nodiscard]] uint64_t failing() const { return messages - dmarcPass; }
};

//! Ranking of sources: highest rank first, then by address ("no address", all zero, first).
bool ranksBefore(uint64_t rank, const IpKey& key, const TopSource& other)
{
  return rank != other.rank ? rank > other.rank : key < other.key;
}

//! The address bytes of a key.
IpBytes ipBytes(const IpKey& key)
{
  uint64_t hi = key.hi;
  uint64_t lo = key.lo;
  if constexpr (std::endian::native == std::endian::little) {
    hi = __builtin_bswap64(hi);
    lo = __builtin_bswap64(lo);
  }
  IpBytes ip{};
  std::memcpy(ip.data(), &hi, 8);
  std::memcpy(ip.data() + 8, &lo, 8);
  return ip;
}

//! Spreads every input bit over the low bits an index masks (murmur3's finaliser).
uint64_t mix(uint64_t x)
{
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

/*!
 * The slots of an open-addressing index (linear probing) over entries kept in a vector:
 * entry index + 1 (0: a free slot) and 32 bits of the entry's hash, so that a probe
 * touches an entry (far away in memory) only when it is very likely the one.  At most three
 * quarters full: callers that add without a bound check full() and grow() first.
 */
class SlotIndex
{
public:
  //! Forget every entry; room for n of them.
  void reset(size_t n) { d_slots.assign(std::bit_ceil(std::max<size_t>(n + n / 2, 16)), Slot{}); }

  //! At most three quarters full: a table that stays small enough for the CPU's cache probes
  //! faster than a sparse one, for the few slots more a miss walks.
  [[nodiscard]] bool full(size_t entries) const { return (entries + 1) * 4 > d_slots.size() * 3; }

  //! Start loading the slot of hash into the cache (the probe comes a few rows later).
  void prefetch(uint64_t hash) const { __builtin_prefetch(&d_slots[hash & (d_slots.size() - 1)]); }

  //! Twice the slots, the entries [0, entries) placed again (hashOf gives an entry's hash).
  template <typename HashOf>
  void grow(size_t entries, HashOf hashOf)
  {
    d_slots.assign(d_slots.size() * 2, Slot{});
    for (uint32_t index = 0; index < entries; ++index) {
      findOrAdd(hashOf(index), index, [](uint32_t) { return false; });
    }
  }

  /*!
   * \brief The entry of hash that equal() accepts, else a new slot for entry index next.
   * \return the entry's index and whether it was added.
   */
  template <typename Equal>
  std::pair<uint32_t, bool> findOrAdd(uint64_t hash, uint32_t next, Equal equal)
  {
    const size_t mask = d_slots.size() - 1;
    const auto tag = static_cast<uint32_t>(hash >> 32);
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      Slot& slot = d_slots[i];
      if (slot.index == 0) {
        slot = Slot{tag, next + 1};
        return {next, true};
      }
      if (slot.tag == tag && equal(slot.index - 1)) {
        return {slot.index - 1, false};
      }
    }
  }

private:
  struct Slot
  {
    uint32_t tag = 0;
    uint32_t index = 0;
  };
  std::vector<Slot> d_slots;
};

//! A source of the table path: its sums and the first label it was seen with (48 bytes).
struct SourceEntry
{
  IpKey key;
  uint64_t messages = 0;
  uint64_t dmarcPass = 0;
  Label label;
};

//! A label of a table-path source other than its first (most sources have one label only).
struct ExtraLabel
{
  uint32_t source = 0;
  Label label;
};

//! One day of the window: its facts in address order, a batch at a time.
struct DayRun
{
  explicit DayRun(FactReader&& from) :
    reader(std::move(from))
  {
  }

  //! \return false when the day has no facts left (else batch[next] is the next one).
  bool fill()
  {
    if (next < size) {
      return true;
    }
    next = 0;
    size = static_cast<uint32_t>(reader.read(batch));
    return size > 0;
  }

  FactReader reader;
  std::array<RawFact, s_readBatch> batch{};
  uint32_t next = 0;
  uint32_t size = 0;
};

//! Memory domainStatus reuses from one domain to the next (no allocation per fact).
struct Workspace
{
  OutcomeTable outcomes;   //!< merge path: outcome id -> service, pass
  OutcomeTable identities; //!< table path: identity id (not 0) -> service
  std::vector<ServiceAccumulator> services;
  std::unordered_map<std::string, uint32_t> serviceByName;
  OutcomeView outcomeView;
  std::string serviceName;
  std::vector<TopSource> top; //!< heap: the worst of the top N first
  std::vector<TopSource> topFailing; //!< heap by failing messages: the worst of the top N first
  OutcomeTable tallyIndex;           //!< outcome id -> index into tallies (OutcomeInfo::service)
  std::vector<OutcomeTally> tallies;
  // The table path.
  std::vector<WindowRow> batch;
  std::vector<SourceEntry> sources;
  SlotIndex sourceIndex;
  std::vector<ExtraLabel> extraLabels;
  SlotIndex extraLabelIndex;
  std::vector<uint64_t> extraServices; //!< (source + 1) << 32 | service
  SlotIndex extraServiceIndex;
  // The merge path.
  std::vector<DayRun> runs;
  std::vector<IpKey> keys;    //!< current address of each run
  std::vector<uint8_t> done;  //!< run exhausted (its key is then all ones)
  std::vector<uint32_t> tree; //!< loser tree over the runs; tree[0]: the run with the least address
  std::vector<Label> labels;  //!< of the current source

  void clear()
  {
    outcomes.clear();
    identities.clear();
    services.clear();
    serviceByName.clear();
    top.clear();
    topFailing.clear();
    tallyIndex.clear();
    tallies.clear();
    sources.clear();
    extraLabels.clear();
    extraServices.clear();
    runs.clear();
    labels.clear();
  }
};

/*!
 * The sources and services of one domain over a window, from one pass over its rows or facts.
 *
 * Per-source sums need every fact of an address, and an address's facts are spread over
 * the days of the window.  Two exact ways, chosen by the window's record count (the days
 * database has it; no more distinct sources than records):
 * - table: the rows of the window's reports, sources summed in an open-addressing table
 *   by address (48 bytes a source, 16 of index).  Fast: about one probe per row.
 * - merge: within a (domain, day) the facts are sorted by address, so the days are merged
 *   (a loser tree, log2(days) comparisons per fact); each address comes out once with all
 *   its facts.  Memory: a batch of facts per day, whatever the number of sources.
 * Either way a source is counted once for each of its services, and kept only if it ranks
 * in the top N (a heap); its label is the (header_from, service) with most of its messages.
 */
class DomainScan
{
public:
  /*!
   * \param releaseFacts after every this many facts read, the store's pages are handed back
   * (StatusView::Options::releaseMappedBytes); 0: never.
   */
  DomainScan(StoreSnapshot& snapshot, Workspace& work, size_t topN, uint64_t releaseFacts, bool countAuth) :
    d_snapshot(snapshot), d_work(work), d_topN(topN), d_releaseFacts(releaseFacts), d_countAuth(countAuth)
  {
  }

  /*!
   * Sum the window's rows (records: how many the days database counts) by address in one
   * table.  The rows carry their service's identity and DMARC result: no outcome is decoded.
   */
  void table(uint32_t domainId, uint32_t fromDay, uint32_t toDay, uint64_t records)
  {
    // Step 1: every row into its source's entry.
    auto& work = d_work;
    work.sourceIndex.reset(records);
    work.extraLabelIndex.reset(0);
    work.extraServiceIndex.reset(0);
    readRows(domainId, fromDay, toDay, [&](std::span<const WindowRow> rows) {
      // The slots are random memory: ask for them a batch ahead of the probes.
      for (const WindowRow& row : rows) {
        work.sourceIndex.prefetch(hashOf(ipKey(row.row.ip)));
      }
      for (const WindowRow& row : rows) {
        addToTable(row.row.ip, row.row.headerFromId, OutcomeInfo{.service = identityService(row.row.identityId), .pass = row.row.dmarcPass},
                   row.messages);
        if (d_countAuth) {
          tally(row.row.outcomeId, row.messages);
        }
      }
    });

    // Step 2: each source's best label (the first one seen, or another that carries more),
    // then the top N.
    for (const auto& extra : work.extraLabels) {
      Label& best = work.sources[extra.source].label;
      if (labelBefore(extra.label, best)) {
        best = extra.label;
      }
    }
    for (const auto& source : work.sources) {
      const TopSource top{source.key, source.messages, source.dmarcPass, source.label};
      if (ranks(work.top, source.messages, source.key)) {
        offer(work.top, top, source.messages);
      }
      if (ranks(work.topFailing, top.failing(), source.key)) {
        offer(work.topFailing, top, top.failing());
      }
    }
  }

  /*!
   * The services only (no top N asked): the window's rows summed by identity, no table of
   * sources (what makes the other paths cost: a random probe per row), so no source counts.
   */
  void servicesOnly(uint32_t domainId, uint32_t fromDay, uint32_t toDay)
  {
    readRows(domainId, fromDay, toDay, [&](std::span<const WindowRow> rows) {
      for (const WindowRow& row : rows) {
        addToService(OutcomeInfo{.service = identityService(row.row.identityId), .pass = row.row.dmarcPass}, row.messages);
        if (d_countAuth) {
          tally(row.row.outcomeId, row.messages);
        }
      }
    });
  }

  //! The window's messages and reports by authenticity only (the merge path: the facts carry no report).
  void authenticityOnly(uint32_t domainId, uint32_t fromDay, uint32_t toDay)
  {
    readRows(domainId, fromDay, toDay, [](std::span<const WindowRow>) {});
  }

  //! What the scan counted by authenticity (table, servicesOnly, authenticityOnly).
  [[nodiscard]] const AuthenticityCounts& authenticity() const { return d_authenticity; }

  //! Merge the days' facts by address (days: those with data in the window).
  void merge(uint32_t domainId, const std::vector<DayTotals>& days)
  {
    // Step 1: a reader per day, and the loser tree over their first addresses.
    auto& work = d_work;
    work.runs.reserve(days.size());
    for (const auto& day : days) {
      work.runs.emplace_back(FactReader(d_snapshot, domainId, day.day, day.day));
    }
    const size_t k = work.runs.size();
    work.keys.assign(k, IpKey{});
    work.done.assign(k, 0);
    for (uint32_t i = 0; i < k; ++i) {
      advanced(i);
    }
    buildTree();

    // Step 2: take the least address of all days, all of its facts in that day, replay.
    bool open = false;
    for (;;) {
      const uint32_t w = work.tree[0];
      if (work.done[w] != 0) {
        break;
      }
      const IpKey key = work.keys[w];
      DayRun& day = work.runs[w];
      if (!open || key != d_key) {
        if (open) {
          finishSource();
        }
        startSource(key);
        open = true;
      }
      do {
        addToSource(day.batch[day.next]);
        ++day.next;
      } while (advanced(w) && work.keys[w] == key);
      replay(w);
    }
    if (open) {
      finishSource();
    }
  }

private:
  /*!
   * Count facts read. \return true when the pages they came from are due to be handed back
   * (FactReader::releasePages): a window of a million facts maps about 100 MiB of the store.
   * Only a big window's facts count, not the dictionary pages outcome lookups map: those are
   * bounded by the store's outcomes, and a domain's next lookups would fault them all back
   * (64 KiB each: 35 ms a release on the bench's year store).
   */
  bool releaseDue(size_t facts)
  {
    d_factsRead += facts;
    if (d_releaseFacts == 0 || d_factsRead < d_releaseFacts) {
      return false;
    }
    d_factsRead = 0;
    return true;
  }

  //! The service and DMARC result of an outcome id, decoded the first time it is seen.
  OutcomeInfo outcomeInfo(uint32_t id)
  {
    if (id == d_lastOutcomeId && id != 0) {
      return d_lastOutcome;
    }
    auto& work = d_work;
    const OutcomeInfo* known = work.outcomes.find(id);
    OutcomeInfo info;
    if (known != nullptr) {
      info = *known;
    }
    else {
      d_snapshot.outcomeView(id, work.outcomeView);
      info.pass = work.outcomeView.dmarcPass();
      info.auth = authBits(work.outcomeView);
      info.tally = static_cast<uint32_t>(work.tallies.size());
      work.tallies.push_back(OutcomeTally{id, 0});
      authenticatedIdentity(work.outcomeView.dkimResults, work.outcomeView.spfResults, work.serviceName);
      info.service = serviceNamed(work.serviceName);
      work.outcomes.add(id, info);
    }
    d_lastOutcomeId = id;
    d_lastOutcome = info;
    return info;
  }

  //! Count an outcome's messages (decoded once, after the scan: sumOutcomes).
  void tally(uint32_t outcomeId, uint64_t messages)
  {
    auto& work = d_work;
    if (outcomeId != d_lastTallyId || work.tallies.empty()) {
      const OutcomeInfo* known = work.tallyIndex.find(outcomeId);
      if (known != nullptr) {
        d_lastTallyIndex = known->service;
      }
      else {
        d_lastTallyIndex = static_cast<uint32_t>(work.tallies.size());
        work.tallies.push_back(OutcomeTally{outcomeId, 0});
        work.tallyIndex.add(outcomeId, OutcomeInfo{.service = d_lastTallyIndex});
      }
      d_lastTallyId = outcomeId;
    }
    addTo(work.tallies[d_lastTallyIndex].messages, messages);
  }

  //! The service of an identity id (0: none), looked up the first time it is seen.
  uint32_t identityService(uint32_t id)
  {
    if (id == d_lastIdentityId) {
      return d_lastIdentityService;
    }
    uint32_t service = 0;
    if (id == 0) {
      if (!d_unknownService) {
        d_unknownService = serviceNamed({});
      }
      service = *d_unknownService;
    }
    else if (const OutcomeInfo* known = d_work.identities.find(id)) {
      service = known->service;
    }
    else {
      service = serviceNamed(d_snapshot.dictString(id));
      d_work.identities.add(id, OutcomeInfo{.service = service});
    }
    d_lastIdentityId = id;
    d_lastIdentityService = service;
    return service;
  }

  //! The index of the service of an identity ("": unknown), added when new.
  uint32_t serviceNamed(std::string_view identity)
  {
    auto& work = d_work;
    work.serviceName.assign(identity.empty() ? s_noIdentityService : identity);
    auto named = work.serviceByName.find(work.serviceName);
    if (named == work.serviceByName.end()) {
      named = work.serviceByName.emplace(work.serviceName, static_cast<uint32_t>(work.services.size())).first;
      work.services.emplace_back();
      work.services.back().name = named->first;
    }
    return named->second;
  }

  //! Add a fact to its service's sums. \return the service.
  ServiceAccumulator& addToService(const OutcomeInfo& info, uint64_t messages)
  {
    auto& svc = d_work.services[info.service];
    addTo(svc.messages, messages);
    addTo(info.pass ? svc.dmarcPass : svc.dmarcFail, messages);
    return svc;
  }

  //! Add a row's messages to its source (and service) in the table.
  void addToTable(const IpBytes& ip, uint32_t headerFromId, const OutcomeInfo& info, uint64_t messages)
  {
    auto& work = d_work;
    ServiceAccumulator& svc = addToService(info, messages);
    const uint64_t passed = info.pass ? messages : 0;
    const IpKey key = ipKey(ip);
    auto& sources = work.sources;
    // The table is sized for the window's records, more than its sources: it grows only if
    // the days database undercounts them (a damaged store).
    if (work.sourceIndex.full(sources.size())) {
      work.sourceIndex.grow(sources.size(), [&](size_t i) { return hashOf(sources[i].key); });
    }
    const auto [index, added] = work.sourceIndex.findOrAdd(hashOf(key), static_cast<uint32_t>(sources.size()),
                                                           [&](uint32_t i) { return sources[i].key == key; });
    if (added) {
      sources.push_back(SourceEntry{key, messages, passed, Label{headerFromId, info.service, messages}});
      ++svc.sources;
      return;
    }
    SourceEntry& source = sources[index];
    addTo(source.messages, messages);
    addTo(source.dmarcPass, passed);
    if (headerFromId == source.label.headerFromId && info.service == source.label.service) {
      addTo(source.label.messages, messages);
      return;
    }
    // Another label; maybe another service, counted once per source.
    if (info.service != source.label.service) {
      const uint64_t pair = (uint64_t{index} + 1) << 32 | info.service;
      auto& services = work.extraServices;
      if (work.extraServiceIndex.full(services.size())) {
        work.extraServiceIndex.grow(services.size(), [&](size_t i) { return mix(services[i]); });
      }
      if (work.extraServiceIndex
            .findOrAdd(mix(pair), static_cast<uint32_t>(services.size()), [&](uint32_t i) { return services[i] == pair; })
            .second) {
        services.push_back(pair);
        ++svc.sources;
      }
    }
    auto& labels = work.extraLabels;
    auto labelHash = [](uint32_t of, uint32_t fromId, uint32_t service) {
      return mix((uint64_t{of} << 32 | fromId) ^ mix(service));
    };
    if (work.extraLabelIndex.full(labels.size())) {
      work.extraLabelIndex.grow(labels.size(), [&](size_t i) {
        return labelHash(labels[i].source, labels[i].label.headerFromId, labels[i].label.service);
      });
    }
    const auto [labelIndex, newLabel] = work.extraLabelIndex.findOrAdd(
      // The index by copy: a lambda cannot name a structured binding before C++20 as clang 14 has it.
      labelHash(index, headerFromId, info.service), static_cast<uint32_t>(labels.size()), [&, of = index](uint32_t i) {
        const ExtraLabel& l = labels[i];
        return l.source == of && l.label.headerFromId == headerFromId && l.label.service == info.service;
      });
    if (newLabel) {
      labels.push_back(ExtraLabel{index, Label{headerFromId, info.service, 0}});
    }
    addTo(labels[labelIndex].label.messages, messages);
  }

  static uint64_t hashOf(const IpKey& key) { return mix(key.lo ^ mix(key.hi)); }

  /*!
   * Read the window's rows a batch at a time into visit (a span of them), and count each by
   * its report's authenticity (d_authenticity) as it goes.
   */
  template <typename VisitBatch>
  void readRows(uint32_t domainId, uint32_t fromDay, uint32_t toDay, VisitBatch&& visit)
  {
    auto& batch = d_work.batch;
    batch.resize(s_tableBatch);
    RowReader reader(d_snapshot, domainId, fromDay, toDay);
    for (size_t count = 0; (count = reader.read(batch)) > 0;) {
      const std::span<const WindowRow> rows(batch.data(), count);
      visit(rows);
      for (const WindowRow& row : rows) {
        addTo(d_authenticity.messages[static_cast<size_t>(row.authenticity)], row.messages);
      }
    }
    d_authenticity.reports = reader.reportsRead();
  }

  //! After run i moved on: its next address, or "done".  \return false when done.
  bool advanced(uint32_t i)
  {
    auto& work = d_work;
    if (!work.runs[i].fill()) {
      work.done[i] = 1;
      work.keys[i] = IpKey{UINT64_MAX, UINT64_MAX};
      return false;
    }
    const auto& run = work.runs[i];
    work.keys[i] = ipKey(run.batch[run.next].ip);
    if (releaseDue(1)) {
      for (auto& day : work.runs) {
        day.reader.releasePages();
      }
    }
    return true;
  }

  //! Run a comes before run b: a smaller address; on a tie (all ones) a live run first.
  [[nodiscard]] bool before(uint32_t a, uint32_t b) const
  {
    const IpKey& x = d_work.keys[a];
    const IpKey& y = d_work.keys[b];
    if (x.hi != y.hi) {
      return x.hi < y.hi;
    }
    if (x.lo != y.lo) {
      return x.lo < y.lo;
    }
    return d_work.done[a] < d_work.done[b];
  }

  /*!
   * Leaves are runs 0..k-1 at positions k..2k-1, internal nodes 1..k-1 keep the loser of
   * their match.  Each run climbs from its leaf: it waits at the first free node for the
   * winner of the sibling subtree, plays it there, and the winner climbs on.
   */
  void buildTree()
  {
    auto& tree = d_work.tree;
    const size_t k = d_work.runs.size();
    tree.assign(std::max<size_t>(k, 1), s_noRun);
    for (uint32_t leaf = 0; leaf < k; ++leaf) {
      uint32_t winner = leaf;
      size_t node = (leaf + k) / 2;
      for (; node > 0; node /= 2) {
        if (tree[node] == s_noRun) {
          tree[node] = winner;
          break;
        }
        if (before(tree[node], winner)) {
          std::swap(tree[node], winner);
        }
      }
      if (node == 0) {
        tree[0] = winner;
      }
    }
  }

  //! Run w has a new address: play it up the path to the root.
  void replay(uint32_t w)
  {
    auto& tree = d_work.tree;
    const size_t k = d_work.runs.size();
    uint32_t winner = w;
    for (size_t node = (w + k) / 2; node > 0; node /= 2) {
      if (before(tree[node], winner)) {
        std::swap(tree[node], winner);
      }
    }
    tree[0] = winner;
  }

  void startSource(const IpKey& key)
  {
    ++d_serial;
    d_key = key;
    d_messages = 0;
    d_dmarcPass = 0;
    d_work.labels.clear();
  }

  void addToSource(const RawFact& fact)
  {
    const OutcomeInfo info = outcomeInfo(fact.outcomeId);
    addTo(d_work.tallies[info.tally].messages, fact.messages);
    ServiceAccumulator& svc = addToService(info, fact.messages);
    addTo(d_messages, fact.messages);
    addTo(d_dmarcPass, info.pass ? fact.messages : 0);
    if (svc.lastSource != d_serial) {
      svc.lastSource = d_serial;
      ++svc.sources;
    }
    auto& labels = d_work.labels;
    auto found = std::find_if(labels.begin(), labels.end(), [&](const Label& l) {
      return l.headerFromId == fact.headerFromId && l.service == info.service;
    });
    if (found == labels.end()) {
      labels.push_back(Label{fact.headerFromId, info.service, fact.messages});
    }
    else {
      addTo(found->messages, fact.messages);
    }
  }

  //! All facts of the source are in: keep it if it ranks in the top N.
  void finishSource()
  {
    const uint64_t failing = d_messages - d_dmarcPass;
    const bool byMessages = ranks(d_work.top, d_messages, d_key);
    const bool byFailing = ranks(d_work.topFailing, failing, d_key);
    if (!byMessages && !byFailing) {
      return;
    }
    const Label* best = &d_work.labels.front();
    for (const auto& label : d_work.labels) {
      if (labelBefore(label, *best)) {
        best = &label;
      }
    }
    const TopSource source{d_key, d_messages, d_dmarcPass, *best};
    if (byMessages) {
      offer(d_work.top, source, d_messages);
    }
    if (byFailing) {
      offer(d_work.topFailing, source, failing);
    }
  }

  //! Would a source of this rank (messages, or failing messages) and address make a top N?
  //! A source of rank 0 never does (no failing messages: not a failing source).
  [[nodiscard]] bool ranks(const std::vector<TopSource>& top, uint64_t rank, const IpKey& key) const
  {
    return d_topN > 0 && rank > 0 && (top.size() < d_topN || ranksBefore(rank, key, top.front()));
  }

  //! Keep a source that ranks() in top, dropping the worst of a full top N.
  void offer(std::vector<TopSource>& top, TopSource source, uint64_t rank) const
  {
    source.rank = rank;
    auto worstFirst = [](const TopSource& a, const TopSource& b) { return ranksBefore(a.rank, a.key, b); };
    if (top.size() == d_topN) {
      std::pop_heap(top.begin(), top.end(), worstFirst);
      top.back() = source;
    }
    else {
      top.push_back(source);
    }
    std::push_heap(top.begin(), top.end(), worstFirst);
  }

  //! The better label of a source: more messages, then the first by (header_from, service).
  bool labelBefore(const Label& a, const Label& b)
  {
    if (a.messages != b.messages) {
      return a.messages > b.messages;
    }
    const std::string& fromA = d_snapshot.dictString(a.headerFromId);
    const std::string& fromB = d_snapshot.dictString(b.headerFromId);
    const std::string& serviceA = d_work.services[a.service].name;
    const std::string& serviceB = d_work.services[b.service].name;
    return std::tie(fromA, serviceA) < std::tie(fromB, serviceB);
  }

  static constexpr uint32_t s_noRun = UINT32_MAX;
  StoreSnapshot& d_snapshot;
  Workspace& d_work;
  const size_t d_topN;
  const uint64_t d_releaseFacts;
  const bool d_countAuth; //!< the table path tallies outcomes (StatusView::Options::countAuth)
  uint64_t d_factsRead = 0;
  AuthenticityCounts d_authenticity;
  uint32_t d_lastOutcomeId = 0;
  OutcomeInfo d_lastOutcome;
  uint32_t d_lastTallyId = 0;
  uint32_t d_lastTallyIndex = 0;
  uint32_t d_lastIdentityId = UINT32_MAX; //!< none yet (dictionary ids stop before it)
  uint32_t d_lastIdentityService = 0;
  std::optional<uint32_t> d_unknownService; //!< the service of identity 0, once looked up
  // The source being merged.
  uint64_t d_serial = 0;
  IpKey d_key;
  uint64_t d_messages = 0;
  uint64_t d_dmarcPass = 0;
};

//! A top N as summaries, best first.
std::vector<SourceSummary> summaries(StoreSnapshot& snapshot, const Workspace& work, std::vector<TopSource> top)
{
  std::sort(top.begin(), top.end(), [](const TopSource& a, const TopSource& b) { return ranksBefore(a.rank, a.key, b); });
  std::vector<SourceSummary> out;
  out.reserve(top.size());
  for (const auto& source : top) {
    SourceSummary summary;
    if (source.key != IpKey{}) {
      summary.ip = IpAddress{ipBytes(source.key)};
    }
    summary.headerFrom = snapshot.dictString(source.label.headerFromId);
    summary.service = work.services[source.label.service].name;
    summary.identity = summary.service;
    summary.messages = source.messages;
    summary.dmarcPass = source.dmarcPass;
    summary.dmarcFail = source.failing();
    out.push_back(std::move(summary));
  }
  return out;
}

/*!
 * Each outcome's messages into its service's AuthCounts; the largest failing outcome of each
 * service kept as its sample.  The merge path decoded every outcome already (their bits are in
 * work.outcomes); the table path's are decoded here, once each (thousands for a year of a busy
 * domain, against its millions of facts).
 */
void sumOutcomes(StoreSnapshot& snapshot, Workspace& work)
{
  OutcomeView& view = work.outcomeView;
  std::vector<const OutcomeTally*> sample(work.services.size(), nullptr);
  for (const auto& tally : work.tallies) {
    OutcomeInfo info;
    if (const OutcomeInfo* known = work.outcomes.find(tally.id)) {
      info = *known;
    }
    else {
      snapshot.outcomeView(tally.id, view);
      authenticatedIdentity(view.dkimResults, view.spfResults, work.serviceName);
      const auto found = work.serviceByName.find(work.serviceName.empty() ? std::string(s_noIdentityService)
                                                                          : work.serviceName);
      if (found == work.serviceByName.end()) {
        continue; // cannot be: the scan named every outcome's service
      }
      info = OutcomeInfo{.service = found->second, .pass = view.dmarcPass(), .auth = authBits(view)};
    }
    ServiceAccumulator& svc = work.services[info.service];
    const uint64_t n = tally.messages;
    auto count = [&](uint64_t& field, unsigned bit) {
      if ((info.auth & bit) != 0) {
        field = saturatingAdd(field, n);
      }
    };
    AuthCounts& auth = svc.auth;
    count(auth.spfPass, SpfPassBit);
    count(auth.spfAligned, SpfAlignedBit);
    count(auth.dkimPass, DkimPassBit);
    count(auth.dkimAligned, DkimAlignedBit);
    count(auth.overridden, OverriddenBit);
    count(auth.forwarded, ForwardedBit);
    count(auth.quarantined, QuarantinedBit);
    count(auth.rejected, RejectedBit);
    if (!info.pass && (sample[info.service] == nullptr || n > sample[info.service]->messages)) {
      sample[info.service] = &tally;
    }
  }
  for (size_t i = 0; i < sample.size(); ++i) {
    if (sample[i] == nullptr) {
      continue;
    }
    snapshot.outcomeView(sample[i]->id, view);
    FailureSample& out = work.services[i].failing;
    out.messages = sample[i]->messages;
    for (const auto& dkim : view.dkimResults) {
      out.dkim.push_back({lowered(dkim.domain), lowered(dkim.result), std::string(dkim.selector)});
    }
    for (const auto& spf : view.spfResults) {
      out.spf.push_back({lowered(spf.domain), lowered(spf.result), {}});
    }
    for (const auto& reason : view.reasons) {
      out.overrides.emplace_back(reason);
    }
  }
}

DomainStatus domainStatus(StoreSnapshot& snapshot, Workspace& work, const StatusView::Options& options,
                          const std::string& domain, uint32_t fromDay, uint32_t toDay, size_t topN)
{
  DomainStatus status;
  status.domain = domain;
  status.fromDay = fromDay;
  status.toDay = toDay;
  auto domainId = snapshot.domainId(domain);
  if (!domainId) {
    return status;
  }
  if (auto newest = snapshot.dayRange(*domainId, 0, UINT32_MAX)) {
    status.newestDay = newest->second;
  }
  status.dataDays = snapshot.dayRange(*domainId, fromDay, toDay);

  // Totals: the days database (which also lists the days to read facts from).
  const auto days = snapshot.dayTotals(*domainId, fromDay, toDay);
  uint64_t records = 0;
  for (const auto& day : days) {
    addTo(status.messages, day.messages);
    addTo(status.dmarcPass, day.dmarcPass);
    addTo(records, day.records);
  }
  status.dmarcFail = status.messages - std::min(status.dmarcPass, status.messages);
  status.wouldBlock = status.dmarcFail;
  if (days.empty()) {
    return status;
  }

  // Sources and services: one pass over the window's facts.
  work.clear();
  DomainScan scan(snapshot, work, topN, options.releaseMappedBytes / s_mappedBytesPerFact, options.countAuth);
  status.sourcesCounted = topN > 0;
  if (topN == 0) {
    scan.servicesOnly(*domainId, fromDay, toDay);
  }
  else if (records <= options.maxTableSources) {
    scan.table(*domainId, fromDay, toDay, records);
  }
  else {
    scan.merge(*domainId, days);
    scan.authenticityOnly(*domainId, fromDay, toDay);
  }
  status.authenticity = scan.authenticity();

  status.topSources = summaries(snapshot, work, work.top);
  status.failingSources = summaries(snapshot, work, work.topFailing);
  if (options.countAuth) {
    sumOutcomes(snapshot, work);
  }
  status.trend = days;

  status.services.reserve(work.services.size());
  for (auto& svc : work.services) {
    ServiceSummary summary;
    summary.name = svc.name;
    summary.category = "unclassified";
    summary.messages = svc.messages;
    summary.dmarcPass = svc.dmarcPass;
    summary.dmarcFail = svc.dmarcFail;
    summary.sources = svc.sources;
    summary.auth = svc.auth;
    summary.failing = std::move(svc.failing);
    status.services.push_back(std::move(summary));
  }
  std::sort(status.services.begin(), status.services.end(),
            [](const ServiceSummary& a, const ServiceSummary& b) {
              return a.messages != b.messages ? a.messages > b.messages : a.name < b.name;
            });
  return status;
}

} // namespace

uint64_t AuthenticityCounts::allReports() const
{
  uint64_t sum = 0;
  for (const uint64_t n : reports) {
    addTo(sum, n);
  }
  return sum;
}

void AuthCounts::add(const AuthCounts& other)
{
  spfPass = saturatingAdd(spfPass, other.spfPass);
  spfAligned = saturatingAdd(spfAligned, other.spfAligned);
  dkimPass = saturatingAdd(dkimPass, other.dkimPass);
  dkimAligned = saturatingAdd(dkimAligned, other.dkimAligned);
  overridden = saturatingAdd(overridden, other.overridden);
  forwarded = saturatingAdd(forwarded, other.forwarded);
  quarantined = saturatingAdd(quarantined, other.quarantined);
  rejected = saturatingAdd(rejected, other.rejected);
}

uint32_t utcDay(int64_t epochSeconds)
{
  if (epochSeconds <= 0) {
    return 0;
  }
  return static_cast<uint32_t>(epochSeconds / 86400);
}

std::string formatDay(uint32_t day)
{
  int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  civilFromDays(day, y, m, d);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  return buf;
}

std::optional<uint32_t> parseSince(std::string_view text, int64_t now)
{
  // "Nd": the last N days including today.
  if (text.size() >= 2 && text.back() == 'd') {
    unsigned count = 0;
    if (!parseNumber(text.substr(0, text.size() - 1), count) || count == 0 || count > s_maxRelativeDays) {
      return std::nullopt;
    }
    uint32_t today = utcDay(now);
    return today >= count - 1 ? today - (count - 1) : 0;
  }
  // "YYYY-MM-DD", a real calendar date from 1970 on.
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
    return std::nullopt;
  }
  unsigned y = 0;
  unsigned m = 0;
  unsigned d = 0;
  if (!parseNumber(text.substr(0, 4), y) || !parseNumber(text.substr(5, 2), m) || !parseNumber(text.substr(8, 2), d)) {
    return std::nullopt;
  }
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31) {
    return std::nullopt;
  }
  int64_t days = daysFromCivil(y, m, d);
  int64_t checkY = 0;
  unsigned checkM = 0;
  unsigned checkD = 0;
  civilFromDays(days, checkY, checkM, checkD);
  if (checkY != y || checkM != m || checkD != d) {
    return std::nullopt; // 2023-02-30 and the like
  }
  return static_cast<uint32_t>(days);
}

std::optional<StatusWindow> statusWindow(std::string_view since, int64_t now)
{
  const uint32_t today = utcDay(now);
  if (since == "all") {
    return StatusWindow{0, UINT32_MAX, true};
  }
  if (since.empty()) {
    return StatusWindow{today - std::min(today, s_defaultStatusDays - 1), today, false};
  }
  auto from = parseSince(since, now);
  if (!from || *from > today) {
    return std::nullopt;
  }
  return StatusWindow{*from, today, false};
}

struct StatusView::Impl
{
  Impl(const Store& store, const Options& viewOptions) :
    snapshot(store), options(viewOptions)
  {
  }

  StoreSnapshot snapshot;
  Options options;
  Workspace work;
};

StatusView::StatusView(const Store& store) :
  StatusView(store, Options())
{
}

StatusView::StatusView(const Store& store, const Options& options) :
  d_impl(std::make_unique<Impl>(store, options))
{
}

StatusView::~StatusView() = default;

std::vector<std::string> StatusView::domains() const
{
  return d_impl->snapshot.listDomains();
}

uint64_t StatusView::version() const
{
  return d_impl->snapshot.version();
}

DomainStatus StatusView::compute(std::string_view domain, uint32_t fromDay, uint32_t toDay, size_t topN)
{
  return domainStatus(d_impl->snapshot, d_impl->work, d_impl->options, lowerAscii(domain), fromDay, toDay, topN);
}

std::vector<DomainStatus> computeStatus(const Store& store, std::string_view domain, uint32_t fromDay,
                                        uint32_t toDay, size_t topN, unsigned threads, const StatusView::Options& options)
{
  // Step: a view per thread, all on one version of the store (a writer may commit between
  // two read transactions starting: then start them again).
  std::vector<std::unique_ptr<StatusView>> views;
  views.push_back(std::make_unique<StatusView>(store, options));
  std::vector<std::string> domains;
  if (domain.empty()) {
    domains = views.front()->domains();
  }
  else {
    domains.push_back(lowerAscii(domain));
  }
  const size_t wanted = std::clamp<size_t>(domains.size(), 1, std::max(threads, 1U));
  for (int attempt = 0; views.size() < wanted && attempt < s_sameVersionAttempts; ++attempt) {
    while (views.size() < wanted) {
      views.push_back(std::make_unique<StatusView>(store, options));
    }
    const uint64_t version = views.front()->version();
    if (std::any_of(views.begin(), views.end(), [&](const auto& view) { return view->version() != version; })) {
      views.resize(1); // a commit came between: try again
    }
  }

  // Step: the domains, each on the next free thread; no exception leaves a thread.
  std::vector<DomainStatus> out(domains.size());
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(views.size());
  auto work = [&](size_t worker) {
    try {
      for (size_t i = 0; (i = next.fetch_add(1)) < domains.size();) {
        out[i] = views[worker]->compute(domains[i], fromDay, toDay, topN);
      }
    }
    catch (...) {
      errors[worker] = std::current_exception();
    }
  };
  std::vector<std::thread> helpers;
  for (size_t worker = 1; worker < views.size(); ++worker) {
    try {
      helpers.emplace_back(work, worker);
    }
    catch (const std::system_error&) {
      break; // no more threads: the others share the work
    }
  }
  work(0);
  for (auto& helper : helpers) {
    helper.join();
  }
  for (const auto& error : errors) {
    if (error) {
      std::rethrow_exception(error);
    }
  }
  return out;
}

} // namespace dmarcwatch::collector
