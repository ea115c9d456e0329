/*
 * test-zip.cc - listZipMembers: central directory, local-header fallback,
 * skipped entries, empty names, data descriptors, caps and hostile input.
 */
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/errors.hh"
#include "collector/intake/inflate.hh"
#include "collector/intake/zip.hh"
#include "t/unit/test-util.hh"
#include "t/unit/zip-writer.hh"

#include <zlib.h>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

namespace
{

std::span<const uint8_t> bytes(const std::string& s)
{
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

//! The member's content, inflated when deflated.
std::string content(const ZipMember& member)
{
  MemorySource raw(member.data);
  if (member.method == 0) {
    return readAll(raw, 1 << 20, "member");
  }
  Warnings warnings;
  const Limits limits; // the source keeps a reference: no temporary
  InflateSource inflated(raw, CompressionFormat::RawDeflate, limits, warnings);
  return readAll(inflated, 1 << 20, "member");
}

std::vector<std::string> names(const std::vector<ZipMember>& members)
{
  std::vector<std::string> out;
  for (const auto& m : members) {
    out.push_back(m.name);
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_zip)

BOOST_AUTO_TEST_CASE(several_members_dirs_and_macosx)
{
  const std::string archive = readData("zip-several.zip");
  Warnings warnings;
  const auto members = listZipMembers(bytes(archive), Limits{}, warnings);
  const std::vector<std::string> want{"reports/a.xml", "b.xml", "c.xml.gz"};
  const auto got = names(members);
  BOOST_CHECK_EQUAL_COLLECTIONS(got.begin(), got.end(), want.begin(), want.end());
  BOOST_REQUIRE_EQUAL(members.size(), 3U);
  BOOST_CHECK_EQUAL(members[0].method, 8);
  BOOST_CHECK_EQUAL(members[1].method, 0);
  BOOST_CHECK(content(members[0]).find("<report_id>rep-a</report_id>") != std::string::npos);
  BOOST_CHECK(content(members[1]).find("<report_id>rep-b</report_id>") != std::string::npos);
  BOOST_CHECK_EQUAL(members[1].uncompressedSize, content(members[1]).size());
  BOOST_CHECK(warnings.empty());
}

BOOST_AUTO_TEST_CASE(empty_name_member_kept)
{
  const std::string archive = readData("zip-empty-name.zip");
  Warnings warnings;
  const auto members = listZipMembers(bytes(archive), Limits{}, warnings);
  BOOST_REQUIRE_EQUAL(members.size(), 1U);
  BOOST_CHECK_EQUAL(members[0].name, "");
  BOOST_CHECK(content(members[0]).starts_with("<?xml"));
}

BOOST_AUTO_TEST_CASE(data_descriptors)
{
  const std::string archive = readData("zip-data-descriptor.zip");
  Warnings warnings;
  const auto members = listZipMembers(bytes(archive), Limits{}, warnings);
  BOOST_REQUIRE_EQUAL(members.size(), 2U);
  BOOST_CHECK(content(members[0]).find("rep-a") != std::string::npos);
  BOOST_CHECK(content(members[1]).find("rep-b") != std::string::npos);
  BOOST_CHECK(warnings.empty());
}

BOOST_AUTO_TEST_CASE(no_central_directory_scans_local_headers)
{
  const std::string archive = readData("zip-no-central.zip");
  Warnings warnings;
  const auto members = listZipMembers(bytes(archive), Limits{}, warnings);
  BOOST_REQUIRE_EQUAL(members.size(), 2U);
  BOOST_CHECK_EQUAL(members[0].name, "a.xml");
  BOOST_CHECK(content(members[1]).ends_with("</feedback>\n"));
  BOOST_REQUIRE_EQUAL(warnings.items().size(), 1U);
  BOOST_CHECK_EQUAL(warnings.items()[0], "zip: no central directory, local headers scanned");
}

BOOST_AUTO_TEST_CASE(data_before_archive)
{
  const std::string archive = readData("zip-prefixed.zip");
  Warnings warnings;
  const auto members = listZipMembers(bytes(archive), Limits{}, warnings);
  BOOST_REQUIRE_EQUAL(members.size(), 1U);
  BOOST_CHECK(content(members[0]).find("rep-a") != std::string::npos);
  BOOST_REQUIRE_EQUAL(warnings.items().size(), 1U);
  BOOST_CHECK_EQUAL(warnings.items()[0], "zip: 15 bytes before the archive ignored");
}

BOOST_AUTO_TEST_CASE(empty_and_truncated_archives)
{
  Warnings warnings;
  BOOST_CHECK(listZipMembers(bytes(readData("zip-empty.zip")), Limits{}, warnings).empty());
  BOOST_CHECK(listZipMembers(bytes(readData("zip-truncated.zip")), Limits{}, warnings).empty());
  BOOST_CHECK_THROW(listZipMembers(bytes(std::string("not a zip at all, just text")), Limits{}, warnings), ParseError);
  BOOST_CHECK_THROW(listZipMembers(bytes(std::string()), Limits{}, warnings), ParseError);
}

BOOST_AUTO_TEST_CASE(appledouble_and_directories_skipped)
{
  const std::string archive = makeZip({{"dir/", ""},
                                       {"__MACOSX/x.xml", "junk"},
                                       {"sub/._x.xml", "junk"},
                                       {"sub/x.xml", "<a/>"},
                                       {"", "<b/>"}});
  Warnings warnings;
  const auto got = names(listZipMembers(bytes(archive), Limits{}, warnings));
  const std::vector<std::string> want{"sub/x.xml", ""};
  BOOST_CHECK_EQUAL_COLLECTIONS(got.begin(), got.end(), want.begin(), want.end());
}

BOOST_AUTO_TEST_CASE(unsupported_method_and_encryption_skipped)
{
  const std::string archive = makeZip({{"bz.xml", "BZh9", 12, 0}, {"secret.xml", "xxxx", 0, 1}, {"ok.xml", "<ok/>"}});
  Warnings warnings;
  const auto members = listZipMembers(bytes(archive), Limits{}, warnings);
  BOOST_REQUIRE_EQUAL(members.size(), 1U);
  BOOST_CHECK_EQUAL(members[0].name, "ok.xml");
  BOOST_REQUIRE_EQUAL(warnings.items().size(), 2U);
  BOOST_CHECK_EQUAL(warnings.items()[0], "zip: member bz.xml uses unsupported method 12, skipped");
  BOOST_CHECK_EQUAL(warnings.items()[1], "zip: encrypted member secret.xml skipped");
}

BOOST_AUTO_TEST_CASE(member_cap)
{
  std::vector<Entry> entries;
  for (int i = 0; i < 5; ++i) {
    entries.push_back({"m" + std::to_string(i) + ".xml", "<x/>"});
  }
  const std::string archive = makeZip(entries);
  Limits limits;
  limits.maxArchiveMembers = 5;
  Warnings warnings;
  BOOST_CHECK_EQUAL(listZipMembers(bytes(archive), limits, warnings).size(), 5U);
  limits.maxArchiveMembers = 4;
  try {
    listZipMembers(bytes(archive), limits, warnings);
    BOOST_FAIL("no LimitError");
  }
  catch (const LimitError& e) {
    BOOST_CHECK_EQUAL(std::string(e.what()), "zip: more members than MaxArchiveMembers (4)");
  }
}

BOOST_AUTO_TEST_CASE(zip64_archives_are_read)
{
  // Sizes, offsets and counts in the zip64 records (as tools write archives over 4 GiB or
  // 65535 members); the central directory, the local-header scan, and data prepended.
  const std::string archive = makeZip64({{"a.xml", "<a/>"}, {"dir/b.xml", "<b>x</b>"}});
  Warnings warnings;
  auto members = listZipMembers(bytes(archive), Limits{}, warnings);
  BOOST_REQUIRE_EQUAL(members.size(), 2U);
  BOOST_CHECK_EQUAL(members[0].name, "a.xml");
  BOOST_CHECK_EQUAL(content(members[0]), "<a/>");
  BOOST_CHECK_EQUAL(content(members[1]), "<b>x</b>");
  BOOST_CHECK_EQUAL(members[1].uncompressedSize, 8U);
  BOOST_CHECK(warnings.empty());
  // Prepended data: the records are found where they moved to.
  const std::string prefixed = "junk before the archive" + archive;
  Warnings shifted;
  auto moved = listZipMembers(bytes(prefixed), Limits{}, shifted);
  BOOST_REQUIRE_EQUAL(moved.size(), 2U);
  BOOST_CHECK_EQUAL(content(moved[1]), "<b>x</b>");
  // No central directory: the local headers' zip64 sizes.
  const std::string localOnly = archive.substr(0, archive.find("PK\x01\x02"));
  Warnings scanned;
  auto local = listZipMembers(bytes(localOnly), Limits{}, scanned);
  BOOST_REQUIRE_EQUAL(local.size(), 2U);
  BOOST_CHECK_EQUAL(content(local[0]), "<a/>");
  // zip64 markers without the zip64 records: an error, not a guess.
  std::string broken = makeZip({{"a.xml", "<a/>"}});
  const size_t end = broken.rfind("PK\x05\x06");
  broken[end + 8] = broken[end + 9] = broken[end + 10] = broken[end + 11] = '\xff';
  Warnings none;
  try {
    listZipMembers(bytes(broken), Limits{}, none);
    BOOST_FAIL("no ParseError");
  }
  catch (const ParseError& e) {
    BOOST_CHECK_EQUAL(std::string(e.what()), "zip: zip64 sizes without a zip64 end record");
  }
}

BOOST_AUTO_TEST_CASE(lying_sizes_are_bounded)
{
  // A directory entry whose compressed size runs past the end: skipped, no read out of bounds.
  std::string archive = makeZip({{"a.xml", "<a/>"}, {"b.xml", "<b/>"}});
  const size_t cd = archive.find("PK\x01\x02");
  archive[cd + 20] = '\xff';
  archive[cd + 21] = '\xff';
  Warnings warnings;
  const auto members = listZipMembers(bytes(archive), Limits{}, warnings);
  BOOST_REQUIRE_EQUAL(members.size(), 1U);
  BOOST_CHECK_EQUAL(members[0].name, "b.xml");
  BOOST_CHECK_EQUAL(warnings.items().size(), 1U);
}

BOOST_AUTO_TEST_CASE(many_sizeless_local_headers_bounded)
{
  // 20000 local headers with deferred sizes and no descriptors: the scan gives up after a bounded number.
  std::string header;
  put32(header, 0x04034b50);
  put16(header, 20);
  put16(header, 8);
  put16(header, 8);
  header += std::string(16, '\0');
  put16(header, 1);
  put16(header, 0);
  header += "x";
  std::string archive;
  for (int i = 0; i < 20000; ++i) {
    archive += header + "PK\x07\x08";
  }
  Warnings warnings;
  BOOST_CHECK(listZipMembers(bytes(archive), Limits{}, warnings).empty());
  const auto& items = warnings.items();
  BOOST_CHECK(std::find(items.begin(), items.end(), "zip: too many local headers, scan stopped") != items.end());
}

BOOST_AUTO_TEST_CASE(hostile_mutations_never_crash)
{
  // Every truncation and many byte flips of real archives: a list or a ParseError, nothing else.
  for (const char* file : {"zip-several.zip", "zip-data-descriptor.zip", "zip-no-central.zip", "zip-empty-name.zip"}) {
    const std::string archive = readData(file);
    unsigned outcomes = 0;
    for (size_t cut = 0; cut <= archive.size(); ++cut) {
      Warnings warnings;
      try {
        for (const auto& m : listZipMembers(bytes(archive.substr(0, cut)), Limits{}, warnings)) {
          BOOST_CHECK_LE(m.data.size(), cut);
        }
      }
      catch (const ParseError&) {
      }
      ++outcomes;
    }
    for (size_t pos = 0; pos < archive.size(); ++pos) {
      for (const uint8_t value : {0x00, 0xff, 0x7f}) {
        std::string mutated = archive;
        mutated[pos] = static_cast<char>(value);
        Warnings warnings;
        try {
          listZipMembers(bytes(mutated), Limits{}, warnings);
        }
        catch (const ParseError&) {
        }
        ++outcomes;
      }
    }
    BOOST_CHECK_EQUAL(outcomes, archive.size() + 1 + archive.size() * 3);
  }
}

BOOST_AUTO_TEST_SUITE_END()
