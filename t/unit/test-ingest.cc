#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/intake/classify.hh"
#include "collector/intake/inflate.hh"
#include "collector/ingest/ingest.hh"
#include "t/unit/test-util.hh"
#include "t/unit/zip-writer.hh"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

using namespace dmarcwatch::collector;
using dmarcwatch::test::readData;
using dmarcwatch::test::TempDir;

namespace
{

std::span<const uint8_t> bytesOf(const std::string& s)
{
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct Expected
{
  std::string file;
  unsigned reports;
  uint64_t records;
  uint64_t messages;
};

//! t/data/samples/EXPECTED.tsv: the totals each sample must give.
std::vector<Expected> expectedSamples()
{
  std::istringstream in(readData("samples/EXPECTED.tsv"));
  std::vector<Expected> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream fields(line);
    Expected e;
    fields >> e.file >> e.reports >> e.records >> e.messages;
    out.push_back(e);
  }
  return out;
}

const char* const s_smallReport = R"(<?xml version="1.0"?>
<feedback>
  <report_metadata><org_name>unit.test</org_name><email>r@unit.test</email>
    <report_id>R-%ID%</report_id><date_range><begin>1700006400</begin><end>1700092799</end></date_range></report_metadata>
  <policy_published><domain>example.test</domain><p>none</p></policy_published>
  <record><row><source_ip>192.0.2.1</source_ip><count>5</count>
    <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated></row>
    <identifiers><header_from>example.test</header_from></identifiers>
    <auth_results><dkim><domain>example.test</domain><result>pass</result></dkim><spf><domain>example.test</domain><result>fail</result></spf></auth_results></record>
  %MORE%
</feedback>
)";

std::string smallReport(const std::string& id, const std::string& more = "")
{
  std::string xml = s_smallReport;
  xml.replace(xml.find("%ID%"), 4, id);
  xml.replace(xml.find("%MORE%"), 6, more);
  return xml;
}

//! What one entry point made of an input: a report found, or refused (and why).
std::string decision(const IngestOutcome& outcome)
{
  if (!outcome.failed()) {
    return "report";
  }
  return "refused (" + (outcome.errors.empty() ? std::string("no report") : outcome.errors.front()) + ")";
}

std::string mailWith(const std::string& payload)
{
  return "From: r@unit.test\nSubject: report\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
         "Content-Type: text/plain\n\nsummary\n--b\nContent-Type: application/octet-stream\n\n" +
         payload + "\n--b--\n";
}

const char* const s_fromLine = "From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n";

} // namespace

BOOST_AUTO_TEST_SUITE(test_ingest)

