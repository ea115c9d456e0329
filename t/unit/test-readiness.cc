/*
 * test-readiness.cc - status's conclusions (views/readiness.hh): each readiness
 * verdict and where its thresholds fall, the what-if with forwarded and
 * overridden mail apart and pct rounding, the failure words and the fix
 * phrases (SPF include only where SPF can align).
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/views/readiness.hh"

#include "t/unit/psl-fixture.hh"

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

namespace
{

ServiceSummary service(std::string name, std::string id, std::string cls, uint64_t pass, uint64_t fail)
{
  ServiceSummary s;
  s.name = std::move(name);
  s.id = std::move(id);
  s.cls = std::move(cls);
  s.dmarcPass = pass;
  s.dmarcFail = fail;
  s.messages = pass + fail;
  return s;
}

DomainStatus statusOf(std::vector<ServiceSummary> services)
{
  DomainStatus s;
  s.domain = "example.com";
  for (const auto& svc : services) {
    s.messages += svc.messages;
    s.dmarcPass += svc.dmarcPass;
    s.dmarcFail += svc.dmarcFail;
  }
  s.services = std::move(services);
  return s;
}

EffectivePolicy policy(std::string p, unsigned pct = 100, bool testing = false)
{
  EffectivePolicy out;
  out.p = std::move(p);
  out.pct = pct;
  out.testing = testing;
  out.from = "reports";
  return out;
}

FailureSample::Result result(std::string domain, std::string outcome, std::string selector = {})
{
  return FailureSample::Result{std::move(domain), std::move(outcome), std::move(selector)};
}

//! A catalog of two services with their SPF includes.
std::shared_ptr<const Catalog> testCatalog()
{
  CatalogBuilder builder;
  builder.addText("service sendgrid\nname Twilio SendGrid\noperator Twilio\ncategory esp-transactional\n"
                  "dkim sendgrid.net\nspf-include sendgrid.net\n\n"
                  "service zendesk\nname Zendesk\noperator Zendesk\ncategory helpdesk\n"
                  "dkim zendesk.com\nspf-include mail.zendesk.com\n",
                  "t.services");
  return builder.build();
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_readiness)

BOOST_AUTO_TEST_CASE(verdicts)
{
  const ReadinessSettings settings; // 98 %, 14 days, 10 messages
  // Every legitimate sender passes, data over 14 days: reject; over 13: quarantine first.
  auto healthy = statusOf({service("example.com", "", "authorized", 1000, 5),
                           service("unknown", "", "suspicious", 0, 500)});
  auto v = judgeReadiness(healthy, policy("none"), settings, 14);
  BOOST_CHECK(v.state == Readiness::ReadyForReject);
  BOOST_CHECK_EQUAL(v.text(), "ready for reject");
  BOOST_CHECK_EQUAL(v.name(), "ready-for-reject");
  v = judgeReadiness(healthy, policy("none"), settings, 13);
  BOOST_CHECK(v.state == Readiness::ReadyForQuarantine);
  BOOST_CHECK_NE(v.detail.find("13 of the 14 days"), std::string::npos);

  // A legitimate service under the pass rate with enough failures blocks, most failing first.
  auto blocked = statusOf({service("example.com", "", "authorized", 1000, 0),
                           service("Zendesk", "zendesk", "authorized", 50, 20),
                           service("Twilio SendGrid", "sendgrid", "known-not-authorized", 10, 90)});
  v = judgeReadiness(blocked, policy("none"), settings, 30);
  BOOST_CHECK(v.state == Readiness::Blocked);
  BOOST_CHECK_EQUAL(v.text(), "blocked by: Twilio SendGrid, Zendesk");
  // The same under p=reject: mail is being lost now; p=reject t=y is applied as quarantine (lost
  // too), p=quarantine t=y as none (not yet); pct 0 enforces nothing.
  v = judgeReadiness(blocked, policy("reject"), settings, 30);
  BOOST_CHECK(v.state == Readiness::Losing);
  BOOST_CHECK_EQUAL(v.text(), "at enforcement, losing mail from: Twilio SendGrid, Zendesk");
  BOOST_CHECK(judgeReadiness(blocked, policy("reject", 100, true), settings, 30).state == Readiness::Losing);
  BOOST_CHECK(judgeReadiness(blocked, policy("quarantine", 100, true), settings, 30).state == Readiness::Blocked);
  BOOST_CHECK(judgeReadiness(blocked, policy("quarantine", 0), settings, 30).state == Readiness::Blocked);
  BOOST_CHECK(judgeReadiness(healthy, policy("reject"), settings, 30).state == Readiness::AtEnforcement);
  BOOST_CHECK_EQUAL(judgeReadiness(healthy, policy("reject"), settings, 30).text(), "at enforcement");
  BOOST_CHECK_EQUAL(judgeReadiness(healthy, policy("quarantine"), settings, 30).text(),
                    "at enforcement (quarantine); ready for reject");
  // Reject is advised only with ReadyDays of data and quarantine applied to all mail.
  BOOST_CHECK_EQUAL(judgeReadiness(healthy, policy("quarantine"), settings, 3).text(), "at enforcement (quarantine)");
  BOOST_CHECK_EQUAL(judgeReadiness(healthy, policy("quarantine", 10), settings, 30).text(),
                    "at enforcement (quarantine)");
  BOOST_CHECK_NE(judgeReadiness(healthy, policy("quarantine", 10), settings, 3).detail.find("raise pct to 100"),
                 std::string::npos);
  // Reject not in full: says so, and what is next.
  auto partial = judgeReadiness(healthy, policy("reject", 100, true), settings, 30);
  BOOST_CHECK_EQUAL(partial.text(), "at enforcement (t=y: applied as quarantine)");
  BOOST_CHECK_NE(partial.detail.find("remove t=y"), std::string::npos);
  partial = judgeReadiness(healthy, policy("reject", 50), settings, 30);
  BOOST_CHECK_EQUAL(partial.text(), "at enforcement (reject at 50 %)");
  BOOST_CHECK_NE(partial.detail.find("raise pct to 100"), std::string::npos);

  // Thresholds: 9 failures is under BlockerMessages; exactly 98 % passes.
  auto few = statusOf({service("Zendesk", "zendesk", "authorized", 10, 9)});
  BOOST_CHECK(judgeReadiness(few, policy("none"), settings, 30).state == Readiness::ReadyForReject);
  auto edge = statusOf({service("Zendesk", "zendesk", "authorized", 980, 20)});
  BOOST_CHECK(judgeReadiness(edge, policy("none"), settings, 30).state == Readiness::ReadyForReject);
  auto under = statusOf({service("Zendesk", "zendesk", "authorized", 979, 21)});
  BOOST_CHECK(judgeReadiness(under, policy("none"), settings, 30).state == Readiness::Blocked);

  // A known service that never passes is no legitimate sender (a spoofer naming it): it blocks nothing.
  auto spoofed = statusOf({service("example.com", "", "authorized", 500, 0),
                           service("Twilio SendGrid", "sendgrid", "known-not-authorized", 0, 300)});
  BOOST_CHECK(judgeReadiness(spoofed, policy("none"), settings, 30).state == Readiness::ReadyForReject);
  // Only unknown mail: nothing to protect; no mail: no data.
  auto onlyFailing = statusOf({service("unknown", "", "suspicious", 0, 300)});
  BOOST_CHECK(judgeReadiness(onlyFailing, policy("none"), settings, 30).state == Readiness::NoSenders);
  BOOST_CHECK(judgeReadiness(statusOf({}), policy("none"), settings, 0).state == Readiness::NoData);
}

BOOST_AUTO_TEST_CASE(what_if_counts_forwarded_and_overridden_apart)
{
  auto sendgrid = service("Twilio SendGrid", "sendgrid", "authorized", 100, 100);
  sendgrid.auth.overridden = 30;
  sendgrid.auth.forwarded = 10;
  auto forwarder = service("Google Groups", "google-groups", "forwarder", 5, 40);
  auto spoofer = service("unknown", "", "suspicious", 0, 333);
  auto passing = service("example.com", "", "authorized", 900, 0);
  const auto status = statusOf({passing, sendgrid, forwarder, spoofer});

  auto w = whatIf(status, "reject", 100);
  BOOST_CHECK_EQUAL(w.policy, "reject");
  BOOST_REQUIRE_EQUAL(w.services.size(), 3U); // passing services are not listed
  BOOST_CHECK_EQUAL(w.services[0].name, "unknown");
  BOOST_CHECK_EQUAL(w.services[0].stopped, 333U);
  BOOST_CHECK_EQUAL(w.services[1].name, "Twilio SendGrid");
  BOOST_CHECK_EQUAL(w.services[1].forwarded, 10U);
  BOOST_CHECK_EQUAL(w.services[1].overridden, 20U);
  BOOST_CHECK_EQUAL(w.services[1].stopped, 70U);
  BOOST_CHECK_EQUAL(w.services[2].forwarded, 40U); // a catalog forwarder's failing mail is all forwarded
  BOOST_CHECK_EQUAL(w.services[2].stopped, 0U);
  BOOST_CHECK_EQUAL(w.stopped, 403U);
  BOOST_CHECK_EQUAL(w.stoppedLegitimate, 70U);
  BOOST_CHECK_EQUAL(w.forwarded, 50U);
  BOOST_CHECK_EQUAL(w.overridden, 20U);
  BOOST_CHECK_EQUAL(w.messages, status.messages);

  // pct: rounded to the nearest message; 0 stops nothing; over 100 is 100.
  w = whatIf(status, "quarantine", 50);
  BOOST_CHECK_EQUAL(w.services[0].stopped, 167U); // 166.5
  BOOST_CHECK_EQUAL(w.services[1].stopped, 35U);
  BOOST_CHECK_EQUAL(whatIf(status, "quarantine", 0).stopped, 0U);
  BOOST_CHECK_EQUAL(whatIf(status, "reject", 250).pct, 100U);
}

BOOST_AUTO_TEST_CASE(failure_in_words)
{
  const auto& psl = testPsl();
  auto sendgrid = service("Twilio SendGrid", "sendgrid", "authorized", 10, 90);
  sendgrid.failing.messages = 90;
  sendgrid.failing.dkim = {result("sendgrid.net", "pass", "s1")};
  sendgrid.failing.spf = {result("bounces.sendgrid.net", "pass")};
  BOOST_CHECK_EQUAL(describeFailure(sendgrid, "example.com", psl),
                    "DKIM signs as sendgrid.net, not aligned; SPF passes for bounces.sendgrid.net, not aligned");

  auto broken = service("example.com", "", "authorized", 10, 5);
  broken.failing.messages = 5;
  broken.failing.dkim = {result("mail.example.com", "fail", "sel")};
  broken.failing.spf = {result("example.com", "softfail")};
  broken.failing.overrides = {"forwarded"};
  BOOST_CHECK_EQUAL(describeFailure(broken, "example.com", psl),
                    "DKIM signature of mail.example.com fails (fail); SPF softfail for example.com "
                    "(reporter override: forwarded)");

  // One result twice in the sample: said once.
  auto twice = sendgrid;
  twice.failing.dkim.push_back(result("sendgrid.net", "pass", "s2"));
  BOOST_CHECK_EQUAL(describeFailure(twice, "example.com", psl),
                    "DKIM signs as sendgrid.net, not aligned; SPF passes for bounces.sendgrid.net, not aligned");

  auto bare = service("unknown", "", "suspicious", 0, 7);
  bare.failing.messages = 7;
  BOOST_CHECK_EQUAL(describeFailure(bare, "example.com", psl), "no DKIM signature; no SPF result");
  BOOST_CHECK_EQUAL(describeFailure(service("ok", "", "authorized", 5, 0), "example.com", psl), "");
}

BOOST_AUTO_TEST_CASE(fix_in_one_phrase)
{
  const auto& psl = testPsl();
  const auto shared = testCatalog();
  const Catalog& catalog = *shared;

  // Its own MAIL FROM: SPF cannot align, so DKIM for the domain is the fix.
  auto sendgrid = service("Twilio SendGrid", "sendgrid", "authorized", 10, 90);
  sendgrid.failing.messages = 90;
  sendgrid.failing.dkim = {result("sendgrid.net", "pass")};
  sendgrid.failing.spf = {result("bounces.sendgrid.net", "pass")};
  BOOST_CHECK_EQUAL(fixFor(sendgrid, "news.example.com", &catalog, psl),
                    "set up DKIM for example.com at Twilio SendGrid (custom domain signing)");

  // MAIL FROM under the domain and SPF failing: the include, where SPF can align.
  auto zendesk = service("Zendesk", "zendesk", "authorized", 10, 30);
  zendesk.failing.messages = 30;
  zendesk.failing.spf = {result("support.example.com", "fail")};
  BOOST_CHECK_EQUAL(fixFor(zendesk, "example.com", &catalog, psl),
                    "add include:mail.zendesk.com to the SPF record of support.example.com");
  // Without a catalog include: authorize its servers.
  BOOST_CHECK_EQUAL(fixFor(zendesk, "example.com", nullptr, psl),
                    "authorize Zendesk's servers in the SPF record of support.example.com");

  // An aligned signature that fails: the key, not the set-up.
  auto own = service("example.com", "", "authorized", 100, 12);
  own.failing.messages = 12;
  own.failing.dkim = {result("example.com", "fail", "s2")};
  BOOST_CHECK_EQUAL(fixFor(own, "example.com", &catalog, psl),
                    "fix DKIM for example.com: the key at s2._domainkey.example.com does not verify");

  // Forwarders and unknown mail: nothing for the admin to set up.
  BOOST_CHECK_EQUAL(fixFor(service("Groups", "", "forwarder", 0, 9), "example.com", &catalog, psl).rfind("nothing to fix", 0),
                    0U);
  BOOST_CHECK_NE(fixFor(service("unknown", "", "suspicious", 0, 9), "example.com", &catalog, psl)
                   .find("dmarcwatch sources example.com --failing"),
                 std::string::npos);
  // Nothing fails: no fix.
  BOOST_CHECK_EQUAL(fixFor(service("Zendesk", "zendesk", "authorized", 9, 0), "example.com", &catalog, psl), "");
}

BOOST_AUTO_TEST_SUITE_END()
