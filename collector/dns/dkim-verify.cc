/*
 * dkim-verify.cc - libopendkim over the Resolver (dkim-verify.hh).
 *
 * One DKIM_LIB per process, its options and callbacks set once before the
 * first dkim_verify (libopendkim does not lock its options); the callbacks
 * find the message being verified through dkim_get_user_context (a Context on
 * verify()'s stack).  All key look-ups happen inside dkim_eoh (measured).
 * Both callbacks are called from C: noexcept, everything caught; a failure
 * makes the key look-up "try again" (temperror), never a pass or a fail.
 */
#include "config.h"

#include "collector/dns/dkim-verify.hh"

#include "collector/common/text.hh"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

// dkim.h has its own extern "C" but spells C99's _Bool, which C++ lacks: C's _Bool and C++'s bool
// are the same type in the x86-64/aarch64 psABIs, so map it for the include only (configure's
// DW_CHECK_OPENDKIM compiles exactly this).
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool

namespace dmarcwatch::collector
{

namespace
{

struct LibDeleter
{
  void operator()(DKIM_LIB* lib) const { dkim_close(lib); }
};
struct HandleDeleter
{
  void operator()(DKIM* dkim) const { dkim_free(dkim); }
};
using Handle = std::unique_ptr<DKIM, HandleDeleter>;

//! Smallest key libopendkim itself accepts: the MinDkimKeyBits bound; the setting is checked here.
constexpr unsigned s_libraryMinKeyBits = 512;

//! Why a key look-up did not give the library a key (per signature).
enum class KeyTrouble
{
  Unknown,  //!< no answer in time: temperror
  TooLong,  //!< longer than libopendkim's buffer: permerror
};

//! What the callbacks of one verify() need.
struct Context
{
  const DkimVerifier::KeyLookup* lookup = nullptr;
  const DkimLimits* limits = nullptr;
  std::map<const DKIM_SIGINFO*, KeyTrouble> trouble;
  std::vector<const DKIM_SIGINFO*> ignored; //!< over the signature cap
  bool timedOut = false;
};

std::string text(const unsigned char* value)
{
  return value != nullptr ? std::string(reinterpret_cast<const char*>(value)) : std::string();
}

DKIM_CBSTAT keyLookup(DKIM* dkim, DKIM_SIGINFO* sig, u_char* buf, size_t buflen) noexcept
{
  auto* context = static_cast<Context*>(dkim_get_user_context(dkim));
  if (context == nullptr) {
    return DKIM_CBSTAT_TRYAGAIN;
  }
  try {
    // Step: past the mail's deadline nothing is asked.
    if (context->limits->deadline && std::chrono::steady_clock::now() >= *context->limits->deadline) {
      context->trouble[sig] = KeyTrouble::Unknown;
      context->timedOut = true;
      return DKIM_CBSTAT_TRYAGAIN;
    }
    const std::string selector = text(dkim_sig_getselector(sig));
    const std::string domain = text(dkim_sig_getdomain(sig));
    if (selector.empty() || domain.empty()) {
      return DKIM_CBSTAT_NOTFOUND;
    }
    const DnsAnswer answer = (*context->lookup)(selector + "._domainkey." + domain);
    switch (answer.status) {
    case DnsStatus::Unknown:
      context->trouble[sig] = KeyTrouble::Unknown;
      context->timedOut = true;
      return DKIM_CBSTAT_TRYAGAIN;
    case DnsStatus::NxDomain:
    case DnsStatus::NoData:
      return DKIM_CBSTAT_NOTFOUND;
    case DnsStatus::Answer:
      break;
    }
    // Step: the first TXT record that decodes (several records: libopendkim's resolver also takes one).
    for (const auto& rdata : answer.rdata) {
      auto record = txtFromWire(rdata);
      if (!record) {
        continue;
      }
      if (record->size() > s_maxDkimKeyRecord || record->size() + 1 > buflen) {
        context->trouble[sig] = KeyTrouble::TooLong;
        return DKIM_CBSTAT_ERROR;
      }
      std::memcpy(buf, record->c_str(), record->size() + 1);
      return DKIM_CBSTAT_CONTINUE;
    }
    return DKIM_CBSTAT_NOTFOUND;
  }
  catch (...) {
    context->trouble[sig] = KeyTrouble::Unknown;
    return DKIM_CBSTAT_TRYAGAIN;
  }
}

//! Keep at most maxSignatures signatures, the preferred domains' first; ignore the rest.
DKIM_CBSTAT prescreen(DKIM* dkim, DKIM_SIGINFO** sigs, int nsigs) noexcept
{
  auto* context = static_cast<Context*>(dkim_get_user_context(dkim));
  if (context == nullptr || sigs == nullptr || nsigs <= 0) {
    return DKIM_CBSTAT_CONTINUE;
  }
  try {
    const auto& preferred = context->limits->preferredDomains;
    auto rank = [&](DKIM_SIGINFO* sig) {
      const std::string domain = lowerAscii(text(dkim_sig_getdomain(sig)));
      const auto it = std::find(preferred.begin(), preferred.end(), domain);
      return static_cast<size_t>(it - preferred.begin());
    };
    std::vector<DKIM_SIGINFO*> order(sigs, sigs + nsigs);
    std::stable_sort(order.begin(), order.end(), [&](DKIM_SIGINFO* a, DKIM_SIGINFO* b) { return rank(a) < rank(b); });
    for (size_t i = context->limits->maxSignatures; i < order.size(); ++i) {
      dkim_sig_ignore(order[i]);
      context->ignored.push_back(order[i]);
    }
    return DKIM_CBSTAT_CONTINUE;
  }
  catch (...) {
    // Out of memory: verify none rather than all.
    for (int i = 0; i < nsigs; ++i) {
      dkim_sig_ignore(sigs[i]);
    }
    return DKIM_CBSTAT_CONTINUE;
  }
}

//! The process's library handle, made on first use.
DKIM_LIB* library()
{
  static std::unique_ptr<DKIM_LIB, LibDeleter> s_lib;
  static std::once_flag s_once;
  std::call_once(s_once, [] {
    s_lib.reset(dkim_init(nullptr, nullptr));
    if (!s_lib) {
      return;
    }
    u_int minBits = s_libraryMinKeyBits;
    dkim_options(s_lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minBits, sizeof minBits);
    u_int flags = DKIM_LIBFLAGS_FIXCRLF; // a safety net: verify() already sends CRLF
    dkim_options(s_lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags);
    dkim_set_key_lookup(s_lib.get(), keyLookup);
    dkim_set_prescreen(s_lib.get(), prescreen);
  });
  if (!s_lib) {
    throw std::bad_alloc();
  }
  return s_lib.get();
}

//! Ranks for DkimVerification::result: the best signature's word wins.
int rank(const std::string& result)
{
  static const char* const s_order[] = {"none", "neutral", "permerror", "temperror", "fail", "pass"};
  for (int i = 0; i < 6; ++i) {
    if (result == s_order[i]) {
      return i;
    }
  }
  return 0;
}

//! The result of one signature after dkim_eom.
DkimSignatureResult judge(DKIM* dkim, DKIM_SIGINFO* sig, const Context& context, unsigned minKeyBits)
{
  DkimSignatureResult out;
  out.domain = lowerAscii(text(dkim_sig_getdomain(sig)));
  out.selector = text(dkim_sig_getselector(sig));
  unsigned int bits = 0;
  if (dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK) {
    out.bits = bits;
  }
  if (std::find(context.ignored.begin(), context.ignored.end(), sig) != context.ignored.end()) {
    out.result = "neutral";
    out.error = "not verified (MaxDkimSignatures)";
    return out;
  }
  if (auto found = context.trouble.find(sig); found != context.trouble.end()) {
    if (found->second == KeyTrouble::TooLong) {
      out.result = "permerror";
      out.error = "key record longer than " + std::to_string(s_maxDkimKeyRecord) + " bytes";
    }
    else {
      out.result = "temperror";
      out.error = "key look-up timed out";
    }
    return out;
  }
  const unsigned flags = dkim_sig_getflags(sig);
  const int bodyHash = dkim_sig_getbh(sig);
  if ((flags & DKIM_SIGFLAG_PASSED) != 0 && bodyHash == DKIM_SIGBH_MATCH) {
    // A body length limit (l=) lets anyone append a part the signature does not cover (a second
    // report); report senders do not use it (RFC 6376 8.2), so such a signature proves nothing.
    ssize_t limit = -1;
    if (dkim_sig_getcanonlen(dkim, sig, nullptr, nullptr, &limit) == DKIM_STAT_OK && limit >= 0) {
      out.result = "permerror";
      out.error = "body length limit (l=" + std::to_string(limit) + ") not accepted";
      return out;
    }
    if (out.bits < minKeyBits) {
      out.result = "permerror";
      out.error = "key too small (" + std::to_string(out.bits) + " bits)";
    }
    else {
      out.result = "pass";
    }
    return out;
  }
  const int error = dkim_sig_geterror(sig);
  switch (error) {
  case DKIM_SIGERROR_BADSIG:
  case DKIM_SIGERROR_OK:
    // A body hash mismatch is reported as BADSIG too: only the body hash tells them apart.
    out.result = "fail";
    out.error = bodyHash == DKIM_SIGBH_MISMATCH ? "body changed" : "signature verification failed";
    if (error == DKIM_SIGERROR_OK && bodyHash != DKIM_SIGBH_MISMATCH && (flags & DKIM_SIGFLAG_PROCESSED) == 0) {
      out.result = "permerror";
      out.error = "not verified";
    }
    return out;
  case DKIM_SIGERROR_KEYFAIL:
    out.result = "temperror";
    out.error = "key look-up failed";
    return out;
  case DKIM_SIGERROR_KEYTOOSMALL:
    out.result = "permerror";
    out.error = "key too small (" + std::to_string(out.bits) + " bits)";
    return out;
  default:
    out.result = "permerror";
    out.error = dkim_sig_geterrorstr(error) != nullptr ? dkim_sig_geterrorstr(error) : "error";
    return out;
  }
}

} // namespace

RawMessage splitMessage(std::string_view message)
{
  // Step: CRLF line ends (a bare LF becomes CRLF; a CR already before LF stays one).
  std::string wire;
  wire.reserve(message.size() + message.size() / 32);
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\n' && (i == 0 || message[i - 1] != '\r')) {
      wire += "\r\n";
    }
    else {
      wire.push_back(message[i]);
    }
  }
  RawMessage out;
  size_t pos = 0;
  // Step: an mbox separator line is no header field.
  if (wire.starts_with("From ")) {
    const size_t end = wire.find("\r\n");
    pos = end == std::string::npos ? wire.size() : end + 2;
  }
  // Step: fields end at a CRLF not followed by SP or HT; an empty line ends the header.
  while (pos < wire.size()) {
    if (wire.compare(pos, 2, "\r\n") == 0) {
      out.body = wire.substr(pos + 2);
      return out;
    }
    size_t end = pos;
    for (;;) {
      end = wire.find("\r\n", end);
      if (end == std::string::npos || end + 2 >= wire.size() || (wire[end + 2] != ' ' && wire[end + 2] != '\t')) {
        break;
      }
      end += 2;
    }
    if (end == std::string::npos) {
      out.fields.push_back(wire.substr(pos));
      return out;
    }
    out.fields.push_back(wire.substr(pos, end - pos));
    pos = end + 2;
  }
  return out;
}

