/*
 * null-milter.cc - the benchmark floor for a milter: libmilter, nothing else.
 *
 * Accepts every message at DATA, the first step where all its recipients are
 * known, after asking the MTA for the least a recipient-based milter can
 * ask for: no connect, HELO, MAIL, header or body steps, no reply to RCPT,
 * no macros.  Whatever a milter costs Postfix beyond this is the milter's
 * own doing; up to this, it is the price of libmilter and of Postfix's
 * milter client.  t/bench/bench-postfix.sh runs Postfix without a milter,
 * with this one and with dmarcwatch-milter, and quotes both ratios.
 *
 * Usage: null-milter SOCKET   (libmilter syntax: inet:PORT@127.0.0.1, unix:PATH)
 * Runs in the foreground until SIGTERM/SIGINT (libmilter's own handler).
 * Exit 0 after a clean stop, 1 when the socket cannot be opened, 2 on usage.
 */
#include <libmilter/mfapi.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>

namespace
{

constexpr unsigned long s_wanted = SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NOUNKNOWN | SMFIP_NR_RCPT;

// The macro stages of SMFIM_*; an empty list asks for no macros there.
constexpr int s_macroStages[] = {SMFIM_CONNECT, SMFIM_HELO, SMFIM_ENVFROM, SMFIM_ENVRCPT,
                                 SMFIM_DATA,    SMFIM_EOH,  SMFIM_EOM};

extern "C" sfsistat nullNegotiate(SMFICTX* ctx, unsigned long /*f0*/, unsigned long f1, unsigned long /*f2*/,
                                  unsigned long /*f3*/, unsigned long* pf0, unsigned long* pf1, unsigned long* pf2,
                                  unsigned long* pf3)
{
  *pf0 = 0;
  *pf1 |= s_wanted & f1;
  *pf2 = 0;
  *pf3 = 0;
  for (int stage : s_macroStages) {
    smfi_setsymlist(ctx, stage, const_cast<char*>(""));
  }
  return SMFIS_CONTINUE;
}

extern "C" sfsistat nullEnvRcpt(SMFICTX* /*ctx*/, char** /*argv*/)
{
  return SMFIS_NOREPLY;
}

extern "C" sfsistat nullData(SMFICTX* /*ctx*/)
{
  return SMFIS_ACCEPT;
}

} // namespace

int main(int argc, char** argv)
{
  if (argc != 2 || std::strcmp(argv[1], "--help") == 0) {
    std::fprintf(stderr, "usage: %s SOCKET   (inet:PORT@127.0.0.1 or unix:PATH)\n", argv[0]);
    return 2;
  }
  smfiDesc desc{};
  desc.xxfi_name = const_cast<char*>("null-milter");
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_envrcpt = nullEnvRcpt;
  desc.xxfi_data = nullData;
  desc.xxfi_negotiate = nullNegotiate;
  // A unix socket gets the umask's mode; the MTA runs as another user (Postfix: postfix).
  umask(0);
  if (smfi_register(desc) != MI_SUCCESS || smfi_setconn(argv[1]) != MI_SUCCESS || smfi_opensocket(true) != MI_SUCCESS) {
    std::fprintf(stderr, "%s: cannot listen on %s\n", argv[0], argv[1]);
    return 1;
  }
  return smfi_main() == MI_SUCCESS ? 0 : 1;
}
