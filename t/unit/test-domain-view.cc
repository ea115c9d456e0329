/*
 * test-domain-view.cc - a domain's view as status and report build it
 * (views/domain-view.hh) on stores that try to mislead: counts that wrap when
 * summed over days, a policy hidden behind forged reports that publish none,
 * p=reject t=y; and the overview agreeing with the page.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/arithmetic.hh"
#include "collector/common/config.hh"
#include "collector/views/domain-view.hh"

#include "t/unit/psl-fixture.hh"
#include "t/unit/store-fixture.hh"
#include "t/unit/test-util.hh"

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

namespace
{

//! A report of one domain on one day with its published p= ("" none) and t=.
void storeWithPolicy(Store& store, const std::string& id, const std::string& org, uint32_t day, const std::string& p,
                     const std::vector<Record>& records, const std::string& testing = "")
{
  auto header = makeHeader(org, id, "example.com", dayStart(day), dayStart(day) + s_day - 1);
  header.policy.p = p;
  header.policy.testing = testing;
  auto writer = store.beginReport(header);
  uint64_t messages = 0;
  for (const auto& record : records) {
    writer->addRecord(record);
    messages += record.count;
  }
  BOOST_REQUIRE(commitWith(*writer, records.size(), messages).status == StoreStatus::Stored);
}

struct Fixture
{
  TempDir tmp;
  Store store{tmp.path().string(), testOptions()};
  std::shared_ptr<const Config> config = parseConfig("Authorize example.com sendgrid\n", "t.conf");
  Namer namer{nullptr, config, Namer::Options{100}};

  std::vector<DomainView> views(bool detail, size_t top = 10)
  {
    DomainViewOptions options;
    options.domain = detail ? "example.com" : "";
    options.fromDay = s_today - 29;
    options.toDay = s_today;
    options.top = top;
    options.detail = detail;
    return buildDomainViews(store, namer, testPsl(), {}, options);
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(test_domain_view)

BOOST_AUTO_TEST_CASE(counts_that_wrap_saturate)
{
  // Each day's counts fit; their sum over two days does not.  No crash (a percentage of a
  // wrapped sum divided by zero), no number that went round.
  Fixture f;
  const uint64_t half = uint64_t{1} << 63;
  storeWithPolicy(f.store, "a", "google.com", s_today - 2, "none",
                  {makeRecord(v4(192, 0, 2, 1), half, true, "sendgrid.net")});
  storeWithPolicy(f.store, "b", "google.com", s_today - 1, "none",
                  {makeRecord(v4(192, 0, 2, 1), half + 5, false, "sendgrid.net")});
  for (bool detail : {false, true}) {
    const auto views = f.views(detail);
    BOOST_REQUIRE_EQUAL(views.size(), 1U);
    const auto& s = views.front().status;
    BOOST_CHECK_EQUAL(s.messages, UINT64_MAX);
    BOOST_CHECK_LE(s.dmarcPass, s.messages);
    for (const auto& svc : s.services) {
      BOOST_CHECK_LE(svc.dmarcPass, svc.messages);
      BOOST_CHECK_LE(svc.dmarcFail, svc.messages);
    }
    BOOST_CHECK(!views.front().readiness.text().empty());
    const auto w = whatIf(s, "reject", 100);
    BOOST_CHECK_LE(w.stopped, s.messages);
  }
  BOOST_CHECK_EQUAL(percentOf(UINT64_MAX, 5), 100U);
  BOOST_CHECK_EQUAL(percentOf(UINT64_MAX - 1, UINT64_MAX), 99U);
  BOOST_CHECK_EQUAL(percentOf(3, 0), 0U);
}

BOOST_AUTO_TEST_CASE(forged_reports_without_a_policy_do_not_hide_it)
{
  // The domain publishes p=reject; then 20 one-message reports from a forger publish none.
  // The overview reads only the newest reports, and must read on until one says.
  Fixture f;
  storeWithPolicy(f.store, "real", "google.com", s_today - 25, "reject", {makeRecord(v4(192, 0, 2, 1), 100, true)});
  for (int i = 0; i < 20; ++i) {
    storeWithPolicy(f.store, "forged-" + std::to_string(i), "forger.example", s_today - 20 + static_cast<uint32_t>(i % 15),
                    "", {makeRecord(v4(198, 51, 100, 7), 1, true)});
  }
  for (bool detail : {false, true}) {
    const auto views = f.views(detail);
    BOOST_REQUIRE_EQUAL(views.size(), 1U);
    BOOST_CHECK_EQUAL(views.front().policy.p, "reject");
    BOOST_CHECK_EQUAL(views.front().reportedPolicy, "reject");
  }
}

BOOST_AUTO_TEST_CASE(testing_reject_is_enforcement_and_the_overview_agrees_with_the_page)
{
  // p=reject t=y is applied as quarantine: an authorized service failing loses mail now.
  Fixture f;
  Record failing = makeRecord(v4(192, 0, 2, 10), 300, false, "sendgrid.net");
  failing.dkimResults[0].result = "pass"; // signs as sendgrid.net, not aligned
  failing.reasons.push_back(PolicyOverride{"forwarded", ""});
  Record passing = makeRecord(v4(192, 0, 2, 10), 100, true, "sendgrid.net");
  passing.dkimResults[0].domain = "example.com";
  storeWithPolicy(f.store, "t", "google.com", s_today - 3, "reject", {failing, passing}, "y");
  const auto overview = f.views(false, 0);
  const auto page = f.views(true);
  BOOST_REQUIRE(overview.size() == 1 && page.size() == 1);
  BOOST_CHECK(overview.front().policy.enforcing());
  BOOST_CHECK_EQUAL(page.front().readiness.name(), overview.front().readiness.name());
  BOOST_CHECK_EQUAL(page.front().readiness.text(), overview.front().readiness.text());
  BOOST_CHECK(page.front().detail && !overview.front().detail);
  BOOST_CHECK(!overview.front().status.sourcesCounted && page.front().status.sourcesCounted);
}

BOOST_AUTO_TEST_CASE(forwarded_mail_without_identity_does_not_hide_spoofing)
{
  // Mail with no passing identity: 300 messages reporters marked forwarded, 250 plain spoofing.
  // "unknown" stays unknown (never a forwarder), and p=reject would refuse the 250.
  Fixture f;
  Record own = makeRecord(v4(192, 0, 2, 1), 1000, true);
  Record forwarded = makeRecord(v4(203, 0, 113, 7), 300, false);
  forwarded.reasons.push_back(PolicyOverride{"forwarded", ""});
  Record spoofed = makeRecord(v4(198, 51, 100, 9), 250, false);
  storeWithPolicy(f.store, "f", "google.com", s_today - 2, "none", {own, forwarded, spoofed});
  const auto page = f.views(true);
  BOOST_REQUIRE_EQUAL(page.size(), 1U);
  const auto& services = page.front().status.services;
  auto unknown = std::find_if(services.begin(), services.end(), [](const auto& s) { return s.name == "unknown"; });
  BOOST_REQUIRE(unknown != services.end());
  BOOST_CHECK_NE(unknown->cls, "forwarder");
  BOOST_CHECK_EQUAL(unknown->auth.forwarded, 300U);
  const auto w = whatIf(page.front().status, "reject", 100);
  BOOST_CHECK_EQUAL(w.stopped, 250U);
  BOOST_CHECK_EQUAL(w.forwarded, 300U);
  BOOST_CHECK_EQUAL(page.front().unknownMessages, 550U);
}

BOOST_AUTO_TEST_SUITE_END()
