/*
 * test-alert-rules.cc - the alert rules and the pass (collector/alerts) on
 * scripted stores with a fake clock: each rule fires when it should, stays
 * quiet when it should not, escalates, does not repeat; bursts become one
 * line; a pass killed after recording sends each alert once on the next; a
 * refusing syslog keeps alerts for later; a restart sends nothing again.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/alerts/alert-codec.hh"
#include "collector/alerts/alert-pass.hh"
#include "collector/sources/catalog.hh"
#include "collector/views/status-view.hh"
#include "t/unit/store-fixture.hh"
#include "t/unit/test-util.hh"

#include <map>
#include <stdexcept>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

namespace
{

const char* const s_catalog = R"(
service sendgrid
name SendGrid
category esp-transactional
dkim sendgrid.net

service mailchimp
name Mailchimp
category esp-marketing
dkim mcsv.net
dkim-selector k1
)";

//! A killed daemon, in a test: thrown from a checkpoint.
struct Killed : std::runtime_error
{
  Killed() : std::runtime_error("killed") {}
};

//! A store with a clock the test moves, a catalog, and a pass that records what it sent.
struct Rig
{
  TempDir tmp;
  int64_t now = dayStart(s_today) + 12 * 3600;
  std::unique_ptr<Store> store;
  std::shared_ptr<const Config> config;
  std::shared_ptr<const Catalog> catalog;
  std::unique_ptr<Namer> namer;
  std::vector<Alert> sent;
  bool syslogUp = true;
  int reportNumber = 0;

  explicit Rig(const std::string& extra = "")
  {
    auto options = testOptions();
    options.clock = [this] { return now; };
    store = std::make_unique<Store>(tmp.path().string(), options);
    configure(extra);
  }
  void configure(const std::string& extra)
  {
    config = parseConfig("Authorize example.com sendgrid\n" + extra, "t.conf");
    CatalogBuilder builder;
    builder.addText(s_catalog, "t.services");
    catalog = builder.build();
    namer = std::make_unique<Namer>(catalog, config, Namer::Options{config->suspiciousMessages});
  }
  uint32_t today() const { return static_cast<uint32_t>(now / s_day); }
  void advance(int64_t days) { now += days * s_day; }
  uint64_t report(const std::vector<Record>& records, int dayOffset = 0, const std::string& org = "google.com",
                  const std::string& policy = "none", const std::string& domain = "example.com")
  {
    const uint32_t day = today() + dayOffset;
    auto header = makeHeader(org, "r" + std::to_string(++reportNumber), domain, dayStart(day), dayStart(day) + s_day - 1);
    header.policy.p = policy;
    auto writer = store->beginReport(header);
    uint64_t messages = 0;
    for (const auto& record : records) {
      writer->addRecord(record);
      messages += record.count;
    }
    return commitWith(*writer, records.size(), messages).sequence;
  }
  //! A one-day report with a verdict, as the ingester stores it.
  uint64_t reportAs(Authenticity verdict, const std::vector<Record>& records, int dayOffset = 0,
                    const std::string& org = "google.com")
  {
    return storeVerdictReport(*store, "r" + std::to_string(++reportNumber), "example.com", today() + dayOffset, 1,
                              verdict, records, org);
  }
  AlertPassSummary pass(bool full = false, AlertPassOptions options = {})
  {
    options.full = full;
    AlertPass alerts(*config, *namer);
    return alerts.run(*store, storedNetworkLookup(*store), [this](const Alert& a) {
      if (syslogUp) {
        sent.push_back(a);
      }
      return syslogUp;
    }, options, now);
  }
  std::vector<Alert> sentOf(const std::string& rule) const
  {
    std::vector<Alert> out;
    for (const auto& a : sent) {
      if (a.rule == rule) {
        out.push_back(a);
      }
    }
    return out;
  }
};

//! Mail of the domain's own server (aligned DKIM and SPF pass): unnamed, passing, not forwarded.
Record own(IpAddress ip, uint64_t count)
{
  Record record = makeRecord(ip, count, true, "example.com");
  record.spf = "pass";
  record.spfResults[0] = SpfResult{"example.com", "mfrom", "pass", ""};
  return record;
}

//! Mail a service signs as itself, not aligned: DMARC fails.
Record unaligned(IpAddress ip, uint64_t count, const std::string& signer)
{
  Record record = makeRecord(ip, count, false, signer);
  record.dkimResults[0].result = "pass";
  return record;
}

//! Mail signed for the domain with a selector a catalog service uses: named, passing.
Record selector(IpAddress ip, uint64_t count, const std::string& s)
{
  Record record = makeRecord(ip, count, true, "example.com");
  record.dkimResults[0].selector = s;
  return record;
}

//! Spoofed: no valid signature, SPF fails.
Record spoofed(IpAddress ip, uint64_t count)
{
  return makeRecord(ip, count, false, "example.com");
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_alert_rules)

BOOST_AUTO_TEST_CASE(new_sender_is_learnt_in_the_grace_then_told_once)
{
  Rig rig;
  rig.report({own(v4(198, 51, 100, 1), 50), selector(v4(198, 51, 100, 2), 5, "k1")});
  auto first = rig.pass(true);
  BOOST_CHECK_EQUAL(first.reports, 1U);
  BOOST_CHECK(rig.sentOf("new-sender").empty()); // the baseline: learnt, not told

  // Within the grace a new service is learnt quietly too.
  rig.advance(3);
  rig.report({unaligned(v4(198, 51, 100, 7), 3, "sendgrid.net")});
  rig.pass();
  BOOST_CHECK(rig.sentOf("new-sender").empty());

  // After it: a new service and a new unnamed source are told, once each.
  rig.advance(5);
  rig.report({own(v4(198, 51, 100, 1), 50), selector(v4(203, 0, 113, 5), 4, "k1"), own(v4(203, 0, 113, 77), 2)});
  rig.pass();
  auto told = rig.sentOf("new-sender");
  BOOST_REQUIRE_EQUAL(told.size(), 1U); // Mailchimp was seen in the baseline: only the new address
  BOOST_CHECK_EQUAL(told[0].field("ip"), "203.0.113.77");
  BOOST_CHECK(told[0].severity == AlertSeverity::Notice);

  rig.report({own(v4(203, 0, 113, 77), 2)}, -1);
  rig.pass();
  BOOST_CHECK_EQUAL(rig.sentOf("new-sender").size(), 1U); // not new any more
}

BOOST_AUTO_TEST_CASE(new_sender_names_a_service_first_seen_after_the_grace)
{
  Rig rig("NewSenderGrace 0\n");
  rig.report({own(v4(198, 51, 100, 1), 50)});
  rig.pass(true);
  BOOST_CHECK(rig.sentOf("new-sender").empty());
  rig.advance(1);
  rig.report({selector(v4(198, 51, 100, 9), 12, "k1")});
  rig.pass();
  auto told = rig.sentOf("new-sender");
  BOOST_REQUIRE_EQUAL(told.size(), 1U);
  BOOST_CHECK_EQUAL(told[0].field("service"), "Mailchimp");
  BOOST_CHECK_EQUAL(told[0].field("messages"), "12");
  BOOST_CHECK_EQUAL(told[0].field("pass_pct"), "100.0");
  BOOST_CHECK_EQUAL(told[0].id.size(), 16U);
}

BOOST_AUTO_TEST_CASE(unknown_sender_above_its_volume_only)
{
  Rig rig;
  rig.report({own(v4(198, 51, 100, 1), 25), own(v4(198, 51, 100, 2), 15)});
  rig.pass();
  auto told = rig.sentOf("unknown-sender");
  BOOST_REQUIRE_EQUAL(told.size(), 1U);
  BOOST_CHECK_EQUAL(told[0].field("ip"), "198.51.100.1");
  BOOST_CHECK_EQUAL(told[0].field("identity"), "example.com");
  BOOST_CHECK(told[0].severity == AlertSeverity::Warning);
  // Declared as the admin's network: quiet.
  Rig declared("Network 198.51.100.0/24 = Office\n");
  declared.report({own(v4(198, 51, 100, 1), 25)});
  declared.pass();
  BOOST_CHECK(declared.sentOf("unknown-sender").empty());
}

BOOST_AUTO_TEST_CASE(spoofing_names_countries_does_not_repeat_and_escalates)
{
  Rig rig;
  IpEnrichment cn;
  cn.checkedAt = rig.now;
  cn.expiresAt = rig.now + 86400;
  cn.country = "CN";
  cn.asn = 4134;
  rig.store->putIpEnrichment(v4(203, 0, 113, 1), cn);
  rig.report({spoofed(v4(203, 0, 113, 1), 25), spoofed(v4(203, 0, 113, 2), 5), own(v4(198, 51, 100, 1), 5)});
  rig.pass();
  auto told = rig.sentOf("spoofing");
  BOOST_REQUIRE_EQUAL(told.size(), 1U);
  BOOST_CHECK_EQUAL(told[0].field("messages"), "30");
  BOOST_CHECK_EQUAL(told[0].field("sources"), "2");
  BOOST_CHECK_EQUAL(told[0].field("countries"), "CN 25, unknown 5");
  BOOST_CHECK_EQUAL(told[0].field("asns"), "AS4134 25, unknown 5");
  BOOST_CHECK_EQUAL(told[0].field("top_ip"), "203.0.113.1");
  BOOST_CHECK(told[0].severity == AlertSeverity::Warning);

  // Again, a little more: within AlertRepeat, not twice the messages: quiet.
  rig.report({spoofed(v4(203, 0, 113, 3), 10)}, -1);
  rig.pass();
  BOOST_CHECK_EQUAL(rig.sentOf("spoofing").size(), 1U);
  // Twice the messages a day it was sent with (30 a day; now 140 over two days): escalates.
  rig.report({spoofed(v4(203, 0, 113, 4), 100)});
  rig.pass();
  told = rig.sentOf("spoofing");
  BOOST_REQUIRE_EQUAL(told.size(), 2U);
  BOOST_CHECK_EQUAL(told[1].field("messages"), "140");
  BOOST_CHECK(told[1].id != told[0].id);
  // Below the threshold: nothing.
  Rig quiet;
  quiet.report({spoofed(v4(203, 0, 113, 1), 19)});
  quiet.pass();
  BOOST_CHECK(quiet.sentOf("spoofing").empty());
}

BOOST_AUTO_TEST_CASE(flagged_reports_are_counted_but_raise_no_alerts)
{
  // A forged report showing a spoofing source: under UntrustedReports flag (the default) the
  // rules never see it, under count they do; an authenticated one always raises the alert.
  // The flagged report still counts in status's totals.
  const std::vector<Record> spoofing{spoofed(v4(203, 0, 113, 1), 25), own(v4(198, 51, 100, 1), 5)};
  for (const char* setting : {"", "UntrustedReports flag\n"}) {
    BOOST_TEST_CONTEXT("setting '" << setting << "'")
    {
      Rig rig(setting);
      rig.reportAs(Authenticity::Forged, spoofing);
      rig.pass(true);
      BOOST_CHECK(rig.sentOf("spoofing").empty());
      const auto status = computeStatus(*rig.store, "example.com", rig.today() - 6, rig.today(), 10);
      BOOST_REQUIRE_EQUAL(status.size(), 1U);
      BOOST_CHECK_EQUAL(status[0].messages, 30U);
      BOOST_CHECK_EQUAL(status[0].dmarcFail, 25U);
      BOOST_CHECK_EQUAL(status[0].authenticity.messagesOf(Authenticity::Forged), 30U);
      // An authenticated report of the same source: only its messages count.
      rig.reportAs(Authenticity::Authenticated, {spoofed(v4(203, 0, 113, 1), 21)});
      rig.pass(true);
      const auto told = rig.sentOf("spoofing");
      BOOST_REQUIRE_EQUAL(told.size(), 1U);
      BOOST_CHECK_EQUAL(told[0].field("messages"), "21");
      BOOST_CHECK_EQUAL(told[0].field("sources"), "1");
    }
  }
  Rig counting("UntrustedReports count\n");
  counting.reportAs(Authenticity::Forged, spoofing);
  counting.pass(true);
  auto told = counting.sentOf("spoofing");
  BOOST_REQUIRE_EQUAL(told.size(), 1U);
  BOOST_CHECK_EQUAL(told[0].field("messages"), "25");
  // Unauthenticated reports: counted by default, left out under UnauthenticatedReports flag.
  Rig plain;
  plain.reportAs(Authenticity::Unauthenticated, spoofing);
  plain.pass(true);
  BOOST_CHECK_EQUAL(plain.sentOf("spoofing").size(), 1U);
  Rig flagging("UnauthenticatedReports flag\n");
  flagging.reportAs(Authenticity::Unauthenticated, spoofing);
  flagging.reportAs(Authenticity::Forged, spoofing);
  flagging.pass(true);
  BOOST_CHECK(flagging.sentOf("spoofing").empty());
  flagging.reportAs(Authenticity::Authenticated, spoofing, -1);
  flagging.pass(true);
  told = flagging.sentOf("spoofing");
  BOOST_REQUIRE_EQUAL(told.size(), 1U);
  BOOST_CHECK_EQUAL(told[0].field("messages"), "25");
}

BOOST_AUTO_TEST_CASE(flagged_reports_neither_teach_senders_nor_hide_a_report_gap)
{
  // The baseline of senders is learnt without flagged reports (a forged report cannot make a
  // sender known), and a reporter's forged reports do not keep it "alive".
  Rig rig;
  for (int day = -7; day <= -3; ++day) {
    rig.reportAs(Authenticity::Authenticated, {own(v4(198, 51, 100, 1), 5)}, day);
  }
  rig.reportAs(Authenticity::Forged, {own(v4(198, 51, 100, 1), 5)}, -1);
  rig.reportAs(Authenticity::Forged, {own(v4(198, 51, 100, 1), 5)}, 0);
  rig.advance(1);
  rig.pass(true); // 60 h since the last authenticated report's period
  auto told = rig.sentOf("report-gap");
  BOOST_REQUIRE_EQUAL(told.size(), 1U);
  BOOST_CHECK_EQUAL(told[0].field("silent_hours"), "60");
  // Under count, the forged reports are the reporter's: no gap.
  Rig counting("UntrustedReports count\n");
  for (int day = -7; day <= -3; ++day) {
    counting.reportAs(Authenticity::Authenticated, {own(v4(198, 51, 100, 1), 5)}, day);
  }
  counting.reportAs(Authenticity::Forged, {own(v4(198, 51, 100, 1), 5)}, 0);
  counting.advance(1);
  counting.pass(true);
  BOOST_CHECK(counting.sentOf("report-gap").empty());
}

BOOST_AUTO_TEST_CASE(alerts_leave_out_the_verdicts_not_counted)
{
  TrustSettings trust;
  BOOST_CHECK_EQUAL(alertsLeaveOut(trust), authenticityBit(Authenticity::Forged)); // defaults: flag, count
  trust.forged = UntrustedAction::Count;
  BOOST_CHECK_EQUAL(alertsLeaveOut(trust), 0);
  trust.unauthenticated = UntrustedAction::Quarantine;
  BOOST_CHECK_EQUAL(alertsLeaveOut(trust), authenticityBit(Authenticity::Unauthenticated));
  trust.forged = UntrustedAction::Reject;
  BOOST_CHECK_EQUAL(alertsLeaveOut(trust),
                    authenticityBit(Authenticity::Unauthenticated) | authenticityBit(Authenticity::Forged));
}

BOOST_AUTO_TEST_CASE(an_alert_repeats_after_the_repeat_window)
{
  Rig rig("AlertRepeat 2d\n");
  rig.report({spoofed(v4(203, 0, 113, 1), 25)});
  rig.pass();
  rig.advance(1);
  rig.report({spoofed(v4(203, 0, 113, 1), 1)});
  rig.pass();
  BOOST_CHECK_EQUAL(rig.sentOf("spoofing").size(), 1U);
  rig.advance(1);
  rig.report({spoofed(v4(203, 0, 113, 1), 1)});
  rig.pass();
  BOOST_CHECK_EQUAL(rig.sentOf("spoofing").size(), 2U);
}

BOOST_AUTO_TEST_CASE(enforcement_blocker_is_worse_when_the_policy_enforces)
{
  Rig rig;
  rig.report({unaligned(v4(198, 51, 100, 7), 40, "sendgrid.net"), own(v4(198, 51, 100, 1), 5)});
  rig.pass();
  auto told = rig.sentOf("enforcement-blocker");
  BOOST_REQUIRE_EQUAL(told.size(), 1U);
  BOOST_CHECK_EQUAL(told[0].field("service"), "SendGrid");
  BOOST_CHECK_EQUAL(told[0].field("class"), "authorized");
  BOOST_CHECK_EQUAL(told[0].field("pass_pct"), "0.0");
  BOOST_CHECK_EQUAL(told[0].field("policy"), "none");
  BOOST_CHECK(told[0].field("why").find("sendgrid.net") != std::string_view::npos);
  BOOST_CHECK(told[0].severity == AlertSeverity::Warning);
  BOOST_CHECK(rig.sentOf("spoofing").empty()); // a legitimate service is no spoofer

  // The domain moves to reject: the same finding, worse, is sent again at once.
  rig.report({unaligned(v4(198, 51, 100, 7), 1, "sendgrid.net")}, 0, "yahoo.com", "reject");
  rig.pass();
  told = rig.sentOf("enforcement-blocker");
  BOOST_REQUIRE_EQUAL(told.size(), 2U);
  BOOST_CHECK(told[1].severity == AlertSeverity::Error);
  BOOST_CHECK_EQUAL(told[1].field("policy"), "reject");
  // Few failures: quiet.
  Rig few;
  few.report({unaligned(v4(198, 51, 100, 7), 9, "sendgrid.net")});
  few.pass();
  BOOST_CHECK(few.sentOf("enforcement-blocker").empty());
}

BOOST_AUTO_TEST_CASE(pass_rate_change_between_bands)
{
  Rig rig("AlertWindow 1d\n");
  rig.report({selector(v4(198, 51, 100, 9), 40, "k1")});
  rig.pass();
  BOOST_CHECK(rig.sentOf("pass-rate-change").empty()); // first seen
  rig.advance(1);
  Record failing = selector(v4(198, 51, 100, 9), 30, "k1");
  failing.dkim = "fail";
  failing.dkimResults[0].result = "fail";
  rig.report({failing, selector(v4(198, 51, 100, 9), 20, "k1")});
  rig.pass();
  auto told = rig.sentOf("pass-rate-change");
  BOOST_REQUIRE_EQUAL(told.size(), 1U);
  BOOST_CHECK_EQUAL(told[0].field("service"), "Mailchimp");
  BOOST_CHECK_EQUAL(told[0].field("from_band"), ">= 95 %");
  BOOST_CHECK_EQUAL(told[0].field("to_band"), "<= 50 %");
  BOOST_CHECK_EQUAL(told[0].field("pass_pct"), "40.0");
  BOOST_CHECK(told[0].severity == AlertSeverity::Warning);
  // The same band again: quiet.
  rig.report({failing}, -1);
  rig.pass();
  BOOST_CHECK_EQUAL(rig.sentOf("pass-rate-change").size(), 1U);
}

BOOST_AUTO_TEST_CASE(report_gap_after_daily_reports)
{
  Rig rig;
  for (int day = -7; day <= -3; ++day) {
    rig.report({own(v4(198, 51, 100, 1), 5)}, day, "google.com");
  }
  for (int day = -7; day <= -4; ++day) {
    rig.report({own(v4(198, 51, 100, 1), 5)}, day, "four.example"); // 4 of 8 days: not daily
  }
  rig.pass(true); // now: noon of day 0; the last period ended with day -3: 36 h silent
  BOOST_CHECK(rig.sentOf("report-gap").empty());
  rig.advance(1); // 60 h
  rig.pass(false);
  BOOST_CHECK(rig.sentOf("report-gap").empty()); // a time rule: full passes only
  rig.pass(true);
  auto told = rig.sentOf("report-gap");
  BOOST_REQUIRE_EQUAL(told.size(), 1U);
  BOOST_CHECK_EQUAL(told[0].field("reporter"), "google.com");
  BOOST_CHECK_EQUAL(told[0].field("silent_hours"), "60");
  rig.pass(true);
  BOOST_CHECK_EQUAL(rig.sentOf("report-gap").size(), 1U);
}

BOOST_AUTO_TEST_CASE(dns_change_when_the_live_record_changes)
{
  Rig rig;
  rig.report({own(v4(198, 51, 100, 1), 5)});
  LivePolicy live;
  live.checkedAt = rig.now;
  live.expiresAt = rig.now + 3600;
  live.state = "found";
  live.p = "none";
  live.record = "v=DMARC1; p=none";
  rig.store->putLivePolicy("example.com", live);
  rig.pass(true);
  BOOST_CHECK(rig.sentOf("dns-change").empty()); // first look: remembered
  rig.pass(true);
  BOOST_CHECK(rig.sentOf("dns-change").empty());
  live.record = "v=DMARC1; p=quarantine";
  live.p = "quarantine";
  rig.store->putLivePolicy("example.com", live);
  rig.advance(1);
  rig.pass(true);
  auto told = rig.sentOf("dns-change");
  BOOST_REQUIRE_EQUAL(told.size(), 1U);
  BOOST_CHECK_EQUAL(told[0].field("old"), "v=DMARC1; p=none");
  BOOST_CHECK_EQUAL(told[0].field("new"), "v=DMARC1; p=quarantine");
  BOOST_CHECK(told[0].severity == AlertSeverity::Notice);
  live.state = "none";
  rig.store->putLivePolicy("example.com", live);
  rig.pass(true);
  told = rig.sentOf("dns-change");
  BOOST_REQUIRE_EQUAL(told.size(), 2U);
  BOOST_CHECK(told[1].severity == AlertSeverity::Warning);
  BOOST_CHECK_EQUAL(told[1].field("new"), "(none)");
  // SPF: first seen, then changed, then over the look-up limit.
  live.spfRecord = "v=spf1 include:_spf.google.com ~all";
  live.spfLookups = 4;
  live.spfError = "";
  rig.store->putLivePolicy("example.com", live);
  rig.pass(true);
  BOOST_CHECK_EQUAL(rig.sentOf("dns-change").size(), 2U);
  live.spfRecord = "v=spf1 include:_spf.google.com include:sendgrid.net ~all";
  rig.store->putLivePolicy("example.com", live);
  rig.pass(true);
  told = rig.sentOf("dns-change");
  BOOST_REQUIRE_EQUAL(told.size(), 3U);
  BOOST_CHECK_EQUAL(told[2].field("record"), "spf");
  BOOST_CHECK_EQUAL(told[2].field("old"), "v=spf1 include:_spf.google.com ~all");
  live.spfLookups = 12;
  live.spfError = "too many look-ups";
  rig.store->putLivePolicy("example.com", live);
  rig.pass(true);
  told = rig.sentOf("dns-change");
  BOOST_REQUIRE_EQUAL(told.size(), 4U);
  BOOST_CHECK_EQUAL(told[3].field("error"), "too many look-ups");
  BOOST_CHECK_EQUAL(told[3].field("lookups"), "12");
  BOOST_CHECK(told[3].severity == AlertSeverity::Warning);
  rig.pass(true); // still broken: within AlertRepeat, not told again
  BOOST_CHECK_EQUAL(rig.sentOf("dns-change").size(), 4U);
  // DNS that did not answer changes nothing.
  live.spfError = "temperror";
  live.spfRecord.clear();
  rig.store->putLivePolicy("example.com", live);
  rig.pass(true);
  BOOST_CHECK_EQUAL(rig.sentOf("dns-change").size(), 4U);
}

BOOST_AUTO_TEST_CASE(enforcement_ready_after_enough_good_days)
{
  Rig rig;
  for (int day = -15; day <= 0; ++day) {
    rig.report({selector(v4(198, 51, 100, 9), 100, "k1")}, day);
  }
  // Mailchimp is not Authorized for the domain but passes: authorized by its passing.
  rig.pass(true);
  auto told = rig.sentOf("enforcement-ready");
  BOOST_REQUIRE_EQUAL(told.size(), 1U);
  BOOST_CHECK_EQUAL(told[0].field("next_policy"), "quarantine");
  BOOST_CHECK_EQUAL(told[0].field("days"), "14");

  // Ten days of data only: not yet.
  Rig young;
  for (int day = -9; day <= 0; ++day) {
    young.report({selector(v4(198, 51, 100, 9), 100, "k1")}, day);
  }
  young.pass(true);
  BOOST_CHECK(young.sentOf("enforcement-ready").empty());
  // An authorized service below 98 %: not ready.
  Rig failing;
  for (int day = -15; day <= 0; ++day) {
    failing.report({selector(v4(198, 51, 100, 9), 100, "k1"), unaligned(v4(198, 51, 100, 7), 5, "sendgrid.net"),
                    own(v4(198, 51, 100, 7), 20)}, day);
  }
  failing.pass(true);
  BOOST_CHECK(failing.sentOf("enforcement-ready").empty());
}

BOOST_AUTO_TEST_CASE(a_burst_is_one_line)
{
  Rig rig("AlertBurst 3\n");
  std::vector<Record> records;
  for (uint8_t i = 1; i <= 8; ++i) {
    records.push_back(own(v4(198, 51, 100, i), 30));
  }
  rig.report(records);
  auto summary = rig.pass();
  auto told = rig.sentOf("unknown-sender");
  BOOST_REQUIRE_EQUAL(told.size(), 1U);
  BOOST_CHECK_EQUAL(told[0].field("summary"), "yes");
  BOOST_CHECK_EQUAL(told[0].field("count"), "8");
  BOOST_CHECK_EQUAL(summary.summarised, 8U);
  size_t listed = 0;
  rig.store->forEachAlert(INT64_MIN, [&](const Store::AlertLogEntry& e) {
    listed += decodeAlert(e.payload, e.time).rule == "unknown-sender" ? 1 : 0;
  });
  BOOST_CHECK_EQUAL(listed, 9U); // each, and the summary
  BOOST_CHECK(rig.store->pendingAlerts().empty());
}

BOOST_AUTO_TEST_CASE(a_pass_killed_after_recording_sends_each_alert_once)
{
  Rig rig;
  rig.report({spoofed(v4(203, 0, 113, 1), 25), own(v4(198, 51, 100, 1), 25), unaligned(v4(198, 51, 100, 7), 40, "sendgrid.net")});
  AlertPassOptions crash;
  crash.checkpoint = [](const char* point, size_t sent) {
    if (std::string(point) == "sent" && sent == 1) {
      throw Killed();
    }
  };
  BOOST_CHECK_THROW(rig.pass(false, crash), Killed);
  BOOST_CHECK_EQUAL(rig.sent.size(), 1U);
  BOOST_CHECK_EQUAL(rig.store->pendingAlerts().size(), 2U);
  // Killed right after recording: nothing sent yet; the next pass sends it.
  Rig recorded;
  recorded.report({spoofed(v4(203, 0, 113, 1), 25)});
  AlertPassOptions after;
  after.checkpoint = [](const char* point, size_t) {
    if (std::string(point) == "recorded") {
      throw Killed();
    }
  };
  BOOST_CHECK_THROW(recorded.pass(false, after), Killed);
  BOOST_CHECK(recorded.sent.empty());
  // Stopped before recording (SIGTERM mid-pass): nothing recorded, the cursor stays.
  Rig stopped;
  stopped.report({spoofed(v4(203, 0, 113, 1), 25)});
  AlertPassOptions stop;
  stop.stopRequested = [] { return true; };
  BOOST_CHECK(stopped.pass(false, stop).stopped);
  BOOST_CHECK(!stopped.store->cursor("dmarcwatchd"));
  BOOST_CHECK_EQUAL(stopped.pass().raised, 1U);
  BOOST_CHECK_EQUAL(stopped.sent.size(), 1U);

  // The restarted daemon sends the other two, and nothing twice.
  auto next = rig.pass();
  BOOST_CHECK_EQUAL(next.sent, 2U);
  BOOST_CHECK_EQUAL(next.raised, 0U);
  BOOST_REQUIRE_EQUAL(rig.sent.size(), 3U);
  std::map<std::string, int> ids;
  for (const auto& a : rig.sent) {
    ++ids[a.id];
  }
  BOOST_CHECK_EQUAL(ids.size(), 3U);
  rig.pass();
  rig.pass(true);
  BOOST_CHECK_EQUAL(rig.sent.size(), 3U);
  auto again = recorded.pass();
  BOOST_CHECK_EQUAL(again.raised, 0U);
  BOOST_CHECK_EQUAL(again.sent, 1U);
  BOOST_CHECK_EQUAL(recorded.sent.size(), 1U);
  recorded.pass();
  BOOST_CHECK_EQUAL(recorded.sent.size(), 1U);
}

BOOST_AUTO_TEST_CASE(a_refusing_syslog_keeps_alerts_for_later)
{
  Rig rig;
  rig.report({spoofed(v4(203, 0, 113, 1), 25)});
  rig.syslogUp = false;
  auto down = rig.pass();
  BOOST_CHECK_EQUAL(down.raised, 1U);
  BOOST_CHECK_EQUAL(down.sent, 0U);
  BOOST_CHECK_EQUAL(down.unsent, 1U);
  rig.syslogUp = true;
  auto up = rig.pass();
  BOOST_CHECK_EQUAL(up.sent, 1U);
  BOOST_CHECK_EQUAL(rig.sent.size(), 1U);
  BOOST_CHECK_EQUAL(rig.sent[0].rule, "spoofing");
}

BOOST_AUTO_TEST_CASE(rules_can_be_turned_off)
{
  Rig rig("AlertRules unknown-sender\n");
  rig.report({spoofed(v4(203, 0, 113, 1), 25), own(v4(198, 51, 100, 1), 25)});
  rig.pass(true);
  BOOST_REQUIRE_EQUAL(rig.sent.size(), 1U);
  BOOST_CHECK_EQUAL(rig.sent[0].rule, "unknown-sender");
}

BOOST_AUTO_TEST_CASE(the_payload_round_trips)
{
  Alert alert;
  alert.id = alertId("spoofing|example.com|unauthorized", 1700000000);
  alert.rule = "spoofing";
  alert.domain = "example.com";
  alert.severity = AlertSeverity::Error;
  alert.message = "m \"q\" ]";
  alert.fields = {{"messages", "310"}, {"why", ""}};
  auto back = decodeAlert(encodeAlert(alert), 5);
  BOOST_CHECK_EQUAL(back.id, alert.id);
  BOOST_CHECK_EQUAL(back.message, alert.message);
  BOOST_CHECK(back.fields == alert.fields);
  BOOST_CHECK(back.severity == AlertSeverity::Error);
  BOOST_CHECK_EQUAL(back.time, 5);
  BOOST_CHECK(alertId("a", 1) != alertId("a", 2));
  BOOST_CHECK_EQUAL(alertId("a", 1), alertId("a", 1));
  BOOST_CHECK_THROW(decodeAlert(encodeAlert(alert).substr(0, 10), 0), StoreError);
}

// Found in review: what a report can make the rules do.

BOOST_AUTO_TEST_CASE(a_domain_in_capitals_is_the_same_domain)
{
  Rig rig;
  rig.report({spoofed(v4(203, 0, 113, 1), 25)});
  rig.pass(true);
  rig.report({spoofed(v4(203, 0, 113, 2), 1)}, 0, "yahoo.com", "none", "Example.COM");
  rig.pass();
  auto told = rig.sentOf("spoofing");
  BOOST_REQUIRE_EQUAL(told.size(), 1U);
  BOOST_CHECK_EQUAL(told[0].domain, "example.com");
}

BOOST_AUTO_TEST_CASE(steady_traffic_is_no_escalation)
{
  Rig rig;
  for (int day = 0; day < 7; ++day) {
    rig.report({spoofed(v4(203, 0, 113, 1), 25)});
    rig.pass();
    rig.advance(1);
  }
  BOOST_CHECK_EQUAL(rig.sentOf("spoofing").size(), 1U); // the window filling up is no doubling
  for (int day = 0; day < 2; ++day) {
    rig.report({spoofed(v4(203, 0, 113, 1), 200)});
    rig.pass();
    rig.advance(1);
  }
  BOOST_CHECK_EQUAL(rig.sentOf("spoofing").size(), 2U); // a real surge is
}

BOOST_AUTO_TEST_CASE(ready_and_blocker_never_contradict)
{
  Rig rig;
  for (int day = -15; day <= 0; ++day) {
    rig.report({selector(v4(198, 51, 100, 9), 100, "k1"), own(v4(198, 51, 100, 1), 90), spoofed(v4(198, 51, 100, 1), 10)},
               day);
  }
  rig.pass(true);
  BOOST_CHECK(!rig.sentOf("enforcement-blocker").empty());
  BOOST_CHECK(rig.sentOf("enforcement-ready").empty());
}

BOOST_AUTO_TEST_CASE(summaries_of_one_second_have_their_own_ids)
{
  Rig rig("AlertBurst 1\n");
  rig.report({own(v4(198, 51, 100, 1), 30), own(v4(198, 51, 100, 2), 30)});
  rig.pass();
  rig.report({own(v4(198, 51, 100, 3), 30), own(v4(198, 51, 100, 4), 30)});
  rig.pass();
  auto told = rig.sentOf("unknown-sender");
  BOOST_REQUIRE_EQUAL(told.size(), 2U);
  BOOST_CHECK(told[0].id != told[1].id);
}

BOOST_AUTO_TEST_CASE(two_passes_at_once_record_once)
{
  Rig rig;
  rig.report({spoofed(v4(203, 0, 113, 1), 25)});
  int calls = 0;
  AlertPassOptions racing;
  racing.stopRequested = [&] {
    if (++calls == 2) { // judged, not yet recorded: another process's pass completes meanwhile
      rig.pass();
    }
    return false;
  };
  auto summary = rig.pass(false, racing);
  BOOST_CHECK(summary.stopped);
  BOOST_CHECK_EQUAL(rig.sentOf("spoofing").size(), 1U);
}

BOOST_AUTO_TEST_CASE(a_reporter_every_third_day_is_not_daily)
{
  Rig rig;
  for (int day = -9; day <= -3; day += 3) {
    rig.report({own(v4(198, 51, 100, 1), 5)}, day, "every3.example");
  }
  rig.advance(1);
  rig.pass(true);
  BOOST_CHECK(rig.sentOf("report-gap").empty());
}

BOOST_AUTO_TEST_CASE(a_report_dated_in_the_future_pins_nothing)
{
  Rig rig;
  rig.report({spoofed(v4(203, 0, 113, 1), 25)});
  auto header = makeHeader("forger.example", "forged", "example.com", dayStart(rig.today() - 1), 4102444800); // 2100
  header.policy.p = "reject";
  auto writer = rig.store->beginReport(header);
  writer->addRecord(own(v4(198, 51, 100, 200), 1));
  commitWith(*writer, 1, 1);
  auto far = makeHeader("far.example", "far", "example.com", dayStart(rig.today() - 2), INT64_MAX);
  auto farWriter = rig.store->beginReport(far);
  farWriter->addRecord(own(v4(198, 51, 100, 201), 1));
  commitWith(*farWriter, 1, 1);
  rig.pass(true);
  auto told = rig.sentOf("spoofing");
  BOOST_REQUIRE_EQUAL(told.size(), 1U);
  BOOST_CHECK_EQUAL(told[0].field("policy"), "none");
  BOOST_CHECK(told[0].severity == AlertSeverity::Warning);
}

BOOST_AUTO_TEST_CASE(a_long_org_name_keeps_the_pass_working)
{
  Rig rig;
  const std::string org(600, 'o');
  for (int day = -6; day <= -3; ++day) {
    rig.report({own(v4(198, 51, 100, 1), 5)}, day, org);
  }
  rig.report({own(v4(198, 51, 100, 1), 5)}, -7, org);
  rig.report({spoofed(v4(203, 0, 113, 1), 25)}, -3);
  rig.advance(1);
  BOOST_CHECK_NO_THROW(rig.pass(true));
  BOOST_CHECK_EQUAL(rig.sentOf("spoofing").size(), 1U);
  auto gap = rig.sentOf("report-gap");
  BOOST_REQUIRE_EQUAL(gap.size(), 1U);
  BOOST_CHECK_EQUAL(gap[0].field("reporter").size(), 600U);
  BOOST_CHECK(rig.store->verify().empty());
  BOOST_CHECK_LT(alertStateKey({"report-gap", std::string(4000, 'd'), org, "19000"}).size(), 511U);
}

BOOST_AUTO_TEST_CASE(the_baseline_remembers_older_senders)
{
  Rig rig;
  rig.report({selector(v4(198, 51, 100, 9), 50, "k1")}, -20); // Mailchimp, a monthly newsletter
  rig.report({own(v4(198, 51, 100, 1), 5)});
  rig.pass(true);
  rig.advance(10);
  rig.report({selector(v4(198, 51, 100, 9), 50, "k1")});
  rig.pass();
  BOOST_CHECK(rig.sentOf("new-sender").empty());
}

BOOST_AUTO_TEST_CASE(a_stop_while_sending_leaves_the_rest_recorded)
{
  Rig rig;
  rig.report({spoofed(v4(203, 0, 113, 1), 25), own(v4(198, 51, 100, 1), 25), unaligned(v4(198, 51, 100, 7), 40, "sendgrid.net")});
  bool stop = false;
  AlertPassOptions options;
  options.stopRequested = [&stop] { return stop; };
  options.checkpoint = [&stop](const char* point, size_t) { stop = stop || std::string(point) == "recorded"; };
  auto summary = rig.pass(false, options);
  BOOST_CHECK_EQUAL(summary.sent, 0U);
  BOOST_CHECK_EQUAL(rig.store->pendingAlerts().size(), 3U);
  BOOST_CHECK_EQUAL(rig.pass().sent, 3U);
}

BOOST_AUTO_TEST_CASE(reports_past_the_enrichment_wait)
{
  Rig rig;
  const uint64_t first = rig.report({spoofed(v4(203, 0, 113, 1), 25)}, 0, "google.com", "none", "one.example");
  rig.report({spoofed(v4(203, 0, 113, 2), 25)}, 0, "google.com", "none", "two.example");
  AlertPassOptions options;
  options.through = first; // the daemon's enrichment got this far
  auto summary = rig.pass(false, options);
  BOOST_CHECK_EQUAL(summary.reports, 1U);
  BOOST_REQUIRE_EQUAL(rig.sent.size(), 1U);
  BOOST_CHECK_EQUAL(rig.sent[0].domain, "one.example");
  BOOST_CHECK_EQUAL(rig.pass().reports, 1U);
  BOOST_CHECK_EQUAL(rig.sent.size(), 2U);
}

BOOST_AUTO_TEST_CASE(a_flagged_report_does_not_set_the_policy_the_rules_see)
{
  // No live policy: the newest counted report's p is used, a forged flagged one included.
  Rig rig;
  for (int day = -15; day <= -1; ++day) {
    rig.report({selector(v4(198, 51, 100, 9), 100, "k1")}, day);
  }
  auto writer = rig.store->beginReport([&] {
    auto h = makeHeader("google.com", "forged-policy", "example.com", dayStart(rig.today()), dayStart(rig.today()) + s_day - 1);
    h.policy.p = "reject";
    return h;
  }());
  writer->addRecord(selector(v4(198, 51, 100, 9), 100, "k1"));
  ReportSummary summary;
  summary.records = 1;
  summary.messages = 100;
  summary.source = "test";
  summary.authenticity = Authenticity::Forged;
  writer->commit(summary);
  rig.pass(true);
  BOOST_CHECK_MESSAGE(!rig.sentOf("enforcement-ready").empty(), "a flagged forged report's p=reject hid enforcement-ready");
}

BOOST_AUTO_TEST_CASE(without_the_forged_report_enforcement_ready_fires_alike)
{
  Rig rig;
  for (int day = -15; day <= -1; ++day) {
    rig.report({selector(v4(198, 51, 100, 9), 100, "k1")}, day);
  }
  rig.pass(true);
  BOOST_CHECK(!rig.sentOf("enforcement-ready").empty());
}

BOOST_AUTO_TEST_SUITE_END()
