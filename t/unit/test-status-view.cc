/*
 * test-status-view.cc - what `dmarcwatch status` computes (status-view.hh):
 * the window (ending today, whatever the reports' dates), the numbers against
 * a plain computation (both ways of summing sources: the table and the merge
 * of days), its speed over a year of reports, and its memory.
 *
 * This runner replaces the global operator new/delete with counting ones
 * (malloc_usable_size), so that a test can see the peak heap of one call.
 * Every test works in its own TempDir with a fixed clock (store-fixture.hh).
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/store/store-format.hh"
#include "collector/store/store.hh"
#include "collector/views/status-view.hh"

#include "t/unit/store-fixture.hh"
#include "t/unit/test-util.hh"

#include <lmdb.h>
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <numeric>
#include <new>
#include <set>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

namespace
{

//! Heap bytes allocated through operator new and not yet freed, and their peak.
std::atomic<size_t> g_heapBytes{0};
std::atomic<size_t> g_heapPeak{0};

//! Start a new peak from what is allocated now. \return that.
size_t resetHeapPeak()
{
  const size_t now = g_heapBytes.load();
  g_heapPeak.store(now);
  return now;
}

} // namespace

void* operator new(std::size_t size)
{
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  const size_t now = g_heapBytes.fetch_add(malloc_usable_size(p)) + malloc_usable_size(p);
  size_t peak = g_heapPeak.load();
  while (now > peak && !g_heapPeak.compare_exchange_weak(peak, now)) {
  }
  return p;
}

void operator delete(void* p) noexcept
{
  if (p != nullptr) {
    g_heapBytes.fetch_sub(malloc_usable_size(p));
    std::free(p);
  }
}

void operator delete(void* p, std::size_t /* size */) noexcept
{
  operator delete(p);
}

// The nothrow forms too (std::stable_sort's buffer): otherwise a sanitizer's own nothrow new
// would hand out memory that the delete above frees with free().
void* operator new(std::size_t size, const std::nothrow_t& /* tag */) noexcept
{
  try {
    return operator new(size);
  }
  catch (...) {
    return nullptr;
  }
}

void operator delete(void* p, const std::nothrow_t& /* tag */) noexcept
{
  operator delete(p);
}

