/*
 * callbacks.cc - the extern "C" trampolines libmilter calls, and MilterApi
 * over SMFICTX.  No logic lives here: each callback finds the
 * ConnectionContext (smfi_getpriv), calls it, and maps the Verdict to
 * SMFIS_*.
 *
 * Thread-safety: libmilter calls the callbacks of one connection from that
 * connection's thread, in order.  s_runtime is set before smfi_main().
 *
 * Error policy: nothing may throw into libmilter (C code): every trampoline
 * catches everything and asks the context for the configured failure verdict
 * (ConnectionContext::failureVerdict: tempfail by default, accept for mail
 * already known not to be a report).  The context is created at option
 * negotiation (or, failing that, at the first callback that needs it) and
 * taken back into a unique_ptr at close, which tolerates a NULL private
 * pointer (close may be the only callback, e.g. after a failed negotiation).
 *
 * Negotiation (dwNegotiate): every SMTP message costs the MTA one round trip
 * per protocol step it waits for, so we ask for as few as our logic needs:
 *   - SMFIP_NOHELO, SMFIP_NOUNKNOWN: no callback for them;
 *   - SMFIP_NR_CONN, SMFIP_NR_MAIL, SMFIP_NR_RCPT: those steps only record
 *     (client, queue id, recipients) and never decide;
 *   - SMFIP_NR_HDR, SMFIP_NR_EOH, only when the MTA has the DATA step
 *     (offers SMFIP_NODATA): non-report mail is then accepted at DATA, the
 *     first point where every recipient is known, so headers only reach
 *     report messages, which are decided at end of message.
 * DATA keeps its reply (the early accept) and so does the body: libmilter
 * skips the eom callback when a body chunk sent along with end-of-message
 * answers anything but SMFIS_CONTINUE, and SMFIS_NOREPLY is not that.
 * Only flags offered in f1 are asked for (libmilter itself offers, and fakes
 * for MTAs without them, every SMFIP_NR_*).  A verdict that falls on a
 * waived step is kept for the next step with a reply (ConnectionContext::step).
 * The agreed steps live in the ConnectionContext; after SMFIC_QUIT_NC
 * (libmilter calls close, then connect again with no new negotiation) the
 * new context takes those of the latest negotiation (s_lastNoReply): with
 * libmilter offering every SMFIP_NR_*, they differ only between MTAs with
 * and without the DATA step.
 */
#include "config.h"

#include "milter/callbacks.hh"

#include "collector/log.hh"

#include <atomic>
#include <cstring>
#include <exception>
#include <memory>

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>

namespace dmarcwatch::milter
{
namespace
{

Runtime* s_runtime = nullptr;

//! Step bits of the latest negotiation, for contexts created without one (see the file comment).
std::atomic<unsigned> s_lastNoReply{0};

//! The actions we use (smfi_addheader, smfi_chgheader, smfi_delrcpt).
constexpr unsigned long s_actions = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT;

//! MilterApi for one callback invocation.
class LibMilterApi : public MilterApi
{
public:
  explicit LibMilterApi(SMFICTX* ctx) :
    d_ctx(ctx) {}

  std::optional<std::string> symbol(const char* name) override
  {
    // smfi_getsymval takes a non-const char* but does not modify it.
    const char* value = smfi_getsymval(d_ctx, const_cast<char*>(name));
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  }
  bool addHeader(const std::string& name, const std::string& value) override
  {
    return smfi_addheader(d_ctx, const_cast<char*>(name.c_str()), const_cast<char*>(value.c_str())) == MI_SUCCESS;
  }
  bool deleteHeader(const std::string& name, int index) override
  {
    return smfi_chgheader(d_ctx, const_cast<char*>(name.c_str()), index, nullptr) == MI_SUCCESS;
  }
  bool deleteRecipient(const std::string& recipient) override
  {
    return smfi_delrcpt(d_ctx, const_cast<char*>(recipient.c_str())) == MI_SUCCESS;
  }
  bool setReply(const std::string& rcode, const std::string& xcode, const std::string& text) override
  {
    return smfi_setreply(d_ctx, const_cast<char*>(rcode.c_str()), const_cast<char*>(xcode.c_str()),
                         const_cast<char*>(text.c_str())) == MI_SUCCESS;
  }

private:
  SMFICTX* d_ctx;
};

sfsistat toStatus(Verdict verdict)
{
  switch (verdict) {
  case Verdict::Continue:
    return SMFIS_CONTINUE;
  case Verdict::Accept:
    return SMFIS_ACCEPT;
  case Verdict::Discard:
    return SMFIS_DISCARD;
  case Verdict::Tempfail:
    return SMFIS_TEMPFAIL;
  case Verdict::NoReply:
    return SMFIS_NOREPLY;
  }
  return SMFIS_TEMPFAIL;
}

//! The Step bits for the SMFIP_NR_* flags in protocol flags.
unsigned noReplySteps(unsigned long flags)
{
  unsigned steps = 0;
  const std::pair<unsigned long, Step> map[] = {
    {SMFIP_NR_CONN, Step::Connect}, {SMFIP_NR_MAIL, Step::EnvFrom}, {SMFIP_NR_RCPT, Step::EnvRcpt},
    {SMFIP_NR_DATA, Step::Data},    {SMFIP_NR_HDR, Step::Header},   {SMFIP_NR_EOH, Step::EndOfHeaders},
    {SMFIP_NR_BODY, Step::Body},
  };
  for (const auto& [flag, step] : map) {
    if ((flags & flag) != 0) {
      steps = steps | step;
    }
  }
  return steps;
}

std::string clientAddress(const _SOCK_ADDR* addr)
{
  char buf[INET6_ADDRSTRLEN] = "";
  if (addr == nullptr) {
    return "local";
  }
  if (addr->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, buf, sizeof buf);
  }
  else if (addr->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr, buf, sizeof buf);
  }
  else {
    return "local";
  }
  return buf;
}

