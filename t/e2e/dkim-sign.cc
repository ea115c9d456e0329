/*
 * dkim-sign.cc - sign a mail for the report authenticity tests (issue 14; test tool, not installed).
 *
 *   dkim-sign KEY.pem SELECTOR DOMAIN [simple|relaxed]  < message  > signed message
 *
 * Reads one RFC 5322 message on stdin (bare LF line ends are made CRLF: that is how the mail
 * travels over SMTP), signs it with libopendkim (rsa-sha256, the same canonicalization for
 * header and body, relaxed by default) and writes "DKIM-Signature: ..." followed by the
 * message to stdout.  Which header fields are signed is libopendkim's default.  Exit 0, or 1
 * with the reason on stderr; 2 on bad usage.
 * Thread-safety: single-threaded program.
 */
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

// dkim.h spells C99's _Bool, which C++ lacks; C's _Bool and C++'s bool are the same type in
// the x86-64/aarch64 psABIs, so map it for the include only.
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool

namespace
{
struct LibDeleter
{
  void operator()(DKIM_LIB* lib) const { dkim_close(lib); }
};
struct DkimDeleter
{
  void operator()(DKIM* dkim) const { dkim_free(dkim); }
};

//! in with every bare LF made CRLF
std::string crlf(const std::string& in)
{
  std::string out;
  out.reserve(in.size() + in.size() / 32);
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) {
      out += '\r';
    }
    out += in[i];
  }
  return out;
}

//! The header fields of head (CRLF-separated lines, continuations kept with their CRLF).
std::vector<std::string> fields(const std::string& head)
{
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) {
      end = head.size();
    }
    std::string line = head.substr(pos, end - pos);
    if (!out.empty() && !line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      out.back() += "\r\n" + line;
    }
    else if (!line.empty()) {
      out.push_back(line);
    }
    pos = end + 2;
  }
  return out;
}

int fail(const std::string& what)
{
  std::cerr << "dkim-sign: " << what << "\n";
  return 1;
}
} // namespace

int main(int argc, char** argv)
{
  if (argc < 4 || argc > 5) {
    std::cerr << "usage: dkim-sign KEY.pem SELECTOR DOMAIN [simple|relaxed] < message\n";
    return 2;
  }
  const std::string canonName = argc == 5 ? argv[4] : "relaxed";
  if (canonName != "simple" && canonName != "relaxed") {
    std::cerr << "dkim-sign: canonicalization must be simple or relaxed\n";
    return 2;
  }
  const dkim_canon_t canon = canonName == "simple" ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED;
  std::ifstream keyFile(argv[1], std::ios::binary);
  std::string key((std::istreambuf_iterator<char>(keyFile)), std::istreambuf_iterator<char>());
  if (!keyFile || key.empty()) {
    return fail(std::string("cannot read ") + argv[1]);
  }
  std::ostringstream in;
  in << std::cin.rdbuf();
  const std::string message = crlf(in.str());
  const size_t split = message.find("\r\n\r\n");
  if (split == std::string::npos) {
    return fail("no empty line after the header");
  }
  std::string body = message.substr(split + 4);

  std::unique_ptr<DKIM_LIB, LibDeleter> lib(dkim_init(nullptr, nullptr));
  if (!lib) {
    return fail("dkim_init failed");
  }
  DKIM_STAT st = DKIM_STAT_OK;
  std::unique_ptr<DKIM, DkimDeleter> dkim(
    dkim_sign(lib.get(), reinterpret_cast<const u_char*>("dkim-sign"), nullptr,
              reinterpret_cast<dkim_sigkey_t>(key.data()), reinterpret_cast<const u_char*>(argv[2]),
              reinterpret_cast<const u_char*>(argv[3]), canon, canon, DKIM_SIGN_RSASHA256, -1, &st));
  if (!dkim) {
    return fail(std::string("dkim_sign: ") + dkim_getresultstr(st));
  }
  for (std::string field : fields(message.substr(0, split + 2))) {
    st = dkim_header(dkim.get(), reinterpret_cast<u_char*>(field.data()), field.size());
    if (st != DKIM_STAT_OK) {
      return fail(std::string("dkim_header: ") + dkim_getresultstr(st));
    }
  }
  st = dkim_eoh(dkim.get());
  if (st == DKIM_STAT_OK) {
    st = dkim_body(dkim.get(), reinterpret_cast<u_char*>(body.data()), body.size());
  }
  if (st == DKIM_STAT_OK) {
    st = dkim_eom(dkim.get(), nullptr);
  }
  if (st != DKIM_STAT_OK) {
    const char* why = dkim_geterror(dkim.get());
    return fail(std::string("signing: ") + dkim_getresultstr(st) + (why ? std::string(" (") + why + ")" : ""));
  }
  const std::string name = std::string(DKIM_SIGNHEADER) + ": ";
  std::vector<u_char> buf(16384);
  st = dkim_getsighdr(dkim.get(), buf.data(), buf.size(), name.size());
  if (st != DKIM_STAT_OK) {
    return fail(std::string("dkim_getsighdr: ") + dkim_getresultstr(st));
  }
  // dkim_getsighdr folds with CRLF TAB already.
  std::cout << name << reinterpret_cast<const char*>(buf.data()) << "\r\n" << message;
  std::cout.flush();
  return std::cout ? 0 : fail("write error");
}
