/*
 * dns-zones.hh - the test zones of the dns unit tests, served by one private
 * unbound per runner (unbound-fixture.hh), started on first use and stopped
 * at exit.
 *
 *   corp.test          SPF ip4:203.0.113.0/24 include:_spf.esp.test ~all; DMARC p=reject
 *   _spf.esp.test      SPF include:_net1.esp.test -all   (nested: 192.0.2.0/25 two deep)
 *   strict.test        SPF ip4:203.0.113.5 -all; redirect.test redirect=strict.test
 *   loop1/loop2.test   include each other; many.test 11 includes (both permerror)
 *   amech.test         SPF a:mail.corp.test -all (mail.corp.test A 198.51.100.20)
 *   neutral.test ?all; nospf.test a TXT that is no SPF record; qualified.test ?include:
 *   SPF look-up counts (dns/spf-record.hh): deep.test 12 through includes three deep;
 *   redir2.test mx + redirect=corp.test (4); redirall.test a + redirect beside -all (1: the
 *   redirect is void); macro.test include: and exists: with macros (2, not followed);
 *   badinclude.test includes nospf.test (no SPF record there); multi.test two v=spf1 records
 *   sub.corp.test      no record of its own: the DMARC record is corp.test's
 *   two.corp.test      two DMARC records (none: no fallback then)
 *   long.test          DMARC and SPF records of about 3000 bytes (kept capped)
 *   192.0.2.10  PTR o1.ptr1234.esp.test  -> A 192.0.2.10     (confirmed)
 *   198.51.100.7 PTR mail.spoof.test     -> A 203.0.113.99   (unconfirmed)
 *   192.0.2.99  no PTR                                         (none)
 *
 * Also the helpers both dns test files use (options, addresses, a port that
 * never answers).  Header-only; tests skip when no unbound binary exists (dnsServer() nullptr).
 */
#pragma once