//! Log a callback failure that has no context to answer for it.  Never throws (logging may allocate).
void logFailure(const char* stage, const char* what) noexcept
{
  try {
    collector::logError("milter callback failed", {{"stage", stage}, {"error", what}});
  }
  catch (...) {
    // Out of memory while logging: the tempfail answer is all that is left.
  }
}

ConnectionContext* contextOf(SMFICTX* ctx)
{
  return static_cast<ConnectionContext*>(smfi_getpriv(ctx));
}

//! The context, created now when negotiation did not (after SMFIC_QUIT_NC, or a failure).
ConnectionContext& ensureContext(SMFICTX* ctx)
{
  if (ConnectionContext* existing = contextOf(ctx)) {
    return *existing;
  }
  auto created = std::make_unique<ConnectionContext>(*s_runtime, "unknown");
  created->setNoReplySteps(s_lastNoReply.load(std::memory_order_relaxed));
  if (smfi_setpriv(ctx, created.get()) != MI_SUCCESS) {
    throw std::runtime_error("smfi_setpriv failed");
  }
  return *created.release();
}

//! Run one step for a connection (ConnectionContext::step); every exception becomes the failure verdict.
template <typename Run>
sfsistat guarded(SMFICTX* ctx, Step step, const char* stage, Run run) noexcept
{
  LibMilterApi api(ctx);
  ConnectionContext* conn = nullptr;
  try {
    conn = &ensureContext(ctx);
  }
  catch (const std::exception& e) {
    logFailure(stage, e.what());
    return SMFIS_TEMPFAIL;
  }
  catch (...) {
    logFailure(stage, "unknown exception");
    return SMFIS_TEMPFAIL;
  }
  return toStatus(conn->step(step, api, stage, [&run, conn, &api] { return run(*conn, api); }));
}

// ------------------------------------------------------------- trampolines

extern "C" sfsistat dwNegotiate(SMFICTX* ctx, unsigned long /*f0*/, unsigned long f1, unsigned long /*f2*/,
                                unsigned long /*f3*/, unsigned long* pf0, unsigned long* pf1, unsigned long* pf2,
                                unsigned long* pf3)
{
  // Actions: exactly ours; libmilter refuses the connection when the MTA lacks one (as without negotiation).
  *pf0 = s_actions;
  // *pf1 holds libmilter's defaults (SMFIP_NO* for callbacks we do not have, SMFIP_SKIP when offered).
  unsigned long want = SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_RCPT;
  if ((f1 & SMFIP_NODATA) != 0) {
    want |= SMFIP_NR_HDR | SMFIP_NR_EOH;
  }
  *pf1 |= want & f1;
  *pf2 = 0;
  *pf3 = 0;
  try {
    // The agreed steps must be known to every later callback: no context, no negotiation.
    auto conn = std::make_unique<ConnectionContext>(*s_runtime, "unknown");
    conn->setNoReplySteps(noReplySteps(*pf1));
    ConnectionContext* previous = contextOf(ctx);
    if (smfi_setpriv(ctx, conn.get()) != MI_SUCCESS) {
      logFailure("negotiate", "smfi_setpriv failed");
      return SMFIS_REJECT;
    }
    s_lastNoReply.store(conn->noReplySteps(), std::memory_order_relaxed);
    conn.release();
    delete previous; // none expected: negotiation comes first
    return SMFIS_CONTINUE;
  }
  catch (const std::exception& e) {
    logFailure("negotiate", e.what());
  }
  catch (...) {
    logFailure("negotiate", "unknown exception");
  }
  return SMFIS_REJECT; // libmilter closes the connection; the MTA applies its default action
}

