/*
 * fuzz-milter-protocol.cc - fuzz target: what an MTA sends the milter.
 *
 * The input is the byte stream of one milter connection, MTA to milter
 * (seed corpus: t/fuzz/corpus-milter-protocol/, whole conversations as
 * Postfix sends them).  It is cut into packets with nextPacket, and
 *   - every decoder runs over every packet's data, whatever its letter,
 *     with the contracts of protocol.hh checked (framing sizes, splitStrings
 *     losing no byte, a decoded header encoding back to the same bytes);
 *   - the packets drive a MilterConnection (dispatch.hh) over a Runtime with
 *     a real Store in a temp directory made once per process, finishing a
 *     deferred end of message as the engine's worker would; every reply it
 *     writes must frame as whole packets with a known reply letter.
 *
 * Built with standalone-runner.cc for `make check` (replay) and with
 * libFuzzer by run-libfuzzer.sh.  ProtocolError is the expected outcome of
 * bad input (the engine closes the connection); anything else escapes and
 * aborts.
 */
#include "config.h"

#include "collector/common/config.hh"
#include "collector/common/log.hh"
#include "collector/store/store.hh"
#include "milter/dispatch.hh"
#include "milter/protocol.hh"
#include "milter/session.hh"
#include "t/fuzz/fuzz-util.hh"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

using namespace dmarcwatch;
namespace protocol = dmarcwatch::milter::protocol;

namespace
{

/*!
 * The store and configuration every input shares: a temp directory made at
 * the first input and removed at exit.  Log lines are captured (and dropped
 * per input) so fuzzing does not write to stderr.
 */
struct FuzzState
{
  std::filesystem::path dir;
  std::vector<std::string> logLines;
  std::unique_ptr<milter::Runtime> runtime;

