/*
 * status-view.cc - `dmarcwatch status` numbers from the store (status-view.hh).
 *
 * Totals come from the days database (one short scan per domain); sources and
 * services from the facts of the requested range only.  A service is named by
 * its authenticated identity until the naming daemon exists: the first passing
 * DKIM d= domain, else the first passing SPF domain, else "unknown".
 * wouldBlock counts every DMARC-failing message: under p=reject none of them
 * would be delivered.
 *
 * Speed: facts are visited with their dictionary ids (StoreSnapshot); each
 * distinct outcome id is decoded once per domain, in id order, without copies;
 * sources are keyed by their 16-byte address in an open-addressing table; the
 * (header_from, service) label is worked out for the top N sources only; working
 * memory is reused from one domain to the next.
 *
 * Thread-safety: a StatusView is one read transaction, used by one thread at a
 * time; computeStatus makes its own.  Errors: StoreError from the store.
 */
#include "config.h"

#include "collector/views/status-view.hh"

#include "collector/common/text.hh"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <tuple>
#include <unordered_map>

namespace dmarcwatch::collector
{

namespace
{

constexpr uint32_t s_maxRelativeDays = 36500;

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

bool isPass(std::string_view result)
{
  return result.size() == 4 && lowerAscii(result[0]) == 'p' && lowerAscii(result[1]) == 'a' &&
         lowerAscii(result[2]) == 's' && lowerAscii(result[3]) == 's';
}

//! The authenticated identity of an outcome (see the file comment).
std::string_view serviceDomain(const OutcomeView& outcome)
{
  for (const auto& dkim : outcome.dkimResults) {
    if (isPass(dkim.result) && !dkim.domain.empty()) {
      return dkim.domain;
    }
  }
  for (const auto& spf : outcome.spfResults) {
    if (isPass(spf.result) && !spf.domain.empty()) {
      return spf.domain;
    }
  }
  return "unknown";
}

using IpBytes = std::array<uint8_t, 16>;

//! What status needs of an outcome id: decoded once per domain.
struct OutcomeInfo
{
  uint32_t service = 0; //!< index into the domain's services
  bool pass = false;
};

struct SourceAccumulator
{
  IpBytes ip{};
  uint64_t messages = 0;
  uint64_t dmarcPass = 0;
  uint64_t dmarcFail = 0;
};

struct ServiceAccumulator
{
  std::string name;
  uint64_t messages = 0;
  uint64_t dmarcPass = 0;
  uint64_t dmarcFail = 0;
  uint64_t sources = 0;
  uint32_t lastSource = UINT32_MAX; //!< counting distinct sources
};

//! One fact reduced to indexes: what the totals, labels and distinct sources need after the scan.
struct FactRef
{
  uint32_t source = 0;
  uint32_t headerFromId = 0;
  uint32_t outcome = 0; //!< index into the domain's distinct outcome ids (and their OutcomeInfo)
  uint32_t service = 0; //!< index into the domain's services, once the outcomes are decoded
  uint64_t messages = 0;
};

/*!
 * Source index by 16-byte address: open addressing, linear probing, the keys
 * kept in the sources vector (no allocation per source, no node per entry).
 */
class SourceIndex
{
public:
  explicit SourceIndex(std::vector<SourceAccumulator>& sources) :
    d_sources(sources)
  {
    clear();
  }

  //! Forget every source (and clear the sources vector); keeps the memory.
  void clear()
  {
    d_sources.clear();
    d_slots.assign(s_initialSlots, 0);
  }

