// test-engine.cc - milter/engine.cc: the real event loop over a unix socket in a
// temp dir (TCP on loopback for one case), run() in its own thread, and
// plain-socket clients speaking milter packets: replies, several clients at
// once, a protocol error closing only its own connection, the end of a report
// message finished on a worker, stop(), no delayed-ACK wait over TCP.
// Every read waits at most 5 s, so a hang fails the test instead of blocking it.
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/config.hh"
#include "collector/common/log.hh"
#include "collector/store/store.hh"
#include "milter/engine.hh"
#include "milter/listener.hh"
#include "milter/protocol.hh"
#include "t/unit/log-capture.hh"
#include "t/unit/test-util.hh"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <lmdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::milter;
using dmarcwatch::test::LogCapture;
using dmarcwatch::test::TempDir;
namespace protocol = dmarcwatch::milter::protocol;

namespace
{

using Clock = std::chrono::steady_clock;

//! How long a client waits for one reply (or for the end of the connection).
constexpr int s_readTimeoutMs = 5000;

std::string u32(uint32_t value)
{
  return {static_cast<char>(value >> 24), static_cast<char>((value >> 16) & 0xff),
          static_cast<char>((value >> 8) & 0xff), static_cast<char>(value & 0xff)};
}

std::string strings(std::initializer_list<std::string_view> items)
{
  std::string out;
  for (std::string_view item : items) {
    out.append(item);
    out.push_back('\0');
  }
  return out;
}

std::string packet(char letter, std::string_view data = {})
{
  std::string out;
  protocol::appendPacket(out, letter, data);
  return out;
}

//! Postfix's offer: version 6, every action, every protocol flag.
std::string optneg()
{
  return packet('O', u32(6) + u32(0x1FF) + u32(0x1FFFFF));
}

//! CONNECT, MAIL and RCPT (with their macros), which Postfix sends without waiting: no replies.
std::string envelope(const std::string& rcpt, const std::string& queueId = "4QENGINE")
{
  return packet('D', "C" + strings({"j", "mx.example.test"})) +
    packet('C', strings({"client.example.test"}) + "4" + std::string("\x00\x19", 2) + strings({"192.0.2.10"})) +
    packet('D', "M" + strings({"i", queueId})) + packet('M', strings({"<sender@example.org>"})) +
    packet('D', "R" + strings({"i", queueId})) + packet('R', strings({rcpt}));
}

//! A DMARC aggregate report of one record (7 messages).
std::string reportXml(const std::string& reportId)
{
  return "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>engine.test</org_name>"
         "<email>noreply@engine.test</email><report_id>" +
    reportId +
    "</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range>"
    "</report_metadata><policy_published><domain>example.test</domain><p>none</p></policy_published>"
    "<record><row><source_ip>192.0.2.1</source_ip><count>7</count><policy_evaluated>"
    "<disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>"
    "<identifiers><header_from>example.test</header_from></identifiers>"
    "<auth_results><spf><domain>example.test</domain><result>pass</result></spf></auth_results></record>"
    "</feedback>\r\n";
}

//! Headers, end of headers and the body of a report mail (after DATA), body in chunks.
std::string reportContent(const std::string& body, size_t chunk = 65535)
{
  std::string out = packet('L', strings({"From", "noreply@engine.test"})) +
    packet('L', strings({"To", "rua@example.test"})) + packet('L', strings({"Subject", "Report domain: example.test"})) +
    packet('L', strings({"MIME-Version", "1.0"})) + packet('L', strings({"Content-Type", "text/xml"})) + packet('N');
  for (size_t i = 0; i < body.size(); i += chunk) {
    out += packet('B', std::string_view(body).substr(i, chunk));
  }
  return out;
}

//! A blocking client (unix socket, or TCP with the kernel's defaults: Nagle on) that speaks
//! packets; every wait is bounded.
class Client
{
public:
  //! \throw std::runtime_error when the connection is refused
  explicit Client(const std::string& path)
  {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    connectTo(reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  }
  //! To 127.0.0.1:port. \throw std::runtime_error when the connection is refused
  explicit Client(uint16_t port)
  {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connectTo(reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  }
  ~Client() { close(d_fd); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void send(std::string_view bytes)
  {
    while (!bytes.empty()) {
      ssize_t n = ::send(d_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      BOOST_REQUIRE_MESSAGE(n > 0, "send: " << std::strerror(errno));
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  //! \brief Send all of bytes; false when the peer closed (EPIPE, ECONNRESET) or 5 s passed without progress.
  bool trySend(std::string_view bytes)
  {
    while (!bytes.empty()) {
      pollfd pfd{d_fd, POLLOUT, 0};
      if (poll(&pfd, 1, s_readTimeoutMs) != 1) {
        return false;
      }
      ssize_t n = ::send(d_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        continue;
      }
      if (n <= 0) {
        return false;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  /*!
   * The next reply: its letter (for 'h', "h Name: value"), "EOF" when the
   * milter closed the connection, "TIMEOUT" after 5 s (or timeoutMs) without a whole packet.
   */
  std::string reply(int timeoutMs = s_readTimeoutMs)
  {
    Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
    for (;;) {
      size_t consumed = 0;
      if (std::optional<protocol::Packet> got = protocol::nextPacket(d_in, consumed)) {
        std::string out(1, got->command);
        if (got->command == protocol::reply::addHeader) {
          auto [name, value] = protocol::parseHeader(got->data);
          out += " " + std::string(name) + ": " + std::string(value);
        }
        else if (got->command == protocol::reply::optionNegotiation) {
          d_negotiated = protocol::parseNegotiation(got->data);
        }
        d_in.erase(0, consumed);
        return out;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd pfd{d_fd, POLLIN, 0};
      int ready = left > 0 ? poll(&pfd, 1, static_cast<int>(left)) : 0;
      if (ready < 0 && errno == EINTR) {
        continue;
      }
      if (ready <= 0) {
        return "TIMEOUT";
      }
      char buffer[4096];
      ssize_t n = recv(d_fd, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return d_in.empty() ? "EOF" : "EOF inside a packet";
      }
      d_in.append(buffer, static_cast<size_t>(n));
    }
  }

  //! Negotiate as Postfix does; true when the milter answered with version 6.
  bool negotiate()
  {
    send(optneg());
    return reply() == "O" && d_negotiated.version == 6;
  }

private:
  void connectTo(const sockaddr* addr, socklen_t length)
  {
    d_fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (d_fd < 0) {
      throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    }
    if (::connect(d_fd, addr, length) != 0) {
      int error = errno;
      close(d_fd);
      throw std::runtime_error(std::string("connect: ") + std::strerror(error));
    }
  }

  int d_fd = -1;
  std::string d_in;
  protocol::Negotiation d_negotiated;
};

//! A Runtime over a Store in a temp dir, an Engine on DIR/milter.sock (or, with tcp, on
//! 127.0.0.1:tcpPort, a port the kernel chose), run() in a thread.
struct EngineFixture
{
  TempDir dir;
  LogCapture log; //!< read only once the loop thread has returned
  std::unique_ptr<Runtime> runtime;
  std::string socketPath;
  uint16_t tcpPort = 0;
  std::unique_ptr<Engine> engine;
  std::thread loop;
  std::atomic<bool> returned{false};

  explicit EngineFixture(const std::string& moreConfig = "", bool tcp = false)
  {
    std::filesystem::create_directories(dir.path() / "tmp");
    std::string db = (dir.path() / "db").string();
    std::string text = "ReportAddress rua@example.test\nDatabase " + db + "\nTempDirectory " +
      (dir.path() / "tmp").string() + "\n" + moreConfig;
    runtime = std::make_unique<Runtime>(parseConfig(text, "engine-test.conf"));
    Store::Options options;
    options.mapSize = 16ULL << 20;
    options.sync = false;
    runtime->setStore(std::make_unique<Store>(db, options));
    socketPath = (dir.path() / "milter.sock").string();
    std::string spec = tcp ? "inet:0@127.0.0.1" : "unix:" + socketPath;
    int fd = openListenSocket(dmarcwatch::collector::parseSocketSpec(spec), 0600);
    if (tcp) {
      sockaddr_in bound{};
      socklen_t length = sizeof bound;
      BOOST_REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0);
      tcpPort = ntohs(bound.sin_port);
    }
    engine = std::make_unique<Engine>(*runtime, fd, 2);
    loop = std::thread([this] {
      try {
        engine->run(std::chrono::seconds(5));
      }
      catch (const std::exception& e) {
        BOOST_TEST_MESSAGE("run() threw: " << e.what());
      }
      returned = true;
    });
  }

  ~EngineFixture()
  {
    if (loop.joinable()) {
      stopAndJoin();
    }
  }
  EngineFixture(const EngineFixture&) = delete;
  EngineFixture& operator=(const EngineFixture&) = delete;

  //! stop(), then wait (at most 5 s) for run() to return; how long that took.
  std::chrono::milliseconds stopAndJoin()
  {
    Clock::time_point start = Clock::now();
    engine->stop();
    while (!returned && Clock::now() - start < std::chrono::seconds(5)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    if (!returned) {
      // A hung loop must not hang the runner: leave it (and what it uses) to the process exit.
      BOOST_ERROR("Engine::run() did not return within 5 s of stop()");
      loop.detach();
      (void)engine.release();
      (void)runtime.release();
      return took;
    }
    loop.join();
    engine.reset();
    return took;
  }

  [[nodiscard]] size_t storedReports() const
  {
    Store::Options options;
    options.readOnly = true;
    return Store((dir.path() / "db").string(), options).listReports().size();
  }
};

//! Short timeouts, so a test sees them act within seconds.
struct TimedEngineFixture : EngineFixture
{
  TimedEngineFixture() :
    EngineFixture("CommandTimeout 2s\nProgressInterval 1s\n") {}
};

/*!
 * Another process holds the store's LMDB write lock (as a long `dmarcwatch
 * ingest` does) until release(); the milter's writers wait for it meanwhile.
 */
class StoreWriteLock
{
public:
  explicit StoreWriteLock(const std::string& dir)
  {
    int ready[2];
    int hold[2];
    BOOST_REQUIRE(pipe(ready) == 0 && pipe(hold) == 0);
    d_child = fork();
    BOOST_REQUIRE(d_child >= 0);
    if (d_child == 0) {
      // Only LMDB and plain system calls here (a fork of a threaded process).
      close(ready[0]);
      close(hold[1]); // or the read below never sees the parent's end
      MDB_env* env = nullptr;
      MDB_txn* txn = nullptr;
      char byte = 0;
      bool ok = mdb_env_create(&env) == 0 && mdb_env_set_mapsize(env, 16ULL << 20) == 0 &&
        mdb_env_open(env, dir.c_str(), MDB_WRITEMAP, 0640) == 0 && mdb_txn_begin(env, nullptr, 0, &txn) == 0;
      byte = ok ? 'y' : 'n';
      (void)!write(ready[1], &byte, 1);
      (void)!read(hold[0], &byte, 1); // until release() or the parent's end
      _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    d_hold = hold[1];
    char byte = 0;
    BOOST_REQUIRE(read(ready[0], &byte, 1) == 1);
    close(ready[0]);
    BOOST_REQUIRE_MESSAGE(byte == 'y', "the child could not take the write lock");
  }
  ~StoreWriteLock() { release(); }
  StoreWriteLock(const StoreWriteLock&) = delete;
  StoreWriteLock& operator=(const StoreWriteLock&) = delete;

  void release()
  {
    if (d_child > 0) {
      close(d_hold);
      waitpid(d_child, nullptr, 0);
      d_child = -1;
    }
  }

private:
  pid_t d_child = -1;
  int d_hold = -1;
};

struct TcpEngineFixture : EngineFixture
{
  TcpEngineFixture() :
    EngineFixture("", true) {}
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(test_engine, EngineFixture)

BOOST_AUTO_TEST_CASE(non_report_message_is_accepted_at_data)
{
  Client mta(socketPath);
  BOOST_REQUIRE(mta.negotiate());
  // Postfix sends the steps that need no reply and waits only at DATA.
  mta.send(envelope("<bob@example.test>") + packet('D', "T") + packet('T'));
  BOOST_CHECK_EQUAL(mta.reply(), "a");
  // A second message over the same connection, one packet per write this time.
  for (char letter : {'M', 'R'}) {
    mta.send(packet(letter, strings({"<x@example.org>"})));
  }
  mta.send(packet('T'));
  BOOST_CHECK_EQUAL(mta.reply(), "a");
  mta.send(packet('Q'));
  BOOST_CHECK_EQUAL(mta.reply(), "EOF");
}

BOOST_AUTO_TEST_CASE(two_clients_at_once)
{
  Client first(socketPath);
  Client second(socketPath);
  first.send(optneg());
  second.send(optneg());
  BOOST_CHECK_EQUAL(second.reply(), "O");
  BOOST_CHECK_EQUAL(first.reply(), "O");
  // Interleaved: the first one's message is half sent while the second one's completes.
  first.send(envelope("<bob@example.test>", "4QFIRST"));
  second.send(envelope("<carol@example.test>", "4QSECOND") + packet('T'));
  BOOST_CHECK_EQUAL(second.reply(), "a");
  first.send(packet('T'));
  BOOST_CHECK_EQUAL(first.reply(), "a");
  second.send(packet('Q'));
  BOOST_CHECK_EQUAL(second.reply(), "EOF");
  // The first goes on after the second left.
  first.send(packet('M', strings({"<x@example.org>"})) + packet('R', strings({"<bob@example.test>"})) + packet('T'));
  BOOST_CHECK_EQUAL(first.reply(), "a");
}

BOOST_AUTO_TEST_CASE(protocol_error_closes_only_that_connection)
{
  Client good(socketPath);
  BOOST_REQUIRE(good.negotiate());

  Client zeroLength(socketPath);
  BOOST_REQUIRE(zeroLength.negotiate());
  zeroLength.send(std::string("\0\0\0\0", 4));
  BOOST_CHECK_EQUAL(zeroLength.reply(), "EOF");

  Client tooLong(socketPath);
  tooLong.send(u32(static_cast<uint32_t>(protocol::s_maxPacket) + 1) + "O");
  BOOST_CHECK_EQUAL(tooLong.reply(), "EOF");

  Client early(socketPath);
  early.send(envelope("<bob@example.test>")); // no negotiation first
  BOOST_CHECK_EQUAL(early.reply(), "EOF");

  // An unknown command after a good negotiation.  (Both in one write usually arrive in
  // one read, and the negotiation reply queued before the error is then dropped with
  // the connection; if they arrive apart, the reply goes out first.)
  Client unknown(socketPath);
  unknown.send(optneg() + packet('Z'));
  std::string got = unknown.reply();
  if (got == "O") {
    got = unknown.reply();
  }
  BOOST_CHECK_EQUAL(got, "EOF");

  good.send(envelope("<bob@example.test>") + packet('T'));
  BOOST_CHECK_EQUAL(good.reply(), "a");

  stopAndJoin();
  BOOST_CHECK_EQUAL(log.count({"closing an MTA connection", "packet length 0 out of range"}), 1U);
  BOOST_CHECK_EQUAL(log.count({"closing an MTA connection"}), 4U);
}

BOOST_AUTO_TEST_CASE(report_message_is_finished_on_a_worker)
{
  Client mta(socketPath);
  BOOST_REQUIRE(mta.negotiate());
  mta.send(envelope("<rua@example.test>") + packet('T'));
  BOOST_CHECK_EQUAL(mta.reply(), "c");
  mta.send(reportContent(reportXml("engine-1")));
  BOOST_CHECK_EQUAL(mta.reply(), "c"); // the body chunk
  mta.send(packet('D', "E" + strings({"i", "4QENGINE"})) + packet('E'));
  BOOST_CHECK_EQUAL(mta.reply(), "h X-DMARCwatch:  stored; reports=1; records=1; messages=7; auth=unauthenticated; auth-reason=\"mail not checked\"");
  BOOST_CHECK_EQUAL(mta.reply(), "a");

  // The same report again, with QUIT sent right behind the end of message: it
  // is read while the worker runs and handled once the verdict is out.
  mta.send(envelope("<rua@example.test>", "4QAGAIN") + packet('T'));
  BOOST_CHECK_EQUAL(mta.reply(), "c");
  mta.send(reportContent(reportXml("engine-1")));
  BOOST_CHECK_EQUAL(mta.reply(), "c");
  mta.send(packet('E') + packet('Q'));
  BOOST_CHECK_EQUAL(mta.reply(), "h X-DMARCwatch:  duplicate; reports=1; records=1; messages=7; auth=unauthenticated; auth-reason=\"mail not checked\"");
  BOOST_CHECK_EQUAL(mta.reply(), "a");
  BOOST_CHECK_EQUAL(mta.reply(), "EOF");

  stopAndJoin();
  BOOST_CHECK_EQUAL(storedReports(), 1U);
  BOOST_CHECK_EQUAL(log.count({"report message", "qid=4QENGINE", "outcome=stored"}), 1U);
  BOOST_CHECK_EQUAL(log.count({"report message", "qid=4QAGAIN", "outcome=duplicate"}), 1U);
}

BOOST_AUTO_TEST_CASE(mta_gone_while_its_report_is_finished)
{
  {
    // The MTA gives up (timeout) right after the end of message: the worker still
    // finishes it, the loop drops the reply and the connection.
    Client mta(socketPath);
    BOOST_REQUIRE(mta.negotiate());
    mta.send(envelope("<rua@example.test>", "4QGONE") + packet('T') + reportContent(reportXml("engine-gone")) +
             packet('E'));
    BOOST_CHECK_EQUAL(mta.reply(), "c"); // DATA
  }
  // The loop goes on serving others.
  Client next(socketPath);
  BOOST_REQUIRE(next.negotiate());
  next.send(envelope("<bob@example.test>") + packet('T'));
  BOOST_CHECK_EQUAL(next.reply(), "a");
  // The worker stored it (wait for that, at most 5 s); sent again, it is a duplicate.
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
  while (storedReports() == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  BOOST_REQUIRE_EQUAL(storedReports(), 1U);
  Client again(socketPath);
  BOOST_REQUIRE(again.negotiate());
  again.send(envelope("<rua@example.test>", "4QRETRY") + packet('T') + reportContent(reportXml("engine-gone")) +
             packet('E'));
  BOOST_CHECK_EQUAL(again.reply(), "c");
  BOOST_CHECK_EQUAL(again.reply(), "c");
  BOOST_CHECK_EQUAL(again.reply(), "h X-DMARCwatch:  duplicate; reports=1; records=1; messages=7; auth=unauthenticated; auth-reason=\"mail not checked\"");
  BOOST_CHECK_EQUAL(again.reply(), "a");
  stopAndJoin();
  BOOST_CHECK_EQUAL(storedReports(), 1U);
  BOOST_CHECK_EQUAL(log.count({"report message", "qid=4QGONE"}), 1U);
}

BOOST_AUTO_TEST_CASE(large_message_in_one_write_is_framed_across_reads)
{
  // 600 KiB of body in 64 KiB packets, written at once: more than one wake-up's worth of reading.
  Client mta(socketPath);
  BOOST_REQUIRE(mta.negotiate());
  std::string body = reportXml("engine-large") + std::string(600 * 1024, ' ') + "\r\n";
  size_t chunks = (body.size() + 65534) / 65535;
  mta.send(envelope("<rua@example.test>") + packet('T') + reportContent(body) + packet('E'));
  BOOST_CHECK_EQUAL(mta.reply(), "c"); // DATA
  for (size_t i = 0; i < chunks; ++i) {
    BOOST_CHECK_EQUAL(mta.reply(), "c");
  }
  BOOST_CHECK_EQUAL(mta.reply(), "h X-DMARCwatch:  stored; reports=1; records=1; messages=7; auth=unauthenticated; auth-reason=\"mail not checked\"");
  BOOST_CHECK_EQUAL(mta.reply(), "a");
}

BOOST_AUTO_TEST_CASE(stop_returns_promptly_and_refuses_new_connections)
{
  Client idle(socketPath);
  BOOST_REQUIRE(idle.negotiate());
  Client halfway(socketPath);
  BOOST_REQUIRE(halfway.negotiate());
  halfway.send(envelope("<rua@example.test>"));

  std::chrono::milliseconds took = stopAndJoin();
  BOOST_CHECK_LT(took.count(), 2000);
  // Open connections are closed (the MTA applies its default action).
  BOOST_CHECK_EQUAL(idle.reply(), "EOF");
  BOOST_CHECK_EQUAL(halfway.reply(), "EOF");
  // Nobody listens any more.
  BOOST_CHECK_THROW(Client{socketPath}, std::runtime_error);
}

BOOST_FIXTURE_TEST_CASE(a_silent_connection_is_closed_after_the_command_timeout, TimedEngineFixture)
{
  Client stalled(socketPath);
  BOOST_REQUIRE(stalled.negotiate());
  // Half a packet, then nothing: the MTA (or whoever reached the socket) hung.
  stalled.send(packet('M', strings({"<x@example.org>"})).substr(0, 6));
  Client busy(socketPath);
  BOOST_REQUIRE(busy.negotiate());
  Clock::time_point start = Clock::now();
  // The other connection keeps working, a message every half second, past the timeout.
  for (int i = 0; i < 6; ++i) {
    busy.send(envelope("<bob@example.test>") + packet('T'));
    BOOST_CHECK_EQUAL(busy.reply(), "a");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  BOOST_CHECK_EQUAL(stalled.reply(), "EOF");
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  BOOST_CHECK_GE(took, 2000);
  busy.send(envelope("<bob@example.test>") + packet('T'));
  BOOST_CHECK_EQUAL(busy.reply(), "a");
  stopAndJoin();
  BOOST_CHECK_EQUAL(log.count({"closing an idle MTA connection", "qid=conn-", "partial_command=yes"}), 1U);
}

BOOST_FIXTURE_TEST_CASE(progress_is_sent_while_a_report_waits_for_the_store, TimedEngineFixture)
{
  Client mta(socketPath);
  BOOST_REQUIRE(mta.negotiate());
  mta.send(envelope("<rua@example.test>", "4QWAIT") + packet('T'));
  BOOST_CHECK_EQUAL(mta.reply(), "c");
  mta.send(reportContent(reportXml("engine-wait")));
  BOOST_CHECK_EQUAL(mta.reply(), "c");
  {
    StoreWriteLock lock((dir.path() / "db").string());
    mta.send(packet('E'));
    // About one SMFIR_PROGRESS a second while the store is locked, never a verdict.
    std::this_thread::sleep_for(std::chrono::milliseconds(3500));
    int progress = 0;
    for (;;) {
      std::string got = mta.reply(100); // what has come so far
      if (got != "p") {
        BOOST_CHECK_EQUAL(got, "TIMEOUT");
        break;
      }
      ++progress;
    }
    BOOST_CHECK_GE(progress, 2);
    BOOST_CHECK_LE(progress, 9);
    // Meanwhile other MTA connections are answered.
    Client other(socketPath);
    BOOST_REQUIRE(other.negotiate());
    other.send(envelope("<bob@example.test>") + packet('T'));
    BOOST_CHECK_EQUAL(other.reply(), "a");
  }
  // Lock released: the report is stored and answered (a late "p" may come first).
  std::string got = mta.reply();
  while (got == "p") {
    got = mta.reply();
  }
  BOOST_CHECK_EQUAL(got, "h X-DMARCwatch:  stored; reports=1; records=1; messages=7; auth=unauthenticated; auth-reason=\"mail not checked\"");
  BOOST_CHECK_EQUAL(mta.reply(), "a");
  stopAndJoin();
  BOOST_CHECK_EQUAL(storedReports(), 1U);
}

BOOST_FIXTURE_TEST_CASE(tcp_input_without_reply_is_acknowledged_at_once, TcpEngineFixture)
{
  // Sendmail writes each macro packet and then its command separately, Nagle on: the
  // command leaves once the milter's side has acknowledged the macro packet, which the
  // kernel delays by 40 ms or more (on a connection that has seen replies) unless the
  // milter asks for the ACK at once.  Ten messages so, one packet per write; the replies
  // to earlier steps are negotiated away (as Sendmail 8.17 does), so only DATA answers.
  Client mta(tcpPort);
  BOOST_REQUIRE(mta.negotiate());
  mta.send(envelope("<bob@example.test>") + packet('T'));
  BOOST_REQUIRE_EQUAL(mta.reply(), "a");
  std::vector<long> took;
  for (int i = 0; i < 10; ++i) {
    Clock::time_point start = Clock::now();
    for (std::string step : {packet('D', "M" + strings({"i", "4QTCP"})), packet('M', strings({"<x@example.org>"})),
                             packet('D', "R" + strings({"rcpt_mailer", "esmtp"})),
                             packet('R', strings({"<bob@example.test>"})), packet('D', "T" + strings({"j", "mx"})),
                             packet('T')}) {
      mta.send(step);
    }
    BOOST_REQUIRE_EQUAL(mta.reply(), "a");
    took.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
  }
  std::sort(took.begin(), took.end());
  // Without the quick ACK every message here waits 40-200 ms; with it, well under 1 ms.
  BOOST_TEST_MESSAGE("per message, ms: fastest " << took.front() << ", median " << took[took.size() / 2]
                                                 << ", slowest " << took.back());
  BOOST_CHECK_LT(took[took.size() / 2], 20);
}

BOOST_AUTO_TEST_CASE(a_client_that_never_reads_its_replies_is_closed)
{
  // Plain messages without reading a single reply: the replies may not pile up without bound.
  Client greedy(socketPath);
  BOOST_REQUIRE(greedy.negotiate());
  std::string one = packet('M', strings({"<x@example.org>"})) + packet('R', strings({"<bob@example.test>"})) + packet('T');
  std::string many;
  for (int i = 0; i < 10000; ++i) {
    many += one;
  }
  bool closed = false;
  for (int round = 0; round < 100 && !closed; ++round) { // up to 1M messages, 1M replies of 5 bytes
    closed = !greedy.trySend(many);
  }
  BOOST_CHECK_MESSAGE(closed, "the milter kept a connection that read none of 1M replies");
  Client next(socketPath);
  BOOST_REQUIRE(next.negotiate());
  next.send(envelope("<bob@example.test>") + packet('T'));
  BOOST_CHECK_EQUAL(next.reply(), "a");
  stopAndJoin();
  BOOST_CHECK_EQUAL(log.count({"closing an MTA connection", "it does not read our replies"}), 1U);
}

BOOST_AUTO_TEST_SUITE_END()
