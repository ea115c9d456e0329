/*
 * dispatch.cc - a milter connection over a ConnectionContext.  See
 * dispatch.hh for the flow.
 *
 * Negotiation: every protocol step the MTA waits for costs it a round trip,
 * and every macro it sends costs it a lookup, so we ask for as little as
 * our logic needs:
 *   - no unknown-command step; the HELO step stays (SPF of report mail
 *     checks the HELO name when MAIL FROM is <>) but needs no reply;
 *   - no reply to CONNECT, HELO, MAIL and RCPT (they only record the client,
 *     the HELO name, the sender, the queue id and the recipients), nor, when
 *     the MTA has the DATA step, to
 *     headers and end of headers: non-report mail is accepted at DATA, the
 *     first point where every recipient is known, so headers only reach
 *     report messages, which are decided at end of message;
 *   - the queue id macro ("i") at MAIL, RCPT and end of message; at the
 *     other stages a name no MTA defines, since an empty list would mean
 *     "the MTA's defaults" (Postfix milter_*_macros);
 *   - header values as they are (SMFIP_HDR_LEADSPC): DKIM with "simple"
 *     header canonicalization signs the bytes after the colon, and without
 *     the flag the MTA eats one space there (Postfix milter8.c, Sendmail),
 *     so "From:x" and "From: x" would arrive alike.  An MTA that does not
 *     offer it leaves the session rebuilding "Name: value", marked
 *     approximate (session.hh).
 * The MTA buffers steps that need no reply and sends them with the next one
 * that does, so a non-report message costs two round trips: negotiation
 * and DATA.  DATA keeps its reply (the early accept) and so does the body:
 * the verdict for a body chunk that arrives with end of message is given
 * before end of message runs, as libmilter does.
 */
#include "config.h"

#include "milter/dispatch.hh"

#include "collector/common/log.hh"

#include <string_view>
#include <utility>