BOOST_AUTO_TEST_CASE(every_entry_point_reaches_the_same_decision)
{
  // One input, every way in: a file (the CLI in memory, and streamed), a message (deliver, the
  // milter), a part of a mail, a message of an mbox.  Each must find the report or refuse it
  // alike.  Before, the mail walker skipped any number of blank lines before a message while the
  // command line looked 4096 bytes far, so a report after 5000 blank bytes was stored by deliver
  // and refused as a file.
  const std::string report = smallReport("same");
  const std::string blank = "  \r\n\t\n";
  auto pad = [&](size_t n) {
    std::string out;
    while (out.size() < n) {
      out += blank;
    }
    out.resize(n);
    return out;
  };
  struct Case
  {
    std::string name;
    std::string input;
    bool isMail; //!< a mail (an attached .eml is no report: no mail-part and stream entries)
    bool want;
  };
  const std::vector<Case> cases = {
    {"plain XML", report, false, true},
    {"BOM before the XML", "\xef\xbb\xbf" + report, false, true},
    {"BOM, blank lines and spaces before the XML", "\xef\xbb\xbf\r\n\r\n  \t" + report, false, true},
    {"'<' on the window's last byte", pad(s_sniffBytes - 1) + report, false, true},
    {"'<' just past the window", pad(s_sniffBytes) + report, false, false},
    {"5000 blank bytes before the XML", pad(5000) + report, false, false},
    {"zlib of XML after 5000 blank bytes", deflateBytes(pad(5000) + report, 1 << 20), false, false},
    {"zlib of padded XML inside the window", deflateBytes(pad(2000) + report, 1 << 20), false, true},
    {"an HTML page", "<!DOCTYPE html>\n<html><body><p>your report</p></body></html>\n", false, false},
    {"a mail", mailWith(report), true, true},
    {"a mail after blank lines", "\n \n\r\n" + mailWith(report), true, true},
    {"a mail after 5000 blank bytes", pad(5000) + "\n" + mailWith(report), true, false},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name)
    {
      TempDir dir;
      Store store(dir.path().string(), {});
      Limits limits;
      Ingester ingester(store, limits);
      std::map<std::string, std::string> got;
      got["file"] = decision(ingester.ingestBytes(bytesOf(c.input), "file"));
      got["message (deliver, milter)"] = decision(ingester.ingestMessage(c.input, "message"));
      const std::string mboxText = s_fromLine + c.input + "\n";
      MemorySource mbox(mboxText);
      got["mbox message"] = decision(ingester.ingestMbox(mbox, "mbox"));
      if (!c.isMail) {
        got["mail part"] = decision(ingester.ingestMessage(mailWith(c.input), "mail"));
        MemorySource stream(c.input);
        got["stream"] = decision(ingester.ingestStream(stream, "stream"));
      }
      for (const auto& [entry, what] : got) {
        BOOST_CHECK_MESSAGE((what == "report") == c.want, entry << ": got " << what << ", want " << (c.want ? "report" : "refused"));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(mbox_is_an_mbox_after_blank_lines_too)
{
  // An mbox that opens with a blank line: the splitter skips it, but the command line called the
  // input one mail because it did not start with "From " (the second report was lost).
  TempDir dir;
  Store store(dir.path().string(), {});
  Limits limits;
  Ingester ingester(store, limits);
  const std::string mbox = "\n" + std::string(s_fromLine) + mailWith(smallReport("mbox-1")) + "\n" + s_fromLine +
                           mailWith(smallReport("mbox-2")) + "\n";
  auto outcome = ingester.ingestBytes(bytesOf(mbox), "lead.mbox");
  BOOST_CHECK(outcome.errors.empty());
  BOOST_CHECK_EQUAL(outcome.reports.size(), 2U);
  BOOST_REQUIRE(outcome.messages.has_value());
  BOOST_CHECK_EQUAL(*outcome.messages, 2U);
}

BOOST_AUTO_TEST_CASE(samples_give_expected_totals_and_dedup)
{
  TempDir dir;
  Store store(dir.path().string(), {});
  Limits limits;
  Ingester ingester(store, limits);
  unsigned storedTotal = 0;
  for (const auto& want : expectedSamples()) {
    auto outcome = ingester.ingestBytes(bytesOf(readData("samples/" + want.file)), want.file);
    BOOST_TEST_CONTEXT(want.file)
    {
      BOOST_CHECK(outcome.errors.empty());
      BOOST_REQUIRE_EQUAL(outcome.reports.size(), want.reports);
      uint64_t records = 0;
      uint64_t messages = 0;
      for (const auto& r : outcome.reports) {
        records += r.records;
        messages += r.messages;
        storedTotal += r.duplicate ? 0 : 1;
      }
      BOOST_CHECK_EQUAL(records, want.records);
      BOOST_CHECK_EQUAL(messages, want.messages);
    }
  }
  // The three zewaren mails carry one report: stored once.
  BOOST_CHECK_EQUAL(storedTotal, expectedSamples().size() - 2);
  BOOST_CHECK_EQUAL(store.listReports().size(), storedTotal);

  // A second pass stores nothing new.
  for (const auto& want : expectedSamples()) {
    auto outcome = ingester.ingestBytes(bytesOf(readData("samples/" + want.file)), want.file);
    for (const auto& r : outcome.reports) {
      BOOST_CHECK_MESSAGE(r.duplicate, want.file << " stored again");
    }
  }
  BOOST_CHECK_EQUAL(store.listReports().size(), storedTotal);
}

BOOST_AUTO_TEST_CASE(damaged_report_stores_nothing)
{
  // The damage comes after a complete record: whatever the recovery policy, the
  // outcome is either one clean error with nothing stored, or a recovered report.
  TempDir dir;
  Store store(dir.path().string(), {});
  Limits limits;
  Ingester ingester(store, limits);
  std::string xml = smallReport("broken", "<record><row><source_ip>192.0.2.2</source_ip><count>7</count>");
  xml.resize(xml.size() - 20); // cut inside the document
  auto outcome = ingester.ingestBytes(bytesOf(xml), "cut.xml");
  if (outcome.reports.empty()) {
    BOOST_CHECK(!outcome.errors.empty());
    BOOST_CHECK(store.listReports().empty());
  }
  else {
    BOOST_REQUIRE_EQUAL(store.listReports().size(), 1U);
    BOOST_CHECK_EQUAL(outcome.reports[0].messages, 5U); // the cut record's 7 is never guessed
  }
}

BOOST_AUTO_TEST_CASE(damaged_zip_member_stores_nothing)
{
  // A zip member whose bytes no longer match the CRC-32 the archive records: one digit of a
  // count changed.  A stored member has no other check (before, the false count was stored);
  // a deflated one inflates cleanly too.  Either way: an error naming the damage, nothing
  // stored; the undamaged copy then stores.
  TempDir dir;
  Store store(dir.path().string(), {});
  Limits limits;
  Ingester ingester(store, limits);
  const std::string good = smallReport("zip-crc");
  std::string bad = good;
  bad.replace(bad.find("<count>5</count>"), 16, "<count>9</count>");
  using dmarcwatch::test::Entry;
  using dmarcwatch::test::crcOf;
  using dmarcwatch::test::makeZip;
  using dmarcwatch::test::rawDeflate;
  for (const uint16_t method : {uint16_t{0}, uint16_t{8}}) {
    const std::string data = method == 0 ? bad : rawDeflate(bad);
    const std::string zip = makeZip({Entry{"r.xml", data, method, 0, crcOf(good)}});
    auto outcome = ingester.ingestBytes(bytesOf(zip), "damaged.zip");
    BOOST_TEST_CONTEXT("method " << method)
    {
      BOOST_CHECK(outcome.reports.empty());
      BOOST_REQUIRE(!outcome.errors.empty());
      BOOST_CHECK_MESSAGE(outcome.errors[0].find("is damaged (CRC-32") != std::string::npos, outcome.errors[0]);
      BOOST_CHECK(store.listReports().empty());
    }
  }
  const std::string zip = makeZip({Entry{"r.xml", rawDeflate(good), 8, 0, crcOf(good)}});
  auto outcome = ingester.ingestBytes(bytesOf(zip), "good.zip");
  BOOST_REQUIRE_EQUAL(outcome.reports.size(), 1U);
  BOOST_CHECK_EQUAL(outcome.reports[0].messages, 5U);
  BOOST_CHECK_EQUAL(store.listReports().size(), 1U);
  // A zip64 archive (its sizes in the zip64 records) stores like any other.
  const std::string zip64 = dmarcwatch::test::makeZip64({Entry{"r.xml", smallReport("zip64")}});
  auto outcome64 = ingester.ingestBytes(bytesOf(zip64), "zip64.zip");
  BOOST_REQUIRE_EQUAL(outcome64.reports.size(), 1U);
  BOOST_CHECK(outcome64.reports[0].status == StoreStatus::Stored);
  BOOST_CHECK_EQUAL(store.listReports().size(), 2U);
}

BOOST_AUTO_TEST_CASE(mboxcl2_stores_every_report_and_counts_messages)
{
  // mboxcl2: "From " lines in a body are not quoted, the Content-Length field says where the body
  // ends.  Before, the dated From_ line in the summary split the first mail: its report was cut
  // off from the mail's header and lost, and three messages were counted.
  auto cl2 = [](const std::string& summary, const std::string& id, const std::string& length = "") {
    const std::string body = "--b\nContent-Type: text/plain\n\n" + summary + "\n--b\nContent-Type: application/octet-stream\n\n" +
                             smallReport(id) + "\n--b--\n";
    return std::string("From r@unit.test Thu Jan  1 00:00:00 2026\nFrom: r@unit.test\nSubject: report ") + id +
           "\nContent-Type: multipart/mixed; boundary=b\nContent-Length: " +
           (length.empty() ? std::to_string(body.size()) : length) + "\n\n" + body + "\n";
  };
  const std::string summary = "Hello,\n\nFrom the desk of the postmaster:\n\nFrom MAILER-DAEMON Thu Jan  1 00:00:00 2026\n"
                              "your report is attached.";
  TempDir dir;
  Store store(dir.path().string(), {});
  Limits limits;
  Ingester ingester(store, limits);
  const std::string mbox = cl2(summary, "cl2-1") + cl2("Hello.", "cl2-2");
  auto outcome = ingester.ingestBytes(bytesOf(mbox), "cl2.mbox");
  BOOST_CHECK(outcome.errors.empty());
  BOOST_CHECK(outcome.warnings.empty());
  BOOST_CHECK_EQUAL(outcome.reports.size(), 2U);
  BOOST_REQUIRE(outcome.messages.has_value());
  BOOST_CHECK_EQUAL(*outcome.messages, 2U);

  // A Content-Length that does not fit (past the end, or not a number) falls back to From_
  // lines: the mails without From_ lines in their bodies are all read, nothing swallowed.
  for (const std::string length : {"99999", "12", "x"}) {
    BOOST_TEST_CONTEXT("Content-Length: " << length)
    {
      const std::string wrong = cl2("Hello.", "cl2-wrong-1" + length, length) + cl2("Hello.", "cl2-wrong-2" + length, length);
      auto fallen = ingester.ingestBytes(bytesOf(wrong), "wrong.mbox");
      BOOST_CHECK(fallen.errors.empty());
      BOOST_CHECK_EQUAL(fallen.reports.size(), 2U);
      BOOST_REQUIRE(fallen.messages.has_value());
      BOOST_CHECK_EQUAL(*fallen.messages, 2U);
    }
  }
}

BOOST_AUTO_TEST_CASE(xml_after_blank_padding_is_a_report_at_every_layer)
{
  // An XML report after 1,000 blank bytes: the command line's sniffing called it XML (4096-byte
  // window), the unpacker's and the mail walker's (512 bytes) "not a report".  One window now.
  TempDir dir;
  Store store(dir.path().string(), {});
  Limits limits;
  Ingester ingester(store, limits);
  const std::string padded = std::string(1000, ' ') + std::string(10, '\n') + smallReport("padded");
  auto bare = ingester.ingestBytes(bytesOf(padded), "padded.xml");
  BOOST_REQUIRE_EQUAL(bare.reports.size(), 1U);
  BOOST_CHECK(bare.errors.empty());
  const std::string zip = dmarcwatch::test::makeZip({dmarcwatch::test::Entry{"padded.xml", padded}});
  auto zipped = ingester.ingestBytes(bytesOf(zip), "padded.zip"); // read again: a duplicate
  BOOST_CHECK(zipped.errors.empty());
  BOOST_REQUIRE_EQUAL(zipped.reports.size(), 1U);
  const std::string mail = "From: r@unit.test\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
                           "Content-Type: text/xml\n\n" + padded + "\n--b--\n";
  auto mailed = ingester.ingestMessage(mail, "padded.eml");
  BOOST_CHECK(mailed.errors.empty());
  BOOST_REQUIRE_EQUAL(mailed.reports.size(), 1U);
}

BOOST_AUTO_TEST_CASE(not_a_report)
{
  TempDir dir;
  Store store(dir.path().string(), {});
  Limits limits;
  Ingester ingester(store, limits);
  auto plain = ingester.ingestBytes(bytesOf("just some text\n"), "text");
  BOOST_CHECK(plain.failed());
  BOOST_REQUIRE_EQUAL(plain.errors.size(), 1U);
  auto mail = ingester.ingestBytes(bytesOf("From: a@b.test\r\nSubject: hi\r\n\r\nhello\r\n"), "mail");
  BOOST_CHECK(mail.failed());
  BOOST_REQUIRE_EQUAL(mail.errors.size(), 1U);
  BOOST_CHECK_EQUAL(mail.errors[0], "no report attachment (gzip, zip or XML) in message");
  auto empty = ingester.ingestBytes({}, "empty");
  BOOST_CHECK(empty.failed());
  BOOST_CHECK(store.listReports().empty());
}

BOOST_AUTO_TEST_CASE(big_raw_payload_is_streamed_not_archived)
{
  TempDir dir;
  Store store(dir.path().string(), {});
  Limits limits;
  Ingester ingester(store, limits);
  std::string xml = smallReport("streamed");
  MemorySource source(xml);
  auto outcome = ingester.ingestStream(source, "stream");
  BOOST_REQUIRE_EQUAL(outcome.reports.size(), 1U);
  BOOST_CHECK_EQUAL(outcome.reports[0].messages, 5U);
  auto stored = store.listReports();
  BOOST_REQUIRE_EQUAL(stored.size(), 1U);
  BOOST_CHECK_EQUAL(stored[0].rawBytes, 0U);
  BOOST_CHECK(!outcome.reports[0].warnings.empty());

  // The same report in memory is archived and found duplicate.
  auto again = ingester.ingestBytes(bytesOf(xml), "memory");
  BOOST_REQUIRE_EQUAL(again.reports.size(), 1U);
  BOOST_CHECK(again.reports[0].duplicate);
}

BOOST_AUTO_TEST_CASE(raw_payload_archived_and_restorable)
{
  TempDir dir;
  Store store(dir.path().string(), {});
  Limits limits;
  Ingester ingester(store, limits);
  std::string xml = smallReport("archived");
  auto outcome = ingester.ingestBytes(bytesOf(xml), "archived.xml");
  BOOST_REQUIRE_EQUAL(outcome.reports.size(), 1U);
  auto raw = store.rawPayload(outcome.reports[0].sequence);
  BOOST_REQUIRE(raw.has_value());
  BOOST_CHECK_EQUAL(raw->first, "xml+zlib");
  BOOST_CHECK_EQUAL(inflateBytes(raw->second, 1 << 20), xml);
}

BOOST_AUTO_TEST_CASE(missing_policy_evaluated_gets_our_verdict)
{
  // Record 1 (an older Google report): policy_evaluated without dkim/spf, an aligned DKIM
  // pass in auth_results: counted as a pass.  Record 2: the reporter says fail although SPF
  // passed aligned: its word counts, with a warning.
  const std::string more =
    "<record><row><source_ip>192.0.2.7</source_ip><count>4</count>"
    "<policy_evaluated><disposition>none</disposition></policy_evaluated></row>"
    "<identifiers><header_from>example.test</header_from></identifiers>"
    "<auth_results><dkim><domain>mail.example.test</domain><result>pass</result></dkim>"
    "<spf><domain>bounce.esp.test</domain><result>pass</result></spf></auth_results></record>"
    "<record><row><source_ip>192.0.2.8</source_ip><count>3</count>"
    "<policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>"
    "<identifiers><header_from>example.test</header_from></identifiers>"
    "<auth_results><spf><domain>example.test</domain><result>pass</result></spf></auth_results></record>";
  TempDir dir;
  Store store(dir.path().string(), {});
  Limits limits;
  Ingester ingester(store, limits);
  auto outcome = ingester.ingestBytes(bytesOf(smallReport("verdict", more)), "verdict.xml");
  BOOST_REQUIRE(outcome.errors.empty());
  BOOST_REQUIRE_EQUAL(outcome.reports.size(), 1U);
  const auto& warnings = outcome.reports[0].warnings;
  auto has = [&warnings](const std::string& want) {
    return std::find(warnings.begin(), warnings.end(), want) != warnings.end();
  };
  BOOST_CHECK(has("verdict: policy_evaluated without dkim or spf, computed from auth_results"));
  BOOST_CHECK(has("verdict: policy_evaluated spf=fail but auth_results has an aligned pass"));

  const uint32_t day = 1700006400 / 86400;
  const auto totals = store.dayTotals("example.test", day, day);
  BOOST_REQUIRE_EQUAL(totals.size(), 1U);
  BOOST_CHECK_EQUAL(totals[0].messages, 12U);
  BOOST_CHECK_EQUAL(totals[0].dmarcPass, 9U); // 5 (reporter: dkim pass) + 4 (ours)
  BOOST_CHECK(store.verify().empty());

  // The same report again is a duplicate (the content hash is of the reporter's words, store.hh).
  auto again = ingester.ingestBytes(bytesOf(smallReport("verdict", more)), "verdict.xml");
  BOOST_REQUIRE_EQUAL(again.reports.size(), 1U);
  BOOST_CHECK(again.reports[0].duplicate);
}

BOOST_AUTO_TEST_SUITE_END()
