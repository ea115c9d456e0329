// test-dispatch.cc - milter/dispatch.cc: a MilterConnection driven with packets
// built the way Postfix's milter8 client sends them (negotiation, macros,
// CONNECT, MAIL, RCPT, DATA, headers, body, end of message, ABORT, QUIT), its
// replies decoded with protocol::nextPacket.  A real Runtime over a real Store
// in a temp dir, a real report mail from t/data/samples.
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/config.hh"
#include "collector/common/log.hh"
#include "collector/ingest/ingest.hh"
#include "collector/store/store.hh"
#include "milter/dispatch.hh"
#include "milter/protocol.hh"
#include "t/unit/log-capture.hh"
#include "t/unit/test-util.hh"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::milter;
using dmarcwatch::test::readData;
using dmarcwatch::test::LogCapture;
using dmarcwatch::test::TempDir;
namespace protocol = dmarcwatch::milter::protocol;

namespace dmarcwatch::milter
{
// Boost.Test prints what handle() answered in failure messages.
std::ostream& operator<<(std::ostream& out, MilterConnection::Next next)
{
  switch (next) {
  case MilterConnection::Next::Read:
    return out << "Read";
  case MilterConnection::Next::Defer:
    return out << "Defer";
  case MilterConnection::Next::Close:
    return out << "Close";
  }
  return out << "?";
}
} // namespace dmarcwatch::milter

namespace
{

using Next = MilterConnection::Next;

// What Postfix 3.x offers (milter8.c): protocol version 6, every action, every flag.
constexpr uint32_t s_postfixVersion = 6;
constexpr uint32_t s_postfixActions = 0x1FF;
constexpr uint32_t s_postfixProtocol = 0x1FFFFF;

// What we must ask for from such an MTA (dispatch.cc negotiate()).
constexpr uint32_t s_wantActions = 0x119; // addheaders | chgheaders | delrcpt | setsymlist
constexpr uint32_t s_wantProtocol = protocol::flag::noUnknown | protocol::flag::noReplyConnect |
  protocol::flag::noReplyHelo | protocol::flag::noReplyMail | protocol::flag::noReplyRecipient |
  protocol::flag::noReplyHeader | protocol::flag::noReplyEndOfHeaders | protocol::flag::headerLeadingSpace;

std::string u32(uint32_t value)
{
  return {static_cast<char>(value >> 24), static_cast<char>((value >> 16) & 0xff),
          static_cast<char>((value >> 8) & 0xff), static_cast<char>(value & 0xff)};
}

//! NUL-terminated strings, one after the other (MACRO, MAIL, RCPT, HEADER data).
std::string strings(std::initializer_list<std::string_view> items)
{
  std::string out;
  for (std::string_view item : items) {
    out.append(item);
    out.push_back('\0');
  }
  return out;
}

std::string optneg(uint32_t version, uint32_t actions, uint32_t protocolFlags)
{
  return u32(version) + u32(actions) + u32(protocolFlags);
}

//! A reply packet as one readable line: the letter, then its decoded data.
std::string describe(const protocol::Packet& packet)
{
  std::string out(1, packet.command);
  switch (packet.command) {
  case protocol::reply::addHeader: {
    auto [name, value] = protocol::parseHeader(packet.data);
    return out + " " + std::string(name) + ": " + std::string(value);
  }
  case protocol::reply::changeHeader: {
    BOOST_REQUIRE_GE(packet.data.size(), 4U);
    uint32_t index = 0;
    for (size_t i = 0; i < 4; ++i) {
      index = (index << 8) | static_cast<unsigned char>(packet.data[i]);
    }
    std::vector<std::string_view> rest = protocol::splitStrings(packet.data.substr(4));
    BOOST_REQUIRE_EQUAL(rest.size(), 2U);
    BOOST_CHECK_MESSAGE(rest[1].empty(), "a change with a value is not a deletion: " << rest[1]);
    return out + " " + std::to_string(index) + " " + std::string(rest[0]);
  }
  case protocol::reply::deleteRecipient:
  case protocol::reply::replyCode: {
    BOOST_CHECK_MESSAGE(!packet.data.empty() && packet.data.back() == '\0', "no NUL after the string");
    std::vector<std::string_view> args = protocol::splitStrings(packet.data);
    BOOST_REQUIRE_EQUAL(args.size(), 1U);
    return out + " " + std::string(args[0]);
  }
  case protocol::reply::optionNegotiation:
    return out; // checked byte by byte where it matters
  default:
    BOOST_CHECK_MESSAGE(packet.data.empty(), "reply '" << packet.command << "' with data");
    return out;
  }
}

//! Every reply packet in out, as describe() lines; every byte must belong to a whole packet.
std::vector<std::string> decodeReplies(std::string_view out)
{
  std::vector<std::string> replies;
  size_t consumed = 0;
  while (std::optional<protocol::Packet> packet = protocol::nextPacket(out, consumed)) {
    replies.push_back(describe(*packet));
    out.remove_prefix(consumed);
  }
  BOOST_CHECK_MESSAGE(out.empty(), out.size() << " bytes of a partial reply packet");
  return replies;
}

void checkReplies(const std::vector<std::string>& got, const std::vector<std::string>& want)
{
  BOOST_CHECK_EQUAL_COLLECTIONS(got.begin(), got.end(), want.begin(), want.end());
}

//! A mail: its headers as the MTA sends them (no space after the colon, folds as "\n\t") and its CRLF body.
struct Mail
{
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

/*!
 * An .eml file split into header packets and a body, the way Postfix hands them to a milter:
 * folds as "\n", one space after the colon eaten unless leadingSpace (SMFIP_HDR_LEADSPC).
 */
Mail mailFromFile(const std::string& text, bool leadingSpace = false)
{
  Mail mail;
  size_t end = text.find("\n\n");
  BOOST_REQUIRE(end != std::string::npos);
  std::string_view head(text.data(), end + 1);
  while (!head.empty()) {
    size_t eol = head.find('\n');
    std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      BOOST_REQUIRE(!mail.headers.empty());
      mail.headers.back().second += "\n" + std::string(line);
      continue;
    }
    size_t colon = line.find(':');
    BOOST_REQUIRE(colon != std::string_view::npos);
    std::string_view value = line.substr(colon + 1);
    if (!leadingSpace && !value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
    mail.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  for (char c : std::string_view(text).substr(end + 2)) {
    if (c == '\n' && (mail.body.empty() || mail.body.back() != '\r')) {
      mail.body.push_back('\r');
    }
    mail.body.push_back(c);
  }
  return mail;
}

//! modoboa-google.eml: one report from google.com, 4 records, 50 messages (t/data/samples/EXPECTED.tsv).
Mail reportMail(bool leadingSpace = false)
{
  return mailFromFile(readData("samples/modoboa-google.eml"), leadingSpace);
}
// Our header as added with SMFIP_HDR_LEADSPC agreed: the value carries its own leading space
// (the transcript prints "h NAME: VALUE").
const std::string s_storedHeader = "h X-DMARCwatch:  stored; reports=1; records=4; messages=50; auth=unauthenticated; auth-reason=\"mail not checked\"";
const std::string s_duplicateHeader = "h X-DMARCwatch:  duplicate; reports=1; records=4; messages=50; auth=unauthenticated; auth-reason=\"mail not checked\"";

//! Text with every bare LF made CRLF (an .eml file as SMTP carries it).
std::string crlf(std::string_view text)
{
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) {
      out.push_back('\r');
    }
    out.push_back(text[i]);
  }
  return out;
}

//! What the checks of report mail got (Runtime::setMailCheckFactory), for every thread.
struct CheckedMail
{
  std::vector<std::string> messages;
  std::vector<MailEnvelope> envelopes;
  std::vector<bool> approximate;
};
MailCheckFactory recordingChecks(const std::shared_ptr<CheckedMail>& checked)
{
  return [checked](const Config&) {
    return MailCheck([checked](std::string_view message, const MailEnvelope& envelope, bool approximate) {
      checked->messages.emplace_back(message);
      checked->envelopes.push_back(envelope);
      checked->approximate.push_back(approximate);
      return ReportJudge();
    });
  };
}

//! One message's envelope and how it is sent.
struct Envelope
{
  std::vector<std::string> rcpts{"<rua@example.test>"};
  std::string queueId = "4QTEST1";
  bool withData = true;   //!< the MTA has the DATA step
  size_t bodyChunk = 65535; //!< Postfix's largest body packet
  size_t finalChunk = 0;  //!< body bytes sent with BODYEOB instead of BODY
};

//! A Runtime over a Store in a temp dir, and one MilterConnection to drive.
struct DispatchFixture
{
  TempDir dir;
  LogCapture log;
  std::unique_ptr<Runtime> runtime;
  std::unique_ptr<MilterConnection> conn;