namespace dmarcwatch::milter
{
namespace
{

namespace cmd = protocol::command;
namespace flag = protocol::flag;

//! The actions we use: add our header, delete forged ones, delete the rua recipient.
constexpr uint32_t s_actions =
  protocol::action::addHeaders | protocol::action::changeHeaders | protocol::action::deleteRecipients;
//! SMFIF_SETSYMLIST: the MTA takes macro lists in the negotiation reply.
constexpr uint32_t s_setSymbolList = 0x100;
//! A macro name no MTA defines: asks for an empty macro list at a stage.
constexpr const char* s_noMacros = "{dmarcwatch_none}";

//! The macro stage a MACRO packet's command letter belongs to, or stage::count for none.
size_t stageOf(char letter)
{
  switch (letter) {
  case cmd::connect:
    return protocol::stage::connect;
  case cmd::helo:
    return protocol::stage::helo;
  case cmd::mail:
    return protocol::stage::mail;
  case cmd::recipient:
    return protocol::stage::recipient;
  case cmd::data:
    return protocol::stage::data;
  case cmd::endOfBody:
    return protocol::stage::endOfMessage;
  case cmd::endOfHeaders:
    return protocol::stage::endOfHeaders;
  default:
    return protocol::stage::count;
  }
}

//! Step bits for the no-reply flags agreed.
unsigned noReplySteps(uint32_t flags)
{
  unsigned steps = 0;
  const std::pair<uint32_t, Step> map[] = {
    {flag::noReplyConnect, Step::Connect}, {flag::noReplyHelo, Step::Helo},
    {flag::noReplyMail, Step::EnvFrom},    {flag::noReplyRecipient, Step::EnvRcpt},
    {flag::noReplyData, Step::Data},       {flag::noReplyHeader, Step::Header}, {flag::noReplyEndOfHeaders, Step::EndOfHeaders},
    {flag::noReplyBody, Step::Body},
  };
  for (const auto& [bit, step] : map) {
    if ((flags & bit) != 0) {
      steps = steps | step;
    }
  }
  return steps;
}

//! smfi_getsymval's name rule: exact, or a one-letter name with or without braces ("i" and "{i}").
bool sameMacro(std::string_view stored, std::string_view wanted)
{
  if (stored == wanted) {
    return true;
  }
  if (wanted.size() == 1) {
    return stored.size() == 3 && stored.front() == '{' && stored[1] == wanted[0] && stored.back() == '}';
  }
  if (wanted.size() == 3 && wanted.front() == '{' && wanted.back() == '}') {
    return stored.size() == 1 && stored[0] == wanted[1];
  }
  return false;
}

//! The first string of a command's data (MAIL/RCPT address), "" when there is none.
std::string_view firstArgument(std::string_view data)
{
  std::vector<std::string_view> args = protocol::splitStrings(data);
  return args.empty() ? std::string_view() : args.front();
}

} // namespace

MilterConnection::MilterConnection(Runtime& runtime) :
  d_runtime(runtime)
{
}

ConnectionContext& MilterConnection::ensureContext()
{
  if (!d_context) {
    d_context = std::make_unique<ConnectionContext>(d_runtime, "unknown");
    d_context->setNoReplySteps(d_noReply);
    d_context->setLeadingSpace(d_leadingSpace);
  }
  return *d_context;
}

MilterConnection::Next MilterConnection::negotiate(std::string_view data, std::string& out)
{
  protocol::Negotiation offer = protocol::parseNegotiation(data);
  d_context.reset();
  ensureContext(); // its connection id names this connection in the log from now on
  if (offer.version < 2) {
    collector::logError("milter negotiation refused",
                        {{"qid", logId()}, {"reason", "protocol version " + std::to_string(offer.version)}});
    return Next::Close;
  }
  if ((offer.actions & s_actions) != s_actions) {
    // As libmilter: without the actions we need, better no milter than a half-working one.
    collector::logError("milter negotiation refused",
                        {{"qid", logId()}, {"reason", "the MTA does not allow adding/changing headers and deleting recipients"}});
    return Next::Close;
  }
  uint32_t want = flag::noUnknown | flag::noReplyConnect | flag::noReplyHelo | flag::noReplyMail |
    flag::noReplyRecipient | flag::headerLeadingSpace;
  if ((offer.protocol & flag::noData) != 0) {
    want |= flag::noReplyHeader | flag::noReplyEndOfHeaders;
  }
  uint32_t agreed = want & offer.protocol;
  uint32_t actions = s_actions;
  std::vector<std::string> macroLists;
  if ((offer.actions & s_setSymbolList) != 0) {
    actions |= s_setSymbolList;
    macroLists.assign(protocol::stage::count, s_noMacros);
    macroLists[protocol::stage::mail] = "i";
    macroLists[protocol::stage::recipient] = "i";
    macroLists[protocol::stage::endOfMessage] = "i";
  }
  d_version = std::min(offer.version, protocol::s_version);
  protocol::appendNegotiationReply(out, d_version, actions, agreed, macroLists);
  d_noReply = noReplySteps(agreed);
  d_leadingSpace = (agreed & flag::headerLeadingSpace) != 0;
  d_negotiated = true;
  d_context->setNoReplySteps(d_noReply);
  d_context->setLeadingSpace(d_leadingSpace);
  return Next::Read;
}

void MilterConnection::storeMacros(std::string_view data)
{
  protocol::Macros macros = protocol::parseMacros(data);
  size_t stageIndex = stageOf(macros.forCommand);
  if (stageIndex == protocol::stage::count) {
    return; // macros for a step that has no stage (e.g. HEADER): unused
  }
  // A new connection, HELO or message starts afresh (what libmilter forgets at the same points).
  if (stageIndex == protocol::stage::connect || stageIndex == protocol::stage::helo) {
    clearMacrosFrom(stageIndex + 1);
  }
  else if (stageIndex == protocol::stage::mail) {
    clearMacrosFrom(protocol::stage::recipient);
  }
  auto& slot = d_macros[stageIndex];
  slot.clear();
  for (const auto& [name, value] : macros.values) {
    slot.emplace_back(name, value);
  }
}

void MilterConnection::clearMacrosFrom(size_t stageIndex)
{
  for (size_t i = stageIndex; i < d_macros.size(); ++i) {
    d_macros[i].clear();
  }
}

void MilterConnection::reply(Verdict verdict, std::string& out)
{
  switch (verdict) {
  case Verdict::NoReply:
    return;
  case Verdict::Continue:
    protocol::appendPacket(out, protocol::reply::continue_);
    break;
  case Verdict::Accept:
    protocol::appendPacket(out, protocol::reply::accept);
    break;
  case Verdict::Discard:
    protocol::appendPacket(out, protocol::reply::discard);
    break;
  case Verdict::Tempfail:
  case Verdict::Reject:
    // The reply code set for this answer carries the SMTP code (4xx or 5xx) and the text.
    if (d_replyCode) {
      out.append(*d_replyCode);
    }
    else {
      protocol::appendPacket(out, verdict == Verdict::Tempfail ? protocol::reply::tempfail : protocol::reply::reject);
    }
    break;
  }
  d_replyCode.reset(); // a reply code belongs to the one answer it was set for
}

bool MilterConnection::runsOffLoop(const protocol::Packet& packet) const
{
  if (!d_context) {
    return false;
  }
  switch (packet.command) {
  case cmd::endOfBody:
    return d_context->reportInProgress(); // parse and store
  case cmd::header:
    return d_context->touchesDisk(packet.data.size() + 4); // "Name: value\r\n" from "Name\0value\0"
  case cmd::endOfHeaders:
    return d_context->touchesDisk(2);
  case cmd::body:
    return d_context->touchesDisk(packet.data.size());
  case cmd::abort:
  case cmd::quitNewConnection:
    return holdsTempFile(); // closing the temp file of an unlinked message frees its blocks
  default:
    return false;
  }
}

MilterConnection::Next MilterConnection::handle(const protocol::Packet& packet, std::string& out)
{
  if (!runsOffLoop(packet)) {
    return dispatch(packet, out);
  }
  if (packet.command == cmd::header) {
    (void)protocol::parseHeader(packet.data); // a malformed one is refused here, on the loop
  }
  d_deferred = packet.command;
  d_deferredData.assign(packet.data);
  return Next::Defer;
}

MilterConnection::Next MilterConnection::dispatch(const protocol::Packet& packet, std::string& out)
{
  if (packet.command == cmd::optionNegotiation) {
    return negotiate(packet.data, out);
  }
  if (packet.command == cmd::macro) {
    storeMacros(packet.data);
    return Next::Read;
  }
  if (!d_negotiated) {
    throw protocol::ProtocolError(std::string("command '") + packet.command + "' before option negotiation");
  }
  ConnectionContext& conn = ensureContext(); // not used after QUIT/QUIT_NC, which drop it
  switch (packet.command) {
  case cmd::connect: {
    protocol::ConnectInfo info = protocol::parseConnect(packet.data);
    std::string client = info.family == '4' || info.family == '6' ? std::string(info.address) : "local";
    Verdict verdict = conn.step(Step::Connect, *this, "connect", [&] {
      conn.onConnect(client);
      return Verdict::Continue;
    });
    reply(verdict, out);
    return Next::Read;
  }
  case cmd::helo:
    // The HELO name, for SPF (a later HELO/EHLO replaces it).  It belongs to the connection and
    // decides nothing, so it does not go through step() (a verdict kept for a message stays there).
    conn.onHelo(firstArgument(packet.data));
    if ((d_noReply & static_cast<unsigned>(Step::Helo)) == 0) {
      protocol::appendPacket(out, protocol::reply::continue_);
    }
    return Next::Read;
  case cmd::unknown:
    // Asked away in the negotiation; an MTA that sends it anyway gets a plain continue.
    protocol::appendPacket(out, protocol::reply::continue_);
    return Next::Read;
  case cmd::mail: {
    std::string_view sender = firstArgument(packet.data);
    reply(conn.step(Step::EnvFrom, *this, "envfrom", [&] { return conn.onEnvFrom(*this, sender); }), out);
    return Next::Read;
  }
  case cmd::recipient: {
    std::string_view recipient = firstArgument(packet.data);
    reply(conn.step(Step::EnvRcpt, *this, "envrcpt", [&] { return conn.onEnvRcpt(*this, recipient); }), out);
    return Next::Read;
  }
  case cmd::data:
    reply(conn.step(Step::Data, *this, "data", [&] { return conn.onData(*this); }), out);
    return Next::Read;
  case cmd::header: {
    // Not a structured binding: clang before 16 cannot capture those in a lambda.
    std::pair<std::string_view, std::string_view> header = protocol::parseHeader(packet.data);
    reply(conn.step(Step::Header, *this, "header", [&] { return conn.onHeader(*this, header.first, header.second); }),
          out);
    return Next::Read;
  }
  case cmd::endOfHeaders:
    reply(conn.step(Step::EndOfHeaders, *this, "eoh", [&] { return conn.onEndOfHeaders(*this); }), out);
    return Next::Read;
  case cmd::body:
    reply(conn.step(Step::Body, *this, "body", [&] { return conn.onBody(*this, packet.data); }), out);
    return Next::Read;
  case cmd::endOfBody:
    endOfMessage(packet.data, out);
    return Next::Read;
  case cmd::abort:
    conn.onAbort();
    clearMacrosFrom(protocol::stage::mail);
    d_replyCode.reset();
    return Next::Read;
  case cmd::quitNewConnection:
    // The MTA reuses this milter connection for a new SMTP connection: same negotiation, fresh state.
    d_context.reset();
    clearMacrosFrom(protocol::stage::connect);
    d_replyCode.reset();
    return Next::Read;
  case cmd::quit:
    if (!holdsTempFile()) {
      d_context.reset();
    }
    // else it goes with the connection, which the loop hands to a worker to free
    return Next::Close;
  default:
    throw protocol::ProtocolError(std::string("unknown command '") + packet.command + "'");
  }
}

bool MilterConnection::deferredEndOfMessage() const noexcept
{
  return d_deferred == cmd::endOfBody;
}

void MilterConnection::finishDeferred(std::string& out) noexcept
{
  char command = std::exchange(d_deferred, 0);
  std::string data = std::move(d_deferredData);
  d_deferredData.clear();
  if (command == cmd::endOfBody) {
    endOfMessage(data, out);
    return;
  }
  try {
    // Header, end of headers, body: step() never throws; abort and QUIT_NC only free memory.
    dispatch(protocol::Packet{command, data}, out);
  }
  catch (const std::exception& e) {
    collector::logError("milter step failed", {{"qid", d_context ? d_context->logId() : "-"}, {"error", e.what()}});
  }
  catch (...) {
    collector::logError("milter step failed", {{"qid", d_context ? d_context->logId() : "-"}, {"error", "unknown exception"}});
  }
}

void MilterConnection::endOfMessage(std::string_view finalChunk, std::string& out) noexcept
{
  // libmilter's order: a body chunk sent with end of message first; its
  // verdict, when not "continue", is the message's and end of message is not run.
  ConnectionContext& conn = *d_context; // handle() made it before deferring or calling us
  if (!finalChunk.empty()) {
    Verdict chunk = conn.step(Step::Body, *this, "body", [&] { return conn.onBody(*this, finalChunk); });
    if (chunk != Verdict::Continue && chunk != Verdict::NoReply) {
      reply(chunk, out);
      return;
    }
  }
  d_edits.clear();
  d_inEndOfMessage = true;
  Verdict verdict = conn.step(Step::EndOfMessage, *this, "eom", [&] { return conn.onEndOfMessage(*this); });
  d_inEndOfMessage = false;
  // Edits go before the verdict; after a failure they would change a message we tempfail.
  if (verdict == Verdict::Accept || verdict == Verdict::Continue) {
    out.append(d_edits);
  }
  d_edits.clear();
  reply(verdict == Verdict::Continue ? Verdict::Accept : verdict, out);
}

// ------------------------------------------------------------- MilterApi

std::optional<std::string> MilterConnection::symbol(const char* name)
{
  // As smfi_getsymval: the latest stage first (end of headers, end of message, DATA, RCPT, MAIL,
  // HELO, CONNECT), so a value the MTA sent again later wins.
  std::string_view wanted(name);
  for (auto stage = d_macros.rbegin(); stage != d_macros.rend(); ++stage) {
    for (const auto& [macro, value] : *stage) {
      if (sameMacro(macro, wanted)) {
        return value;
      }
    }
  }
  return std::nullopt;
}

bool MilterConnection::addHeader(const std::string& name, const std::string& value)
{
  if (!d_inEndOfMessage) {
    return false;
  }
  protocol::appendAddHeader(d_edits, name, value);
  return true;
}

bool MilterConnection::deleteHeader(const std::string& name, int index)
{
  if (!d_inEndOfMessage || index < 1) {
    return false;
  }
  protocol::appendDeleteHeader(d_edits, static_cast<uint32_t>(index), name);
  return true;
}

bool MilterConnection::deleteRecipient(const std::string& recipient)
{
  if (!d_inEndOfMessage) {
    return false;
  }
  protocol::appendDeleteRecipient(d_edits, recipient);
  return true;
}

bool MilterConnection::setReply(const std::string& rcode, const std::string& xcode, const std::string& text)
{
  std::string packet;
  protocol::appendReplyCode(packet, rcode, xcode, text);
  d_replyCode = std::move(packet);
  return true;
}

} // namespace dmarcwatch::milter
