/*
 * test-classify.cc - what an input is: magic bytes, XML forms.
 */
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/intake/classify.hh"

#include <string_view>

using namespace dmarcwatch::collector;

namespace
{

PayloadKind sniff(std::string_view s)
{
  return sniffPayload({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_classify)

BOOST_AUTO_TEST_CASE(sniff_magic_bytes)
{
  BOOST_CHECK(sniff("\x1f\x8b\x08\x00") == PayloadKind::Gzip);
  BOOST_CHECK(sniff(std::string_view("PK\x03\x04", 4)) == PayloadKind::Zip);
  BOOST_CHECK(sniff(std::string_view("PK\x05\x06", 4)) == PayloadKind::Zip);
  BOOST_CHECK(sniff(std::string_view("PK\x01\x02", 4)) == PayloadKind::Unknown);
  for (const char* zlib : {"\x78\x01", "\x78\x5e", "\x78\x9c", "\x78\xda"}) {
    BOOST_CHECK(sniff(zlib) == PayloadKind::Zlib);
  }
  // 0x78 with a bad header checksum is not zlib.
  BOOST_CHECK(sniff("\x78\x9d") == PayloadKind::Unknown);
  BOOST_CHECK(sniff("x marks") == PayloadKind::Unknown);
  BOOST_CHECK(sniff("") == PayloadKind::Unknown);
  BOOST_CHECK(sniff("\x1f") == PayloadKind::Unknown);
}

BOOST_AUTO_TEST_CASE(sniff_xml_forms)
{
  BOOST_CHECK(sniff("<?xml version=\"1.0\"?>") == PayloadKind::Xml);
  BOOST_CHECK(sniff("<feedback>") == PayloadKind::Xml);
  BOOST_CHECK(sniff(" \r\n\t<feedback>") == PayloadKind::Xml);
  BOOST_CHECK(sniff("\xef\xbb\xbf<?xml") == PayloadKind::Xml);
  BOOST_CHECK(sniff("\xef\xbb\xbf\r\n <?xml") == PayloadKind::Xml);
  BOOST_CHECK(sniff(std::string_view("\xff\xfe<\0?\0", 6)) == PayloadKind::Xml);
  BOOST_CHECK(sniff(std::string_view("\xfe\xff\0<\0?", 6)) == PayloadKind::Xml);
  BOOST_CHECK(sniff(std::string_view("<\0?\0x\0", 6)) == PayloadKind::Xml);
  BOOST_CHECK(sniff("   ") == PayloadKind::Unknown);
  BOOST_CHECK(sniff("hello <b>") == PayloadKind::Unknown);
  BOOST_CHECK(sniff("\xef\xbb\xbfhello") == PayloadKind::Unknown);
  BOOST_CHECK_EQUAL(payloadKindName(PayloadKind::Zip), "zip");
  BOOST_CHECK_EQUAL(payloadKindName(PayloadKind::Unknown), "unknown");
}

BOOST_AUTO_TEST_SUITE_END()