  DispatchFixture() { start(); }

  std::string dbDir() const { return (dir.path() / "db").string(); }

  void start(const std::string& extra = "", bool readOnlyStore = false)
  {
    conn.reset();
    std::filesystem::create_directories(dir.path() / "tmp");
    std::string text = "ReportAddress rua@example.test\nDatabase " + dbDir() + "\nTempDirectory " +
      (dir.path() / "tmp").string() + "\n" + extra;
    runtime = std::make_unique<Runtime>(parseConfig(text, "dispatch-test.conf"));
    Store::Options options;
    options.mapSize = 16ULL << 20;
    options.sync = false;
    if (readOnlyStore) {
      // Create it, then open it read-only: every write is a real StoreError.
      Store(dbDir(), options);
      options.readOnly = true;
    }
    runtime->setStore(std::make_unique<Store>(dbDir(), options));
    conn = std::make_unique<MilterConnection>(*runtime);
  }

  //! The connection's context (through a const reference: the non-const context() is private).
  [[nodiscard]] const ConnectionContext* context() const { return std::as_const(*conn).context(); }

  [[nodiscard]] size_t storedReports() const
  {
    if (!std::filesystem::exists(dir.path() / "db" / "data.mdb")) {
      return 0;
    }
    Store::Options options;
    options.readOnly = true;
    return Store(dbDir(), options).listReports().size();
  }

