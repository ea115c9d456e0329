/*
 * test-mime.cc - the MIME walker: multipart shapes, encodings, typos,
 * nested messages, skipped summaries, caps, summaries, decoders.
 */
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/errors.hh"
#include "collector/intake/mime.hh"
#include "collector/intake/unpack.hh"
#include "t/unit/test-util.hh"

using namespace dmarcwatch::collector;
using dmarcwatch::test::readData;

namespace
{

std::span<const uint8_t> bytes(std::string_view s)
{
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

//! bytes in base64, one line.
std::string base64Of(const std::string& data)
{
  static const char* const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < data.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(data[i]) << 16;
    if (i + 1 < data.size()) {
      v |= static_cast<uint8_t>(data[i + 1]) << 8;
    }
    if (i + 2 < data.size()) {
      v |= static_cast<uint8_t>(data[i + 2]);
    }
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < data.size() ? alphabet[(v >> 6) & 63] : '=';
    out += i + 2 < data.size() ? alphabet[v & 63] : '=';
  }
  return out;
}

struct Extracted
{
  std::vector<MailPart> parts;
  Warnings warnings;
};

Extracted extract(const std::string& message, const Limits& limits = Limits{})
{
  Extracted out;
  out.parts = extractPayloadParts(message, limits, out.warnings);
  return out;
}

//! Report ids in the XML documents of a part (after unpacking).
std::vector<std::string> reportIds(const MailPart& part)
{
  std::vector<std::string> ids;
  Warnings warnings;
  unpackPayload(bytes(part.body), Limits{}, warnings, [&](ByteSource& xml, const std::string&) {
    const std::string doc = readAll(xml, 1 << 20, "doc");
    const size_t start = doc.find("<report_id>");
    const size_t end = doc.find("</report_id>");
    ids.push_back(start == std::string::npos || end == std::string::npos ? "?" : doc.substr(start + 11, end - start - 11));
  });
  return ids;
}

std::string onlyReportId(const std::string& file)
{
  const Extracted got = extract(readData(file));
  if (got.parts.size() != 1) {
    return "parts=" + std::to_string(got.parts.size());
  }
  const auto ids = reportIds(got.parts[0]);
  return ids.size() == 1 ? ids[0] : "documents=" + std::to_string(ids.size());
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_mime)

BOOST_AUTO_TEST_CASE(base64_unpadded_odd_lines)
{
  const Extracted got = extract(readData("mime-base64-unpadded.eml"));
  BOOST_REQUIRE_EQUAL(got.parts.size(), 1U);
  BOOST_CHECK_EQUAL(got.parts[0].contentType, "application/gzip");
  BOOST_CHECK_EQUAL(got.parts[0].filename, "a.example!example.com!1700000000!1700086399.xml.gz");
  BOOST_CHECK(got.parts[0].kind == InputKind::Gzip);
  const auto ids = reportIds(got.parts[0]);
  BOOST_REQUIRE_EQUAL(ids.size(), 1U);
  BOOST_CHECK_EQUAL(ids[0], "rep-a");
  BOOST_CHECK(got.warnings.empty());
}

BOOST_AUTO_TEST_CASE(quoted_printable_xml)
{
  const Extracted got = extract(readData("mime-qp-xml.eml"));
  BOOST_REQUIRE_EQUAL(got.parts.size(), 1U);
  BOOST_CHECK_EQUAL(got.parts[0].contentType, "text/xml");
  BOOST_CHECK_EQUAL(got.parts[0].filename, "report.xml");
  BOOST_CHECK(got.parts[0].kind == InputKind::Xml);
  BOOST_CHECK(got.parts[0].body.find("<org_name>a.example</org_name>") != std::string::npos);
  BOOST_CHECK(got.parts[0].body.find('=') == got.parts[0].body.find("=\"1.0\""));
}

BOOST_AUTO_TEST_CASE(message_rfc822_nested)
{
  BOOST_CHECK_EQUAL(onlyReportId("mime-rfc822-nested.eml"), "rep-b");
}

BOOST_AUTO_TEST_CASE(declared_types_do_not_matter)
{
  BOOST_CHECK_EQUAL(onlyReportId("mime-octet-stream.eml"), "rep-b");
  BOOST_CHECK_EQUAL(onlyReportId("mime-typo-content-type.eml"), "rep-c");
  const Extracted typo = extract(readData("mime-typo-content-type.eml"));
  BOOST_REQUIRE_EQUAL(typo.parts.size(), 1U);
  BOOST_CHECK_EQUAL(typo.parts[0].contentType, "application-x-gzip");
  BOOST_CHECK_EQUAL(typo.parts[0].filename, "c.xml.gz");
}

BOOST_AUTO_TEST_CASE(single_part_gzip_body)
{
  BOOST_CHECK_EQUAL(onlyReportId("mime-single-part-gzip.eml"), "rep-a");
  const Extracted got = extract(readData("mime-single-part-gzip.eml"));
  BOOST_CHECK_EQUAL(got.parts.at(0).filename, "a.xml.gz");
}

BOOST_AUTO_TEST_CASE(html_summaries_skipped)
{
  const Extracted got = extract(readData("mime-html-summary.eml"));
  BOOST_REQUIRE_EQUAL(got.parts.size(), 1U);
  BOOST_CHECK(got.parts[0].kind == InputKind::Gzip);
  BOOST_CHECK_EQUAL(got.parts[0].filename, "a report.xml.gz");
  BOOST_CHECK(got.warnings.empty());
}

BOOST_AUTO_TEST_CASE(missing_final_boundary_tolerated)
{
  const Extracted got = extract(readData("mime-missing-final-boundary.eml"));
  BOOST_REQUIRE_EQUAL(got.parts.size(), 1U);
  BOOST_CHECK_EQUAL(reportIds(got.parts[0]).at(0), "rep-b");
  BOOST_REQUIRE_EQUAL(got.warnings.items().size(), 1U);
  BOOST_CHECK_EQUAL(got.warnings.items()[0], "mime: missing final boundary");
}

BOOST_AUTO_TEST_CASE(crlf_line_ends)
{
  BOOST_CHECK_EQUAL(onlyReportId("mime-crlf.eml"), "rep-a");
}

BOOST_AUTO_TEST_CASE(no_report_in_plain_mail)
{
  const Extracted got = extract(readData("mime-no-report.eml"));
  BOOST_CHECK(got.parts.empty());
  BOOST_CHECK(got.warnings.empty());
}

BOOST_AUTO_TEST_CASE(non_payload_attachment_warns)
{
  const std::string message =
    "From: a@b\nContent-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: application/zip; name=r.zip\n"
    "Content-Transfer-Encoding: base64\n\nAAECAwQFBgcICQ==\n--x--\n";
  const Extracted got = extract(message);
  BOOST_CHECK(got.parts.empty());
  BOOST_REQUIRE_EQUAL(got.warnings.items().size(), 1U);
  BOOST_CHECK_EQUAL(got.warnings.items()[0], "mime: attachment r.zip (application/zip) is not a report payload");
}

BOOST_AUTO_TEST_CASE(base64_without_transfer_encoding)
{
  // A sender forgot Content-Transfer-Encoding: the body is still recognised as base64.
  const std::string gz = extract(readData("mime-single-part-gzip.eml")).parts.at(0).body;
  const Extracted got = extract("From: a@b\nContent-Type: application/gzip\n\n" + base64Of(gz) + "\n");
  BOOST_REQUIRE_EQUAL(got.parts.size(), 1U);
  BOOST_CHECK(got.parts[0].body == gz);
}

BOOST_AUTO_TEST_CASE(unindented_parameter_lines_continue_a_header)
{
  // Microsoft's report mails fold Content-Type onto a line that is not indented (the
  // boundary, a part's name): MUAs read it as a continuation.  Before, the header ended there,
  // the boundary was lost and the report with it.  A missing blank line before a base64 body
  // still ends the header (base64 is not parameters).
  const std::string gz = extract(readData("mime-single-part-gzip.eml")).parts.at(0).body;
  const std::string message = "From: dmarcreport@microsoft.com\n"
                              "Subject: [Preview] Report Domain: example.com\n"
                              "Content-Type: multipart/mixed;\n"
                              "boundary=\"_000_a737a3b9-5ea5-40e8\"; report-type=dmarc\n"
                              "\n"
                              "--_000_a737a3b9-5ea5-40e8\n"
                              "Content-Type: text/html; charset=us-ascii\n\n<p>summary</p>\n"
                              "--_000_a737a3b9-5ea5-40e8\n"
                              "Content-Type: application/gzip;\n"
                              "name=\"enterprise.protection.outlook.com!example.com!1.xml.gz\"\n"
                              "Content-Transfer-Encoding: base64\n\n" +
                              base64Of(gz) + "\n--_000_a737a3b9-5ea5-40e8--\n";
  const Extracted got = extract(message);
  BOOST_REQUIRE_EQUAL(got.parts.size(), 1U);
  BOOST_CHECK(got.parts[0].body == gz);
  BOOST_CHECK_EQUAL(got.parts[0].filename, "enterprise.protection.outlook.com!example.com!1.xml.gz");
  BOOST_CHECK(got.warnings.empty());
  // No blank line after the headers, then base64 (with its padding): still the body.
  const Extracted noBlank = extract("From: a@b\nContent-Type: application/gzip;\nContent-Transfer-Encoding: base64\n" +
                                    base64Of(gz.substr(0, gz.size() - 1)) + "\n");
  BOOST_REQUIRE_EQUAL(noBlank.parts.size(), 1U);
  BOOST_CHECK(noBlank.parts[0].body == gz.substr(0, gz.size() - 1));
}

BOOST_AUTO_TEST_CASE(boundary_forms)
{
  // Unquoted boundary with a following parameter, whitespace after delimiters, and a guessed boundary.
  const std::string xml = "<?xml version=\"1.0\"?><feedback/>";
  const std::string a = "From: a@b\nContent-Type: multipart/mixed; boundary=abc; charset=x\n\n--abc  \nContent-Type: text/xml\n\n" +
    xml + "\n--abc-- \n";
  BOOST_CHECK_EQUAL(extract(a).parts.size(), 1U);
  const std::string b = "From: a@b\nContent-Type: multipart/mixed\n\n--guess\nContent-Type: text/xml\n\n" + xml + "\n--guess--\n";
  const Extracted guessed = extract(b);
  BOOST_REQUIRE_EQUAL(guessed.parts.size(), 1U);
  BOOST_CHECK(guessed.parts[0].body == xml);
  // A line that merely starts with the boundary text is not a delimiter.
  const std::string c = "From: a@b\nContent-Type: multipart/mixed; boundary=\"q\"\n\n--q\nContent-Type: text/xml\n\n" + xml +
    "\n--qq not a delimiter\n--q--\n";
  const Extracted notDelimiter = extract(c);
  BOOST_REQUIRE_EQUAL(notDelimiter.parts.size(), 1U);
  BOOST_CHECK(notDelimiter.parts[0].body == xml + "\n--qq not a delimiter");
}

BOOST_AUTO_TEST_CASE(depth_and_part_caps)
{
  // Twenty nested multiparts around one XML part.
  std::string message = "Content-Type: text/xml\n\n<feedback/>\n";
  for (int i = 0; i < 20; ++i) {
    const std::string b = "b" + std::to_string(i);
    message = "Content-Type: multipart/mixed; boundary=" + b + "\n\n--" + b + "\n" + message + "--" + b + "--\n";
  }
  message = "From: a@b\n" + message;
  Limits limits;
  limits.maxMimeDepth = 32;
  BOOST_CHECK_EQUAL(extract(message, limits).parts.size(), 1U);
  limits.maxMimeDepth = 10;
  try {
    extract(message, limits);
    BOOST_FAIL("no LimitError");
  }
  catch (const LimitError& e) {
    BOOST_CHECK_EQUAL(std::string(e.what()), "MIME nesting deeper than MaxMimeDepth (10)");
  }

  std::string many = "From: a@b\nContent-Type: multipart/mixed; boundary=m\n\n";
  for (int i = 0; i < 20; ++i) {
    many += "--m\nContent-Type: text/plain\n\nhello\n";
  }
  many += "--m--\n";
  limits.maxMimeParts = 10;
  BOOST_CHECK_THROW(extract(many, limits), LimitError);
  limits.maxMimeParts = 21;
  BOOST_CHECK(extract(many, limits).parts.empty());
}

BOOST_AUTO_TEST_CASE(summary_is_printable_and_short)
{
  const MailSummary s = summarizeMail(readData("mime-no-report.eml"));
  BOOST_CHECK_EQUAL(s.from, "\"DMARC\" <noreply@a.example>");
  BOOST_CHECK_EQUAL(s.messageId, "<id-1@a.example>");
  BOOST_CHECK_EQUAL(s.subject, "=?utf-8?B?UmVwb3J0?= folded? part");
  const MailSummary longOne = summarizeMail("Subject: " + std::string(500, 'x') + "\n\nbody");
  BOOST_CHECK_EQUAL(longOne.subject.size(), 200U);
  BOOST_CHECK(longOne.subject.ends_with("..."));
  const MailSummary typo = summarizeMail("SUBJECT: upper\nmessage-id: <a@b>\n\n");
  BOOST_CHECK_EQUAL(typo.subject, "upper");
  BOOST_CHECK_EQUAL(typo.messageId, "<a@b>");
}

BOOST_AUTO_TEST_CASE(decode_base64)
{
  BOOST_CHECK_EQUAL(decodeBase64("aGVsbG8="), "hello");
  BOOST_CHECK_EQUAL(decodeBase64("aGVsbG8"), "hello");
  BOOST_CHECK_EQUAL(decodeBase64("aGVs\r\n bG8h\n"), "hello!");
  BOOST_CHECK_EQUAL(decodeBase64("aGVsbA==aGVsbA=="), "hellhell");
  BOOST_CHECK_EQUAL(decodeBase64("a*G!V\x01sbG8"), "hello");
  BOOST_CHECK_EQUAL(decodeBase64(""), "");
  BOOST_CHECK_EQUAL(decodeBase64("===="), "");
}

BOOST_AUTO_TEST_CASE(decode_quoted_printable)
{
  BOOST_CHECK_EQUAL(decodeQuotedPrintable("a=3Db"), "a=b");
  BOOST_CHECK_EQUAL(decodeQuotedPrintable("a=3db"), "a=b");
  BOOST_CHECK_EQUAL(decodeQuotedPrintable("soft=\r\nbreak"), "softbreak");
  BOOST_CHECK_EQUAL(decodeQuotedPrintable("soft= \nbreak"), "softbreak");
  BOOST_CHECK_EQUAL(decodeQuotedPrintable("stray = sign=ZZ"), "stray = sign=ZZ");
  BOOST_CHECK_EQUAL(decodeQuotedPrintable("end="), "end");
  BOOST_CHECK_EQUAL(decodeQuotedPrintable("=4"), "=4");
}

BOOST_AUTO_TEST_CASE(hostile_messages_never_crash)
{
  // Truncations of every sample message: parts or a LimitError, nothing else.
  for (const char* file : {"mime-base64-unpadded.eml", "mime-rfc822-nested.eml", "mime-html-summary.eml", "mime-qp-xml.eml"}) {
    const std::string message = readData(file);
    for (size_t cut = 0; cut <= message.size(); cut += 3) {
      Warnings warnings;
      const auto parts = extractPayloadParts(std::string_view(message).substr(0, cut), Limits{}, warnings);
      BOOST_CHECK_LE(parts.size(), 1U);
      summarizeMail(std::string_view(message).substr(0, cut));
    }
  }
}

BOOST_AUTO_TEST_CASE(corpus_mails)
{
  // Every report mail of the corpus yields its attachment; the broken ones yield none or fail cleanly.
  const char* corpus = std::getenv("CORPUS");
  const std::filesystem::path dir = corpus != nullptr ? corpus : (dmarcwatch::test::srcDir() / ".." / "shared" / "corpus");
  if (!std::filesystem::exists(dir / "MANIFEST.tsv")) {
    BOOST_TEST_MESSAGE("corpus absent, skipped");
    return;
  }
  std::ifstream manifest(dir / "MANIFEST.tsv");
  std::string line;
  unsigned checked = 0;
  while (std::getline(manifest, line)) {
    std::vector<std::string> cols;
    std::stringstream ss(line);
    for (std::string col; std::getline(ss, col, '\t');) {
      cols.push_back(col);
    }
    if (cols.size() < 12 || cols[4] != "eml") {
      continue;
    }
    const auto path = dir / "files" / cols[0];
    if (!std::filesystem::exists(path)) {
      continue;
    }
    const std::string message = dmarcwatch::test::readFile(path);
    const bool wantPayload = cols[11].find("report-attachments=1") != std::string::npos;
    const InputKind kind = classify(message).kind;
    if (kind != InputKind::Mail && kind != InputKind::Mbox) {
      BOOST_CHECK_MESSAGE(!wantPayload, cols[0] << ": not recognised as mail");
      continue;
    }
    Warnings warnings;
    const auto parts = extractPayloadParts(message, Limits{}, warnings);
    if (wantPayload) {
      BOOST_CHECK_MESSAGE(parts.size() == 1, cols[0] << ": got " << parts.size() << " parts, want 1");
    }
    ++checked;
  }
  BOOST_CHECK_GT(checked, 20U);
}

BOOST_AUTO_TEST_SUITE_END()