namespace
{

//! status-view's numbers the plain way (strings, ordered maps), to check the fast path against.
DomainStatus referenceStatus(const Store& store, const std::string& domain, uint32_t fromDay, uint32_t toDay,
                             size_t topN)
{
  auto lower = [](std::string text) {
    for (char& c : text) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return text;
  };
  auto serviceOf = [&](const Outcome& outcome) -> std::string {
    for (const auto& dkim : outcome.dkimResults) {
      if (lower(dkim.result) == "pass" && !dkim.domain.empty()) {
        return lower(dkim.domain);
      }
    }
    for (const auto& spf : outcome.spfResults) {
      if (lower(spf.result) == "pass" && !spf.domain.empty()) {
        return lower(spf.domain);
      }
    }
    return "unknown";
  };
  DomainStatus status;
  status.domain = domain;
  status.fromDay = fromDay;
  status.toDay = toDay;
  for (const auto& day : store.dayTotals(domain, fromDay, toDay)) {
    status.messages += day.messages;
    status.dmarcPass += day.dmarcPass;
  }
  status.dmarcFail = status.messages - std::min(status.dmarcPass, status.messages);
  status.wouldBlock = status.dmarcFail;
  std::map<std::optional<IpAddress>, std::pair<SourceSummary, std::map<std::pair<std::string, std::string>, uint64_t>>>
    sources;
  std::map<std::string, std::pair<ServiceSummary, std::set<std::optional<IpAddress>>>> services;
  std::map<std::string, std::map<std::string, std::pair<uint64_t, Outcome>>> failingOutcomes; // service -> key -> sum
  auto passes = [&](const auto& results) {
    return std::any_of(results.begin(), results.end(), [&](const auto& r) { return lower(r.result) == "pass"; });
  };
  store.forEachFact(domain, fromDay, toDay, [&](const Fact& fact) {
    const bool pass = fact.outcome.dmarcPass();
    const std::string service = serviceOf(fact.outcome);
    auto& [source, labels] = sources[fact.sourceIp];
    source.ip = fact.sourceIp;
    source.messages += fact.messages;
    (pass ? source.dmarcPass : source.dmarcFail) += fact.messages;
    labels[{fact.headerFrom, service}] += fact.messages;
    auto& [svc, ips] = services[service];
    svc.name = service;
    svc.category = "unclassified";
    svc.messages += fact.messages;
    (pass ? svc.dmarcPass : svc.dmarcFail) += fact.messages;
    ips.insert(fact.sourceIp);
    const Outcome& o = fact.outcome;
    const uint64_t n = fact.messages;
    AuthCounts& auth = svc.auth;
    auth.spfPass += passes(o.spfResults) ? n : 0;
    auth.dkimPass += passes(o.dkimResults) ? n : 0;
    auth.spfAligned += lower(o.spf) == "pass" ? n : 0;
    auth.dkimAligned += lower(o.dkim) == "pass" ? n : 0;
    auth.quarantined += lower(o.disposition) == "quarantine" ? n : 0;
    auth.rejected += lower(o.disposition) == "reject" ? n : 0;
    if (!pass && std::any_of(o.reasons.begin(), o.reasons.end(), [&](const auto& r) { return lower(r) != "sampled_out"; })) {
      auth.overridden += n;
      auth.forwarded += std::any_of(o.reasons.begin(), o.reasons.end(), [&](const auto& r) {
        const std::string type = lower(r);
        return type == "forwarded" || type == "trusted_forwarder" || type == "mailing_list";
      }) ? n : 0;
    }
    if (!pass) {
      // The whole outcome, as the store's dictionary tells outcomes apart.
      std::string key = o.disposition + "|" + o.dkim + "|" + o.spf + "|" + o.envelopeFrom + "|";
      for (const auto& d : o.dkimResults) {
        key += d.domain + "/" + d.result + "/" + d.selector + "/" + d.humanResult + ";";
      }
      for (const auto& sp : o.spfResults) {
        key += sp.domain + "/" + sp.result + "/" + sp.scope + "/" + sp.humanResult + ";";
      }
      for (const auto& r : o.reasons) {
        key += r + ";";
      }
      auto& slot = failingOutcomes[service][key];
      slot.first += n;
      slot.second = o;
    }
  });
  for (auto& [name, byKey] : failingOutcomes) {
    auto best = std::max_element(byKey.begin(), byKey.end(),
                                 [](const auto& a, const auto& b) { return a.second.first < b.second.first; });
    auto& sample = services[name].first.failing;
    sample.messages = best->second.first;
    for (const auto& d : best->second.second.dkimResults) {
      sample.dkim.push_back({lower(d.domain), lower(d.result), d.selector});
    }
    for (const auto& sp : best->second.second.spfResults) {
      sample.spf.push_back({lower(sp.domain), lower(sp.result), {}});
    }
  }
  for (auto& [ip, entry] : sources) {
    auto& [source, labels] = entry;
    auto best = std::max_element(labels.begin(), labels.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    source.headerFrom = best->first.first;
    source.service = best->first.second;
    status.topSources.push_back(source);
  }
  for (const auto& source : status.topSources) {
    if (source.dmarcFail > 0) {
      status.failingSources.push_back(source);
    }
  }
  std::stable_sort(status.failingSources.begin(), status.failingSources.end(),
                   [](const SourceSummary& a, const SourceSummary& b) { return a.dmarcFail > b.dmarcFail; });
  if (status.failingSources.size() > topN) {
    status.failingSources.resize(topN);
  }
  std::stable_sort(status.topSources.begin(), status.topSources.end(),
                   [](const SourceSummary& a, const SourceSummary& b) { return a.messages > b.messages; });
  if (status.topSources.size() > topN) {
    status.topSources.resize(topN);
  }
  for (auto& [name, entry] : services) {
    entry.first.sources = entry.second.size();
    status.services.push_back(entry.first);
  }
  std::stable_sort(status.services.begin(), status.services.end(),
                   [](const ServiceSummary& a, const ServiceSummary& b) { return a.messages > b.messages; });
  return status;
}

//! Every number and order of got is what want says (the AuthCounts and samples when counted).
void checkSameStatus(const DomainStatus& got, const DomainStatus& want, bool countAuth = false)
{
  BOOST_CHECK_EQUAL(got.domain, want.domain);
  BOOST_CHECK_EQUAL(got.messages, want.messages);
  BOOST_CHECK_EQUAL(got.dmarcPass, want.dmarcPass);
  BOOST_CHECK_EQUAL(got.dmarcFail, want.dmarcFail);
  BOOST_CHECK_EQUAL(got.wouldBlock, want.wouldBlock);
  BOOST_REQUIRE_EQUAL(got.topSources.size(), want.topSources.size());
  for (size_t i = 0; i < want.topSources.size(); ++i) {
    const auto& a = got.topSources[i];
    const auto& b = want.topSources[i];
    BOOST_TEST_CONTEXT("top source " << i)
    {
      BOOST_CHECK(a.ip == b.ip);
      BOOST_CHECK_EQUAL(a.headerFrom, b.headerFrom);
      BOOST_CHECK_EQUAL(a.service, b.service);
      BOOST_CHECK_EQUAL(a.messages, b.messages);
      BOOST_CHECK_EQUAL(a.dmarcPass, b.dmarcPass);
      BOOST_CHECK_EQUAL(a.dmarcFail, b.dmarcFail);
    }
  }
  BOOST_REQUIRE_EQUAL(got.services.size(), want.services.size());
  for (size_t i = 0; i < want.services.size(); ++i) {
    const auto& a = got.services[i];
    const auto& b = want.services[i];
    BOOST_TEST_CONTEXT("service " << i)
    {
      BOOST_CHECK_EQUAL(a.name, b.name);
      BOOST_CHECK_EQUAL(a.category, b.category);
      BOOST_CHECK_EQUAL(a.messages, b.messages);
      BOOST_CHECK_EQUAL(a.dmarcPass, b.dmarcPass);
      BOOST_CHECK_EQUAL(a.dmarcFail, b.dmarcFail);
      if (got.sourcesCounted) {
        BOOST_CHECK_EQUAL(a.sources, b.sources);
      }
      if (countAuth) {
        BOOST_CHECK_EQUAL(a.auth.spfPass, b.auth.spfPass);
        BOOST_CHECK_EQUAL(a.auth.spfAligned, b.auth.spfAligned);
        BOOST_CHECK_EQUAL(a.auth.dkimPass, b.auth.dkimPass);
        BOOST_CHECK_EQUAL(a.auth.dkimAligned, b.auth.dkimAligned);
        BOOST_CHECK_EQUAL(a.auth.overridden, b.auth.overridden);
        BOOST_CHECK_EQUAL(a.auth.forwarded, b.auth.forwarded);
        BOOST_CHECK_EQUAL(a.auth.quarantined, b.auth.quarantined);
        BOOST_CHECK_EQUAL(a.auth.rejected, b.auth.rejected);
        // The sample: an outcome with the most failing messages (ties: either).
        BOOST_CHECK_EQUAL(a.failing.messages, b.failing.messages);
        if (a.failing.messages > 0) {
          BOOST_CHECK(!a.failing.dkim.empty() || !a.failing.spf.empty());
        }
      }
    }
  }
  BOOST_REQUIRE_EQUAL(got.failingSources.size(), want.failingSources.size());
  for (size_t i = 0; i < want.failingSources.size(); ++i) {
    BOOST_TEST_CONTEXT("failing source " << i)
    {
      BOOST_CHECK_EQUAL(got.failingSources[i].dmarcFail, want.failingSources[i].dmarcFail);
    }
  }
  uint64_t trendMessages = 0;
  for (const auto& day : got.trend) {
    trendMessages += day.messages;
  }
  BOOST_CHECK_EQUAL(trendMessages, want.messages);
}

//! The ways StatusView may sum sources: the table, the merge of days, the merge handing pages back often.
std::vector<std::pair<std::string, StatusView::Options>> viewVariants()
{
  StatusView::Options table;
  table.maxTableSources = UINT64_MAX;
  StatusView::Options merge;
  merge.maxTableSources = 0;
  StatusView::Options releasing = merge;
  releasing.releaseMappedBytes = 1000; // every 10 facts
  StatusView::Options tableAuth = table;
  tableAuth.countAuth = true;
  StatusView::Options mergeAuth = merge;
  mergeAuth.countAuth = true;
  return {{"table", table},
          {"merge", merge},
          {"merge, releasing pages", releasing},
          {"table, auth counted", tableAuth},
          {"merge, auth counted", mergeAuth}};
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_status_view)

BOOST_AUTO_TEST_CASE(time_helpers)
{
  BOOST_CHECK_EQUAL(utcDay(0), 0U);
  BOOST_CHECK_EQUAL(utcDay(-5), 0U);
  BOOST_CHECK_EQUAL(utcDay(s_now), s_today);
  BOOST_CHECK_EQUAL(formatDay(0), "1970-01-01");
  BOOST_CHECK_EQUAL(formatDay(s_today), "2024-03-10");
  BOOST_CHECK_EQUAL(formatDay(utcDay(951782400)), "2000-02-29");
  BOOST_CHECK(parseSince("7d", s_now) == std::optional<uint32_t>(s_today - 6));
  BOOST_CHECK(parseSince("1d", s_now) == std::optional<uint32_t>(s_today));
  BOOST_CHECK(parseSince("2024-03-10", s_now) == std::optional<uint32_t>(s_today));
  BOOST_CHECK(parseSince("2000-02-29", s_now) == std::optional<uint32_t>(utcDay(951782400)));
  for (const char* junk : {"", "d", "0d", "-3d", "7", "7x", "2023-02-29", "2024-13-01", "24-03-10", "2024-3-10",
                           "1969-12-31", "99999999d"}) {
    BOOST_CHECK_MESSAGE(!parseSince(junk, s_now), junk);
  }
}

BOOST_AUTO_TEST_CASE(status_window_ends_today)
{
  // Every window but "all" ends today; the default is the 7 days ending today.
  auto check = [](std::string_view since, int64_t now, std::optional<StatusWindow> want) {
    auto got = statusWindow(since, now);
    BOOST_TEST_CONTEXT("--since '" << since << "'")
    {
      BOOST_REQUIRE_EQUAL(got.has_value(), want.has_value());
      if (want) {
        BOOST_CHECK_EQUAL(got->fromDay, want->fromDay);
        BOOST_CHECK_EQUAL(got->toDay, want->toDay);
        BOOST_CHECK_EQUAL(got->all, want->all);
      }
    }
  };
  check("", s_now, StatusWindow{s_today - 6, s_today, false});
  check("7d", s_now, StatusWindow{s_today - 6, s_today, false});
  check("1d", s_now, StatusWindow{s_today, s_today, false});
  check("30d", s_now, StatusWindow{s_today - 29, s_today, false});
  check("2024-03-01", s_now, StatusWindow{s_today - 9, s_today, false});
  check("2024-03-10", s_now, StatusWindow{s_today, s_today, false});
  check("all", s_now, StatusWindow{0, UINT32_MAX, true});
  check("", 3 * s_day, StatusWindow{0, 3, false}); // near the epoch: no wrap-around
  check("2024-03-11", s_now, std::nullopt);        // tomorrow
  check("7x", s_now, std::nullopt);
  check("ALL", s_now, std::nullopt);
}

BOOST_AUTO_TEST_CASE(default_window_ignores_future_reports)
{
  // A report dated in the future (a reporter's clock) is stored on its days, but the default
  // window still ends today: it counts today's week only, and says where the newest data is.
  // A domain whose reports are all older than the window is there with no messages.
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  storeReport(store, "now", "example.com", s_today - 2, {makeRecord(v4(192, 0, 2, 1), 10, true)});
  storeReport(store, "future", "example.com", s_today + 20, {makeRecord(v4(192, 0, 2, 66), 5000, false)});
  storeReport(store, "old", "old.example", s_today - 30, {makeRecord(v4(192, 0, 2, 7), 3, true)});

  const auto window = statusWindow("", s_now);
  BOOST_REQUIRE(window);
  auto got = computeStatus(store, "", window->fromDay, window->toDay, 10);
  BOOST_REQUIRE_EQUAL(got.size(), 2U);
  const auto& example = got[0];
  BOOST_CHECK_EQUAL(example.domain, "example.com");
  BOOST_CHECK_EQUAL(example.fromDay, s_today - 6);
  BOOST_CHECK_EQUAL(example.toDay, s_today);
  BOOST_CHECK_EQUAL(example.messages, 10U);
  BOOST_REQUIRE_EQUAL(example.topSources.size(), 1U);
  BOOST_CHECK(example.topSources[0].ip == v4(192, 0, 2, 1));
  BOOST_CHECK(example.newestDay == std::optional<uint32_t>(s_today + 20));
  const auto& old = got[1];
  BOOST_CHECK_EQUAL(old.domain, "old.example");
  BOOST_CHECK_EQUAL(old.messages, 0U);
  BOOST_CHECK(old.services.empty());
  BOOST_CHECK(old.topSources.empty());
  BOOST_CHECK(old.newestDay == std::optional<uint32_t>(s_today - 30));
  // "all" does count the future report.
  auto all = computeStatus(store, "example.com", 0, UINT32_MAX, 10);
  BOOST_REQUIRE_EQUAL(all.size(), 1U);
  BOOST_CHECK_EQUAL(all[0].messages, 5010U);
}

BOOST_AUTO_TEST_CASE(status_numbers)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  storeReport(store, "1", "example.com", day,
              {makeRecord(v4(192, 0, 2, 1), 100, true, "example.com"),
               makeRecord(v4(192, 0, 2, 2), 40, true, "sendgrid.net"),
               makeRecord(v4(192, 0, 2, 3), 7, false, "evil.example"),
               makeRecord(v4(192, 0, 2, 4), 3, false, "evil.example")});
  storeReport(store, "2", "example.com", day - 20, {makeRecord(v4(192, 0, 2, 9), 1000, false)}); // out of range
  storeReport(store, "3", "other.example", day, {makeRecord(v4(203, 0, 113, 1), 5, true, "other.example")});

  auto all = computeStatus(store, "", s_today - 6, s_today, 2);
  BOOST_REQUIRE_EQUAL(all.size(), 2U);
  const auto& got = all[0];
  BOOST_CHECK_EQUAL(got.domain, "example.com");
  BOOST_CHECK_EQUAL(got.messages, 150U);
  BOOST_CHECK_EQUAL(got.dmarcPass, 140U);
  BOOST_CHECK_EQUAL(got.dmarcFail, 10U);
  BOOST_CHECK_EQUAL(got.wouldBlock, 10U);
  BOOST_REQUIRE_EQUAL(got.topSources.size(), 2U);
  BOOST_CHECK(got.topSources[0].ip == v4(192, 0, 2, 1));
  BOOST_CHECK_EQUAL(got.topSources[0].messages, 100U);
  BOOST_CHECK_EQUAL(got.topSources[0].service, "example.com");
  BOOST_CHECK_EQUAL(got.topSources[1].messages, 40U);
  BOOST_CHECK_EQUAL(got.topSources[1].service, "sendgrid.net");
  BOOST_REQUIRE_EQUAL(got.services.size(), 3U);
  BOOST_CHECK_EQUAL(got.services[0].name, "example.com");
  BOOST_CHECK_EQUAL(got.services[1].name, "sendgrid.net");
  BOOST_CHECK_EQUAL(got.services[2].name, "unknown");
  BOOST_CHECK_EQUAL(got.services[2].category, "unclassified");
  BOOST_CHECK_EQUAL(got.services[2].messages, 10U);
  BOOST_CHECK_EQUAL(got.services[2].dmarcFail, 10U);
  BOOST_CHECK_EQUAL(got.services[2].sources, 2U);
  BOOST_CHECK_EQUAL(all[1].domain, "other.example");
  BOOST_CHECK_EQUAL(all[1].messages, 5U);

  auto one = computeStatus(store, "EXAMPLE.COM", s_today - 30, s_today, 10);
  BOOST_REQUIRE_EQUAL(one.size(), 1U);
  BOOST_CHECK_EQUAL(one[0].messages, 1150U);
  BOOST_CHECK_EQUAL(one[0].dmarcFail, 1010U);
  BOOST_CHECK(one[0].newestDay == std::optional<uint32_t>(day));
  auto none = computeStatus(store, "nobody.example", s_today - 6, s_today, 10);
  BOOST_REQUIRE_EQUAL(none.size(), 1U);
  BOOST_CHECK_EQUAL(none[0].messages, 0U);
  BOOST_CHECK(!none[0].newestDay);
}

BOOST_AUTO_TEST_CASE(authenticity_counts_the_window_by_verdict_on_every_path)
{
  // Messages of the window by their reports' verdict (a report spread over days: its share of
  // the window) and the counted reports overlapping it; the same on the table, merge and
  // services-only paths; a quarantined report counts nowhere.
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  storeVerdictReport(store, "a1", "example.com", day, 1, Authenticity::Authenticated,
                     {makeRecord(v4(192, 0, 2, 1), 6, true), makeRecord(v4(192, 0, 2, 2), 4, false)});
  storeVerdictReport(store, "f1", "example.com", day, 1, Authenticity::Forged, {makeRecord(v4(203, 0, 113, 1), 4, false)});
  storeVerdictReport(store, "u1", "example.com", day - 2, 3, Authenticity::Unauthenticated,
                     {makeRecord(v4(192, 0, 2, 1), 9, true)}); // 3 a day
  const uint64_t quarantined = storeVerdictReport(store, "a2", "example.com", day - 1, 1, Authenticity::Authenticated,
                                                  {makeRecord(v4(192, 0, 2, 3), 100, true)});
  store.setReportState(quarantined, ReportState::Quarantined, "test");
  using Counts = std::array<uint64_t, s_authenticities>; // unauthenticated, authenticated, forged
  struct Case
  {
    uint32_t from;
    uint32_t to;
    Counts messages;
    Counts reports;
  };
  const Case cases[] = {{day - 1, day, {6, 10, 4}, {1, 1, 1}},
                        {day, day, {3, 10, 4}, {1, 1, 1}},
                        {day - 2, day - 2, {3, 0, 0}, {1, 0, 0}},
                        {day - 10, day - 5, {0, 0, 0}, {0, 0, 0}}};
  for (const auto& [name, options] : viewVariants()) {
    StatusView view(store, options);
    for (const auto& c : cases) {
      for (const size_t top : {size_t{0}, size_t{10}}) {
        BOOST_TEST_CONTEXT(name << ": " << c.from - day << ".." << c.to - day << ", top " << top)
        {
          const auto got = view.compute("example.com", c.from, c.to, top);
          BOOST_CHECK(got.authenticity.messages == c.messages);
          BOOST_CHECK(got.authenticity.reports == c.reports);
          BOOST_CHECK_EQUAL(std::accumulate(c.messages.begin(), c.messages.end(), uint64_t{0}), got.messages);
          BOOST_CHECK_EQUAL(got.authenticity.messagesOf(Authenticity::Forged), c.messages[2]);
          BOOST_CHECK_EQUAL(got.authenticity.allReports(), c.reports[0] + c.reports[1] + c.reports[2]);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(status_matches_the_plain_computation)
{
  // Many sources (IPv4 in one /16, IPv6, the all-ones address, none) seen on many days,
  // ties in messages and in labels, mixed-case results and domains, several header_froms:
  // every number and order must be what the plain computation gives, whichever way the
  // sources are summed (table, merge of days, merge handing pages back every 10 facts).
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  uint64_t seed = 12345;
  auto next = [&](uint32_t below) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>((seed >> 33) % below);
  };
  const std::vector<std::string> services{"example.com", "SendGrid.net", "mailgun.org", "evil.example", ""};
  const std::vector<std::string> froms{"example.com", "news.example.com", "Example.com"};
  for (uint32_t d = 0; d < 12; ++d) {
    for (const std::string domain : {"example.com", "other.example"}) {
      std::vector<Record> records;
      for (uint32_t i = 0; i < 300; ++i) {
        std::optional<IpAddress> ip;
        uint32_t kind = next(10);
        if (kind < 6) {
          ip = v4(198, 51, static_cast<uint8_t>(next(4)), static_cast<uint8_t>(next(256)));
        }
        else if (kind < 9) {
          IpAddress v6;
          v6.bytes[0] = 0x20;
          v6.bytes[1] = 0x01;
          v6.bytes[15] = static_cast<uint8_t>(next(64));
          ip = v6;
          if (next(8) == 0) {
            ip->bytes.fill(0xff); // the merge's "day done" key: must still come out
          }
        }
        Record record = makeRecord(ip, 1 + next(4), next(3) != 0, services[next(services.size())],
                                   froms[next(froms.size())]);
        if (next(4) == 0) {
          record.dkimResults[0].result = "PASS";
        }
        if (next(5) == 0) {
          record.spfResults[0].result = "pass";
        }
        if (next(6) == 0) {
          record.spf = "pass";
        }
        records.push_back(record);
      }
      storeReport(store, "r" + std::to_string(d), domain, s_today - 1 - d, records);
    }
  }
  for (const auto& [name, options] : viewVariants()) {
    for (auto [fromDay, toDay] : {std::make_pair(s_today - 6, s_today), std::make_pair(0U, s_today + 1),
                                  std::make_pair(s_today - 3, s_today - 3), std::make_pair(s_today, s_today + 5),
                                  std::make_pair(0U, UINT32_MAX)}) {
      StatusView view(store, options);
      for (size_t topN : {size_t{0}, size_t{1}, size_t{10}, size_t{100000}}) {
        for (const std::string domain : {"example.com", "other.example"}) {
          BOOST_TEST_CONTEXT(name << ": " << domain << " " << fromDay << ".." << toDay << " top " << topN)
          {
            checkSameStatus(view.compute(domain, fromDay, toDay, topN),
                            referenceStatus(store, domain, fromDay, toDay, topN));
          }
        }
      }
    }
  }
  // StatusView: the data days of a domain (DomainStatus::dataDays), and the same numbers as computeStatus.
  StatusView view(store);
  using Range = std::optional<std::pair<uint32_t, uint32_t>>;
  BOOST_CHECK(view.compute("EXAMPLE.COM", 0, UINT32_MAX - 1, 0).dataDays ==
              Range(std::make_pair(s_today - 12, s_today - 1)));
  BOOST_CHECK(!view.compute("nobody.example", 0, UINT32_MAX - 1, 0).dataDays);
  BOOST_CHECK(view.domains() == store.listDomains());
  auto one = view.compute("Other.Example", s_today - 6, s_today, 5);
  BOOST_REQUIRE_EQUAL(one.topSources.size(), 5U);
  checkSameStatus(one, referenceStatus(store, "other.example", s_today - 6, s_today, 5));
  BOOST_CHECK(one.dataDays == Range(std::make_pair(s_today - 6, s_today - 1)));
  // On threads (more than domains, too): the same statuses, in the order of the domains.
  for (unsigned threads : {2U, 3U}) {
    auto many = computeStatus(store, "", s_today - 6, s_today, 10, threads);
    BOOST_REQUIRE_EQUAL(many.size(), 2U);
    BOOST_CHECK_EQUAL(many[0].domain, "example.com");
    BOOST_CHECK_EQUAL(many[1].domain, "other.example");
    for (const auto& status : many) {
      checkSameStatus(status, referenceStatus(store, status.domain, s_today - 6, s_today, 10));
    }
  }
}

BOOST_AUTO_TEST_CASE(rows_and_facts_agree_on_spread_and_uncounted_reports)
{
  // The table path reads the rows of the counted reports, the merge path the facts: both
  // must give what the plain computation over the facts gives, for reports spread over many
  // days (uneven shares, some zero), windows that cover part of a report, reports that do
  // not count (superseded, conflict, quarantined), dates the store had to repair, and rows
  // without a source IP.
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  auto records = [](uint32_t salt, size_t n) {
    std::vector<Record> out;
    for (uint32_t i = 0; i < n; ++i) {
      std::optional<IpAddress> ip;
      if (i % 7 != 3) {
        ip = v4(192, 0, static_cast<uint8_t>(salt), static_cast<uint8_t>(i % 40));
      }
      Record record = makeRecord(ip, 1 + (i * 5 + salt) % 13, i % 3 != 0, i % 4 == 0 ? "Mail.Example" : "example.com");
      if (i % 5 == 0) {
        record.dkimResults[0].result = "fail";
        record.spfResults[0].result = "Pass"; // the SPF domain names the service
      }
      // What AuthCounts sum: aligned SPF, dispositions, overrides (forwarding and not).
      if (i % 6 == 1) {
        record.spf = "pass";
      }
      if (i % 9 == 2) {
        record.disposition = i % 2 == 0 ? "quarantine" : "Reject";
      }
      if (i % 8 == 5) {
        record.reasons.push_back(PolicyOverride{i % 16 == 5 ? "forwarded" : i % 24 == 13 ? "sampled_out" : "local_policy", ""});
      }
      out.push_back(record);
    }
    return out;
  };
  auto storeSpan = [&](const std::string& id, int64_t begin, int64_t end, const std::vector<Record>& rows,
                       bool recovered = false) {
    auto writer = store.beginReport(makeHeader("google.com", id, "example.com", begin, end));
    uint64_t messages = 0;
    for (const auto& record : rows) {
      writer->addRecord(record);
      messages += record.count;
    }
    return commitWith(*writer, rows.size(), messages, "test", nullptr, recovered);
  };
  const uint32_t first = s_today - 20;
  // Five days, then two overlapping it; one over 40 days (kept: its last 31).
  BOOST_REQUIRE(storeSpan("five", dayStart(first), dayStart(first + 5), records(1, 60)).status == StoreStatus::Stored);
  BOOST_REQUIRE(storeSpan("two", dayStart(first + 3), dayStart(first + 5), records(2, 30)).status ==
                StoreStatus::Stored);
  BOOST_REQUIRE(storeSpan("long", dayStart(first - 30), dayStart(first + 10), records(3, 50)).status ==
                StoreStatus::Stored);
  // No begin: counted on its end day (its bydomain key sorts first).
  BOOST_REQUIRE(storeSpan("nobegin", 0, dayStart(first + 8) + 3600, records(4, 20)).status == StoreStatus::Stored);
  // A recovered copy superseded by the complete one; a conflict; a quarantined report.
  BOOST_REQUIRE(storeSpan("partial", dayStart(first + 1), dayStart(first + 4), records(5, 10), true).status ==
                StoreStatus::Stored);
  auto complete = storeSpan("partial", dayStart(first + 1), dayStart(first + 4), records(5, 25));
  BOOST_REQUIRE(complete.status == StoreStatus::Stored);
  BOOST_REQUIRE_NE(complete.related, 0U);
  BOOST_REQUIRE(storeSpan("two", dayStart(first + 3), dayStart(first + 5), records(6, 30)).status ==
                StoreStatus::Conflict);
  const uint64_t quarantined = storeSpan("bad", dayStart(first + 2), dayStart(first + 6), records(7, 40)).sequence;
  store.setReportState(quarantined, ReportState::Quarantined, "test");
  BOOST_REQUIRE(store.verify().empty());

  for (const auto& [name, options] : viewVariants()) {
    StatusView view(store, options);
    for (auto [fromDay, toDay] : {std::make_pair(0U, UINT32_MAX), std::make_pair(first, first + 4),
                                  std::make_pair(first + 2, first + 3), std::make_pair(first + 4, first + 4),
                                  std::make_pair(first - 5, first), std::make_pair(first + 8, first + 8),
                                  std::make_pair(first + 6, s_today)}) {
      BOOST_TEST_CONTEXT(name << ": " << fromDay << ".." << toDay)
      {
        const auto got = view.compute("example.com", fromDay, toDay, 1000);
        const auto want = referenceStatus(store, "example.com", fromDay, toDay, 1000);
        checkSameStatus(got, want, options.countAuth);
        BOOST_CHECK_GT(got.messages, 0U);
        // No top N: the services only, the same sums (sources not counted), the same AuthCounts.
        auto servicesOnly = view.compute("example.com", fromDay, toDay, 0);
        BOOST_CHECK(!servicesOnly.sourcesCounted && servicesOnly.topSources.empty() && servicesOnly.failingSources.empty());
        BOOST_REQUIRE_EQUAL(servicesOnly.services.size(), want.services.size());
        for (size_t i = 0; i < want.services.size(); ++i) {
          const auto& a = servicesOnly.services[i];
          const auto& b = want.services[i];
          BOOST_CHECK_EQUAL(a.name, b.name);
          BOOST_CHECK_EQUAL(a.messages, b.messages);
          BOOST_CHECK_EQUAL(a.dmarcPass, b.dmarcPass);
          BOOST_CHECK_EQUAL(a.dmarcFail, b.dmarcFail);
          if (options.countAuth) {
            BOOST_CHECK_EQUAL(a.auth.spfAligned, b.auth.spfAligned);
            BOOST_CHECK_EQUAL(a.auth.forwarded, b.auth.forwarded);
            BOOST_CHECK_EQUAL(a.failing.messages, b.failing.messages);
          }
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(table_outgrows_an_undercounting_days_database, *boost::unit_test::timeout(30))
{
  // The table path sizes its table by the days database's record count, which is never
  // below the sources.  Were it (a damaged store), the table must grow, not overfill (and
  // probe forever: hence the timeout).
  TempDir tmp;
  const uint32_t day = s_today - 1;
  uint32_t domainId = 0;
  uint64_t messages = 0;
  {
    Store store(tmp.path().string(), testOptions());
    std::vector<Record> records;
    for (uint32_t i = 0; i < 300; ++i) {
      records.push_back(makeRecord(v4(192, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)), 1 + i % 7,
                                   i % 2 == 0));
      messages += records.back().count;
    }
    storeReport(store, "r", "example.com", day, records);
    domainId = *StoreSnapshot(store).domainId("example.com");
  }
  // Step: the day's totals say 1 record (the store is closed; LMDB directly).
  MDB_env* env = nullptr;
  BOOST_REQUIRE_EQUAL(mdb_env_create(&env), 0);
  std::unique_ptr<MDB_env, void (*)(MDB_env*)> envGuard(env, mdb_env_close);
  mdb_env_set_maxdbs(env, 16);
  BOOST_REQUIRE_EQUAL(mdb_env_open(env, tmp.path().c_str(), 0, 0640), 0);
  MDB_txn* txn = nullptr;
  BOOST_REQUIRE_EQUAL(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi days = 0;
  BOOST_REQUIRE_EQUAL(mdb_dbi_open(txn, "days", 0, &days), 0);
  std::string key = storeformat::domainDayKey(domainId, day);
  std::string value = storeformat::encodeDayTotals(DayTotals{day, messages, 0, 1});
  MDB_val k{key.size(), key.data()};
  MDB_val v{value.size(), value.data()};
  BOOST_REQUIRE_EQUAL(mdb_put(txn, days, &k, &v, 0), 0);
  BOOST_REQUIRE_EQUAL(mdb_txn_commit(txn), 0);
  envGuard.reset();

  Store store(tmp.path().string(), testOptions());
  StatusView view(store, viewVariants().front().second);
  auto got = view.compute("example.com", day, day, 1000);
  BOOST_CHECK_EQUAL(got.topSources.size(), 300U);
  BOOST_REQUIRE_EQUAL(got.services.size(), 2U);
  BOOST_CHECK_EQUAL(got.services[0].sources + got.services[1].sources, 300U);
  checkSameStatus(got, referenceStatus(store, "example.com", day, day, 1000));
}

BOOST_AUTO_TEST_CASE(memory_does_not_grow_with_sources)
{
  // 100,000 distinct sources over 5 days (a tenth of them seen on two days): the merge of
  // days keeps a batch per day and the top 10, not the sources.  Its peak heap is checked
  // against 1 MiB (summing every source in a hash map takes 5 MiB and more), and its
  // answer against the plain computation.
  TempDir tmp;
  Store::Options storeOptions = testOptions();
  storeOptions.mapSize = 1ULL << 30;
  Store store(tmp.path().string(), storeOptions);
  const uint32_t days = 5;
  const uint32_t perDay = 20000;
  for (uint32_t d = 0; d < days; ++d) {
    std::vector<Record> records;
    records.reserve(perDay + perDay / 10);
    for (uint32_t i = 0; i < perDay; ++i) {
      const uint32_t n = d * perDay + i;
      records.push_back(makeRecord(v4(10, static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
                                      static_cast<uint8_t>(n)),
                                   1 + (n * 7919) % 1000, n % 3 != 0, n % 5 == 0 ? "mailgun.org" : "example.com"));
    }
    if (d > 0) {
      for (uint32_t i = 0; i < perDay / 10; ++i) {
        const uint32_t n = (d - 1) * perDay + i * 10; // yesterday's source, again
        records.push_back(makeRecord(v4(10, static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
                                        static_cast<uint8_t>(n)),
                                     500, true, "sendgrid.net"));
      }
    }
    storeReport(store, "r" + std::to_string(d), "big.example", s_today - 1 - d, records);
  }

  StatusView view(store); // default options: 108,000 records are over the table's limit
  const size_t before = resetHeapPeak();
  auto got = view.compute("big.example", s_today - 6, s_today, 10);
  const size_t growth = g_heapPeak.load() - before;
  BOOST_TEST_MESSAGE("status of 100000 sources over 5 days: peak heap growth " << growth << " bytes");
  BOOST_CHECK_LT(growth, 1U << 20);
  checkSameStatus(got, referenceStatus(store, "big.example", s_today - 6, s_today, 10));
  BOOST_CHECK_EQUAL(std::accumulate(got.services.begin(), got.services.end(), uint64_t{0},
                                    [](uint64_t sum, const ServiceSummary& s) { return sum + s.sources; }),
                    100000U + 4 * perDay / 10);
}

BOOST_AUTO_TEST_CASE(status_is_fast_over_a_year)
{
  // A year of daily reports for 100 domains; status over the default 7 days.
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  std::vector<Record> records;
  for (uint8_t i = 0; i < 5; ++i) {
    records.push_back(makeRecord(v4(192, 0, 2, i), 10 + i, i % 2 == 0, i < 3 ? "example.com" : "mailgun.org"));
  }
  for (uint32_t d = 0; d < 100; ++d) {
    const std::string domain = "domain" + std::to_string(d) + ".example";
    for (uint32_t k = 0; k < 365; ++k) {
      storeReport(store, "r" + std::to_string(k), domain, s_today - 1 - k, records);
    }
  }
  auto start = std::chrono::steady_clock::now();
  const auto window = statusWindow("", s_now);
  BOOST_REQUIRE(window);
  auto got = computeStatus(store, "", window->fromDay, window->toDay, 10);
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE("status, 100 domains x 365 reports, 7 days: " << elapsed * 1000 << " ms");
  BOOST_REQUIRE_EQUAL(got.size(), 100U);
  BOOST_CHECK_EQUAL(got[0].messages, 6U * (10 + 11 + 12 + 13 + 14));
  BOOST_CHECK_LT(elapsed, 0.2);
}

BOOST_AUTO_TEST_SUITE_END()