  //! One packet; what handle() answered, with the replies it appended (decoded).
  Next send(char letter, std::string_view data, std::vector<std::string>& replies)
  {
    std::string out;
    Next next = conn->handle(protocol::Packet{letter, data}, out);
    replies = decodeReplies(out);
    return next;
  }
  //! One packet that must be answered with Read; its replies.
  std::vector<std::string> send(char letter, std::string_view data = {})
  {
    std::vector<std::string> replies;
    BOOST_CHECK_EQUAL(send(letter, data, replies), Next::Read);
    return replies;
  }

  //! The negotiation reply's data (raw), after checking it is one 'O' packet.
  std::string negotiate(uint32_t version = s_postfixVersion, uint32_t actions = s_postfixActions,
                        uint32_t protocolFlags = s_postfixProtocol)
  {
    std::string out;
    BOOST_REQUIRE_EQUAL(conn->handle({'O', optneg(version, actions, protocolFlags)}, out), Next::Read);
    size_t consumed = 0;
    std::optional<protocol::Packet> reply = protocol::nextPacket(out, consumed);
    BOOST_REQUIRE(reply);
    BOOST_CHECK_EQUAL(reply->command, 'O');
    BOOST_CHECK_EQUAL(consumed, out.size());
    return std::string(reply->data);
  }

  //! CONNECT as Postfix sends it (macros first); its replies.
  std::vector<std::string> connect()
  {
    send('D', "C" + strings({"j", "mx.example.test", "{daemon_name}", "smtpd"}));
    return send('C', strings({"client.example.test"}) + "4" + std::string("\x00\x19", 2) + strings({"192.0.2.10"}));
  }

