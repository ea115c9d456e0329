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
 * already known not to be a report).  The context is created at connect and
 * taken back into a unique_ptr at close, which tolerates a NULL private
 * pointer (close may be the only callback, e.g. after a failed connect).
 */
#include "config.h"

#include "milter/callbacks.hh"

#include "collector/log.hh"

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
  }
  return SMFIS_TEMPFAIL;
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

//! The context, created now when connect did not (some MTAs skip callbacks on reconnect).
ConnectionContext& ensureContext(SMFICTX* ctx)
{
  if (ConnectionContext* existing = contextOf(ctx)) {
    return *existing;
  }
  auto created = std::make_unique<ConnectionContext>(*s_runtime, "unknown");
  if (smfi_setpriv(ctx, created.get()) != MI_SUCCESS) {
    throw std::runtime_error("smfi_setpriv failed");
  }
  return *created.release();
}

//! Run one step for a connection; every exception becomes the failure verdict.
template <typename Step>
sfsistat guarded(SMFICTX* ctx, const char* stage, Step step) noexcept
{
  LibMilterApi api(ctx);
  ConnectionContext* conn = nullptr;
  try {
    conn = &ensureContext(ctx);
    return toStatus(step(*conn, api));
  }
  catch (const std::exception& e) {
    if (conn != nullptr) {
      return toStatus(conn->failureVerdict(&api, stage, e.what()));
    }
    logFailure(stage, e.what());
  }
  catch (...) {
    if (conn != nullptr) {
      return toStatus(conn->failureVerdict(&api, stage, "unknown exception"));
    }
    logFailure(stage, "unknown exception");
  }
  return SMFIS_TEMPFAIL;
}

// ------------------------------------------------------------- trampolines

extern "C" sfsistat dwConnect(SMFICTX* ctx, char* /*hostname*/, _SOCK_ADDR* addr)
{
  try {
    // Build the new context first: if that throws, the private pointer still
    // owns whatever it held (freeing a previous context here, before the
    // swap, left a dangling pointer for close to free a second time).
    auto conn = std::make_unique<ConnectionContext>(*s_runtime, clientAddress(addr));
    ConnectionContext* previous = contextOf(ctx);
    if (smfi_setpriv(ctx, conn.get()) != MI_SUCCESS) {
      logFailure("connect", "smfi_setpriv failed");
      return SMFIS_TEMPFAIL;
    }
    conn.release();
    // A reused SMFICTX must not leak a previous context; it is unreachable now.
    delete previous;
    return SMFIS_CONTINUE;
  }
  catch (const std::exception& e) {
    logFailure("connect", e.what());
  }
  catch (...) {
    logFailure("connect", "unknown exception");
  }
  return SMFIS_TEMPFAIL;
}

extern "C" sfsistat dwEnvFrom(SMFICTX* ctx, char** argv)
{
  return guarded(ctx, "envfrom", [argv](ConnectionContext& conn, MilterApi& api) {
    return conn.onEnvFrom(api, argv != nullptr && argv[0] != nullptr ? argv[0] : "");
  });
}

extern "C" sfsistat dwEnvRcpt(SMFICTX* ctx, char** argv)
{
  return guarded(ctx, "envrcpt", [argv](ConnectionContext& conn, MilterApi& api) {
    return conn.onEnvRcpt(api, argv != nullptr && argv[0] != nullptr ? argv[0] : "");
  });
}

extern "C" sfsistat dwData(SMFICTX* ctx)
{
  return guarded(ctx, "data", [](ConnectionContext& conn, MilterApi& api) { return conn.onData(api); });
}

extern "C" sfsistat dwHeader(SMFICTX* ctx, char* name, char* value)
{
  return guarded(ctx, "header", [name, value](ConnectionContext& conn, MilterApi& api) {
    return conn.onHeader(api, name != nullptr ? name : "", value != nullptr ? value : "");
  });
}

extern "C" sfsistat dwEndOfHeaders(SMFICTX* ctx)
{
  return guarded(ctx, "eoh", [](ConnectionContext& conn, MilterApi& api) { return conn.onEndOfHeaders(api); });
}

extern "C" sfsistat dwBody(SMFICTX* ctx, unsigned char* chunk, size_t length)
{
  return guarded(ctx, "body", [chunk, length](ConnectionContext& conn, MilterApi& api) {
    return conn.onBody(api, std::string_view(reinterpret_cast<const char*>(chunk), chunk != nullptr ? length : 0));
  });
}

extern "C" sfsistat dwEndOfMessage(SMFICTX* ctx)
{
  return guarded(ctx, "eom", [](ConnectionContext& conn, MilterApi& api) { return conn.onEndOfMessage(api); });
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
  desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT;
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
  desc.xxfi_negotiate = nullptr;
  // libmilter copies the descriptor.
  return smfi_register(desc) == MI_SUCCESS;
}

} // namespace dmarcwatch::milter
