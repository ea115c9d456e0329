/*
 * dispatch.hh - one milter connection: the MTA's packets in, our replies
 * out, the mail logic in a ConnectionContext (session.hh).  No I/O: the
 * event loop (engine.cc) reads packets, calls handle(), and writes what it
 * appended; tests drive it the same way.
 *
 *   OPTNEG  -> our reply: actions, the steps we skip or need no answer to,
 *              the macros we want per stage (see negotiate() for why)
 *   MACRO   -> kept per stage, for MilterApi::symbol()
 *   HELO    -> the HELO name, for SPF (ConnectionContext::onHelo)
 *   CONNECT, MAIL, RCPT, DATA, HEADER, EOH, BODY -> ConnectionContext::step
 *   BODYEOB -> (a final body chunk, then) end of message: for a report this
 *              is slow (parse, store, fsync), so handle() answers Defer and
 *              the loop runs finishDeferred() on a worker thread
 *   HEADER, EOH, BODY, ABORT of a report message that touch its temp file
 *           -> Defer too: a slow or stalled disk never holds up the loop
 *   ABORT   -> the message is dropped; QUIT_NC -> a fresh context;
 *   QUIT    -> Close
 *
 * Thread-safety: one thread at a time (the loop, or the worker running
 * finishDeferred while the loop does not read this connection).
 * Error policy: handle() throws protocol::ProtocolError for a malformed
 * packet and may throw bad_alloc; the loop then closes the connection and
 * the MTA applies milter_default_action.  The mail logic never throws out of
 * ConnectionContext::step.
 */
#pragma once

#include "milter/milter-api.hh"
#include "milter/protocol.hh"
#include "milter/session.hh"

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dmarcwatch::milter
{

class MilterConnection : private MilterApi
{
public:
  explicit MilterConnection(Runtime& runtime);

  //! What the loop does after handle().
  enum class Next
  {
    Read,  //!< go on reading packets
    Defer, //!< run finishDeferred() off the loop before reading more
    Close  //!< close the connection (QUIT, or a negotiation we cannot accept)
  };

  //! \brief One packet; replies are appended to out. \throw protocol::ProtocolError, std::bad_alloc
  Next handle(const protocol::Packet& packet, std::string& out);
  //! \brief The deferred step (after Defer): its reply (edits and verdict at end of message) appended to out. Never throws.
  void finishDeferred(std::string& out) noexcept;
  //! True while the message in progress keeps its bytes in a temp file (closing it may wait for the disk).
  [[nodiscard]] bool holdsTempFile() const noexcept { return d_context && d_context->touchesDisk(0); }
  //! True when the step handle() deferred is the end of a message (SMFIR_PROGRESS may be sent meanwhile).
  [[nodiscard]] bool deferredEndOfMessage() const noexcept;

  //! \brief A macro as libmilter's smfi_getsymval finds it (latest stage first; "i" = "{i}").
  [[nodiscard]] std::optional<std::string> macro(const char* name) { return symbol(name); }

  //! For log lines: the message's queue id when known, else the connection's "conn-N".
  [[nodiscard]] std::string logId() const { return d_context ? d_context->logId() : "conn-0"; }

  //! The session state, nullptr before negotiation and after QUIT_NC (for tests).
  [[nodiscard]] const ConnectionContext* context() const { return d_context.get(); }

private:
  // MilterApi, for the ConnectionContext.
  std::optional<std::string> symbol(const char* name) override;
  bool addHeader(const std::string& name, const std::string& value) override;
  bool deleteHeader(const std::string& name, int index) override;
  bool deleteRecipient(const std::string& recipient) override;
  bool setReply(const std::string& rcode, const std::string& xcode, const std::string& text) override;

  Next negotiate(std::string_view data, std::string& out);
  void storeMacros(std::string_view data);
  void clearMacrosFrom(size_t stageIndex);
  ConnectionContext& ensureContext();
  //! Append the reply for a verdict (nothing for NoReply); a pending reply code goes with Tempfail or Reject.
  void reply(Verdict verdict, std::string& out);
  //! Everything of handle() but the choice to defer.
  Next dispatch(const protocol::Packet& packet, std::string& out);
  //! True when the packet must run off the loop: a report's end of message, or a step touching its temp file.
  [[nodiscard]] bool runsOffLoop(const protocol::Packet& packet) const;
  void endOfMessage(std::string_view finalChunk, std::string& out) noexcept;

  Runtime& d_runtime;
  std::unique_ptr<ConnectionContext> d_context;
  bool d_negotiated = false;
  uint32_t d_version = 0;  //!< protocol version agreed
  unsigned d_noReply = 0;  //!< Step bits, from the negotiation
  bool d_leadingSpace = false; //!< SMFIP_HDR_LEADSPC agreed: header values arrive as they are
  //! Macros by stage (protocol::stage), as the MTA last sent them.
  std::array<std::vector<std::pair<std::string, std::string>>, protocol::stage::count> d_macros;
  std::string d_edits;                  //!< header and recipient changes for the end-of-message reply
  std::optional<std::string> d_replyCode; //!< SMFIR_REPLYCODE packet for the next Tempfail
  bool d_inEndOfMessage = false;        //!< edits are allowed only then
  char d_deferred = 0;                  //!< command letter of the deferred packet (0: none)
  std::string d_deferredData;           //!< its data (a deferred BODYEOB's: the final body chunk)
};

} // namespace dmarcwatch::milter
