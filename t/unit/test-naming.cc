/*
 * test-naming.cc - naming and classifying sources (sources/naming.hh): every
 * kind of evidence, what may name and what only corroborates, confidence, the
 * admin's networks and Authorize lines, and each class; plus dkim-selector
 * rules in the catalog.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/config.hh"
#include "collector/common/errors.hh"
#include "collector/sources/catalog.hh"
#include "collector/sources/naming.hh"

using namespace dmarcwatch::collector;

namespace
{

const std::string s_catalog = R"(service sendgrid
name SendGrid
category esp-transactional
dkim sendgrid.net
dkim-selector s1
spf-domain sendgrid.net
ptr sendgrid.net
asn 11377
spf-include sendgrid.net exclusive

service google-workspace
name Google Workspace
category mailbox-provider
dkim-selector google
dkim gappssmtp.com
ptr google.com shared
asn 15169 shared
spf-include _spf.google.com

service google-groups
name Google Groups
category mailing-list
dkim googlegroups.com
ptr google.com shared
asn 15169 shared

service cloudhost
name Cloud Host
category web-host-relay
asn 64500 shared
)";

struct Fixture
{
  std::shared_ptr<const Catalog> catalog;
  std::shared_ptr<const Config> config;
  Namer namer;

  Fixture() :
    catalog(build()),
    config(parseConfig("Network 192.0.2.0/24 = Head office MX\nAuthorize example.com google-workspace\n", "t.conf")),
    namer(catalog, config, Namer::Options{100})
  {
  }
  static std::shared_ptr<const Catalog> build()
  {
    CatalogBuilder builder;
    builder.addText(s_catalog, "t.services");
    return builder.build();
  }
  SourceName name(const ReportSignals& report, const NetworkSignals& network = {},
                  const char* ip = "203.0.113.9", const char* domain = "example.com") const
  {
    return namer.name(domain, IpAddress::parse(ip), report, network);
  }
};

ReportSignals failing(uint64_t messages)
{
  ReportSignals r;
  r.messages = messages;
  r.dmarcFail = messages;
  return r;
}

ReportSignals passing(uint64_t messages)
{
  ReportSignals r;
  r.messages = messages;
  r.dmarcPass = messages;
  return r;
}

std::string serviceOf(const SourceName& name)
{
  return name.service != nullptr ? name.service->id : "";
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_naming)

BOOST_FIXTURE_TEST_CASE(passing_dkim_names_the_service, Fixture)
{
  auto report = failing(10);
  report.dkim.push_back({"em123.sendgrid.net", "smtpapi", true});
  const auto named = name(report);
  BOOST_CHECK_EQUAL(serviceOf(named), "sendgrid");
  BOOST_CHECK_EQUAL(named.confidence, 1U);
  BOOST_CHECK_EQUAL(named.confidenceName(), "low");
  BOOST_CHECK(named.cls == SourceClass::KnownNotAuthorized);
  BOOST_REQUIRE(!named.evidence.empty());
  BOOST_CHECK(named.evidence.front().kind == EvidenceKind::Dkim);
  BOOST_CHECK(named.evidence.front().names);
}

BOOST_FIXTURE_TEST_CASE(failing_dkim_names_nobody, Fixture)
{
  // A spoofer may sign as anyone and fail: shown, ignored.
  auto report = failing(5);
  report.dkim.push_back({"sendgrid.net", "s1", false});
  const auto named = name(report);
  BOOST_CHECK(named.service == nullptr);
  BOOST_CHECK(named.cls == SourceClass::Unknown);
  BOOST_REQUIRE_EQUAL(named.evidence.size(), 1U);
  BOOST_CHECK(named.evidence[0].ignored);
}

BOOST_FIXTURE_TEST_CASE(spf_domain_names_and_agrees_with_dkim, Fixture)
{
  auto report = failing(10);
  report.dkim.push_back({"sendgrid.net", "s1", true});
  report.spf.push_back({"bounces.sendgrid.net", true});
  const auto named = name(report);
  BOOST_CHECK_EQUAL(serviceOf(named), "sendgrid");
  BOOST_CHECK_EQUAL(named.confidence, 2U);
  BOOST_CHECK_EQUAL(named.confidenceName(), "medium");
}

BOOST_FIXTURE_TEST_CASE(selector_names_only_the_customers_own_signature, Fixture)
{
  auto own = passing(10);
  own.dkim.push_back({"example.com", "google", true, true});
  BOOST_CHECK_EQUAL(serviceOf(name(own)), "google-workspace");
  BOOST_CHECK(name(own).evidence.front().detail.find("selector") != std::string::npos);

  // A d= a rule claims wins over a selector rule (s1 is SendGrid's, d= is Google's).
  auto gapps = passing(10);
  gapps.dkim.push_back({"example-com.20150623.gappssmtp.com", "s1", true});
  BOOST_CHECK_EQUAL(serviceOf(name(gapps)), "google-workspace");
}

BOOST_FIXTURE_TEST_CASE(confirmed_ptr_names_unconfirmed_does_not, Fixture)
{
  NetworkSignals confirmed;
  confirmed.ptr = PtrState::Confirmed;
  confirmed.ptrName = "o1.ptr1234.sendgrid.net";
  BOOST_CHECK_EQUAL(serviceOf(name(failing(3), confirmed)), "sendgrid");

  NetworkSignals unconfirmed = confirmed;
  unconfirmed.ptr = PtrState::Unconfirmed;
  const auto named = name(failing(3), unconfirmed);
  BOOST_CHECK(named.service == nullptr);
  BOOST_REQUIRE_EQUAL(named.evidence.size(), 1U);
  BOOST_CHECK(named.evidence[0].ignored);
  BOOST_CHECK(named.evidence[0].detail.find("does not resolve back") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(exclusive_asn_names_shared_asn_corroborates, Fixture)
{
  NetworkSignals sendgridAs;
  sendgridAs.asn = 11377;
  BOOST_CHECK_EQUAL(serviceOf(name(failing(3), sendgridAs)), "sendgrid");

  NetworkSignals cloud;
  cloud.asn = 64500;
  BOOST_CHECK(name(failing(3), cloud).service == nullptr);

  // Google's shared AS adds to a confirmed PTR: two kinds agree.
  NetworkSignals google;
  google.asn = 15169;
  google.ptr = PtrState::Confirmed;
  google.ptrName = "mail-yw1-f41.google.com";
  auto report = passing(4);
  report.dkim.push_back({"example.com", "google", true, true});
  const auto named = name(report, google);
  BOOST_CHECK_EQUAL(serviceOf(named), "google-workspace");
  BOOST_CHECK_EQUAL(named.confidence, 3U);
  BOOST_CHECK_EQUAL(named.confidenceName(), "high");
}

BOOST_FIXTURE_TEST_CASE(spf_include_exclusive_names_open_one_corroborates, Fixture)
{
  NetworkSignals exclusive;
  exclusive.spfInclude = "sendgrid.net";
  BOOST_CHECK_EQUAL(serviceOf(name(failing(2), exclusive)), "sendgrid");
  NetworkSignals open;
  open.spfInclude = "_spf.google.com";
  BOOST_CHECK(name(failing(2), open).service == nullptr);
}

BOOST_FIXTURE_TEST_CASE(own_network_is_authorized, Fixture)
{
  const auto named = name(failing(50), {}, "192.0.2.77");
  BOOST_REQUIRE(named.network != nullptr);
  BOOST_CHECK_EQUAL(named.displayName(), "Head office MX");
  BOOST_CHECK_EQUAL(named.categoryName(), "own-network");
  BOOST_CHECK(named.cls == SourceClass::Authorized);
  BOOST_CHECK_EQUAL(named.confidence, 1U);
}

BOOST_FIXTURE_TEST_CASE(authorize_line_makes_a_failing_service_authorized, Fixture)
{
  auto report = failing(20);
  report.dkim.push_back({"x.gappssmtp.com", "20230601", true});
  BOOST_CHECK(name(report).cls == SourceClass::Authorized);
  // Not for another domain.
  BOOST_CHECK(name(report, {}, "203.0.113.9", "example.org").cls == SourceClass::KnownNotAuthorized);
}

BOOST_FIXTURE_TEST_CASE(passing_dmarc_is_authorized, Fixture)
{
  auto report = passing(30);
  report.dkim.push_back({"example.com", "mail", true, true});
  report.spf.push_back({"example.com", true, true});
  const auto named = name(report);
  BOOST_CHECK(named.service == nullptr);
  BOOST_CHECK(named.cls == SourceClass::Authorized);
  // Mostly failing is not.
  report.dmarcPass = 10;
  report.dmarcFail = 20;
  BOOST_CHECK(name(report).cls != SourceClass::Authorized);
}

BOOST_FIXTURE_TEST_CASE(forwarders, Fixture)
{
  auto overridden = failing(7);
  overridden.overrides = overrideFlag("forwarded");
  BOOST_CHECK(name(overridden).cls == SourceClass::Forwarder);

  auto arc = failing(7);
  arc.overrides = overrideFlag("local_policy", "arc=pass as.1.google.com=pass");
  BOOST_CHECK(name(arc).cls == SourceClass::Forwarder);
  auto local = failing(7);
  local.overrides = overrideFlag("local_policy", "");
  BOOST_CHECK(name(local).cls == SourceClass::Unknown);

  // DKIM survived, SPF did not, and no service claims the source.
  auto kept = failing(7);
  kept.dkim.push_back({"example.com", "mail", true, true});
  kept.spf.push_back({"example.com", false, true});
  BOOST_CHECK(name(kept).cls == SourceClass::Forwarder);

  // A list host.
  auto list = failing(7);
  list.dkim.push_back({"googlegroups.com", "20230601", true});
  BOOST_CHECK(name(list).cls == SourceClass::Forwarder);
}

BOOST_FIXTURE_TEST_CASE(suspicious_needs_volume, Fixture)
{
  BOOST_CHECK(name(failing(99)).cls == SourceClass::Unknown);
  BOOST_CHECK(name(failing(100)).cls == SourceClass::Suspicious);
  BOOST_CHECK_EQUAL(sourceClassName(SourceClass::Suspicious), "suspicious");
  BOOST_CHECK_EQUAL(sourceClassName(SourceClass::KnownNotAuthorized), "known-not-authorized");
}

BOOST_FIXTURE_TEST_CASE(most_kinds_win_a_conflict, Fixture)
{
  // DKIM says SendGrid; PTR and shared AS say Google: the PTR alone names, AS corroborates.
  auto report = failing(5);
  report.dkim.push_back({"sendgrid.net", "s1", true});
  NetworkSignals google;
  google.ptr = PtrState::Confirmed;
  google.ptrName = "mail-1.google.com";
  google.asn = 15169;
  const auto named = name(report, google);
  BOOST_CHECK_EQUAL(serviceOf(named), "google-workspace");
  BOOST_CHECK_EQUAL(named.confidence, 2U);
  // Its evidence first, the other's after.
  BOOST_CHECK(named.evidence.front().service == named.service);
  BOOST_CHECK(named.evidence.back().service != named.service);
}

BOOST_FIXTURE_TEST_CASE(no_catalog_still_classes, Fixture)
{
  Namer bare(nullptr, config, Namer::Options{100});
  auto report = failing(500);
  report.dkim.push_back({"sendgrid.net", "s1", true});
  const auto named = bare.name("example.com", IpAddress::parse("203.0.113.1"), report, {});
  BOOST_CHECK(named.service == nullptr);
  BOOST_CHECK(named.cls == SourceClass::Suspicious); // unnamed, unaligned, 500 failing
}

BOOST_FIXTURE_TEST_CASE(a_spoofer_cannot_borrow_a_selector, Fixture)
{
  // A spoofer signs its own domain with s=google and passes its own DKIM: not Google, not
  // authorized by `Authorize example.com google-workspace`, and 500 failing: suspicious.
  auto spoof = failing(500);
  spoof.dkim.push_back({"attacker.test", "google", true, false});
  spoof.spf.push_back({"example.com", false, true});
  const auto named = name(spoof);
  BOOST_CHECK(named.service == nullptr);
  BOOST_CHECK(named.cls == SourceClass::Suspicious);
}

BOOST_FIXTURE_TEST_CASE(an_unaligned_signature_does_not_look_forwarded, Fixture)
{
  // Its own passing signature, SPF failing for the domain: a spoofer, not a forwarder.
  auto spoof = failing(120);
  spoof.dkim.push_back({"attacker.test", "x", true, false});
  spoof.spf.push_back({"example.com", false, true});
  BOOST_CHECK(name(spoof).cls == SourceClass::Suspicious);
  // A forwarder that rewrites the envelope (SRS) passes SPF for itself: still forwarded.
  auto srs = passing(8);
  srs.dkim.push_back({"example.com", "mail", true, true});
  srs.spf.push_back({"forwarder.example", true, false});
  BOOST_CHECK(name(srs).cls == SourceClass::Forwarder);
  // Identities whose SPF is not known (status) never look forwarded.
  auto identity = passing(8);
  identity.dkim.push_back({"example.com", "", true, true});
  identity.spfKnown = false;
  BOOST_CHECK(name(identity).cls == SourceClass::Authorized);
}

BOOST_AUTO_TEST_CASE(dkim_selector_rules_are_checked)
{
  auto errorOf = [](const std::string& text) -> std::string {
    try {
      CatalogBuilder builder;
      builder.addText(text, "s.services");
      builder.build();
    }
    catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  const std::string head = "service a\nname A\ncategory crm\n";
  BOOST_CHECK_EQUAL(errorOf(head + "dkim-selector k1\n"), "");
  BOOST_CHECK_NE(errorOf(head + "dkim-selector bad/sel\n"), "");
  const std::string both = head + "dkim-selector s1\nservice b\nname B\ncategory crm\ndkim-selector s1\n";
  BOOST_CHECK(errorOf(both).find("also claimed") != std::string::npos);
  const std::string shared = head + "dkim-selector s1 shared\nservice b\nname B\ncategory crm\ndkim-selector s1 shared\n";
  BOOST_CHECK_EQUAL(errorOf(shared), "");
}

BOOST_AUTO_TEST_SUITE_END()
