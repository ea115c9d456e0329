/*
 * test-dmarc-eval.cc - evaluateDmarc (collector/auth/dmarc-eval.hh) and the From
 * address rule (singleFromDomain, message-auth.hh): our results and a record
 * handed to libopendmarc, no DNS.  Ported from the issue 14 prototype
 * (scratch/issue14/dmarc-eval.cc), with libopendmarc's own answer kept as a
 * cross-check and its adkim=s quirk as the regression case.
 */
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/auth/dmarc-eval.hh"
#include "collector/auth/message-auth.hh"
#include "t/unit/psl-fixture.hh"

#include <string>
#include <vector>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

namespace
{

DmarcRecord record(const std::string& domain, const std::string& text)
{
  DmarcRecord out = parseDmarcRecord(domain, text);
  out.domain = domain;
  return out;
}

std::vector<DkimSignatureResult> dkim(const std::string& domain, const std::string& result)
{
  DkimSignatureResult sig;
  sig.domain = domain;
  sig.selector = "test2026";
  sig.result = result;
  return {sig};
}

SpfEnvelopeResult spf(const std::string& domain, const std::string& result)
{
  SpfEnvelopeResult out;
  out.domain = domain;
  out.result = result;
  return out;
}

struct Case
{
  const char* name;
  std::string from, recordDomain, recordText;
  std::vector<DkimSignatureResult> signatures;
  SpfEnvelopeResult spf;
  std::string want;    //!< our result
  std::string library; //!< libopendmarc's answer for the same input
};

} // namespace

BOOST_AUTO_TEST_SUITE(test_dmarc_eval)

BOOST_AUTO_TEST_CASE(evaluation_matches_rfc7489)
{
  const std::vector<Case> cases = {
    {"dkim pass aligned", "google.com", "google.com", "v=DMARC1; p=reject", dkim("google.com", "pass"), {}, "pass", "pass"},
    {"dkim fail, spf none", "google.com", "google.com", "v=DMARC1; p=reject", dkim("google.com", "fail"), {}, "fail",
     "reject"},
    {"spf pass aligned only", "google.com", "google.com", "v=DMARC1; p=reject", {}, spf("google.com", "pass"), "pass",
     "pass"},
    {"dkim and spf pass, other domain", "google.com", "google.com", "v=DMARC1; p=reject", dkim("evil.com", "pass"),
     spf("evil.com", "pass"), "fail", "reject"},
    {"relaxed: d= parent of From", "mail.google.com", "google.com", "v=DMARC1; p=quarantine", dkim("google.com", "pass"),
     {}, "pass", "pass"},
    {"relaxed: d= sibling of From", "mail.google.com", "google.com", "v=DMARC1; p=quarantine",
     dkim("dmarc.google.com", "pass"), {}, "pass", "pass"},
    {"p=none, all fail", "yahoo.com", "yahoo.com", "v=DMARC1; p=none", dkim("yahoo.com", "fail"),
     spf("yahoo.com", "fail"), "fail", "none"},
  };
  for (const auto& c : cases) {
    const DmarcEvaluation got =
      evaluateDmarc(c.from, record(c.recordDomain, c.recordText), c.spf, c.signatures, testPsl());
    BOOST_TEST(got.result == c.want, c.name << ": got " << got.result << " want " << c.want);
    BOOST_TEST(got.library == c.library, c.name << ": libopendmarc got " << got.library << " want " << c.library);
  }
}

BOOST_AUTO_TEST_CASE(strict_dkim_alignment_regression)
{
  // RFC 7489 3.1.1: adkim=s wants d= equal to the From domain.  libopendmarc 1.4.2 (Debian
  // 1.4.2-2+b1) answers pass here; our alignment decides (dmarc-eval.hh).
  const DmarcEvaluation got = evaluateDmarc("mail.google.com", record("google.com", "v=DMARC1; p=quarantine; adkim=s"),
                                            {}, dkim("google.com", "pass"), testPsl());
  BOOST_TEST(got.result == "fail");
  BOOST_TEST(!got.dkimAligned);
  BOOST_TEST_MESSAGE("libopendmarc's answer for adkim=s, d=google.com, From mail.google.com: " << got.library);
  const DmarcEvaluation exact = evaluateDmarc("mail.google.com", record("google.com", "v=DMARC1; p=quarantine; adkim=s"),
                                              {}, dkim("mail.google.com", "pass"), testPsl());
  BOOST_TEST(exact.result == "pass");
  BOOST_TEST(exact.dkimAligned);
  // The same for aspf=s (found while porting): libopendmarc answers pass, RFC 7489 says fail.
  const DmarcEvaluation spfStrict = evaluateDmarc("mail.google.com", record("google.com", "v=DMARC1; p=reject; aspf=s"),
                                                  spf("google.com", "pass"), {}, testPsl());
  BOOST_TEST(spfStrict.result == "fail");
  BOOST_TEST(!spfStrict.spfAligned);
  BOOST_TEST_MESSAGE("libopendmarc's answer for aspf=s, MAIL FROM google.com, From mail.google.com: " << spfStrict.library);
}

