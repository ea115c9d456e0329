/*
 * test-classify.cc - what an input is: magic bytes, XML forms, HTML, mail and
 * mbox after blank lines, and the one window.
 */
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/intake/classify.hh"

#include <string>
#include <string_view>

using namespace dmarcwatch::collector;

namespace
{

InputKind kindOf(std::string_view s)
{
  return classify(s).kind;
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_classify)

BOOST_AUTO_TEST_CASE(sniff_magic_bytes)
{
  BOOST_CHECK(kindOf("\x1f\x8b\x08\x00") == InputKind::Gzip);
  BOOST_CHECK(kindOf(std::string_view("PK\x03\x04", 4)) == InputKind::Zip);
  BOOST_CHECK(kindOf(std::string_view("PK\x05\x06", 4)) == InputKind::Zip);
  BOOST_CHECK(kindOf(std::string_view("PK\x01\x02", 4)) == InputKind::Unknown);
  for (const char* zlib : {"\x78\x01", "\x78\x5e", "\x78\x9c", "\x78\xda"}) {
    BOOST_CHECK(kindOf(zlib) == InputKind::Zlib);
  }
  // 0x78 with a bad header checksum is not zlib.
  BOOST_CHECK(kindOf("\x78\x9d") == InputKind::Unknown);
  BOOST_CHECK(kindOf("x marks") == InputKind::Unknown);
  BOOST_CHECK(kindOf("") == InputKind::Unknown);
  BOOST_CHECK(kindOf("\x1f") == InputKind::Unknown);
}

BOOST_AUTO_TEST_CASE(sniff_xml_forms)
{
  BOOST_CHECK(kindOf("<?xml version=\"1.0\"?>") == InputKind::Xml);
  BOOST_CHECK(kindOf("<feedback>") == InputKind::Xml);
  BOOST_CHECK(kindOf(" \r\n\t<feedback>") == InputKind::Xml);
  BOOST_CHECK(kindOf("\xef\xbb\xbf<?xml") == InputKind::Xml);
  BOOST_CHECK(kindOf("\xef\xbb\xbf\r\n <?xml") == InputKind::Xml);
  BOOST_CHECK(kindOf(std::string_view("\xff\xfe<\0?\0", 6)) == InputKind::Xml);
  BOOST_CHECK(kindOf(std::string_view("\xfe\xff\0<\0?", 6)) == InputKind::Xml);
  BOOST_CHECK(kindOf(std::string_view("<\0?\0x\0", 6)) == InputKind::Xml);
  BOOST_CHECK(kindOf("<dmarc:feedback xmlns:dmarc=\"x\">") == InputKind::Xml);
  BOOST_CHECK(kindOf("   ") == InputKind::Unknown);
  BOOST_CHECK(kindOf("hello <b>") == InputKind::Unknown);
  BOOST_CHECK(kindOf("\xef\xbb\xbfhello") == InputKind::Unknown);
  BOOST_CHECK_EQUAL(inputKindName(InputKind::Zip), "zip");
  BOOST_CHECK_EQUAL(inputKindName(InputKind::Unknown), "unknown");
}

BOOST_AUTO_TEST_CASE(html_is_not_xml)
{
  // A mail's HTML summary starts with '<' too: the window decides, at every layer alike.
  BOOST_CHECK(kindOf("<!DOCTYPE html>\n<html><body>") == InputKind::Html);
  BOOST_CHECK(kindOf("\n  <HTML><head>") == InputKind::Html);
  BOOST_CHECK(kindOf("<div>see <html> below</div>") == InputKind::Html);
  BOOST_CHECK(kindOf("<?xml version=\"1.0\"?><feedback>") == InputKind::Xml);
  BOOST_CHECK(!isPayloadKind(InputKind::Html));
  BOOST_CHECK(isPayloadKind(InputKind::Xml));
}

BOOST_AUTO_TEST_CASE(mail_and_mbox)
{
  BOOST_CHECK(kindOf("From: a@b\r\n") == InputKind::Mail);
  BOOST_CHECK(kindOf("Received: from x\n") == InputKind::Mail);
  BOOST_CHECK(kindOf("X-Odd_Name.1 : value\n") == InputKind::Mail);
  BOOST_CHECK(kindOf("From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n") == InputKind::Mbox);
  BOOST_CHECK(kindOf("just some words\n") == InputKind::Unknown);
  BOOST_CHECK(kindOf("  Indented: no\n") == InputKind::Unknown);
  BOOST_CHECK(kindOf("\xef\xbb\xbf" "From: a@b\n") == InputKind::Unknown);

  // Blank lines before the first line are skipped; start says where that line begins.
  const Classified mail = classify(std::string_view("   \nDelivered-To: x@y\n"));
  BOOST_CHECK(mail.kind == InputKind::Mail);
  BOOST_CHECK_EQUAL(mail.start, 4U);
  const Classified mbox = classify(std::string_view("\r\n\nFrom MAILER-DAEMON Mon Jan  1 00:00:00 2024\n"));
  BOOST_CHECK(mbox.kind == InputKind::Mbox);
  BOOST_CHECK_EQUAL(mbox.start, 3U);

  BOOST_CHECK(headerFieldNameLength("Subject: x") == 7U);
  BOOST_CHECK(!headerFieldNameLength("no colon here"));
  BOOST_CHECK(!headerFieldNameLength(": empty name"));
}

BOOST_AUTO_TEST_CASE(one_window_for_every_kind)
{
  // What ends on the window's last byte is seen; a byte later it is not, whatever the kind.
  for (const std::string_view first : {"<", "From:", "From "}) {
    BOOST_TEST_CONTEXT(first)
    {
      const std::string inside = std::string(s_sniffBytes - first.size(), '\n') + std::string(first);
      const std::string outside = std::string(s_sniffBytes, '\n') + std::string(first);
      BOOST_CHECK(kindOf(inside) != InputKind::Unknown);
      BOOST_CHECK(kindOf(outside) == InputKind::Unknown);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
