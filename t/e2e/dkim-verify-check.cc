/*
 * dkim-verify-check.cc - verify a signed mail with libopendkim against a key file (scratch for
 * issue 14: checks t/e2e/dkim-sign's output and the key records the test unbound serves).
 *
 *   dkim-verify-check KEYFILE < message     KEYFILE: "<selector>._domainkey.<domain> <record>" lines
 *
 * Prints one line per signature "d=... s=... pass|fail bh=match|mismatch error=..." and exits 0
 * when at least one signature passes, 1 otherwise.
 */
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool

int main(int argc, char** argv)
{
  if (argc != 2) {
    std::cerr << "usage: dkim-verify-check KEYFILE < message\n";
    return 2;
  }
  std::ostringstream in;
  in << std::cin.rdbuf();
  std::string msg;
  for (size_t i = 0; i < in.str().size(); ++i) {
    const char c = in.str()[i];
    if (c == '\n' && (i == 0 || in.str()[i - 1] != '\r')) msg += '\r';
    msg += c;
  }
  const size_t split = msg.find("\r\n\r\n");
  if (split == std::string::npos) return 1;
  std::unique_ptr<DKIM_LIB, void (*)(DKIM_LIB*)> lib(dkim_init(nullptr, nullptr), dkim_close);
  dkim_query_t method = DKIM_QUERY_FILE;
  dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &method, sizeof method);
  dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, argv[1], std::string(argv[1]).size());
  DKIM_STAT st;
  std::unique_ptr<DKIM, DKIM_STAT (*)(DKIM*)> d(dkim_verify(lib.get(), (const u_char*)"v", nullptr, &st), dkim_free);
  std::vector<std::string> fields;
  size_t pos = 0;
  const std::string head = msg.substr(0, split + 2);
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    std::string line = head.substr(pos, end - pos);
    if (!fields.empty() && (line[0] == ' ' || line[0] == '\t')) fields.back() += "\r\n" + line;
    else fields.push_back(line);
    pos = end + 2;
  }
  for (auto& f : fields) dkim_header(d.get(), (u_char*)f.data(), f.size());
  st = dkim_eoh(d.get());
  if (st != DKIM_STAT_OK) { std::cout << "eoh: " << dkim_getresultstr(st) << "\n"; return 1; }
  std::string body = msg.substr(split + 4);
  dkim_body(d.get(), (u_char*)body.data(), body.size());
  st = dkim_eom(d.get(), nullptr);
  DKIM_SIGINFO** sigs = nullptr;
  int n = 0;
  bool ok = false;
  dkim_getsiglist(d.get(), &sigs, &n);
  for (int i = 0; i < n; ++i) {
    bool pass = (dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_PASSED) && dkim_sig_getbh(sigs[i]) == DKIM_SIGBH_MATCH;
    unsigned bits = 0;
    dkim_sig_getkeysize(sigs[i], &bits);
    std::cout << "d=" << dkim_sig_getdomain(sigs[i]) << " s=" << dkim_sig_getselector(sigs[i])
              << (pass ? " pass" : " fail") << " bits=" << bits
              << " bh=" << (dkim_sig_getbh(sigs[i]) == DKIM_SIGBH_MATCH ? "match" : "mismatch")
              << " error=" << dkim_sig_geterrorstr(dkim_sig_geterror(sigs[i])) << "\n";
    ok = ok || pass;
  }
  std::cout << "eom: " << dkim_getresultstr(st) << "\n";
  return ok ? 0 : 1;
}
