/*
 * test-ingest-trust.cc - the Ingester with an IngestTrust (issue 14, ingest.hh): checkMail
 * once per mail, the judge per report, each action per verdict (count, flag, quarantine,
 * reject), reports outside a mail, checks that throw, and a per-day limit's tempfail.
 */
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/ingest/ingest.hh"
#include "collector/ingest/reindex.hh"
#include "t/unit/test-util.hh"

#include <stdexcept>

using namespace dmarcwatch::collector;
using dmarcwatch::test::TempDir;

namespace
{

std::string reportXml(const std::string& id, const std::string& org = "unit.test", uint64_t count = 5)
{
  return R"(<?xml version="1.0"?>
<feedback>
  <report_metadata><org_name>)" +
         org + R"(</org_name><email>r@unit.test</email>
    <report_id>)" +
         id + R"(</report_id><date_range><begin>1700006400</begin><end>1700092799</end></date_range></report_metadata>
  <policy_published><domain>example.test</domain><p>none</p></policy_published>
  <record><row><source_ip>192.0.2.1</source_ip><count>)" +
         std::to_string(count) + R"(</count>
    <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated></row>
    <identifiers><header_from>example.test</header_from></identifiers>
    <auth_results><dkim><domain>example.test</domain><result>pass</result></dkim></auth_results></record>
</feedback>
)";
}

//! A mail with one XML attachment per report.
std::string mailOf(const std::vector<std::string>& reports)
{
  std::string mail = "From: r@unit.test\nSubject: report\nContent-Type: multipart/mixed; boundary=b\n\n";
  for (const auto& xml : reports) {
    mail += "--b\nContent-Type: text/xml\nContent-Disposition: attachment; filename=r.xml\n\n" + xml + "\n";
  }
  return mail + "--b--\n";
}

//! A trust whose mails all get one verdict; counts checkMail calls.
struct FixedTrust
{
  IngestTrust trust;
  int mails = 0;

  explicit FixedTrust(Authenticity authenticity)
  {
    trust.checkMail = [this, authenticity](std::string_view) -> ReportJudge {
      ++mails;
      return [authenticity](const ReportHeader& header) {
        return ReportVerdict{authenticity, "checked " + header.metadata.orgName};
      };
    };
  }
};

uint64_t totalMessages(const Store& store)
{
  uint64_t total = 0;
  store.forEachFact("example.test", 0, UINT32_MAX, [&](const Fact& fact) { total += fact.messages; });
  return total;
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_ingest_trust)

BOOST_AUTO_TEST_CASE(check_mail_once_per_mail_judge_per_report)
{
  TempDir dir;
  Store store(dir.path().string(), {});
  Limits limits;
  FixedTrust fixed(Authenticity::Authenticated);
  Ingester ingester(store, limits, &fixed.trust);
  auto outcome = ingester.ingestMessage(mailOf({reportXml("a"), reportXml("b", "other.test")}), "t");
  BOOST_REQUIRE_EQUAL(outcome.reports.size(), 2U);
  BOOST_CHECK_EQUAL(fixed.mails, 1);
  BOOST_CHECK(outcome.reports[0].verdict.authenticity == Authenticity::Authenticated);
  BOOST_CHECK_EQUAL(outcome.reports[1].verdict.reason, "checked other.test");
  auto stored = store.report(outcome.reports[1].sequence);
  BOOST_REQUIRE(stored);
  BOOST_CHECK(stored->authenticity == Authenticity::Authenticated);
  BOOST_CHECK_EQUAL(stored->authReason, "checked other.test");

  // A bare payload is no mail: unauthenticated, and checkMail is not asked.
  const std::string xml = reportXml("c");
  auto bare = ingester.ingestBytes(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(xml.data()), xml.size()),
                                   "file");
  BOOST_REQUIRE_EQUAL(bare.reports.size(), 1U);
  BOOST_CHECK(bare.reports[0].verdict.authenticity == Authenticity::Unauthenticated);
  BOOST_CHECK_EQUAL(bare.reports[0].verdict.reason, "not a mail");
  BOOST_CHECK_EQUAL(fixed.mails, 1);
}

