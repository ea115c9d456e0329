/*
 * test-spf-advice.cc - the SPF view (views/spf-advice.hh): which includes the
 * observed services use, what to add (only where SPF can align) and remove
 * (never used; review over a short window), the look-up limit, the all
 * qualifier notes, a missing or malformed record, redirect=, duplicates, case,
 * the caps on hostile records, and the suggested record's exact text.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/dns/spf-record.hh"
#include "collector/views/spf-advice.hh"

#include "t/unit/psl-fixture.hh"

#include <algorithm>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

namespace
{

Service service(std::string id, std::string name, std::vector<std::string> includes)
{
  Service out;
  out.id = std::move(id);
  out.name = std::move(name);
  for (auto& include : includes) {
    CatalogRule rule;
    rule.kind = RuleKind::SpfInclude;
    rule.value = std::move(include);
    out.rules.push_back(std::move(rule));
  }
  return out;
}

const Service& sendgrid()
{
  static const Service s_service = service("sendgrid", "SendGrid", {"sendgrid.net"});
  return s_service;
}

const Service& google()
{
  static const Service s_service = service("google-workspace", "Google Workspace", {"_spf.google.com"});
  return s_service;
}

const Service& mailchimp()
{
  static const Service s_service = service("mailchimp", "Mailchimp", {"servers.mcsv.net"});
  return s_service;
}

SpfObservedService observed(const Service* catalog, bool authorized, uint64_t messages, uint64_t spfAligned,
                            std::vector<std::string> envelopes)
{
  SpfObservedService out;
  out.name = catalog != nullptr ? catalog->name : "unknown";
  out.service = catalog;
  out.authorized = authorized;
  out.messages = messages;
  out.spfPass = spfAligned;
  out.spfAligned = spfAligned;
  out.envelopeDomains = std::move(envelopes);
  return out;
}

LivePolicy live(std::string record, std::optional<unsigned> lookups, std::string error = "")
{
  LivePolicy out;
  out.state = "found";
  out.spfRecord = std::move(record);
  out.spfLookups = lookups;
  out.spfError = std::move(error);
  return out;
}

SpfAdvice advise(const LivePolicy& policy, const std::vector<SpfObservedService>& services, unsigned days = 90,
                 std::string_view domain = "example.com")
{
  SpfAdviceOptions options;
  options.coveredDays = days;
  return adviseSpf(domain, &policy, services, testPsl(), options);
}

bool hasNote(const SpfAdvice& advice, std::string_view part)
{
  return std::any_of(advice.notes.begin(), advice.notes.end(),
                     [&](const std::string& note) { return note.find(part) != std::string::npos; });
}

//! A look-up count as text ("none" when unknown), for messages Boost.Test can print.
std::string shown(std::optional<unsigned> lookups)
{
  return lookups ? std::to_string(*lookups) : "none";
}

std::string verdicts(const SpfAdvice& advice)
{
  std::string out;
  for (const auto& use : advice.mechanisms) {
    out += (out.empty() ? "" : ", ") + use.mechanism + "=" + use.verdict;
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_spf_advice)

BOOST_AUTO_TEST_CASE(used_and_unused_includes)
{
  auto viaDaemon = observed(nullptr, true, 300, 300, {"example.com"});
  viaDaemon.name = "mail.example.com";
  viaDaemon.includes = {"Spf.Protection.Outlook.com"};
  const auto policy = live("v=spf1 ip4:192.0.2.0/24 include:_spf.google.com include:spf.protection.outlook.com "
                           "include:sendgrid.net mx -all",
                           5);
  const SpfAdvice got = advise(policy, {observed(&google(), true, 1000, 990, {"example.com"}), viaDaemon});

  BOOST_TEST(got.state == "found");
  BOOST_TEST(verdicts(got) == "ip4:192.0.2.0/24=not judged, include:_spf.google.com=used, "
                              "include:spf.protection.outlook.com=used, include:sendgrid.net=unused, mx=not judged, "
                              "-all=not judged");
  BOOST_TEST(got.mechanisms.at(1).usedBy == std::vector<std::string>{"Google Workspace"});
  BOOST_TEST(got.mechanisms.at(2).usedBy == std::vector<std::string>{"mail.example.com"});
  BOOST_TEST(!got.mechanisms.at(0).lookup);
  BOOST_TEST(got.mechanisms.at(1).lookup);
  BOOST_TEST(got.mechanisms.at(4).lookup);
  BOOST_TEST(got.unused == std::vector<std::string>{"include:sendgrid.net"});
  BOOST_TEST_REQUIRE(got.remove.size() == 1U);
  BOOST_TEST(got.remove[0].mechanism == "include:sendgrid.net");
  BOOST_TEST(got.remove[0].why == "no observed service sent through it in 90 days");
  BOOST_TEST(!got.remove[0].review);
  BOOST_TEST(got.add.empty());
  BOOST_TEST(got.suggested ==
             "v=spf1 ip4:192.0.2.0/24 include:_spf.google.com include:spf.protection.outlook.com mx -all");
  BOOST_TEST(!got.startingPoint);
  BOOST_TEST(shown(got.lookups) == "5");
  BOOST_TEST(shown(got.suggestedLookups) == "4");
}

BOOST_AUTO_TEST_CASE(short_window_removal_is_review)
{
  const SpfAdvice got = advise(live("v=spf1 include:sendgrid.net -all", 1), {}, 7);
  BOOST_TEST_REQUIRE(got.remove.size() == 1U);
  BOOST_TEST(got.remove[0].review);
  BOOST_TEST(got.remove[0].why == "not seen in 7 days - check before removing");
  BOOST_TEST(got.suggested == "v=spf1 -all");

  const SpfAdvice oneDay = advise(live("v=spf1 include:sendgrid.net -all", 1), {}, 1);
  BOOST_TEST(oneDay.remove.at(0).why == "not seen in 1 day - check before removing");
  const SpfAdvice month = advise(live("v=spf1 include:sendgrid.net -all", 1), {}, s_spfReviewDays);
  BOOST_TEST(!month.remove.at(0).review);
}

BOOST_AUTO_TEST_CASE(include_of_a_sender_not_authorized_is_kept)
{
  // SendGrid sent (failing, not authorized): its include is not removed, the admin decides.
  const SpfAdvice got = advise(live("v=spf1 include:sendgrid.net -all", 1),
                               {observed(&sendgrid(), false, 50, 0, {"bounce.example.com"})});
  BOOST_TEST(got.mechanisms.at(0).verdict == "sent-not-authorized");
  BOOST_TEST(got.mechanisms.at(0).usedBy == std::vector<std::string>{"SendGrid"});
  BOOST_TEST(got.remove.empty());
  BOOST_TEST(got.add.empty());
  BOOST_TEST(got.suggested == "v=spf1 include:sendgrid.net -all");
  BOOST_TEST(hasNote(got, "include:sendgrid.net belongs to SendGrid, which sent as example.com but is not authorized"));
}

BOOST_AUTO_TEST_CASE(add_only_for_aligned_mail_from)
{
  const auto policy = live("v=spf1 include:_spf.google.com ~all", 3);
  const SpfAdvice got = advise(policy, {observed(&google(), true, 5000, 5000, {"example.com"}),
                                        observed(&sendgrid(), true, 1234, 12, {"bounce.example.com", "sendgrid.net"})});
  BOOST_TEST_REQUIRE(got.add.size() == 1U);
  BOOST_TEST(got.add[0].mechanism == "include:sendgrid.net");
  BOOST_TEST(got.add[0].why == "SendGrid sends 1,234 messages with MAIL FROM under example.com and SPF passes aligned for 12");
  BOOST_TEST(got.remove.empty());
  BOOST_TEST(got.suggested == "v=spf1 include:_spf.google.com include:sendgrid.net ~all");
  BOOST_TEST(shown(got.suggestedLookups) == "4");
  BOOST_TEST(hasNote(got, "each added include counts one look-up here"));

  // Not authorized: never an include, however it fails.
  const SpfAdvice stranger = advise(policy, {observed(&google(), true, 10, 10, {"example.com"}),
                                             observed(&sendgrid(), false, 1234, 0, {"example.com"})});
  BOOST_TEST(stranger.add.empty());
  BOOST_TEST(stranger.suggested == "v=spf1 include:_spf.google.com ~all");
}

BOOST_AUTO_TEST_CASE(add_threshold)
{
  const auto policy = live("v=spf1 -all", 0);
  // Exactly s_spfAddBelowPercent passes: forwarding noise, no include.
  BOOST_TEST(advise(policy, {observed(&sendgrid(), true, 100, 90, {"example.com"})}).add.empty());
  BOOST_TEST(advise(policy, {observed(&sendgrid(), true, 100, 89, {"example.com"})}).add.size() == 1U);
  // A MAIL FROM under the organizational domain aligns with a subdomain's policy (relaxed).
  const SpfAdvice sub = advise(policy, {observed(&sendgrid(), true, 10, 0, {"em.example.com"})}, 90, "news.Example.COM");
  BOOST_TEST(sub.domain == "news.example.com");
  BOOST_TEST(sub.add.at(0).why == "SendGrid sends 10 messages with MAIL FROM under example.com and SPF passes aligned for 0");
  BOOST_TEST(sub.suggested == "v=spf1 include:sendgrid.net -all");
}

BOOST_AUTO_TEST_CASE(dkim_only_services_get_a_note)
{
  const auto policy = live("v=spf1 include:_spf.google.com -all", 3);
  const SpfAdvice got = advise(policy, {observed(&google(), true, 100, 100, {"example.com"}),
                                        observed(&mailchimp(), true, 800, 0, {"mcsv.net"})});
  BOOST_TEST(got.add.empty());
  BOOST_TEST(got.suggested == "v=spf1 include:_spf.google.com -all");
  BOOST_TEST(shown(got.suggestedLookups) == "3");
  BOOST_TEST(hasNote(got, "SPF alignment is not possible for Mailchimp: it uses its own MAIL FROM domain (mcsv.net); "
                          "rely on DKIM"));
}

BOOST_AUTO_TEST_CASE(failing_services_without_an_include_to_add)
{
  const auto policy = live("v=spf1 include:sendgrid.net -all", 1);
  // Its include is there and it still fails: a note, not a second include.
  const SpfAdvice present = advise(policy, {observed(&sendgrid(), true, 100, 10, {"example.com"})});
  BOOST_TEST(present.add.empty());
  BOOST_TEST(present.mechanisms.at(0).verdict == "used");
  BOOST_TEST(hasNote(present, "the record already reaches its include"));
  // No catalog entry: the admin adds its addresses.
  auto own = observed(nullptr, true, 40, 0, {"example.com"});
  own.name = std::string("relay\x1b[31m.example.com");
  const SpfAdvice unknown = advise(live("v=spf1 -all", 0), {own});
  BOOST_TEST(unknown.add.empty());
  BOOST_TEST(hasNote(unknown, "relay?[31m.example.com sends 40 messages with MAIL FROM under example.com and SPF passes "
                              "aligned for 0: add its addresses (ip4:/ip6:)"));
}

BOOST_AUTO_TEST_CASE(over_ten_lookups)
{
  const SpfAdvice got = advise(live("v=spf1 include:sendgrid.net include:_spf.google.com -all", 12, "too many look-ups"),
                               {observed(&google(), true, 10, 10, {"example.com"})});
  BOOST_TEST(hasNote(got, "the record needs 12 DNS look-ups, over the limit of 10: SPF is a permerror for every message "
                          "(RFC 7208 4.6.4); remove includes first"));
  BOOST_TEST(got.suggested == "v=spf1 include:_spf.google.com -all");
  BOOST_TEST(shown(got.suggestedLookups) == "11");
  BOOST_TEST(hasNote(got, "the suggested record still needs about 11 look-ups"));
  BOOST_TEST(got.error == "too many look-ups");

  const SpfAdvice capped = advise(live("v=spf1 include:sendgrid.net -all", s_spfLookupsCap, "too many look-ups"), {});
  BOOST_TEST(hasNote(capped, "the record needs at least 99 DNS look-ups"));
  BOOST_TEST(!capped.suggestedLookups.has_value());

  const SpfAdvice fine = advise(live("v=spf1 include:_spf.google.com -all", 10), {observed(&google(), true, 1, 1, {})});
  BOOST_TEST(!hasNote(fine, "look-ups"));
}

BOOST_AUTO_TEST_CASE(all_qualifier_notes)
{
  BOOST_TEST(hasNote(advise(live("v=spf1 +all", 0), {}), "the record ends with +all: it allows anyone to pass SPF as example.com"));
  BOOST_TEST(hasNote(advise(live("v=spf1 mx all", 1), {}), "the record ends with all: it allows anyone"));
  BOOST_TEST(hasNote(advise(live("v=spf1 mx ?all", 1), {}), "the record ends with ?all: SPF is neutral"));
  BOOST_TEST(hasNote(advise(live("v=spf1 mx", 1), {}), "the record has neither all nor redirect"));
  const SpfAdvice strict = advise(live("v=spf1 mx -all", 1), {});
  BOOST_TEST(strict.notes.empty());
  BOOST_TEST(strict.suggested == "v=spf1 mx -all");
  BOOST_TEST(advise(live("v=spf1 mx ~all", 1), {}).notes.empty());
  // The qualifier is kept as is in the suggestion.
  BOOST_TEST(advise(live("v=spf1 include:sendgrid.net ?all", 1), {}).suggested == "v=spf1 ?all");
}

BOOST_AUTO_TEST_CASE(no_record_gives_a_starting_point)
{
  LivePolicy none;
  none.spfError = "none";
  const SpfAdvice got = advise(none, {observed(&sendgrid(), true, 100, 0, {"example.com"}),
                                      observed(&google(), true, 100, 0, {"mail.example.com"}),
                                      observed(&mailchimp(), true, 100, 0, {"mcsv.net"})});
  BOOST_TEST(got.state == "none");
  BOOST_TEST(got.record.empty());
  BOOST_TEST(got.mechanisms.empty());
  BOOST_TEST(got.suggested == "v=spf1 include:sendgrid.net include:_spf.google.com ~all");
  BOOST_TEST(got.startingPoint);
  BOOST_TEST(shown(got.suggestedLookups) == "2");
  BOOST_TEST(hasNote(got, "example.com publishes no SPF record"));
  BOOST_TEST(hasNote(got, "a starting point"));
  BOOST_TEST(hasNote(got, "rely on DKIM"));

  // Only senders with their own MAIL FROM: nothing to suggest.
  const SpfAdvice dkimOnly = advise(none, {observed(&mailchimp(), true, 100, 0, {"mcsv.net"})});
  BOOST_TEST(dkimOnly.suggested.empty());
  BOOST_TEST(!dkimOnly.startingPoint);
  BOOST_TEST(hasNote(dkimOnly, "nothing to suggest"));

  LivePolicy multiple;
  multiple.spfError = "multiple SPF records";
  const SpfAdvice two = advise(multiple, {observed(&sendgrid(), true, 100, 0, {"example.com"})});
  BOOST_TEST(two.state == "multiple");
  BOOST_TEST(two.suggested == "v=spf1 include:sendgrid.net ~all");
}

BOOST_AUTO_TEST_CASE(unknown_record_suggests_nothing)
{
  const std::vector<SpfObservedService> services{observed(&sendgrid(), true, 100, 0, {"example.com"})};
  const SpfAdvice never = adviseSpf("example.com", nullptr, services, testPsl());
  BOOST_TEST(never.state == "unknown");
  BOOST_TEST(never.suggested.empty());
  BOOST_TEST(never.add.empty());
  BOOST_TEST(hasNote(never, "has not been checked yet"));

  LivePolicy temp;
  temp.spfError = "temperror";
  const SpfAdvice got = advise(temp, services);
  BOOST_TEST(got.state == "unknown");
  BOOST_TEST(got.suggested.empty());
  BOOST_TEST(hasNote(got, "is not known (temperror)"));
}

BOOST_AUTO_TEST_CASE(malformed_records)
{
  const std::vector<SpfObservedService> services{observed(&sendgrid(), true, 100, 0, {"example.com"})};
  for (const char* record : {"v=spf1 include:sendgrid.net foo -all", "v=spf1 include: -all", "v=spf1 +redirect=a.example",
                             "v=spf1 redirect=a.example redirect=b.example", "v=spf10 -all", "spf1 -all",
                             "v=spf1 ip4 -all", "v=spf1 all:x", "v=spf1 mx \x01 -all", "v=spf1 include:b\xc3\xa9.example -all",
                             "v=spf1 + -all", "v=spf1 9x=y"}) {
    BOOST_TEST_CONTEXT(record)
    {
      const SpfAdvice got = advise(live(record, 1), services);
      BOOST_TEST(got.state == "malformed");
      BOOST_TEST(got.mechanisms.empty());
      BOOST_TEST(hasNote(got, "the SPF record is malformed ("));
      BOOST_TEST(got.suggested == "v=spf1 include:sendgrid.net ~all");
      BOOST_TEST(got.startingPoint);
      BOOST_TEST(std::all_of(got.record.begin(), got.record.end(), [](char c) { return c >= 0x20 && c < 0x7f; }));
    }
  }
  BOOST_TEST(hasNote(advise(live("v=spf1 bogus -all", 1), services), "'bogus' is not an SPF mechanism"));
}

BOOST_AUTO_TEST_CASE(hostile_records_are_capped)
{
  std::string many = "v=spf1";
  for (size_t i = 0; i <= s_spfMaxTerms; ++i) {
    many += " ip4:192.0.2." + std::to_string(i % 256);
  }
  const SpfAdvice got = advise(live(many, 0), {});
  BOOST_TEST(got.state == "too long");
  BOOST_TEST(got.mechanisms.empty());
  BOOST_TEST(got.suggested.empty());
  BOOST_TEST(hasNote(got, "it has 65 terms"));

  std::string exactly = "v=spf1";
  for (size_t i = 1; i < s_spfMaxTerms; ++i) {
    exactly += " ip4:192.0.2." + std::to_string(i % 256);
  }
  BOOST_TEST(advise(live(exactly + " -all", 0), {}).state == "found");

  const SpfAdvice longTerm = advise(live("v=spf1 include:" + std::string(s_spfMaxTermBytes, 'a') + " -all", 1), {});
  BOOST_TEST(longTerm.state == "too long");
  BOOST_TEST(longTerm.suggested.empty());
}

BOOST_AUTO_TEST_CASE(redirect_modifier)
{
  const auto googleSends = observed(&google(), true, 10, 10, {"example.com"});
  const SpfAdvice used = advise(live("v=spf1 redirect=_spf.google.com", 4), {googleSends});
  BOOST_TEST(verdicts(used) == "redirect=_spf.google.com=used");
  BOOST_TEST(used.mechanisms.at(0).lookup);
  BOOST_TEST(used.notes.empty());
  BOOST_TEST(used.suggested == "v=spf1 redirect=_spf.google.com");

  // Unused: judged, but never removed (it is the rest of the policy).
  const SpfAdvice unused = advise(live("v=spf1 redirect=spf.other.example", 1), {googleSends});
  BOOST_TEST(unused.unused == std::vector<std::string>{"redirect=spf.other.example"});
  BOOST_TEST(unused.remove.empty());
  BOOST_TEST(hasNote(unused, "review it by hand"));

  // With "all" it is void: removed, and it cost no look-up.
  const SpfAdvice voided = advise(live("v=spf1 include:_spf.google.com redirect=_spf.google.com -all", 4), {googleSends});
  BOOST_TEST(voided.mechanisms.at(1).verdict == "void");
  BOOST_TEST(!voided.mechanisms.at(1).lookup);
  BOOST_TEST(voided.remove.at(0).why == "ignored: the record has an all mechanism (RFC 7208 6.1)");
  BOOST_TEST(voided.suggested == "v=spf1 include:_spf.google.com -all");
  BOOST_TEST(shown(voided.suggestedLookups) == "4");

  // Without "all", an added include goes before the first modifier; unknown modifiers stay verbatim.
  const SpfAdvice before = advise(live("v=spf1 mx Foo=Bar redirect=_spf.google.com", 5),
                                  {googleSends, observed(&sendgrid(), true, 10, 0, {"example.com"})});
  BOOST_TEST(before.suggested == "v=spf1 mx include:sendgrid.net Foo=Bar redirect=_spf.google.com");
}

BOOST_AUTO_TEST_CASE(duplicate_includes)
{
  const SpfAdvice got = advise(live("v=spf1 include:sendgrid.net include:SendGrid.net. ~all", 2),
                               {observed(&sendgrid(), true, 10, 10, {"example.com"})});
  BOOST_TEST(verdicts(got) == "include:sendgrid.net=used, include:SendGrid.net.=duplicate, ~all=not judged");
  BOOST_TEST_REQUIRE(got.remove.size() == 1U);
  BOOST_TEST(got.remove[0].mechanism == "include:SendGrid.net.");
  BOOST_TEST(!got.remove[0].review);
  BOOST_TEST(got.suggested == "v=spf1 include:sendgrid.net ~all");
  BOOST_TEST(shown(got.suggestedLookups) == "1");
}

BOOST_AUTO_TEST_CASE(case_insensitive)
{
  auto sender = observed(&sendgrid(), true, 10, 10, {"Bounce.EXAMPLE.com"});
  const SpfAdvice got = advise(live("V=SPF1 INCLUDE:SENDGRID.NET ~ALL", 1), {sender}, 90, "EXAMPLE.COM");
  BOOST_TEST(verdicts(got) == "INCLUDE:SENDGRID.NET=used, ~ALL=not judged");
  BOOST_TEST(got.notes.empty());
  BOOST_TEST(got.suggested == "V=SPF1 INCLUDE:SENDGRID.NET ~ALL");

  // A failing sender whose include is written in capitals is not added again.
  sender.spfAligned = 0;
  BOOST_TEST(advise(live("v=spf1 Include:SendGrid.Net -all", 1), {sender}).add.empty());
  BOOST_TEST(advise(live("v=spf1 -ALL", 0), {sender}).suggested == "v=spf1 include:sendgrid.net -ALL");
}

BOOST_AUTO_TEST_CASE(own_and_macro_includes_are_not_judged)
{
  const SpfAdvice got = advise(live("v=spf1 include:_spf.example.com include:%{i}._ip.spf.example.net ptr a -all", 4), {});
  BOOST_TEST(verdicts(got) == "include:_spf.example.com=not judged, include:%{i}._ip.spf.example.net=not judged, "
                              "ptr=not judged, a=not judged, -all=not judged");
  BOOST_TEST(got.remove.empty());
  BOOST_TEST(got.unused.empty());
  BOOST_TEST(got.suggested == "v=spf1 include:_spf.example.com include:%{i}._ip.spf.example.net ptr a -all");
  BOOST_TEST(hasNote(got, "ptr is slow"));
  BOOST_TEST(!hasNote(got, "the live check"));

  const SpfAdvice missing = advise(live("v=spf1 include:_spf.example.com -all", 1, "include without SPF record"), {});
  BOOST_TEST(hasNote(missing, "the live check of the record reports: include without SPF record"));
}

BOOST_AUTO_TEST_CASE(mechanisms_after_all_are_never_evaluated)
{
  // SendGrid's include after -all authorizes nothing: removed, and SendGrid gets it before -all.
  const SpfAdvice got = advise(live("v=spf1 mx -all include:sendgrid.net ip4:192.0.2.1 exp=explain.example.com", 2),
                               {observed(&sendgrid(), true, 100, 0, {"example.com"})});
  BOOST_TEST(verdicts(got) == "mx=not judged, -all=not judged, include:sendgrid.net=never evaluated, "
                              "ip4:192.0.2.1=never evaluated, exp=explain.example.com=not judged");
  BOOST_TEST_REQUIRE(got.remove.size() == 2U);
  BOOST_TEST(got.remove[0].why == "after all: never evaluated (RFC 7208 5.1)");
  BOOST_TEST(got.add.at(0).mechanism == "include:sendgrid.net");
  BOOST_TEST(got.suggested == "v=spf1 mx include:sendgrid.net -all exp=explain.example.com");
  BOOST_TEST(shown(got.suggestedLookups) == "2");
}

BOOST_AUTO_TEST_CASE(include_of_a_service_with_its_own_mail_from)
{
  // Mailchimp sent, so its include stays, but it cannot help alignment.
  const SpfAdvice got = advise(live("v=spf1 include:servers.mcsv.net -all", 1),
                               {observed(&mailchimp(), true, 800, 0, {"mcsv.net"})});
  BOOST_TEST(got.mechanisms.at(0).verdict == "used");
  BOOST_TEST(got.remove.empty());
  BOOST_TEST(got.suggested == "v=spf1 include:servers.mcsv.net -all");
  BOOST_TEST(hasNote(got, "include:servers.mcsv.net serves Mailchimp, which uses its own MAIL FROM domain (mcsv.net): "
                          "the include does not help alignment and costs a look-up"));
  // One user that aligns is enough to make it useful.
  auto aligned = observed(nullptr, true, 10, 10, {"example.com"});
  aligned.includes = {"servers.mcsv.net"};
  BOOST_TEST(!hasNote(advise(live("v=spf1 include:servers.mcsv.net -all", 1),
                             {observed(&mailchimp(), true, 800, 0, {"mcsv.net"}), aligned}),
                      "does not help alignment"));
}

BOOST_AUTO_TEST_CASE(huge_counts_do_not_overflow)
{
  const uint64_t huge = UINT64_MAX / 2;
  // 100% aligned: no include, even where messages * 90 would overflow 64 bits.
  BOOST_TEST(advise(live("v=spf1 -all", 0), {observed(&sendgrid(), true, huge, huge, {"example.com"})}).add.empty());
  const SpfAdvice failing = advise(live("v=spf1 -all", 0), {observed(&sendgrid(), true, huge, huge / 2, {"example.com"})});
  BOOST_TEST(failing.add.size() == 1U);
  BOOST_TEST(failing.add.at(0).why.find("SendGrid sends 9,223,372,036,854,775,807 messages") == 0U);
}

BOOST_AUTO_TEST_SUITE_END()