#include "t/unit/unbound-fixture.hh"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace dmarcwatch::test
{

inline std::vector<std::string> testZoneNames()
{
  return {"corp.test.", "esp.test.", "strict.test.", "redirect.test.", "loop1.test.", "loop2.test.",
          "many.test.", "amech.test.", "deep.test.", "redir2.test.", "redirall.test.", "macro.test.",
          "badinclude.test.", "multi.test.", "long.test.", "qualified.test.", "neutral.test.", "nospf.test.", "spoof.test.", "missing.test.",
          "2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa."};
}

inline std::vector<std::string> testZoneData()
{
  std::vector<std::string> data = {
    R"(local-data: 'corp.test. 300 IN TXT "v=spf1 ip4:203.0.113.0/24 include:_spf.esp.test ~all"')",
    R"(local-data: '_dmarc.corp.test. 600 IN TXT "v=DMARC1; p=reject; sp=quarantine; np=reject; pct=50; t=y; rua=mailto:rua@corp.test,mailto:agg@esp.test"')",
    R"(local-data: 'mail.corp.test. 300 IN A 198.51.100.20')",
    R"(local-data: '_spf.esp.test. 300 IN TXT "v=spf1 include:_net1.esp.test -all"')",
    R"(local-data: '_net1.esp.test. 300 IN TXT "v=spf1 ip4:192.0.2.0/25 -all"')",
    R"(local-data: 'o1.ptr1234.esp.test. 300 IN A 192.0.2.10')",
    R"(local-data: 'strict.test. 300 IN TXT "v=spf1 ip4:203.0.113.5 -all"')",
    R"(local-data: '_dmarc.strict.test. 300 IN TXT "v=DMARC1; p=none"')",
    R"(local-data: 'redirect.test. 300 IN TXT "v=spf1 redirect=strict.test"')",
    R"(local-data: '_dmarc.redirect.test. 300 IN TXT "v=DMARC1; p=bogus"')",
    R"(local-data: 'loop1.test. 300 IN TXT "v=spf1 include:loop2.test -all"')",
    R"(local-data: 'loop2.test. 300 IN TXT "v=spf1 include:loop1.test -all"')",
    R"(local-data: 'amech.test. 300 IN TXT "v=spf1 a:mail.corp.test -all"')",
    R"(local-data: 'neutral.test. 300 IN TXT "v=spf1 ?all"')",
    R"(local-data: 'qualified.test. 300 IN TXT "v=spf1 ?include:_net1.esp.test -all"')",
    R"(local-data: 'nospf.test. 300 IN TXT "hello world"')",
    R"(local-data: 'mail.spoof.test. 300 IN A 203.0.113.99')",
    // 3 + 3 + 3 + 3 look-ups, the include chain three deep (ip4: and -all count none).
    R"(local-data: 'deep.test. 300 IN TXT "v=spf1 include:d1.deep.test a mx -all"')",
    R"(local-data: 'd1.deep.test. 300 IN TXT "v=spf1 include:d2.deep.test ptr exists:%{i}.x.deep.test -all"')",
    R"(local-data: 'd2.deep.test. 300 IN TXT "v=spf1 a:x.deep.test mx:y.deep.test/24 include:d3.deep.test -all"')",
    R"(local-data: 'd3.deep.test. 300 IN TXT "v=spf1 a a/24 ?exists:z.deep.test ip4:192.0.2.1 -all"')",
    R"(local-data: 'redir2.test. 300 IN TXT "v=spf1 mx redirect=corp.test"')",
    R"(local-data: 'redirall.test. 300 IN TXT "v=spf1 a redirect=deep.test -all"')",
    R"(local-data: 'macro.test. 300 IN TXT "v=spf1 include:%{d}.spf.deep.test exists:%{i}.e.deep.test -all"')",
    R"(local-data: 'badinclude.test. 300 IN TXT "v=spf1 include:nospf.test -all"')",
    R"(local-data: 'multi.test. 300 IN TXT "v=spf1 ip4:192.0.2.1 -all"')",
    R"(local-data: 'multi.test. 300 IN TXT "v=spf1 ip4:192.0.2.2 -all"')",
    R"(local-data-ptr: "192.0.2.10 300 o1.ptr1234.esp.test.")",
    R"(local-data-ptr: "198.51.100.7 300 mail.spoof.test.")",
  };
  std::string many = "v=spf1";
  for (int i = 1; i <= 11; ++i) {
    many += " include:a" + std::to_string(i) + ".many.test";
    data.push_back("local-data: 'a" + std::to_string(i) + ".many.test. 300 IN TXT \"v=spf1 -all\"'");
  }
  data.push_back("local-data: 'many.test. 300 IN TXT \"" + many + " -all\"'");
  data.emplace_back(R"(local-data: '_dmarc.two.corp.test. 300 IN TXT "v=DMARC1; p=none"')");
  data.emplace_back(R"(local-data: '_dmarc.two.corp.test. 300 IN TXT "v=DMARC1; p=reject"')");
  // Twelve character-strings of 250 bytes after the first: 3000 bytes and more.
  std::string dmarcLong = "\"v=DMARC1; p=none; rua=mailto:a@long.test\"";
  std::string spfLong = "\"v=spf1 a\"";
  for (int i = 0; i < 12; ++i) {
    dmarcLong += " \"" + std::string(250, 'x') + "\"";
    spfLong += " \" " + std::string(249, 'y') + "\"";
  }
  data.push_back("local-data: '_dmarc.long.test. 300 IN TXT " + dmarcLong + "'");
  data.push_back("local-data: 'long.test. 300 IN TXT " + spfLong + "'");
  return data;
}

//! Resolver options for a test: the setting, a 2 s timeout.
inline collector::ResolverOptions testResolverOptions(const std::string& spec)
{
  collector::ResolverOptions options;
  options.spec = spec;
  options.timeout = std::chrono::milliseconds(2000);
  return options;
}

inline collector::IpAddress testIp(const char* text)
{
  return *collector::IpAddress::parse(text);
}

//! A UDP socket on 127.0.0.1 that never answers: questions sent to it time out.
class BlackHole
{
public:
  BlackHole()
  {
    d_fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (d_fd < 0 || ::bind(d_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(d_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("black hole: cannot bind a UDP socket on 127.0.0.1");
    }
    d_port = ntohs(addr.sin_port);
  }
  ~BlackHole()
  {
    if (d_fd >= 0) {
      ::close(d_fd);
    }
  }
  BlackHole(const BlackHole&) = delete;
  BlackHole& operator=(const BlackHole&) = delete;
  //! The Resolver setting that sends every question here.
  [[nodiscard]] std::string spec() const { return "127.0.0.1@" + std::to_string(d_port); }

private:
  int d_fd = -1;
  uint16_t d_port = 0;
};

//! The runner's test DNS server, started on first use; nullptr when there is no unbound binary.
inline UnboundServer* dnsServer()
{
  static std::unique_ptr<UnboundServer> s_server;
  if (!s_server && !unboundBinary().empty()) {
    s_server = std::make_unique<UnboundServer>(testZoneNames(), testZoneData());
  }
  return s_server.get();
}

} // namespace dmarcwatch::test

//! In a test case: return (passing, with a message) when there is no unbound to run.
#define REQUIRE_DNS_SERVER()                                                                                          \
  if (dmarcwatch::test::dnsServer() == nullptr) {                                                                     \
    BOOST_TEST_MESSAGE("no unbound binary: skipped");                                                                \
    return;                                                                                                           \
  }