  uint32_t find(const IpBytes& ip)
  {
    size_t mask = d_slots.size() - 1;
    for (size_t i = hash(ip) & mask;; i = (i + 1) & mask) {
      uint32_t slot = d_slots[i];
      if (slot == 0) {
        auto index = static_cast<uint32_t>(d_sources.size());
        d_sources.push_back(SourceAccumulator{ip});
        d_slots[i] = index + 1;
        if (d_sources.size() * 2 > d_slots.size()) {
          grow();
        }
        return index;
      }
      if (d_sources[slot - 1].ip == ip) {
        return slot - 1;
      }
    }
  }

private:
  //! MurmurHash3's finaliser: every input bit reaches the low bits the table masks
  //! (an IPv4-mapped address varies in its last 4 bytes only).
  static uint64_t mix(uint64_t x)
  {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
  }

  static size_t hash(const IpBytes& ip)
  {
    uint64_t a = 0;
    uint64_t b = 0;
    std::memcpy(&a, ip.data(), 8);
    std::memcpy(&b, ip.data() + 8, 8);
    return static_cast<size_t>(mix(a ^ mix(b)));
  }

  //! Twice the slots; the keys are in d_sources, so the table is rebuilt in place.
  void grow()
  {
    d_slots.assign(d_slots.size() * 2, 0);
    size_t mask = d_slots.size() - 1;
    for (size_t index = 0; index < d_sources.size(); ++index) {
      size_t i = hash(d_sources[index].ip) & mask;
      while (d_slots[i] != 0) {
        i = (i + 1) & mask;
      }
      d_slots[i] = static_cast<uint32_t>(index + 1);
    }
  }

  static constexpr size_t s_initialSlots = 1024;
  std::vector<SourceAccumulator>& d_sources;
  std::vector<uint32_t> d_slots; //!< source index + 1; 0: empty
};

//! Memory domainStatus reuses from one domain to the next (no allocation per domain once warm).
struct Workspace
{
  std::vector<SourceAccumulator> sources;
  SourceIndex sourceIndex{sources};
  std::vector<ServiceAccumulator> services;
  std::unordered_map<std::string, uint32_t> serviceByName;
  std::unordered_map<uint32_t, uint32_t> outcomeIndex; //!< outcome id -> index into outcomeIds
  std::vector<uint32_t> outcomeIds;
  std::vector<uint32_t> outcomeOrder;
  std::vector<OutcomeInfo> outcomes;
  OutcomeView outcomeView;
  std::string serviceName;
  std::vector<FactRef> facts;
  std::vector<uint32_t> begin;
  std::vector<uint32_t> next;
  std::vector<uint32_t> order;
  std::vector<uint32_t> ranked;
  std::vector<std::pair<std::pair<uint32_t, uint32_t>, uint64_t>> labels; //!< (header_from id, service) -> messages