struct DkimVerifier::Impl
{
  KeyLookup lookup;
};

DkimVerifier::DkimVerifier(Resolver& resolver) :
  DkimVerifier(KeyLookup([&resolver](const std::string& name) { return resolver.resolve(name, dnstype::txt); }))
{
}

DkimVerifier::DkimVerifier(KeyLookup lookup) :
  d_impl(std::make_unique<Impl>())
{
  d_impl->lookup = std::move(lookup);
  library();
}

DkimVerifier::~DkimVerifier() = default;

DkimVerification DkimVerifier::verify(std::string_view message, const DkimLimits& limits)
{
  DkimVerification out;
  Context context;
  context.lookup = &d_impl->lookup;
  context.limits = &limits;
  DKIM_STAT status = DKIM_STAT_OK;
  Handle dkim(dkim_verify(library(), reinterpret_cast<const u_char*>("dmarcwatch"), nullptr, &status));
  if (!dkim) {
    throw std::bad_alloc();
  }
  dkim_set_user_context(dkim.get(), &context);
  RawMessage raw = splitMessage(message);

  // Step: header fields one by one as on the wire, then the end of the header (the key look-ups).
  for (auto& field : raw.fields) {
    status = dkim_header(dkim.get(), reinterpret_cast<u_char*>(field.data()), field.size());
    if (status != DKIM_STAT_OK) {
      break;
    }
  }
  if (status == DKIM_STAT_OK) {
    status = dkim_eoh(dkim.get());
  }
  if (status == DKIM_STAT_NOSIG) {
    return out;
  }
  // Step: the body, whatever dkim_eoh said of the signatures (each is judged on its own below).
  if (status == DKIM_STAT_OK || status == DKIM_STAT_CBTRYAGAIN || status == DKIM_STAT_CBERROR ||
      status == DKIM_STAT_NOKEY || status == DKIM_STAT_KEYFAIL) {
    if (!raw.body.empty()) {
      dkim_body(dkim.get(), reinterpret_cast<u_char*>(raw.body.data()), raw.body.size());
    }
    dkim_eom(dkim.get(), nullptr);
  }

  // Step: every signature (dkim_eom reports on one only).
  DKIM_SIGINFO** sigs = nullptr;
  int nsigs = 0;
  if (dkim_getsiglist(dkim.get(), &sigs, &nsigs) == DKIM_STAT_OK && sigs != nullptr) {
    for (int i = 0; i < nsigs; ++i) {
      out.signatures.push_back(judge(dkim.get(), sigs[i], context, limits.minKeyBits));
      if (rank(out.signatures.back().result) > rank(out.result)) {
        out.result = out.signatures.back().result;
      }
    }
  }
  if (out.signatures.empty() && status != DKIM_STAT_OK) {
    // A header libopendkim refused before it listed any signature.
    out.result = "permerror";
    DkimSignatureResult whole;
    whole.result = "permerror";
    whole.error = dkim_getresultstr(status) != nullptr ? dkim_getresultstr(status) : "error";
    out.signatures.push_back(std::move(whole));
  }
  out.timedOut = context.timedOut;
  return out;
}

} // namespace dmarcwatch::collector
