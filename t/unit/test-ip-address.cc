/*
 * test-ip-address.cc - IpAddress parsing and canonical printing.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/ip-address.hh"

using namespace dmarcwatch::collector;

BOOST_AUTO_TEST_SUITE(test_ip_address)

BOOST_AUTO_TEST_CASE(v4_is_mapped_and_prints_dotted)
{
  auto got = IpAddress::parse("192.0.2.1");
  BOOST_REQUIRE(got.has_value());
  BOOST_TEST(got->isV4());
  const std::array<uint8_t, 16> want{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
  BOOST_TEST(got->bytes == want);
  BOOST_TEST(got->toString() == "192.0.2.1");
}

BOOST_AUTO_TEST_CASE(loopback_addresses)
{
  BOOST_TEST(IpAddress::parse("127.0.0.1")->isLoopback());
  BOOST_TEST(IpAddress::parse("127.255.0.9")->isLoopback());
  BOOST_TEST(IpAddress::parse("::1")->isLoopback());
  BOOST_TEST(!IpAddress::parse("128.0.0.1")->isLoopback());
  BOOST_TEST(!IpAddress::parse("::2")->isLoopback());
  BOOST_TEST(!IpAddress::parse("::ffff:10.0.0.1")->isLoopback());
}

BOOST_AUTO_TEST_CASE(v6_prints_rfc5952)
{
  auto got = IpAddress::parse("2001:0DB8:0000:0000:0000:0000:0000:0001");
  BOOST_REQUIRE(got.has_value());
  BOOST_TEST(!got->isV4());
  BOOST_TEST(got->toString() == "2001:db8::1");
}

BOOST_AUTO_TEST_CASE(v4_mapped_v6_text_equals_v4)
{
  auto got = IpAddress::parse("::ffff:192.0.2.1");
  auto want = IpAddress::parse("192.0.2.1");
  BOOST_REQUIRE(got.has_value());
  BOOST_REQUIRE(want.has_value());
  BOOST_TEST((*got == *want));
  BOOST_TEST(got->toString() == "192.0.2.1");
}

BOOST_AUTO_TEST_CASE(garbage_is_refused)
{
  for (const char* text : {"", "108r.166.27.220", "not-an-ip-address", "1.2.3", "1.2.3.4.5", "256.1.1.1",
                           " 192.0.2.1", "192.0.2.1 ", "[2001:db8::1]", "fe80::1%eth0", "01.2.3.4"}) {
    auto got = IpAddress::parse(text);
    BOOST_TEST(!got.has_value(), "parse(\"" << text << "\") should fail, got " << (got ? got->toString() : ""));
  }
  BOOST_TEST(!IpAddress::parse(std::string_view("1.2.3.4\0", 8)).has_value());
}

BOOST_AUTO_TEST_CASE(ordering_is_bytewise)
{
  auto a = IpAddress::parse("10.0.0.1");
  auto b = IpAddress::parse("10.0.0.2");
  auto c = IpAddress::parse("2001:db8::1");
  BOOST_REQUIRE(a && b && c);
  BOOST_TEST((*a < *b));
  BOOST_TEST((*a < *c)); // ::ffff:0:0/96 starts with zero bytes, 2001:db8:: does not
}

BOOST_AUTO_TEST_SUITE_END()
