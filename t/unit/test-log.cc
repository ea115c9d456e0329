/*
 * test-log.cc - the logger: line format, printable(), capture, rate limit,
 * and the RFC 5424 writer against real sockets (unix datagram, UDP, TCP).
 *
 * Each test leaves logging on stderr with no capture, as it found it.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/errors.hh"
#include "collector/common/log.hh"
#include "t/unit/socket-util.hh"
#include "t/unit/test-util.hh"

#include <chrono>
#include <thread>
#include <string>
#include <vector>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace dmarcwatch::collector;
using dmarcwatch::test::bindLoopback;
using dmarcwatch::test::receiveDatagram;
using dmarcwatch::test::Socket;

namespace
{

//! Capture log lines for the lifetime of the object.
struct Capture
{
  std::vector<std::string> lines;
  Capture() { setLogCapture(&lines); }
  ~Capture() { setLogCapture(nullptr); }
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;
};

//! Restores the stderr sink at scope exit.
struct RestoreStderr
{
  RestoreStderr() = default;
  ~RestoreStderr() { setupLogging("dmarcwatch-test", "stderr", "mail"); }
  RestoreStderr(const RestoreStderr&) = delete;
  RestoreStderr& operator=(const RestoreStderr&) = delete;
};

//! A TCP collector that never reads (a small receive buffer, so it fills soon); its port.
uint16_t listenStalled(int fd)
{
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  uint16_t port = bindLoopback(fd);
  BOOST_REQUIRE_EQUAL(listen(fd, 4), 0);
  return port;
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_log)

BOOST_AUTO_TEST_CASE(printable_replaces_control_and_non_ascii)
{
  BOOST_CHECK_EQUAL(printable("plain text"), "plain text");
  BOOST_CHECK_EQUAL(printable("a\r\nb\tc\x1b[31m"), "a??b?c?[31m");
  BOOST_CHECK_EQUAL(printable("caf\xc3\xa9"), "caf??");
  BOOST_CHECK_EQUAL(printable(std::string("nul\0x", 5)), "nul?x");
  BOOST_CHECK_EQUAL(printable("\x7f"), "?");
}

BOOST_AUTO_TEST_CASE(printable_truncates_within_max)
{
  std::string got = printable(std::string(300, 'x'), 20);
  BOOST_CHECK_EQUAL(got.size(), 20U);
  BOOST_CHECK_EQUAL(got, std::string(17, 'x') + "...");
  BOOST_CHECK_EQUAL(printable("abcdef", 6), "abcdef");
  BOOST_CHECK_EQUAL(printable("abcdefg", 2), "ab");
  BOOST_CHECK_EQUAL(printable(std::string(250, 'y')).size(), 200U);
}

BOOST_AUTO_TEST_CASE(capture_formats_message_and_fields)
{
  Capture cap;
  logInfo("report stored", {{"qid", "4XyZ"}, {"org", "google.com"}, {"records", "12"}});
  logWarning("odd value", {{"text", "two words"}, {"empty", ""}, {"quote", "say \"hi\""}, {"eq", "a=b"}});
  logError("bad bytes", {{"v", "line1\nline2"}});
  BOOST_REQUIRE_EQUAL(cap.lines.size(), 3U);
  BOOST_CHECK_EQUAL(cap.lines[0], "info: report stored qid=4XyZ org=google.com records=12");
  BOOST_CHECK_EQUAL(cap.lines[1], R"(warning: odd value text="two words" empty="" quote="say \"hi\"" eq="a=b")");
  BOOST_CHECK_EQUAL(cap.lines[2], "error: bad bytes v=line1?line2");
}

BOOST_AUTO_TEST_CASE(long_values_are_truncated)
{
  Capture cap;
  logInfo("long", {{"v", std::string(5000, 'a')}});
  BOOST_REQUIRE_EQUAL(cap.lines.size(), 1U);
  BOOST_CHECK_LT(cap.lines[0].size(), 300U);
  BOOST_CHECK(cap.lines[0].find("...") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(debug_only_when_enabled)
{
  Capture cap;
  logDebug("hidden");
  setLogDebug(true);
  logDebug("shown");
  setLogDebug(false);
  BOOST_REQUIRE_EQUAL(cap.lines.size(), 1U);
  BOOST_CHECK_EQUAL(cap.lines[0], "debug: shown");
}

BOOST_AUTO_TEST_CASE(identical_errors_are_rate_limited)
{
  Capture cap;
  for (int i = 0; i < 500; ++i) {
    logError("attacker triggered", {{"n", std::to_string(i)}});
    logInfo("info is not limited");
  }
  logError("another text");
  size_t errors = 0;
  size_t infos = 0;
  for (const auto& line : cap.lines) {
    errors += line.rfind("error: attacker triggered", 0) == 0 ? 1 : 0;
    infos += line.rfind("info: ", 0) == 0 ? 1 : 0;
  }
  BOOST_CHECK_GT(errors, 0U);
  BOOST_CHECK_LE(errors, 50U);
  BOOST_CHECK_EQUAL(infos, 500U);
  BOOST_CHECK_EQUAL(cap.lines.back(), "error: another text");
}

BOOST_AUTO_TEST_CASE(bad_targets_are_config_errors)
{
  RestoreStderr restore;
  BOOST_CHECK_THROW(setupLogging("t", "stderr", "nosuchfacility"), ConfigError);
  BOOST_CHECK_THROW(setupLogging("t", "/var/log/file", "mail"), ConfigError);
  BOOST_CHECK_THROW(setupLogging("t", "udp:127.0.0.1", "mail"), ConfigError);
  BOOST_CHECK_THROW(setupLogging("t", "tcp:127.0.0.1:port", "mail"), ConfigError);
  BOOST_CHECK_NO_THROW(setupLogging("t", "udp:[::1]:514", "local3"));
  BOOST_CHECK_NO_THROW(setupLogging("t", "/dev/log", "daemon"));
}

BOOST_AUTO_TEST_CASE(unix_datagram_target_gets_rfc5424)
{
  dmarcwatch::test::TempDir dir;
  std::string path = (dir.path() / "log.sock").string();
  Socket receiver(AF_UNIX, SOCK_DGRAM);
  dmarcwatch::test::bindUnix(receiver.fd, path);

  RestoreStderr restore;
  setupLogging("dmarcwatch-milter", "unix:" + path, "mail");
  logWarning("report not stored", {{"qid", "ABC123"}, {"error", "bad \"xml\" ]here"}});
  std::string got = receiveDatagram(receiver.fd);
  BOOST_TEST_MESSAGE("got: " << got);
  // <PRI>: mail (2) * 8 + warning (4) = 20.
  BOOST_CHECK_EQUAL(got.rfind("<20>1 ", 0), 0U);
  BOOST_CHECK(got.find(" dmarcwatch-milter " + std::to_string(getpid()) + " - ") != std::string::npos);
  BOOST_CHECK(got.find(R"([dmarcwatch@32473 qid="ABC123" error="bad \"xml\" \]here"])") != std::string::npos);
  std::string wantTail = R"( report not stored qid=ABC123 error="bad \"xml\" ]here")";
  BOOST_CHECK(got.size() > wantTail.size() && got.substr(got.size() - wantTail.size()) == wantTail);
  // Timestamp: 2024-01-02T03:04:05.123456Z after "<20>1 ".
  BOOST_CHECK(got.size() > 33 && got[10] == '-' && got[16] == 'T' && got[32] == 'Z');
}

BOOST_AUTO_TEST_CASE(unix_target_survives_receiver_restart)
{
  dmarcwatch::test::TempDir dir;
  std::string path = (dir.path() / "log.sock").string();

  RestoreStderr restore;
  setupLogging("dmarcwatch", "unix:" + path, "local0");
  logInfo("nobody listens yet"); // dropped, must not throw or block
  {
    Socket first(AF_UNIX, SOCK_DGRAM);
    dmarcwatch::test::bindUnix(first.fd, path);
    // A failed connect is retried at most once a second.
    sleep(1);
    logInfo("first");
    BOOST_CHECK(receiveDatagram(first.fd).find("log lines lost count=1") != std::string::npos);
    BOOST_CHECK(receiveDatagram(first.fd).find(" first") != std::string::npos);
  }
  unlink(path.c_str());
  Socket second(AF_UNIX, SOCK_DGRAM);
  dmarcwatch::test::bindUnix(second.fd, path);
  logInfo("second");
  std::string got = receiveDatagram(second.fd);
  BOOST_CHECK(got.find(" second") != std::string::npos);
  // local0 (16) * 8 + info (6) = 134
  BOOST_CHECK_EQUAL(got.rfind("<134>1 ", 0), 0U);
}

BOOST_AUTO_TEST_CASE(udp_target_gets_rfc5424)
{
  Socket receiver(AF_INET, SOCK_DGRAM);
  uint16_t port = bindLoopback(receiver.fd);
  RestoreStderr restore;
  setupLogging("dmarcwatchd", "udp:127.0.0.1:" + std::to_string(port), "daemon");
  logError("alert", {{"domain", "example.com"}});
  std::string got = receiveDatagram(receiver.fd);
  // daemon (3) * 8 + err (3) = 27
  BOOST_CHECK_EQUAL(got.rfind("<27>1 ", 0), 0U);
  BOOST_CHECK(got.find(" alert domain=example.com") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(tcp_target_uses_octet_counting)
{
  Socket listener(AF_INET, SOCK_STREAM);
  uint16_t port = bindLoopback(listener.fd);
  BOOST_REQUIRE_EQUAL(listen(listener.fd, 4), 0);
  RestoreStderr restore;
  setupLogging("dmarcwatchd", "tcp:127.0.0.1:" + std::to_string(port), "mail");
  logInfo("one");
  logInfo("two", {{"k", "v"}});
  int conn = accept(listener.fd, nullptr, nullptr);
  BOOST_REQUIRE(conn >= 0);
  // Two frames "LEN SP MSG", each LEN matching its message.
  std::vector<std::string> frames = dmarcwatch::test::receiveFrames(conn, 2);
  close(conn);
  BOOST_REQUIRE_EQUAL(frames.size(), 2U);
  BOOST_CHECK(frames[0].rfind("<22>1 ", 0) == 0 && frames[0].size() > 4 &&
              frames[0].substr(frames[0].size() - 4) == " one");
  BOOST_CHECK(frames[1].find("[dmarcwatch@32473 k=\"v\"] two k=v") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_stalled_collector_never_blocks_the_caller_with_the_writer_thread)
{
  // A TCP collector that accepts and then reads nothing: its buffers fill and every send blocks.
  Socket listener(AF_INET, SOCK_STREAM);
  uint16_t port = listenStalled(listener.fd);
  RestoreStderr restore;
  std::string value(200, 'x');
  int conn = -1;
  {
    LogWriterThread writer;
    setupLogging("dmarcwatch-milter", "tcp:127.0.0.1:" + std::to_string(port), "mail");
    // Far more than the queue holds; without the thread each line past the full buffers
    // would block its caller for the 1 s send timeout.
    auto start = std::chrono::steady_clock::now();
    const int lines = 20000;
    int logged = 0;
    for (; logged < lines && std::chrono::steady_clock::now() - start < std::chrono::seconds(5); ++logged) {
      logInfo("report message", {{"n", std::to_string(logged)}, {"v", value}});
    }
    BOOST_CHECK_EQUAL(logged, lines);
    conn = accept(listener.fd, nullptr, nullptr);
    BOOST_REQUIRE(conn >= 0);
    // The collector reads again: the writer catches up and says how many lines it dropped.
    std::string stream;
    char buf[65536];
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (stream.find("log lines dropped count=") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      pollfd pfd{conn, POLLIN, 0};
      if (poll(&pfd, 1, 1000) != 1) {
        continue;
      }
      ssize_t n = recv(conn, buf, sizeof buf, 0);
      if (n <= 0) {
        break;
      }
      stream.append(buf, static_cast<size_t>(n));
      if (stream.size() > (1U << 20)) {
        stream.erase(0, stream.size() - 4096); // keep the tail: the note comes after a batch
      }
    }
    BOOST_CHECK_MESSAGE(stream.find("log lines dropped count=") != std::string::npos,
                        "no 'log lines dropped' note from the writer thread");
    // Drain the rest while the writer thread stops (it writes what is queued first).
    std::thread reader([conn] {
      char sink[65536];
      pollfd pfd{conn, POLLIN, 0};
      while (poll(&pfd, 1, 2000) == 1 && recv(conn, sink, sizeof sink, 0) > 0) {
      }
    });
    BOOST_CHECK(writer.stop(std::chrono::seconds(30)));
    setupLogging("dmarcwatch-test", "stderr", "mail"); // closes the TCP connection: the reader ends
    reader.join();
  }
  close(conn);
}

BOOST_AUTO_TEST_CASE(a_new_target_set_up_while_the_writer_is_stuck_returns_at_once)
{
  // The writer thread stuck in a send to a TCP collector that reads nothing.
  Socket listener(AF_INET, SOCK_STREAM);
  uint16_t port = listenStalled(listener.fd);
  Socket udp(AF_INET, SOCK_DGRAM);
  uint16_t udpPort = bindLoopback(udp.fd);
  RestoreStderr restore;
  {
    LogWriterThread writer;
    setupLogging("dmarcwatch-milter", "tcp:127.0.0.1:" + std::to_string(port), "mail");
    std::string value(200, 'x');
    for (int i = 0; i < 3000; ++i) {
      logInfo("report message", {{"v", value}});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200)); // the writer is in a blocked send now
    // A reload: returns without waiting for the stuck sink.
    auto start = std::chrono::steady_clock::now();
    setupLogging("dmarcwatch-milter", "udp:127.0.0.1:" + std::to_string(udpPort), "mail");
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    BOOST_CHECK_LT(took.count(), 500);
    logInfo("after the switch");
    // The writer moves to the new target at its next line: the line arrives over UDP.
    bool seen = false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!seen && std::chrono::steady_clock::now() < deadline) {
      std::string got = receiveDatagram(udp.fd);
      seen = got.find("after the switch") != std::string::npos;
    }
    BOOST_CHECK_MESSAGE(seen, "the line logged after the switch did not arrive over UDP");
    BOOST_CHECK(writer.stop(std::chrono::seconds(20)));
  }
}

BOOST_AUTO_TEST_SUITE_END()
