/*
 * test-verdict.cc - our verdict per record: computed where policy_evaluated
 * is missing, relaxed/strict for DKIM and SPF, which identifier passed, the
 * reasons an admin reads, override reasons, and contradiction warnings.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/intake/byte-source.hh"
#include "collector/intake/report-parser.hh"
#include "collector/judge/verdict.hh"
#include "t/unit/psl-fixture.hh"
#include "t/unit/test-util.hh"

#include <cstdlib>
#include <filesystem>
#include <string>

using namespace dmarcwatch::collector;
using dmarcwatch::test::testPsl;

namespace
{

//! Keeps what the parser gives it.
class KeepingSink : public ReportSink
{
public:
  bool onHeader(const ReportHeader& got) override
  {
    header = got;
    return true;
  }
  void onRecord(const Record& got) override { records.push_back(got); }

  ReportHeader header;
  std::vector<Record> records;
};

Record record(std::string headerFrom)
{
  Record r;
  r.count = 1;
  r.headerFrom = std::move(headerFrom);
  return r;
}

void addDkim(Record& r, std::string domain, std::string result)
{
  r.dkimResults.push_back(DkimResult{std::move(domain), "s1", std::move(result), ""});
}

void addSpf(Record& r, std::string domain, std::string result, std::string scope = "mfrom")
{
  r.spfResults.push_back(SpfResult{std::move(domain), std::move(scope), std::move(result), ""});
}

PolicyPublished policy(std::string adkim = "", std::string aspf = "")
{
  PolicyPublished p;
  p.domain = "example.com";
  p.adkim = std::move(adkim);
  p.aspf = std::move(aspf);
  return p;
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_verdict)

BOOST_AUTO_TEST_CASE(missing_policy_evaluated_is_computed)
{
  // An older Google report: no policy_evaluated dkim/spf, an aligned DKIM pass in auth_results.
  Record r = record("example.com");
  addDkim(r, "mail.example.com", "pass");
  addSpf(r, "bounce.other.net", "pass");
  BOOST_CHECK(!r.dmarcPass()); // before judging: nothing says pass

  const Verdict v = judgeRecord(r, policy(), testPsl());
  BOOST_CHECK(v.dmarcPass());
  BOOST_CHECK(!v.reporterPass().has_value());
  BOOST_CHECK(v.effectivePass());
  BOOST_CHECK_EQUAL(passedName(v.passed()), "dkim");
  BOOST_CHECK(v.contradictions.empty());

  BOOST_CHECK(applyVerdict(r, v));
  BOOST_CHECK_EQUAL(r.dkim, "");          // the reporter's word stays missing
  BOOST_CHECK_EQUAL(r.judgedDkim, "pass"); // ours beside it
  BOOST_CHECK_EQUAL(r.judgedSpf, "fail");
  BOOST_CHECK_EQUAL(r.effectiveDkim(), "pass");
  BOOST_CHECK(r.dmarcPass());
}

BOOST_AUTO_TEST_CASE(reporter_word_is_kept_where_given)
{
  Record r = record("example.com");
  r.dkim = "fail";
  addDkim(r, "example.com", "fail");
  addSpf(r, "example.com", "pass");
  const Verdict v = judgeRecord(r, policy(), testPsl());
  BOOST_CHECK(applyVerdict(r, v)); // spf was left out: ours fills it
  BOOST_CHECK_EQUAL(r.effectiveDkim(), "fail");
  BOOST_CHECK_EQUAL(r.effectiveSpf(), "pass");
  BOOST_CHECK(r.dmarcPass());

  Record full = record("example.com");
  full.dkim = "pass";
  full.spf = "fail";
  addDkim(full, "example.com", "pass");
  const Verdict fv = judgeRecord(full, policy(), testPsl());
  BOOST_CHECK(!applyVerdict(full, fv));
  BOOST_CHECK(fv.reporterPass().value_or(false));
}

BOOST_AUTO_TEST_CASE(relaxed_and_strict_dkim)
{
  Record r = record("example.com");
  addDkim(r, "mail.example.com", "pass");
  const Verdict relaxed = judgeRecord(r, policy("r"), testPsl());
  BOOST_CHECK(relaxed.dkim.pass);
  BOOST_CHECK_EQUAL(relaxed.dkim.reason, "aligned: d=mail.example.com");

  const Verdict strict = judgeRecord(r, policy("s"), testPsl());
  BOOST_CHECK(!strict.dkim.pass);
  BOOST_CHECK_EQUAL(strict.dkim.reason, "not aligned (adkim=s): signs as mail.example.com");

  Record exact = record("Example.com");
  addDkim(exact, "EXAMPLE.COM", "pass");
  BOOST_CHECK(judgeRecord(exact, policy("s"), testPsl()).dkim.pass);
}

BOOST_AUTO_TEST_CASE(relaxed_and_strict_spf)
{
  Record r = record("example.co.uk");
  addSpf(r, "bounces.example.co.uk", "pass");
  BOOST_CHECK(judgeRecord(r, policy("", "r"), testPsl()).spf.pass);
  const Verdict strict = judgeRecord(r, policy("", "s"), testPsl());
  BOOST_CHECK(!strict.spf.pass);
  BOOST_CHECK_EQUAL(strict.spf.reason,
                    "not aligned (aspf=s): SPF authenticates the bounce domain bounces.example.co.uk only");

  // co.uk is a public suffix: another registrant under it never aligns.
  Record other = record("example.co.uk");
  addSpf(other, "other.co.uk", "pass");
  BOOST_CHECK(!judgeRecord(other, policy(), testPsl()).spf.pass);
}

BOOST_AUTO_TEST_CASE(reasons_text)
{
  // An ESP signing with its own domain and using its own bounce domain.
  Record esp = record("example.com");
  addDkim(esp, "sendgrid.net", "pass");
  addSpf(esp, "em123.sendgrid.net", "pass");
  const Verdict v = judgeRecord(esp, policy(), testPsl());
  BOOST_CHECK(!v.dmarcPass());
  BOOST_CHECK_EQUAL(passedName(v.passed()), "none");
  BOOST_CHECK_EQUAL(v.dkim.reason, "not aligned: signs as sendgrid.net");
  BOOST_CHECK_EQUAL(v.spf.reason, "not aligned: SPF authenticates the bounce domain em123.sendgrid.net only");

  Record bare = record("example.com");
  const Verdict b = judgeRecord(bare, policy(), testPsl());
  BOOST_CHECK_EQUAL(b.dkim.reason, "no signature");
  BOOST_CHECK_EQUAL(b.spf.reason, "no SPF result");
  BOOST_CHECK(!b.dkim.evidence);

  // Google's way of saying there was no signature: one result "none" without a domain.
  Record none = record("example.com");
  addDkim(none, "", "none");
  BOOST_CHECK_EQUAL(judgeRecord(none, policy(), testPsl()).dkim.reason, "no signature");

  Record broken = record("example.com");
  addDkim(broken, "example.com", "fail");
  addSpf(broken, "example.com", "softfail");
  const Verdict f = judgeRecord(broken, policy(), testPsl());
  BOOST_CHECK_EQUAL(f.dkim.reason, "signature did not verify: example.com fail");
  BOOST_CHECK_EQUAL(f.spf.reason, "SPF did not pass: example.com softfail");

  Record many = record("example.com");
  for (const char* d : {"a.net", "b.net", "c.net", "d.net", "e.net"}) {
    addDkim(many, d, "pass");
  }
  BOOST_CHECK_EQUAL(judgeRecord(many, policy(), testPsl()).dkim.reason,
                    "not aligned: signs as a.net, b.net, c.net and 2 more");

  Record noFrom = record("");
  addDkim(noFrom, "example.com", "pass");
  BOOST_CHECK_EQUAL(judgeRecord(noFrom, policy(), testPsl()).dkim.reason, "no header_from to align with");
}

BOOST_AUTO_TEST_CASE(both_passed_and_description)
{
  Record r = record("example.com");
  addDkim(r, "example.com", "pass");
  addSpf(r, "mail.example.com", "pass");
  r.reasons.push_back(PolicyOverride{"local_policy", "arc=pass"});
  r.reasons.push_back(PolicyOverride{"forwarded", ""});
  const Verdict v = judgeRecord(r, policy(), testPsl());
  BOOST_CHECK_EQUAL(passedName(v.passed()), "both");
  BOOST_REQUIRE_EQUAL(v.overrides.size(), 2U);
  BOOST_CHECK_EQUAL(v.overrides[0], "local_policy (arc=pass)");
  BOOST_CHECK_EQUAL(v.overrides[1], "forwarded");
  BOOST_CHECK_EQUAL(describeVerdict(v), "DMARC pass: DKIM aligned (aligned: d=example.com); SPF aligned "
                                        "(aligned: mail.example.com); override: local_policy (arc=pass), forwarded");
}

BOOST_AUTO_TEST_CASE(spf_helo_counts_only_alone)
{
  Record r = record("example.com");
  addSpf(r, "example.com", "pass", "helo");
  addSpf(r, "bounce.other.net", "pass", "mfrom");
  BOOST_CHECK(!judgeRecord(r, policy(), testPsl()).spf.pass);

  Record helo = record("example.com");
  addSpf(helo, "mx.example.com", "pass", "helo");
  BOOST_CHECK(judgeRecord(helo, policy(), testPsl()).spf.pass);
}

BOOST_AUTO_TEST_CASE(contradiction_is_reported)
{
  Record r = record("example.com");
  r.dkim = "fail";
  r.spf = "pass";
  addDkim(r, "example.com", "pass");
  addSpf(r, "bounce.other.net", "pass");
  const Verdict v = judgeRecord(r, policy(), testPsl());
  BOOST_REQUIRE_EQUAL(v.contradictions.size(), 2U);
  BOOST_CHECK_EQUAL(v.contradictions[0], "policy_evaluated dkim=fail but auth_results has an aligned pass");
  BOOST_CHECK_EQUAL(v.contradictions[1], "policy_evaluated spf=pass but auth_results has no aligned pass");
  BOOST_CHECK(v.effectivePass()); // the reporter's word is what counts where given

  // Without auth_results evidence the reporter's word cannot be checked.
  Record bare = record("example.com");
  bare.dkim = "pass";
  BOOST_CHECK(judgeRecord(bare, policy(), testPsl()).contradictions.empty());
}

BOOST_AUTO_TEST_CASE(pass_only_detail_leaves_reasons_out)
{
  Record r = record("example.com");
  r.dkim = "fail";
  addDkim(r, "mail.example.com", "pass");
  addSpf(r, "bounce.other.net", "pass");
  r.reasons.push_back(PolicyOverride{"forwarded", ""});
  const Verdict full = judgeRecord(r, policy(), testPsl());
  const Verdict lean = judgeRecord(r, policy(), testPsl(), VerdictDetail::PassOnly);
  BOOST_CHECK_EQUAL(lean.dkim.pass, full.dkim.pass);
  BOOST_CHECK_EQUAL(lean.spf.pass, full.spf.pass);
  BOOST_CHECK_EQUAL(lean.dkim.evidence, full.dkim.evidence);
  BOOST_CHECK(lean.contradictions == full.contradictions);
  BOOST_CHECK_EQUAL(lean.contradictions.size(), 1U);
  BOOST_CHECK(lean.dkim.reason.empty() && lean.spf.reason.empty() && lean.overrides.empty());
  BOOST_CHECK(!full.spf.reason.empty() && full.overrides.size() == 1);
}

BOOST_AUTO_TEST_CASE(corpus_aol_report_without_policy_evaluated_passes)
{
  // An AOL report of 2012 (OpenDMARC's test data, in the shared corpus): no policy_evaluated
  // dkim/spf in any record, an aligned DKIM pass in each; counted as failures before issue 11.
  const char* corpus = std::getenv("CORPUS");
  const std::filesystem::path file = std::filesystem::path(corpus == nullptr ? "" : corpus) / "files" /
                                     "trusteddomainproject__OpenDMARC" / "bad.com!example.com!1337140800!1337227200.xml";
  if (corpus == nullptr || !std::filesystem::exists(file) ||
      !std::filesystem::exists(PublicSuffixList::s_systemPath)) {
    BOOST_TEST_MESSAGE("corpus or public suffix list not available, skipped");
    return;
  }
  const std::string xml = dmarcwatch::test::readFile(file);
  MemorySource source{std::string_view(xml)};
  Limits limits;
  Warnings warnings;
  KeepingSink sink;
  parseReport(source, limits, sink, warnings);
  BOOST_REQUIRE(!sink.records.empty());
  uint64_t messages = 0;
  uint64_t passed = 0;
  for (Record& r : sink.records) {
    const Verdict v = judgeRecord(r, sink.header.policy, PublicSuffixList::system());
    BOOST_CHECK(!v.reporterPass().has_value());
    BOOST_CHECK(!describeVerdict(v).empty());
    applyVerdict(r, v);
    messages += r.count;
    passed += r.dmarcPass() ? r.count : 0;
  }
  BOOST_CHECK_EQUAL(messages, 283U);
  BOOST_CHECK_EQUAL(passed, 283U);
}

BOOST_AUTO_TEST_SUITE_END()