  void clear()
  {
    sourceIndex.clear();
    services.clear();
    serviceByName.clear();
    outcomeIndex.clear();
    outcomeIds.clear();
    facts.clear();
  }
};

DomainStatus domainStatus(StoreSnapshot& snapshot, Workspace& work, const std::string& domain, uint32_t fromDay,
                          uint32_t toDay, size_t topN)
{
  DomainStatus status;
  status.domain = domain;
  status.fromDay = fromDay;
  status.toDay = toDay;
  auto domainId = snapshot.domainId(domain);
  if (!domainId) {
    return status;
  }

  // Totals: the days database.
  for (const auto& day : snapshot.dayTotals(*domainId, fromDay, toDay)) {
    status.messages += day.messages;
    status.dmarcPass += day.dmarcPass;
  }
  status.dmarcFail = status.messages - std::min(status.dmarcPass, status.messages);
  status.wouldBlock = status.dmarcFail;
  if (status.messages == 0) {
    return status;
  }

  // Sources and services: the facts of the range, by id.  A source is found by its
  // 16-byte address; outcome ids are collected and each is decoded once, afterwards,
  // in id order; the (header_from, service) labels wait for the top sources.
  work.clear();
  auto& sources = work.sources;
  auto& services = work.services;
  auto& facts = work.facts;
  uint32_t lastOutcomeId = 0;
  uint32_t lastOutcome = 0;
  snapshot.forEachRawFact(*domainId, fromDay, toDay, [&](const RawFact& fact) {
    if (fact.outcomeId != lastOutcomeId || lastOutcomeId == 0) {
      auto [found, added] =
        work.outcomeIndex.try_emplace(fact.outcomeId, static_cast<uint32_t>(work.outcomeIds.size()));
      if (added) {
        work.outcomeIds.push_back(fact.outcomeId);
      }
      lastOutcomeId = fact.outcomeId;
      lastOutcome = found->second;
    }
    const uint32_t sourceId = work.sourceIndex.find(fact.ip);
    sources[sourceId].messages += fact.messages;
    facts.push_back(FactRef{sourceId, fact.headerFromId, lastOutcome, 0, fact.messages});
  });

  // The outcomes: their service and DMARC result.
  auto& outcomeOrder = work.outcomeOrder;
  outcomeOrder.resize(work.outcomeIds.size());
  for (uint32_t i = 0; i < outcomeOrder.size(); ++i) {
    outcomeOrder[i] = i;
  }
  std::sort(outcomeOrder.begin(), outcomeOrder.end(),
            [&](uint32_t a, uint32_t b) { return work.outcomeIds[a] < work.outcomeIds[b]; });
  work.outcomes.resize(work.outcomeIds.size());
  for (uint32_t index : outcomeOrder) {
    snapshot.outcomeView(work.outcomeIds[index], work.outcomeView);
    OutcomeInfo& info = work.outcomes[index];
    info.pass = work.outcomeView.dmarcPass();
    std::string_view name = serviceDomain(work.outcomeView);
    work.serviceName.assign(name);
    for (char& c : work.serviceName) {
      c = lowerAscii(c);
    }
    auto named = work.serviceByName.find(work.serviceName);
    if (named == work.serviceByName.end()) {
      named = work.serviceByName.emplace(work.serviceName, static_cast<uint32_t>(services.size())).first;
      services.push_back(ServiceAccumulator{named->first});
    }
    info.service = named->second;
  }

  // Pass and fail per source and per service.
  for (auto& fact : facts) {
    const OutcomeInfo& info = work.outcomes[fact.outcome];
    auto& source = sources[fact.source];
    (info.pass ? source.dmarcPass : source.dmarcFail) += fact.messages;
    auto& svc = services[info.service];
    svc.messages += fact.messages;
    (info.pass ? svc.dmarcPass : svc.dmarcFail) += fact.messages;
    fact.service = info.service;
  }

  // Group the facts by source (a counting sort): distinct sources per service, labels.
  auto& begin = work.begin;
  auto& order = work.order;
  begin.assign(sources.size() + 1, 0);
  for (const auto& fact : facts) {
    ++begin[fact.source + 1];
  }
  for (size_t i = 1; i < begin.size(); ++i) {
    begin[i] += begin[i - 1];
  }
  work.next.assign(begin.begin(), begin.end() - 1);
  order.resize(facts.size());
  for (uint32_t i = 0; i < facts.size(); ++i) {
    order[work.next[facts[i].source]++] = i;
  }
  for (uint32_t source = 0; source < sources.size(); ++source) {
    for (uint32_t k = begin[source]; k < begin[source + 1]; ++k) {
      auto& svc = services[facts[order[k]].service];
      if (svc.lastSource != source) {
        svc.lastSource = source;
        ++svc.sources;
      }
    }
  }

  // Top sources: most messages first, then by address ("no address" first).
  auto& ranked = work.ranked;
  ranked.resize(sources.size());
  for (uint32_t i = 0; i < ranked.size(); ++i) {
    ranked[i] = i;
  }
  const size_t keep = std::min(topN, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep), ranked.end(),
                    [&](uint32_t a, uint32_t b) {
                      const auto& x = sources[a];
                      const auto& y = sources[b];
                      return x.messages != y.messages ? x.messages > y.messages : x.ip < y.ip;
                    });
  status.topSources.reserve(keep);
  auto& labels = work.labels;
  for (size_t r = 0; r < keep; ++r) {
    const uint32_t sourceId = ranked[r];
    const auto& source = sources[sourceId];
    SourceSummary summary;
    if (source.ip != IpBytes{}) {
      summary.ip = IpAddress{source.ip};
    }
    summary.messages = source.messages;
    summary.dmarcPass = source.dmarcPass;
    summary.dmarcFail = source.dmarcFail;
    // The label carrying most of the source's messages (the first by (header_from, service) on a tie).
    labels.clear();
    for (uint32_t k = begin[sourceId]; k < begin[sourceId + 1]; ++k) {
      const auto& fact = facts[order[k]];
      const std::pair<uint32_t, uint32_t> label{fact.headerFromId, fact.service};
      auto found = std::find_if(labels.begin(), labels.end(), [&](const auto& l) { return l.first == label; });
      if (found == labels.end()) {
        labels.emplace_back(label, fact.messages);
      }
      else {
        found->second += fact.messages;
      }
    }
    const std::string* bestFrom = nullptr;
    const std::string* bestService = nullptr;
    uint64_t bestMessages = 0;
    for (const auto& [label, messages] : labels) {
      const std::string& from = snapshot.dictString(label.first);
      const std::string& service = services[label.second].name;
      if (bestFrom == nullptr || messages > bestMessages ||
          (messages == bestMessages && std::tie(from, service) < std::tie(*bestFrom, *bestService))) {
        bestFrom = &from;
        bestService = &service;
        bestMessages = messages;
      }
    }
    if (bestFrom != nullptr) {
      summary.headerFrom = *bestFrom;
      summary.service = *bestService;
    }
    status.topSources.push_back(std::move(summary));
  }

