/*
 * test-enrich-step.cc - the enrichment of a dmarcwatchd pass (daemon/enrich-step.hh),
 * offline (Resolver none): a quick pass enriches the sources of the reports after
 * the cursor and moves it, a second one finds nothing new, a full pass visits
 * every source.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/daemon/enrich-step.hh"
#include "t/unit/store-fixture.hh"
#include "t/unit/test-util.hh"

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

namespace
{

struct StepFixture
{
  static std::unique_ptr<Resolver> offline()
  {
    ResolverOptions options;
    options.spec = "none";
    return std::make_unique<Resolver>(options);
  }
  TempDir tmp;
  Store store{tmp.path().string(), testOptions()};
  EnrichmentStep step{offline(), EnrichOptions{}};
  std::atomic<bool> stop{false};
};

} // namespace

BOOST_AUTO_TEST_SUITE(test_enrich_step)

BOOST_FIXTURE_TEST_CASE(quick_passes_follow_the_cursor, StepFixture)
{
  storeReport(store, "r1", "example.com", s_today - 1,
              {makeRecord(v4(192, 0, 2, 1), 5, true), makeRecord(v4(192, 0, 2, 2), 1, false)});
  storeReport(store, "r2", "example.org", s_today - 1, {makeRecord(v4(192, 0, 2, 3), 5, true)});
  BOOST_CHECK(!store.cursor(EnrichmentStep::s_cursor));

  // Step: the two reports' three sources, the cursor on the second report.
  PassResult result = step.run(store, false, stop);
  BOOST_CHECK(!result.stopped);
  BOOST_CHECK_EQUAL(step.lastSummary().sources, 3U);
  BOOST_CHECK_NE(result.summary.find("new_reports=2 sources=3"), std::string::npos);
  BOOST_CHECK_EQUAL(store.cursor(EnrichmentStep::s_cursor).value_or(0), 2U);
  BOOST_CHECK(store.ipEnrichment(v4(192, 0, 2, 3)));

  // Step: nothing new, nothing visited; then a new report's one new source only.
  step.run(store, false, stop);
  BOOST_CHECK_EQUAL(step.lastSummary().sources, 0U);
  storeReport(store, "r3", "example.com", s_today - 1, {makeRecord(v4(192, 0, 2, 9), 5, true)});
  step.run(store, false, stop);
  BOOST_CHECK_EQUAL(step.lastSummary().sources, 1U);
  BOOST_CHECK_EQUAL(store.cursor(EnrichmentStep::s_cursor).value_or(0), 3U);

  // Step: a full pass visits every source of the store.
  result = step.run(store, true, stop);
  BOOST_CHECK_EQUAL(step.lastSummary().sources, 4U);
  BOOST_CHECK_NE(result.summary.find("new_reports=0 sources=4"), std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