BOOST_AUTO_TEST_CASE(relaxed_alignment_uses_the_public_suffix_list)
{
  // co.uk is a public suffix: example.co.uk and other.co.uk are different organizations.
  const DmarcRecord rec = record("example.co.uk", "v=DMARC1; p=reject");
  BOOST_TEST(evaluateDmarc("mail.example.co.uk", rec, {}, dkim("example.co.uk", "pass"), testPsl()).result == "pass");
  BOOST_TEST(evaluateDmarc("example.co.uk", rec, {}, dkim("other.co.uk", "pass"), testPsl()).result == "fail");
  BOOST_TEST(evaluateDmarc("example.co.uk", rec, spf("co.uk", "pass"), {}, testPsl()).result == "fail");
}

BOOST_AUTO_TEST_CASE(unknown_only_when_an_aligned_check_did_not_finish)
{
  const DmarcRecord rec = record("google.com", "v=DMARC1; p=reject");
  BOOST_TEST(evaluateDmarc("google.com", rec, {}, dkim("google.com", "temperror"), testPsl()).result == "temperror");
  BOOST_TEST(evaluateDmarc("google.com", rec, spf("google.com", "temperror"), {}, testPsl()).result == "temperror");
  BOOST_TEST(evaluateDmarc("google.com", rec, {}, dkim("evil.com", "temperror"), testPsl()).result == "fail");
  DmarcRecord unknown;
  unknown.state = "unknown";
  BOOST_TEST(evaluateDmarc("google.com", unknown, {}, dkim("google.com", "fail"), testPsl()).result == "temperror");
}

BOOST_AUTO_TEST_CASE(no_record_no_domain_and_subdomain_policy)
{
  DmarcRecord none;
  none.state = "none";
  BOOST_TEST(evaluateDmarc("google.com", none, {}, dkim("google.com", "pass"), testPsl()).result == "none");
  BOOST_TEST(evaluateDmarc("", record("google.com", "v=DMARC1; p=reject"), {}, {}, testPsl()).result == "permerror");
  const DmarcRecord org = record("google.com", "v=DMARC1; p=reject; sp=quarantine");
  BOOST_TEST(evaluateDmarc("mail.google.com", org, {}, {}, testPsl()).policy == "quarantine");
  BOOST_TEST(evaluateDmarc("google.com", org, {}, {}, testPsl()).policy == "reject");
}

BOOST_AUTO_TEST_CASE(from_must_hold_exactly_one_address)
{
  BOOST_TEST(singleFromDomain(" noreply-dmarc-support@Google.COM") == "google.com");
  BOOST_TEST(singleFromDomain(" \"Reports, DMARC\" <dmarc@auth.test.>") == "auth.test");
  // What a quoted display name holds is not the address.
  BOOST_TEST(singleFromDomain(" \"<a@google.com>\" x@evil.example") == "evil.example");
  BOOST_TEST(singleFromDomain(" \"a@google.com\" <x@evil.example>") == "evil.example");
  BOOST_TEST(singleFromDomain(" \"john doe\"@example.com") == "example.com");
  BOOST_TEST(singleFromDomain(" DMARC (a comment, with@evil.test) <dmarc@auth.test>") == "auth.test");
  BOOST_TEST(singleFromDomain(" Reports <dmarc@auth.test>\r\n (folded)") == "auth.test");
  BOOST_TEST(singleFromDomain(" reports: dmarc@auth.test;") == "auth.test");
  // OpenDMARC SECURITY/CVE-2019-16378: two addresses, two domains: none is taken.
  BOOST_TEST(singleFromDomain(" dmarc@evil.test, dmarc@auth.test") == "");
  BOOST_TEST(singleFromDomain(" <dmarc@evil.test>, Reports <dmarc@auth.test>") == "");
  BOOST_TEST(singleFromDomain(" group: a@evil.test, b@auth.test;") == "");
  BOOST_TEST(singleFromDomain(" undisclosed-recipients:;") == "");
  BOOST_TEST(singleFromDomain(" <dmarc@[192.0.2.1]>") == "");
  BOOST_TEST(singleFromDomain(" <dmarc@auth..test>") == "");
  BOOST_TEST(singleFromDomain(" \"unterminated <dmarc@auth.test>") == "");
  BOOST_TEST(singleFromDomain(" nobody") == "");
}

BOOST_AUTO_TEST_SUITE_END()