  status.services.reserve(services.size());
  for (auto& svc : services) {
    ServiceSummary summary;
    summary.name = svc.name;
    summary.category = "unclassified";
    summary.messages = svc.messages;
    summary.dmarcPass = svc.dmarcPass;
    summary.dmarcFail = svc.dmarcFail;
    summary.sources = svc.sources;
    status.services.push_back(std::move(summary));
  }
  std::sort(status.services.begin(), status.services.end(),
            [](const ServiceSummary& a, const ServiceSummary& b) {
              return a.messages != b.messages ? a.messages > b.messages : a.name < b.name;
            });
  return status;
}

} // namespace

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

struct StatusView::Impl
{
  explicit Impl(const Store& store) :
    snapshot(store)
  {
  }

  StoreSnapshot snapshot;
  Workspace work;
};

StatusView::StatusView(const Store& store) :
  d_impl(std::make_unique<Impl>(store))
{
}

StatusView::~StatusView() = default;

std::vector<std::string> StatusView::domains() const
{
  return d_impl->snapshot.listDomains();
}

std::optional<std::pair<uint32_t, uint32_t>> StatusView::dataDays(std::string_view domain, uint32_t fromDay,
                                                                  uint32_t toDay) const
{
  auto id = d_impl->snapshot.domainId(domain);
  if (!id) {
    return std::nullopt;
  }
  return d_impl->snapshot.dayRange(*id, fromDay, toDay);
}

DomainStatus StatusView::compute(std::string_view domain, uint32_t fromDay, uint32_t toDay, size_t topN)
{
  return domainStatus(d_impl->snapshot, d_impl->work, lowerAscii(domain), fromDay, toDay, topN);
}

std::vector<DomainStatus> computeStatus(const Store& store, std::string_view domain, uint32_t fromDay,
                                        uint32_t toDay, size_t topN)
{
  StatusView view(store);
  std::vector<DomainStatus> out;
  std::vector<std::string> domains;
  if (domain.empty()) {
    domains = view.domains();
  }
  else {
    domains.push_back(lowerAscii(domain));
  }
  for (const auto& name : domains) {
    out.push_back(view.compute(name, fromDay, toDay, topN));
  }
  return out;
}

} // namespace dmarcwatch::collector
