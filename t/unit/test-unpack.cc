/*
 * test-unpack.cc - the recursive unpacker: gzip, zlib, zip, XML encodings,
 * nesting, per-member errors, caps, error propagation.
 */
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/errors.hh"
#include "collector/intake/inflate.hh"
#include "collector/intake/unpack.hh"
#include "t/unit/test-util.hh"

#include <zlib.h>

#include <map>

using namespace dmarcwatch::collector;
using dmarcwatch::test::readData;

namespace
{

std::span<const uint8_t> bytes(std::string_view s)
{
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

//! Documents found: label -> content.
struct Found
{
  std::vector<std::pair<std::string, std::string>> documents;
  UnpackOutcome outcome;
  Warnings warnings;
};

Found unpackBytes(const std::string& payload, const Limits& limits = Limits{})
{
  Found found;
  found.outcome = unpackPayload(bytes(payload), limits, found.warnings, [&](ByteSource& xml, const std::string& label) {
    found.documents.emplace_back(label, readAll(xml, 1 << 20, "document"));
  });
  return found;
}

Found unpackStreamed(const std::string& payload, const Limits& limits = Limits{})
{
  Found found;
  MemorySource source(payload);
  found.outcome = unpackStream(source, limits, found.warnings, [&](ByteSource& xml, const std::string& label) {
    found.documents.emplace_back(label, readAll(xml, 1 << 20, "document"));
  });
  return found;
}

std::string parseErrorOf(const std::string& payload, const Limits& limits = Limits{})
{
  try {
    unpackBytes(payload, limits);
  }
  catch (const ParseError& e) {
    return e.what();
  }
  return "(no ParseError)";
}

std::string gzip(std::string_view data)
{
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

bool hasReport(const std::string& doc, const std::string& id)
{
  return doc.find("<report_id>" + id + "</report_id>") != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_unpack)

BOOST_AUTO_TEST_CASE(plain_xml_and_encodings)
{
  for (const char* file : {"unpack-utf8-bom.xml", "unpack-utf16le.xml", "unpack-utf16be.xml"}) {
    const std::string payload = readData(file);
    const Found found = unpackBytes(payload);
    BOOST_CHECK_EQUAL(found.outcome.documents, 1U);
    BOOST_REQUIRE_EQUAL(found.documents.size(), 1U);
    BOOST_CHECK_EQUAL(found.documents[0].first, "xml");
    // The visitor gets the bytes untouched (BOM included): the XML parser decodes.
    BOOST_CHECK(found.documents[0].second == payload);
  }
}

BOOST_AUTO_TEST_CASE(gzip_quirks)
{
  const Found multi = unpackBytes(readData("gzip-multi-member.xml.gz"));
  BOOST_REQUIRE_EQUAL(multi.documents.size(), 1U);
  BOOST_CHECK_EQUAL(multi.documents[0].first, "gzip");
  BOOST_CHECK(hasReport(multi.documents[0].second, "rep-a"));

  const Found garbage = unpackBytes(readData("gzip-trailing-garbage.xml.gz"));
  BOOST_REQUIRE_EQUAL(garbage.documents.size(), 1U);
  BOOST_REQUIRE_EQUAL(garbage.warnings.items().size(), 1U);
  BOOST_CHECK_EQUAL(garbage.warnings.items()[0], "gzip: 6 bytes of trailing garbage ignored");

  const Found nested = unpackBytes(readData("gzip-nested.xml.gz.gz"));
  BOOST_REQUIRE_EQUAL(nested.documents.size(), 1U);
  BOOST_CHECK_EQUAL(nested.documents[0].first, "gzip/gzip");
  BOOST_CHECK(hasReport(nested.documents[0].second, "rep-b"));
}

BOOST_AUTO_TEST_CASE(gzip_errors)
{
  BOOST_CHECK_EQUAL(parseErrorOf(readData("gzip-truncated.xml.gz")), "gzip data truncated");
  BOOST_CHECK(parseErrorOf(readData("gzip-corrupt.xml.gz")).starts_with("gzip data corrupt: "));
  BOOST_CHECK_EQUAL(parseErrorOf(readData("gzip-not-report.txt.gz")),
                    "not a report: unrecognised payload (starts with 74 68 69 73 20 69 73 20)");
  BOOST_CHECK_EQUAL(parseErrorOf(gzip("")), "empty payload inside gzip");
}

BOOST_AUTO_TEST_CASE(raw_zlib)
{
  const Found found = unpackBytes(readData("zlib-report.xml.zlib"));
  BOOST_REQUIRE_EQUAL(found.documents.size(), 1U);
  BOOST_CHECK_EQUAL(found.documents[0].first, "zlib");
  BOOST_CHECK(hasReport(found.documents[0].second, "rep-c"));
}

BOOST_AUTO_TEST_CASE(zip_members_all_visited)
{
  for (const bool streamed : {false, true}) {
    const std::string payload = readData("zip-several.zip");
    const Found found = streamed ? unpackStreamed(payload) : unpackBytes(payload);
    BOOST_CHECK_EQUAL(found.outcome.documents, 3U);
    BOOST_REQUIRE_EQUAL(found.documents.size(), 3U);
    BOOST_CHECK_EQUAL(found.documents[0].first, "zip:reports/a.xml");
    BOOST_CHECK_EQUAL(found.documents[1].first, "zip:b.xml");
    BOOST_CHECK_EQUAL(found.documents[2].first, "zip:c.xml.gz/gzip");
    BOOST_CHECK(hasReport(found.documents[0].second, "rep-a"));
    BOOST_CHECK(hasReport(found.documents[1].second, "rep-b"));
    BOOST_CHECK(hasReport(found.documents[2].second, "rep-c"));
    BOOST_CHECK(found.outcome.errors.empty());
  }
}

BOOST_AUTO_TEST_CASE(zip_empty_name_and_descriptors)
{
  const Found empty = unpackBytes(readData("zip-empty-name.zip"));
  BOOST_REQUIRE_EQUAL(empty.documents.size(), 1U);
  BOOST_CHECK_EQUAL(empty.documents[0].first, "zip:");

  const Found descriptors = unpackBytes(readData("zip-data-descriptor.zip"));
  BOOST_CHECK_EQUAL(descriptors.outcome.documents, 2U);
  const Found scanned = unpackBytes(readData("zip-no-central.zip"));
  BOOST_CHECK_EQUAL(scanned.outcome.documents, 2U);
}

BOOST_AUTO_TEST_CASE(zip_text_member_recorded_not_fatal)
{
  const Found found = unpackBytes(readData("zip-with-text-member.zip"));
  BOOST_CHECK_EQUAL(found.outcome.documents, 1U);
  BOOST_REQUIRE_EQUAL(found.outcome.errors.size(), 1U);
  BOOST_CHECK_EQUAL(found.outcome.errors[0],
                    "zip:readme.txt: not a report: unrecognised payload (starts with 48 65 6c 6c 6f 2c 20 74)");
}

BOOST_AUTO_TEST_CASE(visitor_parse_error_in_one_member)
{
  // The visitor rejects rep-b; the other members still reach it.
  const std::string payload = readData("zip-several.zip");
  Warnings warnings;
  std::vector<std::string> visited;
  const auto outcome = unpackPayload(bytes(payload), Limits{}, warnings, [&](ByteSource& xml, const std::string& label) {
    const std::string doc = readAll(xml, 1 << 20, "doc");
    if (hasReport(doc, "rep-b")) {
      throw ParseError("bad report");
    }
    visited.push_back(label);
  });
  BOOST_CHECK_EQUAL(outcome.documents, 2U);
  BOOST_CHECK_EQUAL(visited.size(), 2U);
  BOOST_REQUIRE_EQUAL(outcome.errors.size(), 1U);
  BOOST_CHECK_EQUAL(outcome.errors[0], "zip:b.xml: bad report");
}

BOOST_AUTO_TEST_CASE(visitor_other_exceptions_propagate)
{
  const std::string payload = readData("zip-several.zip");
  Warnings warnings;
  unsigned calls = 0;
  BOOST_CHECK_THROW(unpackPayload(bytes(payload), Limits{}, warnings,
                                  [&](ByteSource&, const std::string&) {
                                    ++calls;
                                    throw std::runtime_error("map full"); // as a StoreError would
                                  }),
                    std::runtime_error);
  BOOST_CHECK_EQUAL(calls, 1U);
  BOOST_CHECK_THROW(unpackPayload(bytes(readData("gzip-nested.xml.gz.gz")), Limits{}, warnings,
                                  [](ByteSource&, const std::string&) { throw std::runtime_error("io"); }),
                    std::runtime_error);
}

BOOST_AUTO_TEST_CASE(all_members_failing_is_parse_error)
{
  // Nothing usable: the member errors become the payload's error.
  const std::string payload = readData("zip-several.zip");
  Warnings warnings;
  try {
    unpackPayload(bytes(payload), Limits{}, warnings, [](ByteSource&, const std::string&) { throw ParseError("nope"); });
    BOOST_FAIL("no ParseError");
  }
  catch (const ParseError& e) {
    BOOST_CHECK_EQUAL(std::string(e.what()), "zip:reports/a.xml: nope; zip:b.xml: nope; zip:c.xml.gz: nope");
  }
}

BOOST_AUTO_TEST_CASE(empty_and_unknown_payloads)
{
  BOOST_CHECK_EQUAL(parseErrorOf(""), "empty payload");
  BOOST_CHECK_EQUAL(parseErrorOf("Hello world"), "not a report: unrecognised payload (starts with 48 65 6c 6c 6f 20 77 6f)");
  BOOST_CHECK_EQUAL(parseErrorOf("\x01"), "not a report: unrecognised payload (starts with 01)");
  BOOST_CHECK_EQUAL(parseErrorOf(readData("zip-empty.zip")), "zip: archive has no file members");
}

BOOST_AUTO_TEST_CASE(nesting_cap)
{
  std::string payload = "<feedback/>";
  for (int i = 0; i < 3; ++i) {
    payload = gzip(payload);
  }
  Limits limits;
  limits.maxNesting = 3;
  BOOST_CHECK_EQUAL(unpackBytes(payload, limits).outcome.documents, 1U);
  limits.maxNesting = 2;
  BOOST_CHECK_EQUAL(parseErrorOf(payload, limits), "containers nested deeper than MaxNesting (2)");
  BOOST_CHECK_THROW(unpackBytes(payload, limits), LimitError);
}

BOOST_AUTO_TEST_CASE(bomb_in_zip_member_recorded)
{
  // A zip whose first member is a gzip bomb: the cap stops it, the second member still counts.
  const std::string bomb = gzip(std::string(8 << 20, '<'));
  const std::string zipOfBomb = readData("zip-with-text-member.zip");
  Limits limits;
  limits.maxDecompressedBytes = 1 << 20;
  const std::string got = parseErrorOf(bomb, limits);
  BOOST_CHECK_MESSAGE(got.starts_with("decompressed size over MaxDecompressedSize"), "got: " << got);
  BOOST_CHECK_EQUAL(unpackBytes(zipOfBomb, limits).outcome.documents, 1U);

  // A zip holding only the bomb: the joined error is still a LimitError.
  const std::string zipped = readData("zip-several.zip");
  Warnings warnings;
  try {
    unpackPayload(bytes(zipped), limits, warnings, [](ByteSource&, const std::string&) { throw LimitError("cap"); });
    BOOST_FAIL("no LimitError");
  }
  catch (const LimitError& e) {
    BOOST_CHECK_EQUAL(std::string(e.what()), "zip:reports/a.xml: cap; zip:b.xml: cap; zip:c.xml.gz: cap");
  }
}

BOOST_AUTO_TEST_CASE(stream_zip_capped_by_message_size)
{
  Limits limits;
  limits.maxMessageBytes = 100;
  const std::string payload = readData("zip-several.zip");
  MemorySource source(payload);
  Warnings warnings;
  BOOST_CHECK_THROW(unpackStream(source, limits, warnings, [](ByteSource&, const std::string&) {}), LimitError);
}

BOOST_AUTO_TEST_CASE(streamed_visitor_sees_lazy_stream)
{
  // The visitor may stop reading early: nothing was inflated ahead of it.
  const std::string payload = gzip("<x>" + std::string(4 << 20, ' ') + "</x>");
  Warnings warnings;
  MemorySource source(payload);
  uint64_t seen = 0;
  const auto outcome = unpackStream(source, Limits{}, warnings, [&](ByteSource& xml, const std::string&) {
    std::array<uint8_t, 4096> buffer{};
    seen = xml.read(buffer);
  });
  BOOST_CHECK_EQUAL(outcome.documents, 1U);
  BOOST_CHECK_LE(seen, 4096U);
}

BOOST_AUTO_TEST_CASE(corpus_payloads)
{
  // Real-world report files (read-only corpus next to the tree; skipped when absent).
  const char* corpus = std::getenv("CORPUS");
  const std::filesystem::path dir = corpus != nullptr ? corpus : (dmarcwatch::test::srcDir() / ".." / "shared" / "corpus");
  if (!std::filesystem::exists(dir / "MANIFEST.tsv")) {
    BOOST_TEST_MESSAGE("corpus absent, skipped");
    return;
  }
  const std::map<std::string, unsigned> want{
    {"tierpod__dmarc-report-converter/test.xml.gz.gz", 1},
    {"kimon1230__dmarc_report_reader/multi-report.zip", 3},
    {"stuartmaxwell__dmarc-report/multiple-invalid-directory-with-valid.zip", 3},
    {"stuartmaxwell__dmarc-report/multiple_reports.zip", 3},
    {"stuartmaxwell__dmarc-report/dmarc-sample-2.xml.zip", 1},
    {"msimerson__mail-dmarc/test_dmarc.xml.zip", 1},
    {"MozaicWorks__DMARCReporting/trailing_garbage.xml.gz", 1},
    {"georgestarcher__dmarcgo/aol.com!georgestarcher.com!1342497600!1342584000.zlib", 1},
  };
  for (const auto& [name, documents] : want) {
    const auto path = dir / "files" / name;
    if (!std::filesystem::exists(path)) {
      continue;
    }
    const Found found = unpackBytes(dmarcwatch::test::readFile(path));
    BOOST_CHECK_MESSAGE(found.outcome.documents == documents, name << ": got " << found.outcome.documents << " want " << documents);
  }
  for (const char* name : {"keltia__dmarc-cat/bad.zip", "keltia__dmarc-cat/notempty.txt.gz"}) {
    const auto path = dir / "files" / name;
    if (std::filesystem::exists(path)) {
      BOOST_CHECK_THROW(unpackBytes(dmarcwatch::test::readFile(path)), ParseError);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