  FuzzState()
  {
    std::string pattern = (std::filesystem::temp_directory_path() / "dmarcwatch-fuzz-milter.XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      fuzz::fuzzCheck(false, "mkdtemp failed");
    }
    dir = pattern;
    std::filesystem::create_directories(dir / "db");
    std::filesystem::create_directories(dir / "tmp");
    collector::setLogCapture(&logLines);
    std::string text = "ReportAddress rua@example.test\nDatabase " + (dir / "db").string() + "\nTempDirectory " +
      (dir / "tmp").string() + "\nMemoryBufferSize 64K\nMaxMessageSize 1M\n";
    runtime = std::make_unique<milter::Runtime>(collector::parseConfig(text, "fuzz-milter.conf"));
    collector::Store::Options options;
    options.mapSize = 64ULL << 20;
    options.sync = false;
    runtime->setStore(std::make_unique<collector::Store>((dir / "db").string(), options));
  }
  ~FuzzState()
  {
    runtime.reset();
    collector::setLogCapture(nullptr);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  FuzzState(const FuzzState&) = delete;
  FuzzState& operator=(const FuzzState&) = delete;
};

//! \brief splitStrings must lose nothing: the strings joined by NULs give the data back.
void checkSplit(std::string_view data)
{
  const std::vector<std::string_view> strings = protocol::splitStrings(data);
  std::string joined;
  for (size_t i = 0; i < strings.size(); ++i) {
    if (i > 0) {
      joined.push_back('\0');
    }
    joined.append(strings[i]);
  }
  if (!data.empty() && data.back() == '\0') {
    joined.push_back('\0');
  }
  fuzz::fuzzCheck(joined == data, "splitStrings: the strings joined by NUL differ from the data");
}

//! \brief Every decoder over one packet's data; ProtocolError is a fine answer.
void decodeAll(std::string_view data)
{
  checkSplit(data);
  try {
    (void)protocol::parseNegotiation(data);
    fuzz::fuzzCheck(data.size() >= 12, "parseNegotiation accepted less than 12 bytes");
  }
  catch (const protocol::ProtocolError&) {
    fuzz::fuzzCheck(data.size() < 12, "parseNegotiation refused 12 bytes or more");
  }
  try {
    const protocol::Macros macros = protocol::parseMacros(data);
    fuzz::fuzzCheck(!data.empty() && macros.forCommand == data[0], "parseMacros: wrong command letter");
  }
  catch (const protocol::ProtocolError&) {
    fuzz::fuzzCheck(data.empty(), "parseMacros refused a packet that is not empty");
  }
  try {
    const protocol::ConnectInfo info = protocol::parseConnect(data);
    if (info.family == 'U') {
      fuzz::fuzzCheck(info.port == 0 && info.address.empty(), "parseConnect: family U with a port or address");
    }
  }
  catch (const protocol::ProtocolError&) {
    // Expected: truncated connect data.
  }
  try {
    const auto [name, value] = protocol::parseHeader(data);
    // What we decoded, encoded as a reply, decodes to the same strings.
    std::string out;
    protocol::appendAddHeader(out, name, value);
    size_t consumed = 0;
    const std::optional<protocol::Packet> back = protocol::nextPacket(out, consumed);
    fuzz::fuzzCheck(back && consumed == out.size(), "appendAddHeader: not one whole packet");
    const auto [backName, backValue] = protocol::parseHeader(back->data);
    fuzz::fuzzCheck(backName == name && backValue == value, "appendAddHeader/parseHeader round trip differs");
  }
  catch (const protocol::ProtocolError&) {
    // Expected: no name and value.
  }
}

//! \brief Replies must be whole packets with a reply letter.
void checkReplies(std::string_view out)
{
  static constexpr std::string_view c_replyLetters = "-acdhmOrty";
  while (!out.empty()) {
    size_t consumed = 0;
    std::optional<protocol::Packet> reply;
    try {
      reply = protocol::nextPacket(out, consumed);
    }
    catch (const protocol::ProtocolError&) {
      fuzz::fuzzCheck(false, "a reply with a bad length");
    }
    fuzz::fuzzCheck(reply.has_value(), "a partial reply packet");
    fuzz::fuzzCheck(c_replyLetters.find(reply->command) != std::string_view::npos, "a reply with an unknown letter");
    out.remove_prefix(consumed);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  static FuzzState s_state;
  s_state.logLines.clear();
  std::string_view input(reinterpret_cast<const char*>(data), size);

  // Step: frame the stream; a bad length ends it (the engine closes such a connection).
  std::vector<protocol::Packet> packets;
  try {
    while (!input.empty()) {
      size_t consumed = 0;
      std::optional<protocol::Packet> packet = protocol::nextPacket(input, consumed);
      if (!packet) {
        fuzz::fuzzCheck(consumed == 0, "nextPacket: incomplete but consumed bytes");
        break; // the rest is an incomplete packet
      }
      fuzz::fuzzCheck(consumed == 5 + packet->data.size() && consumed <= input.size(),
                      "nextPacket: consumed differs from the packet's size");
      fuzz::fuzzCheck(consumed - 4 <= protocol::s_maxPacket, "nextPacket: a packet above s_maxPacket");
      packets.push_back(*packet);
      input.remove_prefix(consumed);
    }
  }
  catch (const protocol::ProtocolError&) {
    // Expected: a length of 0 or above s_maxPacket.
  }

  // Step: every decoder over every packet.
  for (const protocol::Packet& packet : packets) {
    decodeAll(packet.data);
  }

  // Step: the packets as one milter connection.
  milter::MilterConnection conn(*s_state.runtime);
  try {
    for (const protocol::Packet& packet : packets) {
      std::string out;
      const milter::MilterConnection::Next next = conn.handle(packet, out);
      if (next == milter::MilterConnection::Next::Defer) {
        fuzz::fuzzCheck(out.empty(), "replies before a deferred end of message");
        conn.finishDeferred(out);
        fuzz::fuzzCheck(!out.empty(), "a deferred end of message without a verdict");
      }
      checkReplies(out);
      if (next == milter::MilterConnection::Next::Close) {
        break;
      }
    }
  }
  catch (const protocol::ProtocolError&) {
    // Expected: a malformed or unexpected command; the engine closes the connection.
  }
  return 0;
}