BOOST_AUTO_TEST_CASE(each_action_per_verdict)
{
  struct Case
  {
    Authenticity verdict;
    UntrustedAction action;
    const char* want; //!< counted, quarantined, rejected
  };
  const Case cases[] = {
    {Authenticity::Forged, UntrustedAction::Count, "counted"},
    {Authenticity::Forged, UntrustedAction::Flag, "counted"},
    {Authenticity::Forged, UntrustedAction::Quarantine, "quarantined"},
    {Authenticity::Forged, UntrustedAction::Reject, "rejected"},
    {Authenticity::Unauthenticated, UntrustedAction::Count, "counted"},
    {Authenticity::Unauthenticated, UntrustedAction::Flag, "counted"},
    {Authenticity::Unauthenticated, UntrustedAction::Quarantine, "quarantined"},
    // Never rejected (config.hh): quarantined at most.
    {Authenticity::Unauthenticated, UntrustedAction::Reject, "quarantined"},
    // The actions are for untrusted reports only.
    {Authenticity::Authenticated, UntrustedAction::Reject, "counted"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    Store store(dir.path().string(), {});
    Limits limits;
    FixedTrust fixed(c.verdict);
    fixed.trust.forged = c.action;
    fixed.trust.unauthenticated = c.action;
    Ingester ingester(store, limits, &fixed.trust);
    auto outcome = ingester.ingestMessage(mailOf({reportXml("a")}), "t");
    const std::string name = std::string(authenticityName(c.verdict)) + "/" + std::to_string(int(c.action));
    BOOST_TEST_CONTEXT(name)
    {
      BOOST_REQUIRE_EQUAL(outcome.reports.size(), 1U);
      const auto& report = outcome.reports[0];
      BOOST_CHECK(report.verdict.authenticity == c.verdict);
      const std::string got = report.rejected ? "rejected" : report.quarantined ? "quarantined" : "counted";
      BOOST_CHECK_EQUAL(got, c.want);
      if (got == "rejected") {
        BOOST_CHECK_EQUAL(report.statusWord(), std::string("rejected"));
        BOOST_CHECK_EQUAL(report.stateReason, "forged: checked unit.test");
        BOOST_CHECK(outcome.hasRejected());
        BOOST_CHECK(store.listReports().empty());
        BOOST_CHECK(!store.payload(1)); // nothing archived either
      }
      else {
        auto stored = store.report(report.sequence);
        BOOST_REQUIRE(stored);
        BOOST_CHECK(stored->authenticity == c.verdict);
        BOOST_CHECK_EQUAL(totalMessages(store), got == "counted" ? 5U : 0U);
        if (got == "quarantined") {
          BOOST_CHECK(stored->state == ReportState::Quarantined);
          BOOST_CHECK_EQUAL(report.stateReason, std::string(authenticityName(c.verdict)) + ": checked unit.test");
        }
      }
      auto problems = store.verify();
      BOOST_CHECK_MESSAGE(problems.empty(), (problems.empty() ? "" : problems.front()));
    }
  }
}

BOOST_AUTO_TEST_CASE(checks_that_throw_leave_reports_unauthenticated)
{
  TempDir dir;
  Store store(dir.path().string(), {});
  Limits limits;
  IngestTrust trust;
  trust.forged = UntrustedAction::Reject;
  trust.checkMail = [](std::string_view) -> ReportJudge {
    return [](const ReportHeader&) -> ReportVerdict { throw std::runtime_error("DNS timed out"); };
  };
  Ingester ingester(store, limits, &trust);
  auto judged = ingester.ingestMessage(mailOf({reportXml("a")}), "t");
  BOOST_REQUIRE_EQUAL(judged.reports.size(), 1U);
  BOOST_CHECK(!judged.reports[0].rejected);
  BOOST_CHECK(judged.reports[0].verdict.authenticity == Authenticity::Unauthenticated);
  BOOST_CHECK_EQUAL(judged.reports[0].verdict.reason, "report check failed: DNS timed out");
  BOOST_CHECK(store.report(judged.reports[0].sequence));

  trust.checkMail = [](std::string_view) -> ReportJudge { throw std::runtime_error("no resolver"); };
  auto mail = ingester.ingestMessage(mailOf({reportXml("b")}), "t");
  BOOST_REQUIRE_EQUAL(mail.reports.size(), 1U);
  BOOST_CHECK_EQUAL(mail.reports[0].verdict.reason, "mail checks failed: no resolver");
  BOOST_CHECK_EQUAL(totalMessages(store), 10U);
}

BOOST_AUTO_TEST_CASE(authenticated_mail_supersedes_a_forged_copy)
{
  TempDir dir;
  Store store(dir.path().string(), {});
  Limits limits;
  FixedTrust forger(Authenticity::Forged);
  forger.trust.forged = UntrustedAction::Flag;
  Ingester(store, limits, &forger.trust).ingestMessage(mailOf({reportXml("a", "unit.test", 1000)}), "forger");
  BOOST_CHECK_EQUAL(totalMessages(store), 1000U);
  FixedTrust real(Authenticity::Authenticated);
  auto outcome = Ingester(store, limits, &real.trust).ingestMessage(mailOf({reportXml("a")}), "real");
  BOOST_REQUIRE_EQUAL(outcome.reports.size(), 1U);
  BOOST_CHECK(outcome.reports[0].status == StoreStatus::Stored);
  BOOST_CHECK_EQUAL(totalMessages(store), 5U);
}

BOOST_AUTO_TEST_CASE(limit_tempfail_throws_and_quarantine_notices)
{
  TempDir dir;
  Store store(dir.path().string(), {});
  Limits limits;
  // Unauthenticated: the limits hold back only what is not authenticated (their keys are claims).
  FixedTrust fixed(Authenticity::Unauthenticated);
  fixed.trust.limits.domainReports = 1;
  Ingester ingester(store, limits, &fixed.trust);
  ingester.ingestMessage(mailOf({reportXml("a")}), "t");
  auto over = ingester.ingestMessage(mailOf({reportXml("b")}), "t");
  BOOST_REQUIRE_EQUAL(over.reports.size(), 1U);
  BOOST_CHECK(over.reports[0].quarantined);
  BOOST_CHECK(over.reports[0].limitNotice.starts_with("over DomainReportsPerDay (1) for example.test on "));
  // The XML's bytes count: a byte limit below one report's size puts the next one over it.
  fixed.trust.limits = SenderLimits{0, 0, 100, 0, 0, 0, OverLimitAction::Tempfail};
  BOOST_CHECK_THROW(ingester.ingestMessage(mailOf({reportXml("c")}), "t"), SenderLimitExceeded);
  BOOST_CHECK_EQUAL(store.listReports().size(), 2U);
}

BOOST_AUTO_TEST_CASE(reindex_keeps_each_reports_verdict_and_so_which_copy_won)
{
  // A forged copy (flagged, counted) superseded by the authenticated one; reindex re-parses the
  // payloads in the order first stored: with the verdicts carried, the authenticated copy wins again.
  TempDir dir;
  Limits limits;
  {
    Store store(dir.path().string(), {});
    FixedTrust forger(Authenticity::Forged);
    forger.trust.forged = UntrustedAction::Flag;
    Ingester(store, limits, &forger.trust).ingestMessage(mailOf({reportXml("a", "unit.test", 1000)}), "forger");
    FixedTrust real(Authenticity::Authenticated);
    Ingester(store, limits, &real.trust).ingestMessage(mailOf({reportXml("a")}), "real");
    BOOST_REQUIRE_EQUAL(totalMessages(store), 5U);
  }
  reindexStore(dir.path().string(), {}, limits);
  Store store(dir.path().string(), {});
  BOOST_CHECK_EQUAL(totalMessages(store), 5U);
  unsigned authenticated = 0;
  unsigned forged = 0;
  for (const auto& r : store.listReports()) {
    authenticated += r.authenticity == Authenticity::Authenticated && r.counted() ? 1 : 0;
    forged += r.authenticity == Authenticity::Forged && r.state == ReportState::Superseded ? 1 : 0;
  }
  BOOST_CHECK_EQUAL(authenticated, 1U);
  BOOST_CHECK_EQUAL(forged, 1U);
  BOOST_CHECK(store.verify().empty());
}

BOOST_AUTO_TEST_SUITE_END()