extern "C" sfsistat dwConnect(SMFICTX* ctx, char* /*hostname*/, _SOCK_ADDR* addr)
{
  return guarded(ctx, Step::Connect, "connect", [addr](ConnectionContext& conn, MilterApi& /*api*/) {
    try {
      conn.onConnect(clientAddress(addr));
    }
    catch (...) {
      // Out of memory for the address text, which is only for logs: the connection goes on.
    }
    return Verdict::Continue;
  });
}

extern "C" sfsistat dwEnvFrom(SMFICTX* ctx, char** argv)
{
  return guarded(ctx, Step::EnvFrom, "envfrom", [argv](ConnectionContext& conn, MilterApi& api) {
    return conn.onEnvFrom(api, argv != nullptr && argv[0] != nullptr ? argv[0] : "");
  });
}

extern "C" sfsistat dwEnvRcpt(SMFICTX* ctx, char** argv)
{
  return guarded(ctx, Step::EnvRcpt, "envrcpt", [argv](ConnectionContext& conn, MilterApi& api) {
    return conn.onEnvRcpt(api, argv != nullptr && argv[0] != nullptr ? argv[0] : "");
  });
}

extern "C" sfsistat dwData(SMFICTX* ctx)
{
  return guarded(ctx, Step::Data, "data", [](ConnectionContext& conn, MilterApi& api) { return conn.onData(api); });
}

extern "C" sfsistat dwHeader(SMFICTX* ctx, char* name, char* value)
{
  return guarded(ctx, Step::Header, "header", [name, value](ConnectionContext& conn, MilterApi& api) {
    return conn.onHeader(api, name != nullptr ? name : "", value != nullptr ? value : "");
  });
}

extern "C" sfsistat dwEndOfHeaders(SMFICTX* ctx)
{
  return guarded(ctx, Step::EndOfHeaders, "eoh",
                 [](ConnectionContext& conn, MilterApi& api) { return conn.onEndOfHeaders(api); });
}

extern "C" sfsistat dwBody(SMFICTX* ctx, unsigned char* chunk, size_t length)
{
  return guarded(ctx, Step::Body, "body", [chunk, length](ConnectionContext& conn, MilterApi& api) {
    return conn.onBody(api, std::string_view(reinterpret_cast<const char*>(chunk), chunk != nullptr ? length : 0));
  });
}

extern "C" sfsistat dwEndOfMessage(SMFICTX* ctx)
{
  return guarded(ctx, Step::EndOfMessage, "eom",
                 [](ConnectionContext& conn, MilterApi& api) { return conn.onEndOfMessage(api); });
}

extern "C" sfsistat dwAbort(SMFICTX* ctx)
{
  try {
    if (ConnectionContext* conn = contextOf(ctx)) {
      conn->onAbort();
    }
  }
  catch (...) {
    // onAbort only frees memory; nothing to report.
  }
  return SMFIS_CONTINUE;
}

extern "C" sfsistat dwClose(SMFICTX* ctx)
{
  // Take the context back and clear the pointer before freeing it, so no later
  // callback on this SMFICTX can reach freed memory; NULL (close as the only
  // callback, or a failed connect) is fine.  Destroying a context only frees
  // memory, closes the temp file and unmaps it: nothing throws.
  std::unique_ptr<ConnectionContext> conn(contextOf(ctx));
  smfi_setpriv(ctx, nullptr);
  conn.reset();
  return SMFIS_CONTINUE;
}

} // namespace

bool registerCallbacks(Runtime& runtime)
{
  s_runtime = &runtime;
  smfiDesc desc{};
  desc.xxfi_name = const_cast<char*>("dmarcwatch-milter");
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = s_actions;
  desc.xxfi_connect = dwConnect;
  desc.xxfi_helo = nullptr;
  desc.xxfi_envfrom = dwEnvFrom;
  desc.xxfi_envrcpt = dwEnvRcpt;
  desc.xxfi_header = dwHeader;
  desc.xxfi_eoh = dwEndOfHeaders;
  desc.xxfi_body = dwBody;
  desc.xxfi_eom = dwEndOfMessage;
  desc.xxfi_abort = dwAbort;
  desc.xxfi_close = dwClose;
  desc.xxfi_unknown = nullptr;
  desc.xxfi_data = dwData;
  desc.xxfi_negotiate = dwNegotiate;
  // libmilter copies the descriptor.
  return smfi_register(desc) == MI_SUCCESS;
}

} // namespace dmarcwatch::milter