  /*!
   * One message as Postfix sends it, each packet's replies as "stage reply"
   * lines; stops at the first reply that is not 'c' (the MTA sends no more of
   * that message).  A deferred end of message is finished here.
   */
  std::vector<std::string> message(const Mail& mail, const Envelope& env = {})
  {
    std::vector<std::string> transcript;
    bool done = false;
    auto step = [&](const char* stage, char letter, std::string_view data) {
      if (done) {
        return;
      }
      std::vector<std::string> replies;
      Next next = send(letter, data, replies);
      if (letter == 'E' && next == Next::Defer) {
        // The slow part runs later (on a worker): nothing is answered yet.
        BOOST_CHECK(replies.empty());
        std::string out;
        conn->finishDeferred(out);
        replies = decodeReplies(out);
        transcript.emplace_back(std::string(stage) + " deferred");
      }
      else {
        BOOST_CHECK_EQUAL(next, Next::Read);
      }
      for (const auto& reply : replies) {
        transcript.push_back(std::string(stage) + " " + reply);
        done = done || reply != "c";
      }
    };
    step("macro", 'D', "M" + strings({"i", env.queueId}));
    step("mail", 'M', strings({"<noreply-dmarc-support@google.com>", "BODY=8BITMIME"}));
    for (const auto& rcpt : env.rcpts) {
      step("macro", 'D', "R" + strings({"i", env.queueId}));
      step("rcpt", 'R', strings({rcpt}));
    }
    if (env.withData) {
      step("macro", 'D', "T");
      step("data", 'T', "");
    }
    for (const auto& [name, value] : mail.headers) {
      step("header", 'L', strings({name, value}));
    }
    step("eoh", 'N', "");
    std::string_view body(mail.body);
    std::string_view last = body.substr(body.size() - std::min(env.finalChunk, body.size()));
    body.remove_suffix(last.size());
    for (size_t i = 0; i < body.size(); i += env.bodyChunk) {
      step("body", 'B', body.substr(i, env.bodyChunk));
    }
    step("macro", 'D', "E" + strings({"i", env.queueId}));
    step("eom", 'E', last);
    BOOST_CHECK_MESSAGE(done, "the message got no final answer");
    return transcript;
  }
};

//! A mail that is not a report (a plain text note).
Mail plainMail()
{
  return {{{"From", "alice@sender.test"}, {"To", "bob@example.test"}, {"Subject", "lunch"}}, "see you at noon\r\n"};
}

Envelope plainEnvelope()
{
  Envelope env;
  env.rcpts = {"<bob@example.test>", "<carol@other.test>"};
  return env;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(test_dispatch, DispatchFixture)

// ------------------------------------------------------------- negotiation

BOOST_AUTO_TEST_CASE(negotiation_reply_asks_for_our_actions_flags_and_macros)
{
  std::string got = negotiate();
  std::string want = u32(6) + u32(s_wantActions) + u32(s_wantProtocol);
  // Macro lists: the queue id at MAIL, RCPT and end of message; a name no MTA defines elsewhere
  // (an empty list would mean the MTA's defaults).
  for (uint32_t stage = 0; stage < protocol::stage::count; ++stage) {
    bool wantQueueId = stage == protocol::stage::mail || stage == protocol::stage::recipient ||
      stage == protocol::stage::endOfMessage;
    want += u32(stage) + (wantQueueId ? strings({"i"}) : strings({"{dmarcwatch_none}"}));
  }
  BOOST_CHECK_EQUAL(got.size(), want.size());
  BOOST_CHECK(got == want);

  // Field by field, for a readable failure.
  protocol::Negotiation reply = protocol::parseNegotiation(got);
  BOOST_CHECK_EQUAL(reply.version, 6U);
  BOOST_CHECK_EQUAL(reply.actions, 0x119U);
  BOOST_CHECK_EQUAL(reply.protocol, s_wantProtocol);
  BOOST_CHECK_EQUAL(reply.protocol & ~s_postfixProtocol, 0U); // a subset of what was offered
}

BOOST_AUTO_TEST_CASE(negotiation_asks_only_for_offered_flags)
{
  // An MTA that offers some step flags but no no-reply flags (and no SETSYMLIST).
  uint32_t offered = protocol::flag::noConnect | protocol::flag::noHelo | protocol::flag::noData |
    protocol::flag::noReplyMail;
  std::string got = negotiate(6, 0x1F, offered);
  BOOST_CHECK(got == u32(6) + u32(0x19) + u32(protocol::flag::noReplyMail));

  // What was not agreed is answered: CONNECT and RCPT get their 'continue'; MAIL does not.
  checkReplies(connect(), {"c"});
  checkReplies(send('M', strings({"<a@sender.test>"})), {});
  checkReplies(send('R', strings({"<bob@example.test>"})), {"c"});
  checkReplies(send('T'), {"a"});
}

BOOST_AUTO_TEST_CASE(negotiation_with_an_old_mta_answers_its_version_without_macro_lists)
{
  // Sendmail 8.13-era: version 2, actions 0x1F, flags 0x7F (no DATA step, no no-reply flags).
  std::string got = negotiate(2, 0x1F, 0x7F);
  BOOST_CHECK(got == u32(2) + u32(0x19) + u32(0)); // HELO is wanted now (SPF), and nothing else is offered
  // A newer one than ours gets ours.
  start();
  got = negotiate(7, 0x1FF, 0x1FFFFF);
  BOOST_CHECK_EQUAL(protocol::parseNegotiation(got).version, 6U);
}

BOOST_AUTO_TEST_CASE(negotiation_is_refused_without_the_actions_we_need_or_below_version_2)
{
  const uint32_t needed[] = {protocol::action::addHeaders, protocol::action::changeHeaders,
                             protocol::action::deleteRecipients};
  for (uint32_t missing : needed) {
    BOOST_TEST_CONTEXT("missing action " << missing)
    {
      start();
      std::vector<std::string> replies;
      BOOST_CHECK_EQUAL(send('O', optneg(6, s_postfixActions & ~missing, s_postfixProtocol), replies), Next::Close);
      checkReplies(replies, {});
      // Nothing was agreed: the next command is a protocol error.
      BOOST_CHECK_THROW(send('C', strings({"h"}) + "U"), protocol::ProtocolError);
    }
  }
  start();
  std::vector<std::string> replies;
  BOOST_CHECK_EQUAL(send('O', optneg(1, s_postfixActions, s_postfixProtocol), replies), Next::Close);
  checkReplies(replies, {});
  BOOST_CHECK_EQUAL(log.count({"milter negotiation refused", "protocol version 1"}), 1U);
  // Version 2 is enough.
  BOOST_CHECK_EQUAL(send('O', optneg(2, s_postfixActions, s_postfixProtocol), replies), Next::Read);
  BOOST_CHECK_EQUAL(replies.size(), 1U);
}

BOOST_AUTO_TEST_CASE(negotiation_shorter_than_twelve_bytes_throws)
{
  std::vector<std::string> replies;
  BOOST_CHECK_THROW(send('O', optneg(6, 0x1FF, 0x1FFFFF).substr(0, 11), replies), protocol::ProtocolError);
}

BOOST_AUTO_TEST_CASE(commands_before_negotiation_throw)
{
  std::vector<std::string> replies;
  for (char letter : {'C', 'M', 'R', 'T', 'L', 'N', 'B', 'E', 'A', 'K', 'Q'}) {
    BOOST_TEST_CONTEXT("command " << letter)
    {
      BOOST_CHECK_THROW(send(letter, strings({"x", "y"}), replies), protocol::ProtocolError);
    }
  }
  // Macros may come first (they only name values for a later command).
  BOOST_CHECK_EQUAL(send('D', "C" + strings({"j", "mx"}), replies), Next::Read);
  checkReplies(replies, {});
  BOOST_CHECK(context() == nullptr);
  negotiate();
  BOOST_CHECK(context() != nullptr);
}

BOOST_AUTO_TEST_CASE(unknown_command_throws)
{
  negotiate();
  std::vector<std::string> replies;
  BOOST_CHECK_THROW(send('Z', "", replies), protocol::ProtocolError);
  BOOST_CHECK_THROW(send('\0', "", replies), protocol::ProtocolError);
  // Malformed known commands too.
  BOOST_CHECK_THROW(send('C', "no-nul", replies), protocol::ProtocolError);
  BOOST_CHECK_THROW(send('L', strings({"Subject"}), replies), protocol::ProtocolError);
  BOOST_CHECK_THROW(send('D', "", replies), protocol::ProtocolError);
}

BOOST_AUTO_TEST_CASE(helo_is_recorded_without_a_reply_where_the_mta_waives_it)
{
  auto checked = std::make_shared<CheckedMail>();
  runtime->setMailCheckFactory(recordingChecks(checked));
  negotiate(); // Postfix offers SMFIP_NR_HELO
  checkReplies(connect(), {});
  checkReplies(send('H', strings({"mail-sor-f41.google.com"})), {});
  checkReplies(send('U', strings({"XYZZY"})), {"c"}); // asked away; sent anyway: continue
  // The envelope of a report: the CONNECT address, the HELO name, MAIL FROM without <>.
  message(reportMail());
  BOOST_REQUIRE_EQUAL(checked->envelopes.size(), 1U);
  BOOST_REQUIRE(checked->envelopes[0].client);
  BOOST_CHECK_EQUAL(checked->envelopes[0].client->toString(), "192.0.2.10");
  BOOST_CHECK_EQUAL(checked->envelopes[0].helo, "mail-sor-f41.google.com");
  BOOST_CHECK_EQUAL(checked->envelopes[0].mailFrom, "noreply-dmarc-support@google.com");
  // An MTA without SMFIP_NR_HELO gets its continue; a unix-socket client has no address.
  start();
  runtime->setMailCheckFactory(recordingChecks(checked));
  negotiate(6, s_postfixActions, s_postfixProtocol & ~protocol::flag::noReplyHelo);
  checkReplies(send('C', strings({"localhost"}) + "L" + std::string("\x00\x00", 2) + strings({"/run/smtp.sock"})), {});
  checkReplies(send('H', strings({"localhost"})), {"c"});
  message(reportMail());
  BOOST_REQUIRE_EQUAL(checked->envelopes.size(), 2U);
  BOOST_CHECK(!checked->envelopes[1].client);
  BOOST_CHECK_EQUAL(checked->envelopes[1].helo, "localhost");
}

// -------------------------------------------------------- non-report mail

BOOST_AUTO_TEST_CASE(non_report_mail_costs_one_reply_at_data)
{
  negotiate();
  checkReplies(connect(), {});
  checkReplies(message(plainMail(), plainEnvelope()), {"data a"});
  // The next message on the same connection, then a third.
  checkReplies(message(plainMail(), plainEnvelope()), {"data a"});
  checkReplies(message(plainMail(), plainEnvelope()), {"data a"});
  BOOST_CHECK_EQUAL(storedReports(), 0U);
}

BOOST_AUTO_TEST_CASE(mta_without_data_step_gets_non_report_mail_accepted_at_the_first_header)
{
  // Every flag but "no DATA": the MTA has no DATA step to tell us about, so header replies are kept.
  std::string got = negotiate(6, s_postfixActions, s_postfixProtocol & ~protocol::flag::noData);
  protocol::Negotiation reply = protocol::parseNegotiation(got);
  BOOST_CHECK_EQUAL(reply.protocol & (protocol::flag::noReplyHeader | protocol::flag::noReplyEndOfHeaders), 0U);
  BOOST_CHECK_EQUAL(reply.protocol & ~(s_postfixProtocol & ~protocol::flag::noData), 0U);

  checkReplies(connect(), {});
  Envelope env = plainEnvelope();
  env.withData = false;
  checkReplies(message(plainMail(), env), {"header a"});
  // No headers: at end of headers; no headers and no body: at end of message.
  Mail bare = plainMail();
  bare.headers.clear();
  checkReplies(message(bare, env), {"eoh a"});
  std::vector<std::string> replies;
  send('M', strings({"<a@sender.test>"}));
  send('R', strings({"<bob@example.test>"}));
  BOOST_CHECK_EQUAL(send('E', "", replies), Next::Read);
  checkReplies(replies, {"a"});

  // A report on the same MTA: every header answered 'c', then stored.
  Envelope reportEnv;
  reportEnv.withData = false;
  std::vector<std::string> transcript = message(reportMail(), reportEnv);
  BOOST_REQUIRE_GE(transcript.size(), 3U);
  BOOST_CHECK_EQUAL(transcript.front(), "header c");
  BOOST_CHECK_EQUAL(transcript[transcript.size() - 2], "eom " + s_storedHeader);
  BOOST_CHECK_EQUAL(transcript.back(), "eom a");
  BOOST_CHECK_EQUAL(storedReports(), 1U);
}

// ------------------------------------------------------------ report mail

BOOST_AUTO_TEST_CASE(report_mail_is_deferred_then_stored_with_the_header)
{
  negotiate();
  checkReplies(connect(), {});
  Envelope env;
  env.bodyChunk = 1000; // several BODY packets
  Mail mail = reportMail();
  size_t chunks = (mail.body.size() + env.bodyChunk - 1) / env.bodyChunk;
  BOOST_REQUIRE_GE(chunks, 2U);
  std::vector<std::string> want = {"data c"};
  want.insert(want.end(), chunks, "body c");
  want.insert(want.end(), {"eom deferred", "eom " + s_storedHeader, "eom a"});
  checkReplies(message(mail, env), want);
  BOOST_CHECK_EQUAL(storedReports(), 1U);
  // The queue id came from the "i" macro.
  BOOST_CHECK_EQUAL(log.count({"report message", "qid=4QTEST1", "outcome=stored"}), 1U);

  // The same report again, on the same connection: a duplicate.
  env.queueId = "4QTEST2";
  want[want.size() - 2] = "eom " + s_duplicateHeader;
  checkReplies(message(mail, env), want);
  BOOST_CHECK_EQUAL(storedReports(), 1U);
  BOOST_CHECK_EQUAL(log.count({"report message", "qid=4QTEST2", "outcome=duplicate"}), 1U);
}

BOOST_AUTO_TEST_CASE(with_leading_space_agreed_the_checks_get_the_mail_byte_for_byte)
{
  auto checked = std::make_shared<CheckedMail>();
  runtime->setMailCheckFactory(recordingChecks(checked));
  protocol::Negotiation agreed = protocol::parseNegotiation(negotiate());
  BOOST_CHECK((agreed.protocol & protocol::flag::headerLeadingSpace) != 0);
  connect();
  // The sample with two fields a rebuilt "Name: value" gets wrong, sent the way Postfix does with the flag.
  const std::string text = "Subject:no-space\nSubject:\ttab\n" + readData("samples/modoboa-google.eml");
  std::vector<std::string> transcript = message(mailFromFile(text, /*leadingSpace=*/true));
  BOOST_REQUIRE(!transcript.empty());
  BOOST_CHECK_EQUAL(transcript.back(), "eom a");
  BOOST_REQUIRE_EQUAL(checked->messages.size(), 1U);
  BOOST_CHECK(!checked->approximate[0]);
  const std::string want = crlf(text);
  BOOST_CHECK_EQUAL(checked->messages[0].size(), want.size());
  BOOST_CHECK(checked->messages[0] == want); // (not printed whole: 10 KB)
  BOOST_CHECK_EQUAL(storedReports(), 1U);

  // An MTA that does not offer the flag: not asked for, the fields rebuilt with ": ", marked approximate.
  start();
  runtime->setMailCheckFactory(recordingChecks(checked));
  agreed = protocol::parseNegotiation(negotiate(6, s_postfixActions, s_postfixProtocol & ~protocol::flag::headerLeadingSpace));
  BOOST_CHECK_EQUAL(agreed.protocol & protocol::flag::headerLeadingSpace, 0U);
  connect();
  message(mailFromFile(text, /*leadingSpace=*/false));
  BOOST_REQUIRE_EQUAL(checked->messages.size(), 2U);
  BOOST_CHECK(checked->approximate[1]);
  BOOST_CHECK(checked->messages[1].starts_with("Subject: no-space\r\nSubject: \ttab\r\nReturn-Path: <noreply"));
  BOOST_CHECK(checked->messages[1] != want);
  BOOST_CHECK_EQUAL(log.count({"report headers approximate", "qid=4QTEST1"}), 1U);
}

BOOST_AUTO_TEST_CASE(rejected_forged_report_is_answered_550_with_the_reply_code)
{
  start("UntrustedReports reject\n");
  runtime->setIngestStep([](Store&, const Config&, const IngestTrust&, std::string_view, const std::string&) {
    IngestOutcome outcome;
    ReportOutcome forged;
    forged.header.metadata.orgName = "google.com";
    forged.header.metadata.reportId = "rid-forged";
    forged.verdict = {Authenticity::Forged, "dkim=fail (d=evil.test)"};
    forged.rejected = true;
    outcome.reports.push_back(forged);
    return outcome;
  });
  negotiate();
  connect();
  Mail mail = reportMail();
  mail.headers.emplace_back("X-DMARCwatch", "stored"); // no edits with a reject
  std::vector<std::string> transcript = message(mail);
  BOOST_REQUIRE(!transcript.empty());
  BOOST_CHECK_EQUAL(transcript.back(), "eom y 550 5.7.1 dmarcwatch: forged report: dkim=fail (d=evil.test)");
  for (const auto& line : transcript) {
    BOOST_CHECK_MESSAGE(line.rfind("eom m", 0) != 0 && line.rfind("eom h", 0) != 0, "edit with a reject: " << line);
  }
  BOOST_CHECK_EQUAL(log.count({"report message", "report_id=rid-forged", "auth=forged", "action=reject"}), 1U);
  // The reply code was for that answer only.
  checkReplies(message(plainMail(), plainEnvelope()), {"data a"});
}

BOOST_AUTO_TEST_CASE(final_body_chunk_with_end_of_message_is_part_of_the_message)
{
  negotiate();
  connect();
  Envelope env;
  env.bodyChunk = 1000;
  env.finalChunk = 200; // the end of the base64 zip: without it the report is unreadable
  std::vector<std::string> transcript = message(reportMail(), env);
  BOOST_REQUIRE_GE(transcript.size(), 2U);
  BOOST_CHECK_EQUAL(transcript[transcript.size() - 2], "eom " + s_storedHeader);
  BOOST_CHECK_EQUAL(transcript.back(), "eom a");
  // No separate answer for the chunk: only the message's.
  BOOST_CHECK_EQUAL(std::count(transcript.begin(), transcript.end(), "eom deferred"), 1);
  BOOST_CHECK_EQUAL(storedReports(), 1U);

  // The whole body with end of message (no BODY packet at all).
  start();
  negotiate();
  connect();
  env.finalChunk = reportMail().body.size();
  env.queueId = "4QWHOLE";
  transcript = message(reportMail(), env);
  BOOST_REQUIRE(!transcript.empty());
  BOOST_CHECK(std::find(transcript.begin(), transcript.end(), "eom " + s_duplicateHeader) != transcript.end());
  BOOST_CHECK_EQUAL(transcript.back(), "eom a");

  // A final chunk of a non-report message on an MTA without DATA: accepted, not deferred.
  start();
  negotiate(6, s_postfixActions, s_postfixProtocol & ~protocol::flag::noData);
  send('M', strings({"<a@sender.test>"}));
  send('R', strings({"<bob@example.test>"}));
  std::vector<std::string> replies;
  BOOST_CHECK_EQUAL(send('E', "last words\r\n", replies), Next::Read);
  checkReplies(replies, {"a"});
}

BOOST_AUTO_TEST_CASE(forged_result_header_is_deleted_before_ours_is_added)
{
  negotiate();
  connect();
  Mail mail = reportMail();
  mail.headers.insert(mail.headers.begin() + 3, {"X-DMARCwatch", "stored; reports=9; records=9; messages=9"});
  mail.headers.emplace_back("X-DMARCwatch-Other", "not ours");
  std::vector<std::string> transcript = message(mail);
  BOOST_REQUIRE_GE(transcript.size(), 3U);
  std::vector<std::string> tail(transcript.end() - 3, transcript.end());
  checkReplies(tail, {"eom m 1 X-DMARCwatch", "eom " + s_storedHeader, "eom a"});
  BOOST_CHECK_EQUAL(log.count({"forged result header removed", "headers=1"}), 1U);
}

BOOST_AUTO_TEST_CASE(report_action_discard_with_other_recipients_deletes_the_rua)
{
  start("ReportAction discard\n");
  negotiate();
  connect();
  Envelope env;
  env.rcpts = {"<bob@example.test>", "<RUA@example.test>"};
  std::vector<std::string> transcript = message(reportMail(), env);
  BOOST_REQUIRE_GE(transcript.size(), 2U);
  std::vector<std::string> tail(transcript.end() - 2, transcript.end());
  checkReplies(tail, {"eom - <RUA@example.test>", "eom a"});
  // Only the rua recipient: discarded.
  env.rcpts = {"<rua@example.test>"};
  transcript = message(reportMail(), env);
  BOOST_REQUIRE(!transcript.empty());
  BOOST_CHECK_EQUAL(transcript.back(), "eom d");
}

BOOST_AUTO_TEST_CASE(store_error_answers_the_451_reply_code_instead_of_tempfail)
{
  start("", /*readOnlyStore=*/true);
  negotiate();
  connect();
  Mail mail = reportMail();
  mail.headers.emplace_back("X-DMARCwatch", "stored"); // no edits with a tempfail
  std::vector<std::string> transcript = message(mail);
  BOOST_REQUIRE(!transcript.empty());
  BOOST_CHECK_EQUAL(transcript.back(), "eom y 451 4.3.0 dmarcwatch: cannot store the report now, try again later");
  for (const auto& line : transcript) {
    BOOST_CHECK_MESSAGE(line.rfind("eom m", 0) != 0 && line.rfind("eom h", 0) != 0, "edit with tempfail: " << line);
  }
  // The reply code was for that answer only: the next message is plain and gets a plain accept.
  checkReplies(message(plainMail(), plainEnvelope()), {"data a"});
}

// ---------------------------------------------- abort, quit, new connection

BOOST_AUTO_TEST_CASE(abort_mid_message_then_a_new_message_works)
{
  negotiate();
  connect();
  // A report message cut off in its body.
  send('D', "M" + strings({"i", "4QABORT"}));
  checkReplies(send('M', strings({"<noreply-dmarc-support@google.com>"})), {});
  checkReplies(send('R', strings({"<rua@example.test>"})), {});
  checkReplies(send('T'), {"c"});
  Mail mail = reportMail();
  for (const auto& [name, value] : mail.headers) {
    checkReplies(send('L', strings({name, value})), {});
  }
  checkReplies(send('N'), {});
  checkReplies(send('B', std::string_view(mail.body).substr(0, 500)), {"c"});
  BOOST_REQUIRE(context() != nullptr);
  BOOST_CHECK(context()->reportInProgress());
  checkReplies(send('A'), {}); // ABORT has no reply
  BOOST_CHECK(!context()->reportInProgress());
  BOOST_CHECK_EQUAL(storedReports(), 0U);

  // Plain mail next: nothing of the report (its recipient) is carried over.
  checkReplies(message(plainMail(), plainEnvelope()), {"data a"});
  // Then the report in full: stored (the aborted part is not glued in front of it).
  std::vector<std::string> transcript = message(mail);
  BOOST_REQUIRE_GE(transcript.size(), 2U);
  BOOST_CHECK_EQUAL(transcript[transcript.size() - 2], "eom " + s_storedHeader);
  BOOST_CHECK_EQUAL(storedReports(), 1U);
  // ABORT between messages is harmless.
  checkReplies(send('A'), {});
  checkReplies(message(plainMail(), plainEnvelope()), {"data a"});
}

BOOST_AUTO_TEST_CASE(quit_new_connection_gives_a_fresh_context)
{
  negotiate();
  connect();
  // A report message in progress when the MTA ends the SMTP connection.
  send('M', strings({"<a@sender.test>"}));
  send('R', strings({"<rua@example.test>"}));
  const ConnectionContext* before = context();
  BOOST_REQUIRE(before != nullptr);
  uint64_t firstId = before->id();
  BOOST_CHECK(before->reportInProgress());

  checkReplies(send('K'), {});
  // The next SMTP connection over the same milter connection: same negotiation, new state.
  checkReplies(connect(), {});
  BOOST_REQUIRE(context() != nullptr);
  BOOST_CHECK_NE(context()->id(), firstId);
  BOOST_CHECK(!context()->reportInProgress());
  checkReplies(message(plainMail(), plainEnvelope()), {"data a"});
  std::vector<std::string> transcript = message(reportMail());
  BOOST_REQUIRE(!transcript.empty());
  BOOST_CHECK_EQUAL(transcript.back(), "eom a");
  BOOST_CHECK_EQUAL(storedReports(), 1U);
}

BOOST_AUTO_TEST_CASE(quit_closes)
{
  negotiate();
  connect();
  checkReplies(message(plainMail(), plainEnvelope()), {"data a"});
  std::vector<std::string> replies;
  BOOST_CHECK_EQUAL(send('Q', "", replies), Next::Close);
  checkReplies(replies, {});
  BOOST_CHECK(context() == nullptr);
}

// ------------------------------------------------------------------ macros

BOOST_AUTO_TEST_CASE(queue_id_macro_is_found_bare_or_in_braces)
{
  negotiate();
  connect();
  Envelope env;
  env.queueId = "4QBARE";
  message(reportMail(), env);
  BOOST_CHECK_EQUAL(log.count({"report message", "qid=4QBARE"}), 1U);

  // Macros named "{i}" (Sendmail's long form) answer a lookup of "i".
  send('D', "M" + strings({"{i}", "4QBRACES"}));
  send('M', strings({"<a@sender.test>"}));
  send('R', strings({"<rua@example.test>"}));
  send('T');
  Mail mail = reportMail();
  for (const auto& [name, value] : mail.headers) {
    send('L', strings({name, value}));
  }
  send('N');
  send('B', mail.body);
  std::vector<std::string> replies;
  BOOST_CHECK_EQUAL(send('E', "", replies), Next::Defer);
  std::string out;
  conn->finishDeferred(out);
  checkReplies(decodeReplies(out), {s_duplicateHeader, "a"});
  BOOST_CHECK_EQUAL(log.count({"report message", "qid=4QBRACES", "outcome=duplicate"}), 1U);

  // Without any queue id macro the connection id stands in.
  send('A');
  send('M', strings({"<a@sender.test>"}));
  send('R', strings({"<rua@example.test>"}));
  send('T');
  send('L', strings({"Subject", "x"}));
  send('B', "not a report\r\n");
  BOOST_CHECK_EQUAL(send('E', "", replies), Next::Defer);
  out.clear();
  conn->finishDeferred(out);
  BOOST_CHECK_EQUAL(log.count({"report message not stored", "qid=conn-"}), 1U);
  BOOST_CHECK_EQUAL(log.count({"qid=4QBRACES"}), 1U);
}

BOOST_AUTO_TEST_CASE(macro_lookup_follows_smfi_getsymval)
{
  negotiate();
  connect(); // connect stage: j and {daemon_name}
  send('D', "M" + strings({"{i}", "4QMAIL", "{auth_authen}", "alice"}));
  send('M', strings({"<a@sender.test>"}));
  send('D', "R" + strings({"i", "4QRCPT"}));
  send('R', strings({"<bob@example.test>"}));
  // The latest stage wins: RCPT's "i" over MAIL's "{i}".
  BOOST_CHECK_EQUAL(conn->macro("i").value_or("-"), "4QRCPT");
  BOOST_CHECK_EQUAL(conn->macro("{i}").value_or("-"), "4QRCPT");
  send('D', "E" + strings({"{i}", "4QEOM"}));
  BOOST_CHECK_EQUAL(conn->macro("i").value_or("-"), "4QEOM");
  // Braces are optional for one-letter names only, as in libmilter.
  BOOST_CHECK_EQUAL(conn->macro("j").value_or("-"), "mx.example.test");
  BOOST_CHECK_EQUAL(conn->macro("{j}").value_or("-"), "mx.example.test");
  BOOST_CHECK_EQUAL(conn->macro("{daemon_name}").value_or("-"), "smtpd");
  BOOST_CHECK(!conn->macro("daemon_name"));
  BOOST_CHECK_EQUAL(conn->macro("{auth_authen}").value_or("-"), "alice");
  BOOST_CHECK(!conn->macro("auth_authen"));
  // A new message forgets the old one's RCPT macros; CONNECT's stay.
  send('A');
  send('D', "M" + strings({"i", "4QNEXT"}));
  BOOST_CHECK_EQUAL(conn->macro("i").value_or("-"), "4QNEXT");
  BOOST_CHECK_EQUAL(conn->macro("j").value_or("-"), "mx.example.test");
}

BOOST_AUTO_TEST_SUITE_END()
