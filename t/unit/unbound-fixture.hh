/*
 * unbound-fixture.hh - a private unbound on 127.0.0.1:<free port> serving
 * test zones from local-data lines, for the dns and enrich tests.
 *
 * unbound as a pure local-data server (shared/reference/e2e/REPORT.md): no
 * recursion ("." refused, so nothing leaves the machine), no validator, no
 * remote control, no chroot, no privilege drop.  Started in the foreground by
 * fork/exec, stopped by its PID (SIGTERM, then waited for) in the destructor.
 * The binary: $UNBOUND, else the copy setup.sh check unpacks under
 * /var/cache/dmarcwatch-test/unbound, else /usr/sbin/unbound; tests skip when
 * none exists (unboundBinary() empty).
 *
 * Header-only.  Errors: std::runtime_error when unbound does not come up.
 */
#pragma once

#include "collector/dns/resolver.hh"
#include "t/unit/test-util.hh"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace dmarcwatch::test
{

//! The unbound server binary to run, "" when there is none.
inline std::string unboundBinary()
{
  if (const char* env = std::getenv("UNBOUND"); env != nullptr && *env != '\0') {
    return env;
  }
  for (const char* candidate : {"/var/cache/dmarcwatch-test/unbound/tree/usr/sbin/unbound", "/usr/sbin/unbound"}) {
    if (::access(candidate, X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

//! A port free for both UDP and TCP on 127.0.0.1 (bound to 0, then released).
inline uint16_t freePort()
{
  for (int attempt = 0; attempt < 50; ++attempt) {
    int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (udp < 0 || ::bind(udp, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(udp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (udp >= 0) {
        ::close(udp);
      }
      continue;
    }
    int tcp = ::socket(AF_INET, SOCK_STREAM, 0);
    const bool ok = tcp >= 0 && ::bind(tcp, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (tcp >= 0) {
      ::close(tcp);
    }
    ::close(udp);
    if (ok) {
      return ntohs(addr.sin_port);
    }
  }
  throw std::runtime_error("no free port on 127.0.0.1");
}

class UnboundServer
{
public:
  /*!
   * \param zones local-zone names served as static ("sendgrid.net.", "2.0.192.in-addr.arpa.")
   * \param data local-data / local-data-ptr lines as unbound.conf takes them, e.g.
   *        R"(local-data: "a.test. 300 IN A 192.0.2.1")"
   */
  UnboundServer(const std::vector<std::string>& zones, const std::vector<std::string>& data) :
    d_port(freePort())
  {
    const std::string binary = unboundBinary();
    if (binary.empty()) {
      throw std::runtime_error("no unbound binary");
    }
    const auto conf = d_dir.path() / "unbound.conf";
    {
      std::ofstream out(conf);
      out << "server:\n  interface: 127.0.0.1\n  port: " << d_port
          << "\n  do-ip6: no\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"" << d_dir.path().string()
          << "\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"" << (d_dir.path() / "unbound.log").string()
          << "\"\n  verbosity: 0\n  num-threads: 1\n  so-reuseport: no\n  module-config: \"iterator\"\n"
             "  access-control: 127.0.0.0/8 allow\n  local-zone: \".\" refuse\n"
             "  msg-cache-size: 32m\n  rrset-cache-size: 64m\n"
             "  local-zone: \"fixture.test.\" static\n"
             "  local-data: 'ready.fixture.test. 300 IN TXT \"ok\"'\n";
      for (const auto& zone : zones) {
        out << "  local-zone: \"" << zone << "\" static\n";
      }
      for (const auto& line : data) {
        out << "  " << line << "\n";
      }
      out << "remote-control:\n  control-enable: no\n";
    }
    d_pid = ::fork();
    if (d_pid < 0) {
      throw std::runtime_error("fork failed");
    }
    if (d_pid == 0) {
      // A runner that dies (a crash, SIGKILL) takes its unbound with it.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      ::execl(binary.c_str(), binary.c_str(), "-d", "-c", conf.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    waitReady();
  }
  ~UnboundServer()
  {
    if (d_pid > 0) {
      ::kill(d_pid, SIGTERM);
      int status = 0;
      ::waitpid(d_pid, &status, 0);
    }
  }
  UnboundServer(const UnboundServer&) = delete;
  UnboundServer& operator=(const UnboundServer&) = delete;

  [[nodiscard]] uint16_t port() const { return d_port; }
  //! The Resolver setting that forwards to this server.
  [[nodiscard]] std::string spec() const { return "127.0.0.1@" + std::to_string(d_port); }
  [[nodiscard]] const std::filesystem::path& dir() const { return d_dir.path(); }

private:
  //! Ready = answers ready.fixture.test (a refused connection fails fast, so only an answer
  //! counts): poll with short timeouts, up to about 10 s.
  void waitReady()
  {
    collector::ResolverOptions options;
    options.spec = spec();
    options.timeout = std::chrono::milliseconds(200);
    for (int attempt = 0; attempt < 50; ++attempt) {
      int status = 0;
      if (::waitpid(d_pid, &status, WNOHANG) == d_pid) {
        d_pid = -1;
        throw std::runtime_error("unbound exited at start: " + readLog());
      }
      collector::Resolver probe(options);
      if (probe.resolve("ready.fixture.test", collector::dnstype::txt).status == collector::DnsStatus::Answer) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("unbound did not answer: " + readLog());
  }
  std::string readLog() const
  {
    try {
      return readFile(d_dir.path() / "unbound.log");
    }
    catch (const std::exception&) {
      return "(no log)";
    }
  }

  TempDir d_dir;
  uint16_t d_port;
  pid_t d_pid = -1;
};

} // namespace dmarcwatch::test
