/*
 * test-report-parser.cc - the streaming report parser: one case per
 * tolerated quirk, golden dumps of t/data/report-*.xml against *.ref,
 * the security regressions (XXE, billion laughs, depth, text size) and the
 * damaged-document policy.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/intake/byte-source.hh"
#include "collector/common/errors.hh"
#include "collector/intake/report-parser.hh"
#include "t/unit/test-util.hh"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

using namespace dmarcwatch::collector;
using dmarcwatch::test::dataPath;
using dmarcwatch::test::readData;
using dmarcwatch::test::readFile;

namespace
{

//! Records what the parser gave it.
class RecordingSink : public ReportSink
{
public:
  bool onHeader(const ReportHeader& got) override
  {
    ++headerCalls;
    recordsAtHeader = records.size();
    header = got;
    return acceptHeader;
  }
  void onRecord(const Record& record) override { records.push_back(record); }

  bool acceptHeader = true;
  int headerCalls = 0;
  size_t recordsAtHeader = 0;
  ReportHeader header;
  std::vector<Record> records;
};

//! Throws on the n-th read, to check exceptions cross the libxml2 callback intact.
class FailingSource : public ByteSource
{
public:
  FailingSource(std::string data, size_t failAfter) :
    d_data(std::move(data)), d_failAfter(failAfter) {}
  size_t read(std::span<uint8_t> out) override
  {
    if (d_pos >= d_failAfter) {
      throw std::runtime_error("disk on fire");
    }
    size_t n = std::min({out.size(), d_data.size() - d_pos, d_failAfter - d_pos});
    std::copy_n(d_data.data() + d_pos, n, out.data());
    d_pos += n;
    return n;
  }
  [[nodiscard]] uint64_t consumed() const override { return d_pos; }

private:
  std::string d_data;
  size_t d_failAfter;
  size_t d_pos = 0;
};

struct Outcome
{
  ParseResult result;
  RecordingSink sink;
  Warnings warnings;
};

Outcome parseText(const std::string& xml, const Limits& limits = Limits())
{
  Outcome out;
  MemorySource source(xml);
  out.result = parseReport(source, limits, out.sink, out.warnings);
  return out;
}

Outcome parseData(const std::string& name) { return parseText(readData(name)); }

bool hasWarning(const Warnings& warnings, const std::string& part)
{
  return std::any_of(warnings.items().begin(), warnings.items().end(),
                     [&part](const std::string& w) { return w.find(part) != std::string::npos; });
}

std::string errorOf(const std::string& xml, const Limits& limits = Limits())
{
  try {
    parseText(xml, limits);
  }
  catch (const ParseError& e) {
    return e.what();
  }
  return "(no error)";
}

//! A deterministic text rendering of everything the sink got (the golden .ref format).
std::string dump(const Outcome& out)
{
  std::ostringstream os;
  const auto& md = out.sink.header.metadata;
  const auto& pp = out.sink.header.policy;
  os << "version=" << md.version << "\norg=" << md.orgName << "\nemail=" << md.email
     << "\nextra_contact_info=" << md.extraContactInfo << "\nreport_id=" << md.reportId << "\nbegin=" << md.begin
     << "\nend=" << md.end << "\ngenerator=" << md.generator << "\n";
  for (const auto& e : md.errors) {
    os << "error=" << e << "\n";
  }
  os << "domain=" << pp.domain << "\nadkim=" << pp.adkim << "\naspf=" << pp.aspf << "\np=" << pp.p << "\nsp=" << pp.sp
     << "\nnp=" << pp.np << "\npct=" << (pp.pct ? std::to_string(*pp.pct) : "-") << "\nfo=" << pp.fo
     << "\ntesting=" << pp.testing << "\ndiscovery_method=" << pp.discoveryMethod << "\n";
  for (const auto& r : out.sink.records) {
    os << "record ip=" << (r.sourceIp ? r.sourceIp->toString() : "-") << " count=" << r.count
       << " disposition=" << r.disposition << " dkim=" << r.dkim << " spf=" << r.spf << " header_from=" << r.headerFrom
       << " envelope_from=" << r.envelopeFrom << " envelope_to=" << r.envelopeTo << "\n";
    for (const auto& reason : r.reasons) {
      os << "  reason type=" << reason.type << " comment=" << reason.comment << "\n";
    }
    for (const auto& d : r.dkimResults) {
      os << "  dkim domain=" << d.domain << " selector=" << d.selector << " result=" << d.result
         << " human=" << d.humanResult << "\n";
    }
    for (const auto& s : r.spfResults) {
      os << "  spf domain=" << s.domain << " scope=" << s.scope << " result=" << s.result << " human=" << s.humanResult
         << "\n";
    }
  }
  os << "records=" << out.result.records << " messages=" << out.result.messages
     << " recovered=" << (out.result.recovered ? "yes" : "no") << "\n";
  for (const auto& w : out.warnings.items()) {
    os << "warning: " << w << "\n";
  }
  return os.str();
}

const std::string c_header = R"(<report_metadata><org_name>Example</org_name><email>a@example.net</email>
<report_id>r-1</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range></report_metadata>
<policy_published><domain>example.com</domain><p>none</p></policy_published>
)";

std::string record(const std::string& ip, const std::string& count)
{
  return "<record><row><source_ip>" + ip + "</source_ip><count>" + count +
    "</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated></row>"
    "<identifiers><header_from>example.com</header_from></identifiers>"
    "<auth_results><dkim><domain>example.com</domain><result>pass</result></dkim></auth_results></record>\n";
}

std::string report(const std::string& records) { return "<?xml version=\"1.0\"?>\n<feedback>" + c_header + records + "</feedback>\n"; }

} // namespace

BOOST_AUTO_TEST_SUITE(test_report_parser)

BOOST_AUTO_TEST_CASE(golden_files)
{
  for (const char* name : {"report-basic", "report-rfc9990", "report-prefixed", "report-quirks", "report-bad-count",
                           "report-late-header", "report-garbled", "report-truncated", "report-trailing-garbage",
                           "report-windows-1252", "report-utf16"}) {
    std::string got = dump(parseData(std::string(name) + ".xml"));
    std::string want = readData(std::string(name) + ".ref");
    BOOST_TEST(got == want, name << ": got\n"
                                 << got << "want\n"
                                 << want);
    // Regenerate with REGENERATE_REF=1 after a deliberate change (review the diff!).
    if (std::getenv("REGENERATE_REF") != nullptr && got != want) {
      std::ofstream(dataPath(std::string(name) + ".ref")) << got;
    }
  }
}

BOOST_AUTO_TEST_CASE(header_comes_once_before_records)
{
  auto out = parseData("report-basic.xml");
  BOOST_TEST(out.sink.headerCalls == 1);
  BOOST_TEST(out.sink.recordsAtHeader == 0U);
  BOOST_TEST(out.result.records == 2U);
  BOOST_TEST(out.result.messages == 5U);
  BOOST_TEST(!out.result.recovered);
  BOOST_TEST(out.warnings.empty());
}

BOOST_AUTO_TEST_CASE(stop_after_header)
{
  Outcome out;
  out.sink.acceptHeader = false;
  std::string xml = readData("report-basic.xml");
  MemorySource source(xml);
  out.result = parseReport(source, Limits(), out.sink, out.warnings);
  BOOST_TEST(out.result.stoppedAfterHeader);
  BOOST_TEST(out.sink.headerCalls == 1);
  BOOST_TEST(out.sink.records.empty());
  BOOST_TEST(out.result.records == 0U);
}

BOOST_AUTO_TEST_CASE(report_without_records)
{
  auto out = parseText(report(""));
  BOOST_TEST(out.sink.headerCalls == 1);
  BOOST_TEST(out.result.records == 0U);
}

BOOST_AUTO_TEST_CASE(records_before_header_are_held_back)
{
  auto out = parseData("report-late-header.xml");
  BOOST_TEST(out.sink.headerCalls == 1);
  BOOST_TEST(out.sink.recordsAtHeader == 0U);
  BOOST_TEST(out.result.records == 3U);
  BOOST_TEST(out.sink.header.metadata.orgName == "late.example");

  std::string many;
  for (int i = 0; i < 1001; ++i) {
    many += record("192.0.2.1", "1");
  }
  std::string got = errorOf("<feedback>" + many + c_header + "</feedback>");
  BOOST_TEST(got.find("before report_metadata/policy_published") != std::string::npos, "got: " << got);
}

BOOST_AUTO_TEST_CASE(namespaces_and_prefixes)
{
  auto bis = parseData("report-rfc9990.xml");
  BOOST_TEST(bis.sink.header.metadata.version == "2.0");
  BOOST_TEST(bis.sink.header.policy.np == "reject");
  BOOST_TEST(bis.sink.header.policy.discoveryMethod == "treewalk");
  BOOST_TEST(bis.result.messages == 5U);
  auto prefixed = parseData("report-prefixed.xml");
  BOOST_TEST(prefixed.sink.header.metadata.orgName == "AOL");
  BOOST_TEST(prefixed.result.messages == 267U);
  // <identities> (draft spelling) fills the same fields as <identifiers>.
  BOOST_REQUIRE(prefixed.sink.records.size() == 1U);
  BOOST_TEST(prefixed.sink.records[0].headerFrom == "example.com");
}

BOOST_AUTO_TEST_CASE(mixed_case_words_are_lowered)
{
  auto out = parseData("report-quirks.xml");
  BOOST_REQUIRE(out.sink.records.size() == 2U);
  BOOST_TEST(out.sink.records[0].dkim == "fail");
  BOOST_TEST(out.sink.records[0].spf == "pass");
  BOOST_TEST(out.sink.records[0].disposition == "none");
  BOOST_TEST(out.sink.header.policy.adkim == "r");
  BOOST_TEST(hasWarning(out.warnings, "mixed-case result words"));
}

BOOST_AUTO_TEST_CASE(padded_values_are_trimmed)
{
  auto out = parseData("report-quirks.xml");
  BOOST_TEST(out.sink.header.metadata.email == "noreply@example.net");
  BOOST_TEST(out.sink.header.policy.p == "none");
  BOOST_REQUIRE(out.sink.records.size() == 2U);
  BOOST_REQUIRE(out.sink.records[1].sourceIp.has_value());
  BOOST_TEST(out.sink.records[1].sourceIp->toString() == "192.0.2.200");
  BOOST_TEST(hasWarning(out.warnings, "whitespace-padded values"));
}

BOOST_AUTO_TEST_CASE(empty_org_name_is_tolerated)
{
  auto out = parseData("report-quirks.xml");
  BOOST_TEST(out.sink.header.metadata.orgName.empty());
  BOOST_TEST(hasWarning(out.warnings, "empty org_name"));
}

BOOST_AUTO_TEST_CASE(fractional_timestamps_are_truncated)
{
  auto out = parseData("report-quirks.xml");
  BOOST_TEST(out.sink.header.metadata.begin == 1700000000);
  BOOST_TEST(out.sink.header.metadata.end == 1700086399);
  BOOST_TEST(hasWarning(out.warnings, "fractional timestamps truncated"));
}

BOOST_AUTO_TEST_CASE(row_without_source_ip_is_kept)
{
  auto out = parseData("report-quirks.xml");
  BOOST_REQUIRE(out.sink.records.size() == 2U);
  BOOST_TEST(!out.sink.records[0].sourceIp.has_value());
  BOOST_TEST(out.sink.records[0].count == 4U);
  BOOST_TEST(hasWarning(out.warnings, "record without source_ip"));
}

BOOST_AUTO_TEST_CASE(unparseable_source_ip_is_kept_as_unknown)
{
  auto out = parseText(report(record("108r.166.27.220", "16")));
  BOOST_REQUIRE(out.sink.records.size() == 1U);
  BOOST_TEST(!out.sink.records[0].sourceIp.has_value());
  BOOST_TEST(out.result.messages == 16U);
  BOOST_TEST(hasWarning(out.warnings, "unparseable source_ip"));
}

BOOST_AUTO_TEST_CASE(spf_helo_without_domain_and_empty_auth_results)
{
  auto out = parseData("report-quirks.xml");
  BOOST_REQUIRE(out.sink.records.size() == 2U);
  BOOST_REQUIRE(out.sink.records[0].spfResults.size() == 1U);
  BOOST_TEST(out.sink.records[0].spfResults[0].scope == "helo");
  BOOST_TEST(out.sink.records[0].spfResults[0].domain.empty());
  BOOST_TEST(out.sink.records[0].spfResults[0].result == "softfail");
  BOOST_TEST(out.sink.records[1].dkimResults.empty());
  BOOST_TEST(hasWarning(out.warnings, "empty auth_results"));
}

BOOST_AUTO_TEST_CASE(unknown_elements_are_skipped_with_one_warning)
{
  auto out = parseData("report-quirks.xml");
  BOOST_TEST(hasWarning(out.warnings, "unknown element <surprise> ignored"));
  // RFC 9990 <extension> is skipped silently.
  auto bis = parseData("report-rfc9990.xml");
  BOOST_TEST(!hasWarning(bis.warnings, "unknown element"));
}

BOOST_AUTO_TEST_CASE(several_auth_results_are_all_kept_up_to_the_cap)
{
  auto out = parseData("report-rfc9990.xml");
  BOOST_REQUIRE(out.sink.records.size() == 1U);
  BOOST_TEST(out.sink.records[0].dkimResults.size() == 2U);
  BOOST_TEST(out.sink.records[0].spfResults.size() == 2U);
  BOOST_TEST(out.sink.records[0].reasons.size() == 1U);

  Limits limits;
  limits.maxAuthResults = 3;
  auto capped = parseText(readData("report-rfc9990.xml"), limits);
  BOOST_REQUIRE(capped.sink.records.size() == 1U);
  BOOST_TEST(capped.sink.records[0].dkimResults.size() + capped.sink.records[0].spfResults.size() == 3U);
  BOOST_TEST(hasWarning(capped.warnings, "MaxAuthResults"));
}

BOOST_AUTO_TEST_CASE(non_numeric_count_skips_the_record)
{
  auto out = parseData("report-bad-count.xml");
  BOOST_TEST(out.result.records == 1U);
  BOOST_TEST(out.result.messages == 7U);
  BOOST_TEST(hasWarning(out.warnings, "non-numeric <count>"));
  BOOST_TEST(hasWarning(out.warnings, "without <count>"));
}

BOOST_AUTO_TEST_CASE(count_above_64_bits_refuses_the_report)
{
  // 2^64: one more than fits.  Skipping the record would hide a forged report; wrapping would store 0.
  BOOST_TEST(errorOf(readData("report-count-overflow.xml")) == "record 2: message count 18446744073709551616 overflows 64 bits");
  // 2^64-1 itself is a count like any other.
  auto biggest = parseText(report(record("192.0.2.1", "18446744073709551615")));
  BOOST_TEST(biggest.result.records == 1U);
  BOOST_TEST(biggest.result.messages == UINT64_MAX);
  // The quoted number is cut short: the text is the reporter's, up to MaxTextLength bytes.
  std::string got = errorOf(report(record("192.0.2.1", std::string(3000, '9'))));
  BOOST_TEST(got.find("record 1: message count 999") == 0U, "got: " << got);
  BOOST_TEST(got.size() < 100U, "got: " << got);
  // Not all digits: still a non-numeric count, the record skipped as before.
  auto negative = parseText(report(record("192.0.2.1", "-18446744073709551616") + record("192.0.2.2", "3")));
  BOOST_TEST(negative.result.records == 1U);
  BOOST_TEST(negative.result.messages == 3U);
  BOOST_TEST(hasWarning(negative.warnings, "non-numeric <count>"));
}

BOOST_AUTO_TEST_CASE(report_total_that_would_wrap_is_refused)
{
  // 2^63 + (2^63-1) = 2^64-1 fits; the third record's 1 would wrap the total to 0.
  std::string xml = readData("report-count-overflow-sum.xml");
  MemorySource source(xml);
  RecordingSink sink;
  Warnings warnings;
  std::string got;
  try {
    parseReport(source, Limits(), sink, warnings);
  }
  catch (const ParseError& e) {
    got = e.what();
  }
  BOOST_TEST(got == "report message total overflows 64 bits at record 3");
  // The record that would wrap the total never reaches the sink.
  BOOST_TEST(sink.records.size() == 2U);

  // Without it the total is exactly 2^64-1.
  std::string fits = xml;
  fits.erase(fits.rfind("  <record>"), fits.rfind("</feedback>") - fits.rfind("  <record>"));
  auto out = parseText(fits);
  BOOST_TEST(out.result.records == 2U);
  BOOST_TEST(out.result.messages == UINT64_MAX);

  // Records held back until the header came are summed (and checked) the same way.
  std::string early = "<feedback>" + record("192.0.2.1", "18446744073709551615") + record("192.0.2.2", "1") + c_header + "</feedback>";
  BOOST_TEST(errorOf(early) == "report message total overflows 64 bits at record 2");
}

BOOST_AUTO_TEST_CASE(unusable_dates_refuse_the_report)
{
  std::string xml = report(record("192.0.2.1", "1"));
  std::string bad = xml;
  bad.replace(bad.find("1700000000"), 10, "yesterday!");
  std::string got = errorOf(bad);
  BOOST_TEST(got.find("date_range") != std::string::npos, "got: " << got);
}

BOOST_AUTO_TEST_CASE(missing_policy_domain_taken_from_header_from)
{
  // Yahoo (2015) sent reports without policy_published/domain: the rows' header_from names it.
  auto got = parseData("report-no-domain.xml");
  BOOST_TEST(got.sink.header.policy.domain == "example.com");
  BOOST_TEST(got.sink.records.size() == 1U);
  BOOST_TEST(hasWarning(got.warnings, "policy_published has no domain"));
}

BOOST_AUTO_TEST_CASE(missing_policy_domain_without_header_from_is_an_error)
{
  std::string xml = readData("report-no-domain.xml");
  xml.erase(xml.find("<header_from>example.com</header_from>"), 38);
  std::string got = errorOf(xml);
  BOOST_TEST(got == "report has no policy_published/domain");
}

BOOST_AUTO_TEST_CASE(root_must_be_feedback)
{
  std::string got;
  try {
    parseData("report-not-feedback.xml");
  }
  catch (const ParseError& e) {
    got = e.what();
  }
  BOOST_TEST(got == "not a DMARC aggregate report (root element <html>)");
}

BOOST_AUTO_TEST_CASE(other_documents_are_not_reports)
{
  // Found by fuzzing: a closed non-report root used to read as a truncated report.
  BOOST_TEST(errorOf("<html></html>") == "not a DMARC aggregate report (root element <html>)");
  BOOST_TEST(errorOf("<html>text</html>") == "not a DMARC aggregate report (root element <html>)");
  BOOST_TEST(errorOf("<html/>") == "not a DMARC aggregate report (root element <html>)");
}

BOOST_AUTO_TEST_CASE(empty_document_is_an_error)
{
  std::string got = errorOf("");
  BOOST_TEST(got == "empty document");
}

BOOST_AUTO_TEST_CASE(encodings)
{
  for (const char* name : {"report-windows-1252.xml", "report-latin1.xml", "report-utf16.xml", "report-utf8-bom.xml"}) {
    auto out = parseData(name);
    BOOST_TEST(out.sink.header.metadata.orgName == "Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale", name);
    BOOST_TEST(out.result.messages == 5U, name);
  }
}

BOOST_AUTO_TEST_CASE(whitespace_before_declaration_is_skipped)
{
  auto out = parseData("report-leading-space.xml");
  BOOST_TEST(out.result.records == 2U);
  BOOST_TEST(hasWarning(out.warnings, "whitespace before the XML declaration"));
}

BOOST_AUTO_TEST_CASE(whitespace_after_a_bom_is_skipped_too)
{
  // classify() calls a UTF-8 BOM, whitespace, then '<' XML; the parser read it as a document
  // that puts its declaration late ("XML declaration allowed only at the start").  The BOM
  // stays, the whitespace goes, also when the bytes come one at a time.
  const std::string xml = "\xef\xbb\xbf\r\n  \t" + readData("report-leading-space.xml");
  auto out = parseText(xml);
  BOOST_TEST(out.result.records == 2U);
  BOOST_TEST(hasWarning(out.warnings, "whitespace before the XML declaration"));

  class OneByteSource : public ByteSource
  {
  public:
    explicit OneByteSource(const std::string& data) :
      d_data(data) {}
    size_t read(std::span<uint8_t> out) override
    {
      if (out.empty() || d_pos >= d_data.size()) {
        return 0;
      }
      out[0] = static_cast<uint8_t>(d_data[d_pos++]);
      return 1;
    }
    [[nodiscard]] uint64_t consumed() const override { return d_pos; }

  private:
    const std::string& d_data;
    size_t d_pos = 0;
  };
  OneByteSource slow(xml);
  RecordingSink sink;
  Warnings warnings;
  BOOST_TEST(parseReport(slow, Limits(), sink, warnings).records == 2U);

  // Whitespace before a BOM, or a BOM cut short, is no such start: those bytes reach libxml2 as before.
  BOOST_CHECK_THROW(parseText("\xef\xbb \n" + readData("report-basic.xml")), ParseError);
}

BOOST_AUTO_TEST_CASE(trailing_garbage_is_not_read)
{
  auto out = parseData("report-trailing-garbage.xml");
  BOOST_TEST(out.result.records == 2U);
  BOOST_TEST(out.result.messages == 5U);
  BOOST_TEST(!out.result.recovered);
  // Garbage right after a big document: records parsed ahead by libxml2 must not be lost.
  std::string many;
  for (int i = 0; i < 300; ++i) {
    many += record("192.0.2.1", "1");
  }
  auto big = parseText(report(many) + "<<<garbage");
  BOOST_TEST(big.result.records == 300U);
}

BOOST_AUTO_TEST_CASE(damage_inside_a_record_drops_that_record_and_stops)
{
  auto out = parseData("report-garbled.xml");
  BOOST_TEST(out.result.recovered);
  BOOST_TEST(out.result.records == 1U);
  BOOST_TEST(out.result.messages == 10U);
  BOOST_TEST(hasWarning(out.warnings, "damaged XML at line"));
}

BOOST_AUTO_TEST_CASE(truncated_document_keeps_complete_records)
{
  auto out = parseData("report-truncated.xml");
  BOOST_TEST(out.result.recovered);
  BOOST_TEST(out.result.records == 2U);
  BOOST_TEST(out.result.messages == 30U);
  BOOST_TEST(hasWarning(out.warnings, "truncated"));
}

BOOST_AUTO_TEST_CASE(damage_in_the_header_is_an_error)
{
  std::string got;
  try {
    parseData("report-broken-header.xml");
  }
  catch (const ParseError& e) {
    got = e.what();
  }
  BOOST_TEST(got.find("not well-formed XML at line 5") == 0U, "got: " << got);
}

BOOST_AUTO_TEST_CASE(xxe_is_refused)
{
  std::string got;
  try {
    parseData("report-xxe.xml");
  }
  catch (const ParseError& e) {
    got = e.what();
  }
  BOOST_TEST(got == "DOCTYPE not allowed in a report");
  BOOST_TEST(got.find("root:") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(billion_laughs_is_refused)
{
  std::string got;
  try {
    parseData("report-billion-laughs.xml");
  }
  catch (const ParseError& e) {
    got = e.what();
  }
  BOOST_TEST(got == "DOCTYPE not allowed in a report");
}

BOOST_AUTO_TEST_CASE(deep_nesting_hits_the_depth_cap)
{
  std::string deep;
  for (int i = 0; i < 100; ++i) {
    deep += "<x>";
  }
  for (int i = 0; i < 100; ++i) {
    deep += "</x>";
  }
  // Inside a skipped element and inside the known structure alike.
  std::string inSkipped = report(record("192.0.2.1", "1"));
  inSkipped.insert(inSkipped.find("<report_metadata>"), deep);
  for (const std::string& xml : {inSkipped,
                                 "<feedback><report_metadata>" + deep + "</report_metadata></feedback>"}) {
    std::string got;
    try {
      parseText(xml);
    }
    catch (const LimitError& e) {
      got = e.what();
    }
    BOOST_TEST(got.find("MaxXmlDepth") != std::string::npos, "got: " << got);
  }
  Limits tight;
  tight.maxXmlDepth = 3;
  std::string got = errorOf(report(record("192.0.2.1", "1")), tight);
  BOOST_TEST(got.find("MaxXmlDepth") != std::string::npos, "got: " << got);
}

BOOST_AUTO_TEST_CASE(huge_text_hits_the_length_cap)
{
  std::string huge(100000, 'a');
  std::string xml = report(record("192.0.2.1", "1"));
  xml.replace(xml.find("Example"), 7, huge);
  std::string got = errorOf(xml);
  BOOST_TEST(got.find("MaxTextLength") != std::string::npos, "got: " << got);
  // Also inside an element that is skipped.
  std::string skipped = report("<extension>" + huge + "</extension>" + record("192.0.2.1", "1"));
  got = errorOf(skipped);
  BOOST_TEST(got.find("MaxTextLength") != std::string::npos, "got: " << got);
}

BOOST_AUTO_TEST_CASE(record_cap)
{
  Limits limits;
  limits.maxRecords = 2;
  std::string got = errorOf(report(record("192.0.2.1", "1") + record("192.0.2.2", "1") + record("192.0.2.3", "1")), limits);
  BOOST_TEST(got.find("MaxRecords") != std::string::npos, "got: " << got);
}

BOOST_AUTO_TEST_CASE(source_exception_crosses_the_c_callback_unchanged)
{
  std::string many;
  for (int i = 0; i < 200; ++i) {
    many += record("192.0.2.1", "1");
  }
  for (size_t failAfter : {size_t(0), size_t(10), size_t(20000)}) {
    FailingSource source(report(many), failAfter);
    RecordingSink sink;
    Warnings warnings;
    std::string got;
    try {
      parseReport(source, Limits(), sink, warnings);
    }
    catch (const std::runtime_error& e) {
      got = e.what();
    }
    BOOST_TEST(got == "disk on fire", "failAfter " << failAfter << " got: " << got);
  }
}

BOOST_AUTO_TEST_CASE(sink_exception_propagates)
{
  class ThrowingSink : public RecordingSink
  {
  public:
    void onRecord(const Record&) override { throw std::logic_error("sink says no"); }
  };
  std::string xml = readData("report-basic.xml");
  MemorySource source(xml);
  ThrowingSink sink;
  Warnings warnings;
  BOOST_CHECK_THROW(parseReport(source, Limits(), sink, warnings), std::logic_error);
}

BOOST_AUTO_TEST_CASE(corpus_counts_match_the_manifest)
{
  // The shared corpus is optional; make check passes CORPUS.
  const char* corpus = std::getenv("CORPUS");
  if (corpus == nullptr || !std::filesystem::exists(std::filesystem::path(corpus) / "MANIFEST.tsv")) {
    BOOST_TEST_MESSAGE("corpus not available, skipped");
    return;
  }
  std::ifstream manifest(std::filesystem::path(corpus) / "MANIFEST.tsv");
  std::string line;
  std::getline(manifest, line);
  int checked = 0;
  while (std::getline(manifest, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string field; std::getline(ss, field, '\t');) {
      f.push_back(field);
    }
    if (f.size() < 12 || f[4] != "xml" || f[10] != "yes" || f[11].find("class=broken") != std::string::npos) {
      continue;
    }
    auto out = parseText(readFile(std::filesystem::path(corpus) / "files" / f[0]));
    BOOST_TEST(std::to_string(out.result.records) == f[7], f[0]);
    BOOST_TEST(std::to_string(out.result.messages) == f[8], f[0]);
    ++checked;
  }
  BOOST_TEST(checked > 0);
}

BOOST_AUTO_TEST_CASE(dedup_key_normalises)
{
  ReportHeader a;
  a.metadata.orgName = "  Google.COM ";
  a.metadata.reportId = " <123@google.com> ";
  a.policy.domain = "Example.COM";
  a.metadata.begin = 1;
  a.metadata.end = 2;
  ReportHeader b = a;
  b.metadata.orgName = "google.com";
  b.metadata.reportId = "123@google.com";
  b.policy.domain = "example.com";
  BOOST_TEST(dedupKey(a) == dedupKey(b));
  BOOST_TEST(dedupKey(b) == std::string("google.com\x1f" "123@google.com\x1f" "example.com\x1f" "1\x1f" "2"));
  b.metadata.end = 3;
  BOOST_TEST(dedupKey(a) != dedupKey(b));
}

BOOST_AUTO_TEST_SUITE_END()
