/*
 * protocol.hh - the milter wire protocol (version 6, as Sendmail's libmilter
 * and Postfix's milter8 client speak it): packet framing, the decoders for
 * the MTA's commands and the encoders for our replies.  No I/O, no state.
 *
 * A packet is a 32-bit big-endian length, then that many bytes: one command
 * (or reply) letter and its data.  Strings in the data are NUL-terminated.
 *
 * Why our own and not libmilter: Debian's libmilter hands every connection
 * between a poll thread and a worker pool several times per message; with
 * one SMTP connection per message that cost Postfix 10 % of its throughput
 * for mail the milter does not even look at (t/bench/RESULTS.md).  The
 * event loop in engine.cc speaks this protocol directly.
 *
 * Users: dispatch.cc (a milter connection), engine.cc (framing), tests.
 * Thread-safety: pure functions.  Error policy: decoders throw
 * ProtocolError on malformed data; the connection is then closed and the MTA
 * applies its milter_default_action.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dmarcwatch::milter::protocol
{

//! The MTA broke the protocol (bad length, truncated data, unknown command where one is required).
class ProtocolError : public std::runtime_error
{
public:
  using std::runtime_error::runtime_error;
};

//! Protocol version we speak.
constexpr uint32_t s_version = 6;
//! Largest packet we accept: a body chunk is at most 64 KiB, a header at most Postfix's
//! header_size_limit (100 KiB by default); anything larger is not a milter MTA.
constexpr size_t s_maxPacket = 1024 * 1024;

//! Commands from the MTA (SMFIC_* in libmilter's mfdef.h).
namespace command
{
constexpr char abort = 'A';
constexpr char body = 'B';
constexpr char connect = 'C';
constexpr char macro = 'D';
constexpr char endOfBody = 'E';
constexpr char helo = 'H';
constexpr char quitNewConnection = 'K';
constexpr char header = 'L';
constexpr char mail = 'M';
constexpr char endOfHeaders = 'N';
constexpr char optionNegotiation = 'O';
constexpr char quit = 'Q';
constexpr char recipient = 'R';
constexpr char data = 'T';
constexpr char unknown = 'U';
} // namespace command

//! Replies to the MTA (SMFIR_*).
namespace reply
{
constexpr char deleteRecipient = '-';
constexpr char accept = 'a';
constexpr char continue_ = 'c';
constexpr char discard = 'd';
constexpr char addHeader = 'h';
constexpr char changeHeader = 'm';
constexpr char optionNegotiation = 'O';
constexpr char progress = 'p'; //!< "still working": the MTA restarts its timeout (protocol 4 and later)
constexpr char reject = 'r';
constexpr char tempfail = 't';
constexpr char replyCode = 'y';
} // namespace reply

//! Actions the milter may take at end of message (SMFIF_*).
namespace action
{
constexpr uint32_t addHeaders = 0x01;
constexpr uint32_t changeHeaders = 0x10;
constexpr uint32_t deleteRecipients = 0x08;
} // namespace action

//! Protocol flags (SMFIP_*): steps the MTA may leave out, or not wait for an answer to, and how it sends headers.
namespace flag
{
constexpr uint32_t noConnect = 0x01;
constexpr uint32_t noHelo = 0x02;
constexpr uint32_t noMail = 0x04;
constexpr uint32_t noRecipient = 0x08;
constexpr uint32_t noBody = 0x10;
constexpr uint32_t noHeaders = 0x20;
constexpr uint32_t noEndOfHeaders = 0x40;
constexpr uint32_t noReplyHeader = 0x80;
constexpr uint32_t noUnknown = 0x100;
constexpr uint32_t noData = 0x200;
constexpr uint32_t noReplyConnect = 0x1000;
constexpr uint32_t noReplyHelo = 0x2000;
constexpr uint32_t noReplyMail = 0x4000;
constexpr uint32_t noReplyRecipient = 0x8000;
constexpr uint32_t noReplyData = 0x10000;
constexpr uint32_t noReplyUnknown = 0x20000;
constexpr uint32_t noReplyEndOfHeaders = 0x40000;
constexpr uint32_t noReplyBody = 0x80000;
//! Header values as they are: without it the MTA eats one space after the colon (SMFIP_HDR_LEADSPC).
constexpr uint32_t headerLeadingSpace = 0x100000;
} // namespace flag

//! Macro stages a milter can ask macros for in its negotiation reply (SMFIM_*).
namespace stage
{
constexpr uint32_t connect = 0;
constexpr uint32_t helo = 1;
constexpr uint32_t mail = 2;
constexpr uint32_t recipient = 3;
constexpr uint32_t data = 4;
constexpr uint32_t endOfMessage = 5;
constexpr uint32_t endOfHeaders = 6;
constexpr uint32_t count = 7;
} // namespace stage

//! One packet: its command letter and its data (a view into the caller's buffer).
struct Packet
{
  char command = 0;
  std::string_view data;
};

/*!
 * \brief The first whole packet at the start of `buffer`, if there is one.
 * \param[out] consumed bytes the packet takes (length field included); 0 when incomplete.
 * \throw ProtocolError for a length of 0 or above s_maxPacket.
 */
