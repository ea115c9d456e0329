/*
 * test-store-trust.cc - what the store does with a report's verdict and with the
 * per-day sender limits (issue 14, store.hh): quarantined reports out of the totals,
 * an authenticated copy superseding an unauthenticated one (and not the other way),
 * the verdict upgraded on an authenticated duplicate, and the limits per reporter and
 * policy domain: reports, records, bytes, the once-a-day notice, tempfail, the next day.
 *
 * Every test works in its own TempDir with a clock it controls; verify() must stay clean.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/store/store.hh"

#include "t/unit/store-fixture.hh"
#include "t/unit/test-util.hh"

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

namespace
{

uint64_t factMessages(const Store& store, const std::string& domain)
{
  uint64_t total = 0;
  store.forEachFact(domain, 0, UINT32_MAX, [&](const Fact& fact) { total += fact.messages; });
  return total;
}

uint64_t dayMessages(const Store& store, const std::string& domain)
{
  uint64_t total = 0;
  for (const auto& day : store.dayTotals(domain, 0, UINT32_MAX)) {
    total += day.messages;
  }
  return total;
}

void checkVerify(const Store& store)
{
  auto problems = store.verify();
  BOOST_CHECK_MESSAGE(problems.empty(), (problems.empty() ? "" : problems.front()));
}

//! How a test report is committed: its verdict, action and limits.
struct Trust
{
  Authenticity authenticity = Authenticity::Unauthenticated;
  std::string quarantine;
  const SenderLimits* limits = nullptr;
  uint64_t bytes = 100;
};

//! One-day report on yesterday with these records (from 192.0.2.x), committed with trust.
StoreResult storeTrusted(Store& store, const std::string& id, const std::vector<uint64_t>& counts, const Trust& trust,
                         const std::string& domain = "example.com", const std::string& org = "google.com")
{
  const uint32_t day = s_today - 1;
  auto writer = store.beginReport(makeHeader(org, id, domain, dayStart(day), dayStart(day) + s_day - 1));
  uint64_t messages = 0;
  uint8_t host = 1;
  for (uint64_t count : counts) {
    writer->addRecord(makeRecord(v4(192, 0, 2, host++), count, true));
    messages += count;
  }
  ReportSummary summary;
  summary.records = counts.size();
  summary.messages = messages;
  summary.source = "test";
  summary.authenticity = trust.authenticity;
  summary.authReason = std::string(authenticityName(trust.authenticity)) + " in test";
  summary.quarantine = trust.quarantine;
  summary.limits = trust.limits;
  summary.bytes = trust.bytes;
  return writer->commit(summary);
}

SenderLimits noLimits(OverLimitAction action = OverLimitAction::Quarantine)
{
  return SenderLimits{0, 0, 0, 0, 0, 0, action};
}

const Trust s_authenticated{Authenticity::Authenticated, "", nullptr, 100};
const Trust s_unauthenticated{Authenticity::Unauthenticated, "", nullptr, 100};

} // namespace

BOOST_AUTO_TEST_SUITE(test_store_trust)

BOOST_AUTO_TEST_CASE(quarantined_for_its_verdict_is_out_of_the_totals)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  auto counted = storeTrusted(store, "a", {3}, s_unauthenticated);
  auto forged = storeTrusted(store, "b", {5, 7}, Trust{Authenticity::Forged, "forged: dkim=fail", nullptr, 100});
  BOOST_CHECK(forged.status == StoreStatus::Stored);
  BOOST_CHECK(forged.quarantined);
  BOOST_CHECK_EQUAL(forged.stateReason, "forged: dkim=fail");
  auto kept = store.report(forged.sequence);
  BOOST_REQUIRE(kept);
  BOOST_CHECK(kept->state == ReportState::Quarantined);
  BOOST_CHECK(kept->authenticity == Authenticity::Forged);
  BOOST_CHECK_EQUAL(kept->stateReason, "forged: dkim=fail");
  BOOST_CHECK_EQUAL(kept->rows, 2U);
  BOOST_CHECK(!counted.quarantined);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com"), 3U);
  BOOST_CHECK_EQUAL(dayMessages(store, "example.com"), 3U);
  checkVerify(store);
  // Released by the admin: its rows count from then on.
  store.setReportState(forged.sequence, ReportState::Active, "");
  BOOST_CHECK_EQUAL(factMessages(store, "example.com"), 15U);
  checkVerify(store);
}

BOOST_AUTO_TEST_CASE(big_report_quarantined_is_never_added)
{
  // Written in runs (chunkRows 4): the runs are never applied, no loading entry stays behind.
  TempDir tmp;
  auto options = testOptions();
  options.chunkRows = 4;
  Store store(tmp.path().string(), options);
  std::vector<uint64_t> counts(11, 2);
  auto result = storeTrusted(store, "big", counts, Trust{Authenticity::Forged, "forged: spf=fail", nullptr, 100});
  BOOST_CHECK(result.quarantined);
  auto kept = store.report(result.sequence);
  BOOST_REQUIRE(kept);
  BOOST_CHECK(kept->state == ReportState::Quarantined);
  BOOST_CHECK_EQUAL(kept->rows, 11U);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com"), 0U);
  checkVerify(store);
  store.setReportState(result.sequence, ReportState::Active, "");
  BOOST_CHECK_EQUAL(factMessages(store, "example.com"), 22U);
  checkVerify(store);
}

BOOST_AUTO_TEST_CASE(authenticated_copy_supersedes_unauthenticated)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  auto first = storeTrusted(store, "r", {5}, s_unauthenticated);
  auto real = storeTrusted(store, "r", {5, 7}, s_authenticated);
  BOOST_CHECK(real.status == StoreStatus::Stored);
  BOOST_CHECK_EQUAL(real.related, first.sequence);
  auto old = store.report(first.sequence);
  BOOST_REQUIRE(old);
  BOOST_CHECK(old->state == ReportState::Superseded);
  BOOST_CHECK_EQUAL(old->related, real.sequence);
  BOOST_CHECK_EQUAL(old->stateReason, "an authenticated copy replaced this unauthenticated one");
  BOOST_CHECK_EQUAL(factMessages(store, "example.com"), 12U);
  BOOST_CHECK_EQUAL(dayMessages(store, "example.com"), 12U);
  checkVerify(store);

  // Not the other way round: an unauthenticated or forged copy after it is a conflict.
  auto late = storeTrusted(store, "r", {99}, s_unauthenticated);
  BOOST_CHECK(late.status == StoreStatus::Conflict);
  BOOST_CHECK_EQUAL(late.related, real.sequence);
  auto forged = storeTrusted(store, "r", {98}, Trust{Authenticity::Forged, "", nullptr, 100});
  BOOST_CHECK(forged.status == StoreStatus::Conflict);
  // Nor does a second authenticated copy with other content replace the first.
  auto other = storeTrusted(store, "r", {97}, s_authenticated);
  BOOST_CHECK(other.status == StoreStatus::Conflict);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com"), 12U);
  checkVerify(store);
}

BOOST_AUTO_TEST_CASE(authenticated_copy_supersedes_quarantined_forgery)
{
  // A forger stores a copy first (quarantined): the real report must not become its conflict.
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  auto forged = storeTrusted(store, "r", {1000}, Trust{Authenticity::Forged, "forged: dmarc=fail", nullptr, 100});
  BOOST_CHECK(forged.quarantined);
  auto real = storeTrusted(store, "r", {4}, s_authenticated);
  BOOST_CHECK(real.status == StoreStatus::Stored);
  BOOST_CHECK(!real.quarantined);
  BOOST_CHECK_EQUAL(real.related, forged.sequence);
  BOOST_CHECK(store.report(forged.sequence)->state == ReportState::Superseded);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com"), 4U);
  checkVerify(store);
}

BOOST_AUTO_TEST_CASE(authenticated_duplicate_upgrades_the_stored_verdict)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  auto plain = storeTrusted(store, "plain", {5}, s_unauthenticated);
  auto again = storeTrusted(store, "plain", {5}, s_authenticated);
  BOOST_CHECK(again.status == StoreStatus::Duplicate);
  BOOST_CHECK_EQUAL(again.sequence, plain.sequence);
  BOOST_CHECK(again.existing.authenticity == Authenticity::Authenticated);
  auto stored = store.report(plain.sequence);
  BOOST_REQUIRE(stored);
  BOOST_CHECK(stored->authenticity == Authenticity::Authenticated);
  BOOST_CHECK_EQUAL(stored->authReason, "authenticated in test");
  BOOST_CHECK(stored->state == ReportState::Active);

  // Quarantined for its verdict: the authenticated duplicate puts it back in the totals.
  auto quarantined =
    storeTrusted(store, "q", {7}, Trust{Authenticity::Unauthenticated, "unauthenticated: not a mail", nullptr, 100});
  BOOST_CHECK_EQUAL(factMessages(store, "example.com"), 5U);
  storeTrusted(store, "q", {7}, s_authenticated);
  BOOST_CHECK(store.report(quarantined.sequence)->state == ReportState::Active);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com"), 12U);
  // An unauthenticated duplicate changes nothing.
  storeTrusted(store, "plain", {5}, s_unauthenticated);
  BOOST_CHECK(store.report(plain.sequence)->authenticity == Authenticity::Authenticated);
  checkVerify(store);
}

BOOST_AUTO_TEST_CASE(domain_reports_per_day_quarantine_and_notice_once)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  SenderLimits limits = noLimits();
  limits.domainReports = 2;
  const Trust trust{Authenticity::Unauthenticated, "", &limits, 100};
  BOOST_CHECK(!storeTrusted(store, "1", {1}, trust).quarantined);
  BOOST_CHECK(!storeTrusted(store, "2", {1}, trust).quarantined);
  // A duplicate is free.
  auto duplicate = storeTrusted(store, "2", {1}, trust);
  BOOST_CHECK(duplicate.status == StoreStatus::Duplicate);
  BOOST_CHECK(duplicate.limitNotice.empty());
  auto third = storeTrusted(store, "3", {1}, trust);
  const std::string reason = "over DomainReportsPerDay (2) for example.com on 2024-03-10";
  BOOST_CHECK(third.quarantined);
  BOOST_CHECK_EQUAL(third.stateReason, reason);
  BOOST_CHECK_EQUAL(third.limitNotice, reason);
  BOOST_CHECK_EQUAL(store.report(third.sequence)->stateReason, reason);
  auto fourth = storeTrusted(store, "4", {1}, trust);
  BOOST_CHECK(fourth.quarantined);
  BOOST_CHECK(fourth.limitNotice.empty());
  // Another domain of the same reporter has its own count.
  BOOST_CHECK(!storeTrusted(store, "5", {1}, trust, "other.example").quarantined);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com"), 2U);
  checkVerify(store);
}

BOOST_AUTO_TEST_CASE(reporter_records_and_bytes_per_day)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  SenderLimits records = noLimits();
  records.reporterRecords = 3;
  const Trust byRecords{Authenticity::Unauthenticated, "", &records, 10};
  BOOST_CHECK(!storeTrusted(store, "1", {1, 1}, byRecords, "a.example").quarantined);
  // Another domain, the same reporter (its name normalised as the dedup key does it).
  auto over = storeTrusted(store, "2", {1, 1}, byRecords, "b.example", "  Google.COM ");
  BOOST_CHECK(over.quarantined);
  BOOST_CHECK_EQUAL(over.limitNotice, "over ReporterRecordsPerDay (3) for google.com on 2024-03-10");
  BOOST_CHECK(!storeTrusted(store, "3", {1, 1}, byRecords, "b.example", "yahoo.com").quarantined);

  SenderLimits bytes = noLimits();
  bytes.reporterBytes = 1000;
  bytes.domainBytes = 5000;
  BOOST_CHECK(!storeTrusted(store, "4", {1}, Trust{Authenticity::Unauthenticated, "", &bytes, 600}, "c.example",
                            "mail.ru")
                 .quarantined);
  auto big = storeTrusted(store, "5", {1}, Trust{Authenticity::Unauthenticated, "", &bytes, 600}, "c.example", "mail.ru");
  BOOST_CHECK_EQUAL(big.stateReason, "over ReporterBytesPerDay (1000) for mail.ru on 2024-03-10");
  // The quarantined report counted: the domain's bytes are now 1200 + this one's.
  SenderLimits domainBytes = noLimits();
  domainBytes.domainBytes = 5000;
  auto domain = storeTrusted(store, "6", {1}, Trust{Authenticity::Unauthenticated, "", &domainBytes, 3900}, "c.example",
                             "gmx.net");
  BOOST_CHECK_EQUAL(domain.stateReason, "over DomainBytesPerDay (5000) for c.example on 2024-03-10");
  BOOST_CHECK_EQUAL(domain.limitNotice, domain.stateReason);
  checkVerify(store);
}

BOOST_AUTO_TEST_CASE(tempfail_stores_nothing_and_the_next_day_resets)
{
  TempDir tmp;
  auto options = testOptions();
  int64_t now = s_now;
  options.clock = [&] { return now; };
  options.chunkRows = 4;
  Store store(tmp.path().string(), options);
  SenderLimits limits = noLimits(OverLimitAction::Tempfail);
  limits.domainReports = 1;
  const Trust trust{Authenticity::Unauthenticated, "", &limits, 100};
  storeTrusted(store, "1", {1}, trust);
  const size_t before = store.listReports().size();
  std::string notices;
  for (const char* id : {"2", "3"}) {
    try {
      // A big one (written in runs before the decision): its runs go again.
      storeTrusted(store, id, std::vector<uint64_t>(9, 1), trust);
      BOOST_ERROR("no SenderLimitExceeded");
    }
    catch (const SenderLimitExceeded& e) {
      BOOST_CHECK(e.transient());
      BOOST_CHECK_EQUAL(e.reason(), "over DomainReportsPerDay (1) for example.com on 2024-03-10");
      notices += "[" + e.notice() + "]";
    }
  }
  BOOST_CHECK_EQUAL(notices, "[over DomainReportsPerDay (1) for example.com on 2024-03-10][]");
  BOOST_CHECK_EQUAL(store.listReports().size(), before);
  BOOST_CHECK_EQUAL(factMessages(store, "example.com"), 1U);
  checkVerify(store);

  // The next UTC day of storing starts from zero (and its first report over it is noticed again).
  now += s_day;
  auto next = storeTrusted(store, "2", {1}, trust);
  BOOST_CHECK(next.status == StoreStatus::Stored);
  BOOST_CHECK(!next.quarantined);
  try {
    storeTrusted(store, "3", {1}, trust);
    BOOST_ERROR("no SenderLimitExceeded");
  }
  catch (const SenderLimitExceeded& e) {
    BOOST_CHECK_EQUAL(e.notice(), "over DomainReportsPerDay (1) for example.com on 2024-03-11");
  }
  // Two days on, the old days are pruned (verify decodes the table) and the count starts again.
  now += 2 * s_day;
  BOOST_CHECK(!storeTrusted(store, "3", {1}, trust).quarantined);
  checkVerify(store);
}

BOOST_AUTO_TEST_CASE(no_limits_counts_nothing_against_anyone)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  SenderLimits limits = noLimits(OverLimitAction::Tempfail);
  const Trust trust{Authenticity::Unauthenticated, "", &limits, UINT64_MAX};
  for (int i = 0; i < 5; ++i) {
    BOOST_CHECK(!storeTrusted(store, std::to_string(i), {UINT32_MAX}, trust).quarantined);
  }
  checkVerify(store);
}

// Review findings (issue 14): which copy of a key wins, and limits keyed by claims.
BOOST_AUTO_TEST_CASE(a_damaged_authenticated_copy_vouches_only_for_equal_records)
{
  // A complete forged copy (quarantined for its verdict), then a damaged (recovered) but
  // authenticated copy of the real report with OTHER records: it is a "duplicate"
  // (recovered vs complete), and upgradeVerdict makes the forgery authenticated and counted.
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  auto forged = storeTrusted(store, "r", {1000}, Trust{Authenticity::Forged, "forged: dkim=fail", nullptr, 100});
  BOOST_REQUIRE(forged.quarantined);
  const uint32_t day = s_today - 1;
  auto writer = store.beginReport(makeHeader("google.com", "r", "example.com", dayStart(day), dayStart(day) + s_day - 1));
  writer->addRecord(makeRecord(v4(198, 51, 100, 1), 4, true));
  ReportSummary summary;
  summary.records = 1;
  summary.messages = 4;
  summary.source = "test";
  summary.recovered = true;
  summary.authenticity = Authenticity::Authenticated;
  summary.authReason = "authenticated in test";
  auto result = writer->commit(summary);
  BOOST_CHECK(result.status == StoreStatus::Duplicate);
  auto kept = store.report(forged.sequence);
  BOOST_CHECK_MESSAGE(kept->authenticity != Authenticity::Authenticated, "forged copy became authenticated");
  BOOST_CHECK_MESSAGE(kept->state == ReportState::Quarantined, "forged copy released into the totals");
  BOOST_CHECK_MESSAGE(factMessages(store, "example.com") != 1000U, "the forged 1000 messages are counted");
  checkVerify(store);
}

BOOST_AUTO_TEST_CASE(forged_reports_cannot_hold_back_an_authenticated_one_by_a_limit)
{
  // The reporter key is the claimed org_name: forged (even quarantined) reports claiming
  // google.com use up Google's day; the genuine authenticated report is then quarantined.
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  SenderLimits limits = noLimits();
  limits.reporterReports = 3;
  for (const char* id : {"f1", "f2", "f3"}) {
    storeTrusted(store, id, {1}, Trust{Authenticity::Forged, "forged: dmarc=fail", &limits, 100}, "victim.example");
  }
  auto real = storeTrusted(store, "real", {50}, Trust{Authenticity::Authenticated, "", &limits, 100}, "example.com");
  BOOST_CHECK_MESSAGE(!real.quarantined, "genuine authenticated report quarantined: " + real.stateReason);
  checkVerify(store);
}

BOOST_AUTO_TEST_CASE(an_unauthenticated_copy_replaces_a_forged_one)
{
  // A forged copy quarantined first; the real report comes unauthenticated (DNS timeout, no
  // DKIM): it is a conflict, so neither copy is counted.
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  storeTrusted(store, "r", {1000}, Trust{Authenticity::Forged, "forged: dmarc=fail", nullptr, 100});
  auto real = storeTrusted(store, "r", {4}, s_unauthenticated);
  BOOST_CHECK_MESSAGE(real.status != StoreStatus::Conflict, "real unauthenticated copy is a conflict with a forgery");
  BOOST_CHECK_EQUAL(factMessages(store, "example.com"), 4U);
  checkVerify(store);
}

BOOST_AUTO_TEST_CASE(only_a_copy_from_the_same_email_domain_replaces_a_report)
{
  // org_name is free text ("ACME Corp"): the judge lets <email> name the reporter, so a mail
  // authenticated as attacker.example with <email>x@attacker.example</email> is authenticated;
  // the dedup key has org_name only, so it supersedes ACME's real (unauthenticated) report.
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  auto put = [&](const std::string& email, uint64_t count, Authenticity authenticity) {
    auto header = makeHeader("ACME Corp", "acme.example:1710000000", "example.com", dayStart(day), dayStart(day) + s_day - 1);
    header.metadata.email = email;
    auto writer = store.beginReport(header);
    writer->addRecord(makeRecord(v4(192, 0, 2, 9), count, true));
    ReportSummary summary;
    summary.records = 1;
    summary.messages = count;
    summary.source = "test";
    summary.authenticity = authenticity;
    return writer->commit(summary);
  };
  auto real = put("dmarc@acme.example", 40, Authenticity::Unauthenticated);
  auto fake = put("x@attacker.example", 1, Authenticity::Authenticated);
  BOOST_CHECK_MESSAGE(fake.status != StoreStatus::Stored || fake.related != real.sequence,
                      "a copy from another reporter domain superseded the real report");
  BOOST_CHECK_EQUAL(factMessages(store, "example.com"), 40U);
  checkVerify(store);
}

BOOST_AUTO_TEST_CASE(a_forged_complete_copy_does_not_replace_an_authenticated_recovered_one)
{
  TempDir tmp;
  Store store(tmp.path().string(), testOptions());
  const uint32_t day = s_today - 1;
  auto put = [&](uint64_t count, bool recovered, Authenticity authenticity) {
    auto writer = store.beginReport(makeHeader("google.com", "r", "example.com", dayStart(day), dayStart(day) + s_day - 1));
    writer->addRecord(makeRecord(v4(192, 0, 2, 9), count, true));
    ReportSummary summary;
    summary.records = 1;
    summary.messages = count;
    summary.source = "test";
    summary.recovered = recovered;
    summary.authenticity = authenticity;
    return writer->commit(summary);
  };
  auto real = put(40, true, Authenticity::Authenticated);
  auto fake = put(1000, false, Authenticity::Forged); // UntrustedReports flag: counted
  BOOST_CHECK_MESSAGE(!(fake.status == StoreStatus::Stored && fake.related == real.sequence),
                      "a forged complete copy superseded the authenticated (recovered) report");
  BOOST_CHECK_EQUAL(factMessages(store, "example.com"), 40U);
  checkVerify(store);
}

BOOST_AUTO_TEST_SUITE_END()
