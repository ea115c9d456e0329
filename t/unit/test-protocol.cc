// test-protocol.cc - milter/protocol.cc: packet framing, the decoders for the
// MTA's commands (good, truncated and malformed data) and the exact bytes of
// each reply encoder, written out by hand from the milter protocol (version 6).
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "milter/protocol.hh"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace dmarcwatch::milter::protocol;

namespace
{

//! A byte string from a literal that may hold NULs (the literal's own terminator is left out).
template <size_t N>
std::string bytes(const char (&text)[N])
{
  return {text, N - 1};
}

//! A 32-bit big-endian length field.
std::string lengthField(uint32_t length)
{
  return {static_cast<char>(length >> 24), static_cast<char>((length >> 16) & 0xff),
          static_cast<char>((length >> 8) & 0xff), static_cast<char>(length & 0xff)};
}

std::vector<std::string> asStrings(const std::vector<std::string_view>& views)
{
  return {views.begin(), views.end()};
}

void checkStrings(const std::vector<std::string_view>& got, const std::vector<std::string>& want)
{
  std::vector<std::string> gotStrings = asStrings(got);
  BOOST_CHECK_EQUAL_COLLECTIONS(gotStrings.begin(), gotStrings.end(), want.begin(), want.end());
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_protocol)

// ------------------------------------------------------------------ framing

BOOST_AUTO_TEST_CASE(next_packet_waits_for_the_length_and_the_body)
{
  size_t consumed = 99;
  BOOST_CHECK(!nextPacket("", consumed));
  BOOST_CHECK_EQUAL(consumed, 0U);
  consumed = 99;
  BOOST_CHECK(!nextPacket(bytes("\0\0\0"), consumed)); // length incomplete
  BOOST_CHECK_EQUAL(consumed, 0U);
  consumed = 99;
  BOOST_CHECK(!nextPacket(bytes("\0\0\0\x05" "Bab"), consumed)); // 3 of 5 bytes
  BOOST_CHECK_EQUAL(consumed, 0U);
  BOOST_CHECK(!nextPacket(bytes("\0\0\0\x01"), consumed)); // the letter itself missing
  BOOST_CHECK_EQUAL(consumed, 0U);
}

BOOST_AUTO_TEST_CASE(next_packet_takes_an_exact_packet)
{
  std::string buffer = bytes("\0\0\0\x05" "Babcd");
  size_t consumed = 0;
  std::optional<Packet> got = nextPacket(buffer, consumed);
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(got->command, 'B');
  BOOST_CHECK_EQUAL(got->data, "abcd");
  BOOST_CHECK_EQUAL(consumed, buffer.size());
  // The data is a view into the caller's buffer, not a copy.
  BOOST_CHECK(got->data.data() == buffer.data() + 5);

  // A letter alone: empty data.
  const std::string quit = bytes("\0\0\0\x01" "Q");
  got = nextPacket(quit, consumed);
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(got->command, 'Q');
  BOOST_CHECK(got->data.empty());
  BOOST_CHECK_EQUAL(consumed, 5U);
}

BOOST_AUTO_TEST_CASE(next_packet_takes_back_to_back_packets_one_at_a_time)
{
  std::string buffer = bytes("\0\0\0\x03" "Lx\0" "\0\0\0\x01" "N" "\0\0");
  size_t consumed = 0;
  std::optional<Packet> first = nextPacket(buffer, consumed);
  BOOST_REQUIRE(first);
  BOOST_CHECK_EQUAL(first->command, 'L');
  BOOST_CHECK_EQUAL(first->data, bytes("x\0"));
  BOOST_CHECK_EQUAL(consumed, 7U);

  std::string_view rest = std::string_view(buffer).substr(consumed);
  std::optional<Packet> second = nextPacket(rest, consumed);
  BOOST_REQUIRE(second);
  BOOST_CHECK_EQUAL(second->command, 'N');
  BOOST_CHECK(second->data.empty());
  BOOST_CHECK_EQUAL(consumed, 5U);

  // What is left is the start of a third packet: incomplete, not an error.
  rest = rest.substr(consumed);
  BOOST_CHECK_EQUAL(rest.size(), 2U);
  BOOST_CHECK(!nextPacket(rest, consumed));
  BOOST_CHECK_EQUAL(consumed, 0U);
}

BOOST_AUTO_TEST_CASE(next_packet_rejects_length_zero_and_lengths_above_the_maximum)
{
  size_t consumed = 0;
  BOOST_CHECK_THROW(nextPacket(bytes("\0\0\0\0"), consumed), ProtocolError);
  BOOST_CHECK_THROW(nextPacket(bytes("\0\0\0\0" "Qmore"), consumed), ProtocolError);
  BOOST_CHECK_THROW(nextPacket(lengthField(static_cast<uint32_t>(s_maxPacket) + 1) + "B", consumed), ProtocolError);
  BOOST_CHECK_THROW(nextPacket(bytes("\xff\xff\xff\xff"), consumed), ProtocolError);
  // The judgement needs only the length field: no waiting for a body that would not fit.
  BOOST_CHECK_THROW(nextPacket(bytes("\x80\0\0\0"), consumed), ProtocolError);

  // The largest packet allowed is merely incomplete until all of it is there.
  std::string largest = lengthField(static_cast<uint32_t>(s_maxPacket)) + "B";
  BOOST_CHECK(!nextPacket(largest, consumed));
  largest.resize(4 + s_maxPacket, 'x');
  std::optional<Packet> got = nextPacket(largest, consumed);
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(got->data.size(), s_maxPacket - 1);
  BOOST_CHECK_EQUAL(consumed, 4 + s_maxPacket);
}

// ----------------------------------------------------------------- decoders

BOOST_AUTO_TEST_CASE(parse_negotiation_reads_three_big_endian_words)
{
  Negotiation got = parseNegotiation(bytes("\0\0\0\x06" "\0\0\x01\xff" "\0\x1f\xff\xff"));
  BOOST_CHECK_EQUAL(got.version, 6U);
  BOOST_CHECK_EQUAL(got.actions, 0x1FFU);
  BOOST_CHECK_EQUAL(got.protocol, 0x1FFFFFU);
  // Bytes after the three words (later protocol versions) are ignored.
  got = parseNegotiation(bytes("\0\0\0\x02" "\0\0\0\x1f" "\0\0\0\x7f" "extra"));
  BOOST_CHECK_EQUAL(got.version, 2U);
  BOOST_CHECK_EQUAL(got.actions, 0x1FU);
  BOOST_CHECK_EQUAL(got.protocol, 0x7FU);
}

BOOST_AUTO_TEST_CASE(parse_negotiation_rejects_less_than_twelve_bytes)
{
  BOOST_CHECK_THROW(parseNegotiation(""), ProtocolError);
  BOOST_CHECK_THROW(parseNegotiation(bytes("\0\0\0\x06" "\0\0\x01\xff" "\0\x1f\xff")), ProtocolError);
}

BOOST_AUTO_TEST_CASE(split_strings_cuts_at_each_nul)
{
  checkStrings(splitStrings(""), {});
  checkStrings(splitStrings(bytes("a\0")), {"a"});
  checkStrings(splitStrings(bytes("<a@b>\0SIZE=10\0")), {"<a@b>", "SIZE=10"});
  checkStrings(splitStrings(bytes("a\0\0b\0")), {"a", "", "b"});
  checkStrings(splitStrings(bytes("\0")), {""});
  // The last string may lack its NUL.
  checkStrings(splitStrings(bytes("a\0tail")), {"a", "tail"});
  checkStrings(splitStrings("tail"), {"tail"});
}

BOOST_AUTO_TEST_CASE(parse_macros_reads_the_letter_and_name_value_pairs)
{
  // The decoders return views into their input: keep it alive.
  const std::string data = bytes("Mi\0" "4XyZ\0" "{mail_addr}\0" "a@b.test\0");
  Macros got = parseMacros(data);
  BOOST_CHECK_EQUAL(got.forCommand, 'M');
  BOOST_REQUIRE_EQUAL(got.values.size(), 2U);
  BOOST_CHECK_EQUAL(got.values[0].first, "i");
  BOOST_CHECK_EQUAL(got.values[0].second, "4XyZ");
  BOOST_CHECK_EQUAL(got.values[1].first, "{mail_addr}");
  BOOST_CHECK_EQUAL(got.values[1].second, "a@b.test");

  // An empty value is a value.
  const std::string emptyValue = bytes("Ci\0\0");
  got = parseMacros(emptyValue);
  BOOST_CHECK_EQUAL(got.forCommand, 'C');
  BOOST_REQUIRE_EQUAL(got.values.size(), 1U);
  BOOST_CHECK_EQUAL(got.values[0].first, "i");
  BOOST_CHECK_EQUAL(got.values[0].second, "");

  // The letter alone: no macros.
  got = parseMacros("T");
  BOOST_CHECK_EQUAL(got.forCommand, 'T');
  BOOST_CHECK(got.values.empty());
}

BOOST_AUTO_TEST_CASE(parse_macros_drops_an_odd_trailing_name)
{
  const std::string data = bytes("Ei\0" "Q1\0" "j\0");
  Macros got = parseMacros(data);
  BOOST_CHECK_EQUAL(got.forCommand, 'E');
  BOOST_REQUIRE_EQUAL(got.values.size(), 1U);
  BOOST_CHECK_EQUAL(got.values[0].first, "i");
  BOOST_CHECK_EQUAL(got.values[0].second, "Q1");
  got = parseMacros(bytes("Ej"));
  BOOST_CHECK(got.values.empty());
}

BOOST_AUTO_TEST_CASE(parse_macros_rejects_an_empty_packet)
{
  BOOST_CHECK_THROW(parseMacros(""), ProtocolError);
}

BOOST_AUTO_TEST_CASE(parse_connect_unknown_family_has_no_port_or_address)
{
  const std::string data = bytes("unknown\0U");
  ConnectInfo got = parseConnect(data);
  BOOST_CHECK_EQUAL(got.hostname, "unknown");
  BOOST_CHECK_EQUAL(got.family, 'U');
  BOOST_CHECK_EQUAL(got.port, 0U);
  BOOST_CHECK(got.address.empty());
  // Whatever follows 'U' is not read.
  got = parseConnect(bytes("h\0Ugarbage"));
  BOOST_CHECK_EQUAL(got.family, 'U');
  BOOST_CHECK(got.address.empty());
}

BOOST_AUTO_TEST_CASE(parse_connect_ipv4_and_ipv6_read_port_and_address)
{
  const std::string ipv4 = bytes("mail.example.test\0" "4" "\x00\x19" "192.0.2.1\0");
  ConnectInfo got = parseConnect(ipv4);
  BOOST_CHECK_EQUAL(got.hostname, "mail.example.test");
  BOOST_CHECK_EQUAL(got.family, '4');
  BOOST_CHECK_EQUAL(got.port, 25U);
  BOOST_CHECK_EQUAL(got.address, "192.0.2.1");

  // The port is big-endian (50000 = 0xC350).
  const std::string ipv6 = bytes("[2001:db8::1]\0" "6" "\xc3\x50" "IPv6:2001:db8::1\0");
  got = parseConnect(ipv6);
  BOOST_CHECK_EQUAL(got.family, '6');
  BOOST_CHECK_EQUAL(got.port, 50000U);
  BOOST_CHECK_EQUAL(got.address, "IPv6:2001:db8::1");

  // An address without its NUL runs to the end; an empty one is empty.
  const std::string noNul = bytes("h\0" "4" "\x01\x00" "198.51.100.7");
  got = parseConnect(noNul);
  BOOST_CHECK_EQUAL(got.port, 256U);
  BOOST_CHECK_EQUAL(got.address, "198.51.100.7");
  got = parseConnect(bytes("h\0" "4" "\x00\x19"));
  BOOST_CHECK_EQUAL(got.port, 25U);
  BOOST_CHECK(got.address.empty());
}

BOOST_AUTO_TEST_CASE(parse_connect_rejects_truncated_data)
{
  BOOST_CHECK_THROW(parseConnect(""), ProtocolError);
  BOOST_CHECK_THROW(parseConnect("hostname-without-nul"), ProtocolError);
  BOOST_CHECK_THROW(parseConnect(bytes("host\0")), ProtocolError);           // no family
  BOOST_CHECK_THROW(parseConnect(bytes("host\0" "4")), ProtocolError);       // no port
  BOOST_CHECK_THROW(parseConnect(bytes("host\0" "4" "\x00")), ProtocolError); // half a port
  BOOST_CHECK_THROW(parseConnect(bytes("host\0" "6" "\x00")), ProtocolError);
}

BOOST_AUTO_TEST_CASE(parse_header_reads_name_and_value)
{
  const std::string data = bytes("Subject\0Report domain: example.test\0");
  auto [name, value] = parseHeader(data);
  BOOST_CHECK_EQUAL(name, "Subject");
  BOOST_CHECK_EQUAL(value, "Report domain: example.test");
  // Folded values keep their line breaks; an empty value is a value.
  const std::string foldedData = bytes("Received\0from a\n\tby b\0");
  auto folded = parseHeader(foldedData);
  BOOST_CHECK_EQUAL(folded.second, "from a\n\tby b");
  const std::string emptyData = bytes("X-Empty\0\0");
  auto empty = parseHeader(emptyData);
  BOOST_CHECK_EQUAL(empty.first, "X-Empty");
  BOOST_CHECK_EQUAL(empty.second, "");
}

BOOST_AUTO_TEST_CASE(parse_header_rejects_a_header_without_value)
{
  BOOST_CHECK_THROW(parseHeader(""), ProtocolError);
  BOOST_CHECK_THROW(parseHeader("Subject"), ProtocolError);
  BOOST_CHECK_THROW(parseHeader(bytes("Subject\0")), ProtocolError);
}

// ----------------------------------------------------------------- encoders

BOOST_AUTO_TEST_CASE(append_packet_writes_length_letter_and_data)
{
  std::string out;
  appendPacket(out, 'c');
  BOOST_CHECK_EQUAL(out, std::string("\0\0\0\x01" "c", 5));
  appendPacket(out, 'B', "xyz");
  BOOST_CHECK_EQUAL(out, bytes("\0\0\0\x01" "c" "\0\0\0\x04" "Bxyz"));

  // The length counts the letter: 300 bytes of data make 301 = 0x012D.
  out.clear();
  appendPacket(out, 'B', std::string(300, 'x'));
  BOOST_CHECK_EQUAL(out.substr(0, 5), bytes("\0\0\x01\x2d" "B"));
  BOOST_CHECK_EQUAL(out.size(), 305U);
}

BOOST_AUTO_TEST_CASE(append_add_header_writes_name_and_value)
{
  std::string out = "prefix";
  appendAddHeader(out, "X-DMARCwatch", "stored; reports=1");
  // 1 + 12 + 1 + 17 + 1 = 32 = 0x20
  BOOST_CHECK_EQUAL(out, bytes("prefix" "\0\0\0\x20" "hX-DMARCwatch\0stored; reports=1\0"));
}

BOOST_AUTO_TEST_CASE(append_delete_header_writes_index_name_and_empty_value)
{
  std::string out;
  appendDeleteHeader(out, 2, "X-DMARCwatch");
  // 1 + 4 + 12 + 1 + 1 = 19 = 0x13
  BOOST_CHECK_EQUAL(out, bytes("\0\0\0\x13" "m" "\0\0\0\x02" "X-DMARCwatch\0\0"));
  out.clear();
  appendDeleteHeader(out, 0x01020304, "A");
  BOOST_CHECK_EQUAL(out, bytes("\0\0\0\x08" "m" "\x01\x02\x03\x04" "A\0\0"));
}

BOOST_AUTO_TEST_CASE(append_delete_recipient_writes_the_address)
{
  std::string out;
  appendDeleteRecipient(out, "<rua@example.test>");
  // 1 + 18 + 1 = 20 = 0x14
  BOOST_CHECK_EQUAL(out, bytes("\0\0\0\x14" "-<rua@example.test>\0"));
}

BOOST_AUTO_TEST_CASE(append_reply_code_joins_code_xcode_text_and_doubles_percent)
{
  std::string out;
  appendReplyCode(out, "451", "4.3.0", "try again later");
  // "451 4.3.0 try again later" = 25 bytes, + NUL + letter = 27 = 0x1b
  BOOST_CHECK_EQUAL(out, bytes("\0\0\0\x1b" "y451 4.3.0 try again later\0"));

  out.clear();
  appendReplyCode(out, "451", "4.3.0", "disk 100% full, 5%s");
  // "451 4.3.0 disk 100%% full, 5%%s" = 31 bytes -> 33 = 0x21
  BOOST_CHECK_EQUAL(out, bytes("\0\0\0\x21" "y451 4.3.0 disk 100%% full, 5%%s\0"));

  // Without an enhanced status code there is no double space.
  out.clear();
  appendReplyCode(out, "451", "", "later");
  BOOST_CHECK_EQUAL(out, bytes("\0\0\0\x0b" "y451 later\0"));
}

BOOST_AUTO_TEST_CASE(append_negotiation_reply_without_macro_lists)
{
  std::string out;
  appendNegotiationReply(out, 6, 0x119, 0x4D182, {});
  BOOST_CHECK_EQUAL(out, bytes("\0\0\0\x0d" "O" "\0\0\0\x06" "\0\0\x01\x19" "\0\x04\xd1\x82"));
  // Lists that are all empty are no lists.
  out.clear();
  appendNegotiationReply(out, 2, 0x19, 0x02, {"", "", ""});
  BOOST_CHECK_EQUAL(out, bytes("\0\0\0\x0d" "O" "\0\0\0\x02" "\0\0\0\x19" "\0\0\0\x02"));
}

BOOST_AUTO_TEST_CASE(append_negotiation_reply_lists_macros_by_stage_skipping_empty_ones)
{
  std::string out;
  appendNegotiationReply(out, 6, 0x119, 0x2, {"", "", "i", "", "{x} j"});
  // 1 + 12 + (4 + 2) + (4 + 6) = 29 = 0x1d
  BOOST_CHECK_EQUAL(out, bytes("\0\0\0\x1d" "O" "\0\0\0\x06" "\0\0\x01\x19" "\0\0\0\x02"
                               "\0\0\0\x02" "i\0"
                               "\0\0\0\x04" "{x} j\0"));
}

BOOST_AUTO_TEST_CASE(encoded_replies_decode_back)
{
  std::string out;
  appendAddHeader(out, "X-A", "value");
  appendDeleteRecipient(out, "<r@x>");
  appendPacket(out, 'a');
  size_t consumed = 0;
  std::string_view rest(out);
  std::optional<Packet> got = nextPacket(rest, consumed);
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(got->command, 'h');
  auto [name, value] = parseHeader(got->data);
  BOOST_CHECK_EQUAL(name, "X-A");
  BOOST_CHECK_EQUAL(value, "value");
  rest.remove_prefix(consumed);
  got = nextPacket(rest, consumed);
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(got->command, '-');
  checkStrings(splitStrings(got->data), {"<r@x>"});
  rest.remove_prefix(consumed);
  got = nextPacket(rest, consumed);
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(got->command, 'a');
  BOOST_CHECK_EQUAL(consumed, rest.size());
}

BOOST_AUTO_TEST_SUITE_END()