std::optional<Packet> nextPacket(std::string_view buffer, size_t& consumed);

//! SMFIC_OPTNEG: what the MTA offers.
struct Negotiation
{
  uint32_t version = 0;
  uint32_t actions = 0;  //!< actions the MTA allows
  uint32_t protocol = 0; //!< protocol flags the MTA understands
};
//! \throw ProtocolError when shorter than three 32-bit words.
Negotiation parseNegotiation(std::string_view data);

//! The NUL-terminated strings of a packet's data (the last one may lack its NUL). Never throws but bad_alloc.
std::vector<std::string_view> splitStrings(std::string_view data);

//! SMFIC_MACRO: the command letter the macros belong to, and name/value pairs.
struct Macros
{
  char forCommand = 0;
  std::vector<std::pair<std::string_view, std::string_view>> values;
};
//! \throw ProtocolError when empty.  An odd trailing name is dropped.
Macros parseMacros(std::string_view data);

//! SMFIC_CONNECT: host name, family ('4', '6', 'L' unix, 'U' unknown), port, address text.
struct ConnectInfo
{
  std::string_view hostname;
  char family = 'U';
  uint16_t port = 0;
  std::string_view address;
};
//! \throw ProtocolError when truncated.
ConnectInfo parseConnect(std::string_view data);

//! SMFIC_HEADER: name and value. \throw ProtocolError without the two strings.
std::pair<std::string_view, std::string_view> parseHeader(std::string_view data);

// ------------------------------------------------------------ encoders

//! Append one packet: length, letter, data.
void appendPacket(std::string& out, char letter, std::string_view data = {});
/*!
 * Append our negotiation reply: version, actions, the protocol flags we ask
 * for, then for each non-empty entry of macroLists (indexed by stage) the
 * stage and its space-separated macro names.
 */
void appendNegotiationReply(std::string& out, uint32_t version, uint32_t actions, uint32_t protocol,
                            const std::vector<std::string>& macroLists);
//! SMFIR_ADDHEADER.
void appendAddHeader(std::string& out, std::string_view name, std::string_view value);
//! SMFIR_CHGHEADER with an empty value: delete the index-th (1-based) header of that name.
void appendDeleteHeader(std::string& out, uint32_t index, std::string_view name);
//! SMFIR_DELRCPT.
void appendDeleteRecipient(std::string& out, std::string_view recipient);
//! SMFIR_REPLYCODE: "451 4.3.0 text" ('%' doubled, as Sendmail expects a format string).
void appendReplyCode(std::string& out, std::string_view code, std::string_view xcode, std::string_view text);

} // namespace dmarcwatch::milter::protocol
