/*
 * engine.cc - epoll loop, connections, worker threads.  See engine.hh.
 *
 * Connection life: accepted -> registered for input -> packets handled as
 * they complete -> (end of a report message: unregistered, handed to a
 * worker, registered again with the worker's reply queued) -> closed at
 * QUIT, end of input, a protocol or socket error, idle timeout or stop.
 * Closed connections are freed after the current batch of events, so an
 * event later in the same batch never reaches freed memory.
 */
#include "config.h"

#include "milter/engine.hh"

#include "collector/common/log.hh"
#include "milter/dispatch.hh"
#include "milter/listener.hh"

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace dmarcwatch::milter
{
namespace
{

using Clock = std::chrono::steady_clock;
using collector::logError;
using collector::logWarning;

constexpr size_t s_readChunk = 64 * 1024;
//! Read at most this much from one connection per wake-up, so one busy MTA connection cannot starve others.
constexpr size_t s_readPerEvent = 4 * s_readChunk;
constexpr int s_maxEvents = 64;
//! How often idle connections and reports waiting for the store are looked at.
constexpr auto s_sweepInterval = std::chrono::seconds(1);
//! Replies an MTA leaves unread before its connection is closed (real MTAs wait for each one).
constexpr size_t s_maxUnsentReplies = 1024 * 1024;
//! After accept() runs out of descriptors, pause accepting this long (the listener stays readable).
constexpr auto s_acceptPause = std::chrono::seconds(1);

struct Connection
{
  Connection(int socket, Runtime& runtime) :
    fd(socket), milter(runtime), lastActivity(Clock::now()) {}
  ~Connection()
  {
    if (fd >= 0) {
      close(fd);
    }
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd;
  MilterConnection milter;
  std::string in;  //!< bytes read, not yet a whole packet
  std::string out; //!< replies not yet sent
  size_t outSent = 0;
  std::string workerOut;    //!< the worker's replies (only the worker touches it while busy)
  bool registered = false;  //!< in the epoll set
  bool wantWrite = false;   //!< registered for EPOLLOUT too
  bool busy = false;        //!< end of message running on a worker
  bool closing = false;     //!< close once out is sent (after QUIT)
  bool closed = false;
  bool progress = false;    //!< busy with an end of message: SMFIR_PROGRESS may be sent meanwhile
  Clock::time_point lastActivity;
  Clock::time_point lastProgress;
};

void closeDescriptor(int& fd)
{
  if (fd >= 0) {
    close(fd);
    fd = -1;
  }
}

} // namespace

struct Engine::State
{
  State(Runtime& rt, int listen) :
    runtime(rt), listenFd(listen), tcp(acceptsTcp(listen)) {}
  ~State()
  {
    closeDescriptor(epollFd);
    closeDescriptor(wakeFd);
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  Runtime& runtime;
  int listenFd; //!< -1 once the engine stopped listening
  bool tcp;     //!< TCP connections: input without a reply is acknowledged at once (acknowledgeNow)
  int epollFd = -1;
  int wakeFd = -1;
  // Tags for the two descriptors that are not connections (epoll_event.data.ptr).
  char listenTag = 0;
  char wakeTag = 0;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections;
  std::vector<std::unique_ptr<Connection>> graveyard; //!< closed in this batch, freed after it
  std::vector<char> readBuffer = std::vector<char>(s_readChunk); //!< the loop's, for every read
  std::atomic<bool> stopping{false};
  Clock::time_point acceptPausedUntil{};

  // Workers: jobs in, finished connections out (then the loop is woken through wakeFd).
  std::mutex mutex;
  std::condition_variable work;
  std::deque<Connection*> jobs;
  std::vector<Connection*> finished;
  //! Closed connections whose message spilled to a temp file: freed by a worker, since closing
  //! that file frees its blocks, which waits for a stalled disk.
  std::deque<std::unique_ptr<Connection>> disposals;
  unsigned inWorker = 0;
  bool workersExit = false;
  std::vector<std::thread> workers;

  // --- loop side ---
  void setInterest(Connection& conn);
  void unregister(Connection& conn);
  void closeConnection(Connection& conn);
  void acceptAll();
  void readInput(Connection& conn);
  void processInput(Connection& conn);
  //! Send what is queued; never throws (a connection that cannot be served is closed).
  void flush(Connection& conn);
  //! Log why and close the connection (a busy one once its worker is done). Never throws.
  void dropConnection(Connection& conn, const std::string& why) noexcept;
  //! setInterest(), closing the connection when epoll refuses. Never throws.
  void changeInterest(Connection& conn) noexcept;
  void collectFinished();
  void sweep(Clock::time_point now);
  void stopListening();
  //! Free the connections closed in this batch (those holding a temp file on a worker).
  void clearGraveyard();
  [[nodiscard]] unsigned busyCount();
  // --- worker side ---
  void workerLoop();
};

void Engine::State::setInterest(Connection& conn)
{
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (conn.wantWrite ? static_cast<uint32_t>(EPOLLOUT) : 0U);
  ev.data.ptr = &conn;
  if (epoll_ctl(epollFd, conn.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, conn.fd, &ev) != 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_ctl");
  }
  conn.registered = true;
}

void Engine::State::unregister(Connection& conn)
{
  if (conn.registered) {
    epoll_ctl(epollFd, EPOLL_CTL_DEL, conn.fd, nullptr);
    conn.registered = false;
  }
}

void Engine::State::closeConnection(Connection& conn)
{
  if (conn.closed || conn.busy) {
    return; // a busy one is closed when its worker is done (closing is set)
  }
  closeDescriptor(conn.fd); // also leaves the epoll set: the descriptor is never duplicated
  conn.registered = false;
  conn.closed = true;
  auto it = connections.find(&conn);
  if (it != connections.end()) {
    graveyard.push_back(std::move(it->second));
    connections.erase(it);
  }
}

void Engine::State::acceptAll()
{
  for (;;) {
    int fd = accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        logWarning("cannot accept MTA connections for now", {{"error", std::strerror(errno)}});
        epoll_ctl(epollFd, EPOLL_CTL_DEL, listenFd, nullptr);
        acceptPausedUntil = Clock::now() + s_acceptPause;
      }
      return; // EAGAIN: all taken
    }
    Connection* raw = nullptr;
    try {
      // Until it is in the map, the unique_ptr owns the connection (and its descriptor).
      auto conn = std::make_unique<Connection>(fd, runtime);
      raw = conn.get();
      auto slot = connections.emplace(raw, nullptr).first;
      slot->second = std::move(conn);
      setInterest(*raw);
    }
    catch (const std::exception& e) {
      logError("cannot take an MTA connection", {{"error", e.what()}});
      if (raw != nullptr && connections.count(raw) != 0) {
        closeConnection(*raw);
      }
      else if (raw == nullptr) {
        close(fd);
      }
      continue;
    }
    // The MTA writes its negotiation right after connecting: it is often here
    // already, and reading it now saves a trip through epoll_wait.
    try {
      readInput(*raw);
    }
    catch (const std::exception& e) {
      dropConnection(*raw, e.what());
    }
  }
}

void Engine::State::readInput(Connection& conn)
{
  size_t total = 0;
  bool atEnd = false;
  while (total < s_readPerEvent) {
    // Into a buffer of the loop's, then only what came into the connection's
    // (growing conn.in by a whole chunk first would zero-fill 64 KiB per read).
    ssize_t n = read(conn.fd, readBuffer.data(), readBuffer.size());
    if (n > 0) {
      conn.in.append(readBuffer.data(), static_cast<size_t>(n));
      total += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < readBuffer.size()) {
        break; // drained: save the read() that would say EAGAIN
      }
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    }
    atEnd = true; // end of input or a socket error: the MTA is gone
    break;
  }
  conn.lastActivity = Clock::now();
  processInput(conn);
  if (atEnd && !conn.closed) {
    if (conn.busy) {
      conn.closing = true; // after the worker
    }
    else {
      closeConnection(conn);
    }
  }
}

void Engine::State::processInput(Connection& conn)
{
  try {
    size_t pos = 0;
    while (!conn.busy && !conn.closing) {
      size_t used = 0;
      std::optional<protocol::Packet> packet =
        protocol::nextPacket(std::string_view(conn.in).substr(pos), used);
      if (!packet) {
        break;
      }
      pos += used;
      MilterConnection::Next next = conn.milter.handle(*packet, conn.out);
      if (next == MilterConnection::Next::Close) {
        conn.closing = true;
      }
      else if (next == MilterConnection::Next::Defer) {
        // Not read from until the worker is done: the MTA waits for this reply anyway.
        flush(conn);
        if (conn.closed) {
          return;
        }
        conn.progress = conn.milter.deferredEndOfMessage();
        conn.lastProgress = Clock::now();
        {
          std::lock_guard<std::mutex> lock(mutex);
          jobs.push_back(&conn);
          conn.busy = true; // from here on only the worker touches conn.milter
        }
        unregister(conn);
        work.notify_one();
      }
    }
    conn.in.erase(0, pos);
  }
  catch (const std::exception& e) {
    dropConnection(conn, e.what());
    return;
  }
  bool replying = !conn.out.empty();
  flush(conn);
  if (tcp && !replying && !conn.closed) {
    acknowledgeNow(conn.fd); // or Sendmail's next write waits for the delayed ACK
  }
}

void Engine::State::flush(Connection& conn)
{
  if (conn.closed) {
    return;
  }
  while (conn.outSent < conn.out.size()) {
    ssize_t n = send(conn.fd, conn.out.data() + conn.outSent, conn.out.size() - conn.outSent, MSG_NOSIGNAL);
    if (n > 0) {
      conn.outSent += static_cast<size_t>(n);
      conn.lastActivity = Clock::now(); // the MTA reads our replies
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (conn.out.size() - conn.outSent > s_maxUnsentReplies && !conn.busy) {
        dropConnection(conn, "it does not read our replies (" + std::to_string(conn.out.size() - conn.outSent) +
                               " bytes unsent)");
        return;
      }
      if (!conn.wantWrite && !conn.busy) {
        conn.wantWrite = true;
        changeInterest(conn);
      }
      return;
    }
    closeConnection(conn); // the MTA is gone
    return;
  }
  conn.out.clear();
  conn.outSent = 0;
  if (conn.closing && !conn.busy) {
    closeConnection(conn);
    return;
  }
  if (conn.wantWrite && !conn.busy) {
    conn.wantWrite = false;
    changeInterest(conn);
  }
}

void Engine::State::dropConnection(Connection& conn, const std::string& why) noexcept
{
  try {
    logWarning("closing an MTA connection", {{"qid", conn.milter.logId()}, {"error", why}});
  }
  catch (...) {
    // no memory to say so
  }
  conn.closing = true; // a busy one is closed when its worker is done
  closeConnection(conn);
}

void Engine::State::changeInterest(Connection& conn) noexcept
{
  try {
    setInterest(conn);
  }
  catch (const std::exception& e) {
    // The kernel refused (memory): this connection cannot be served any more; the others can.
    dropConnection(conn, e.what());
  }
}

void Engine::State::collectFinished()
{
  uint64_t count = 0;
  [[maybe_unused]] ssize_t rc = read(wakeFd, &count, sizeof count);
  std::vector<Connection*> done;
  {
    std::lock_guard<std::mutex> lock(mutex);
    done.swap(finished);
  }
  for (Connection* conn : done) {
    conn->busy = false;
    conn->lastActivity = Clock::now();
    // Each finished connection is settled whatever happens to another (none may stay busy).
    try {
      conn->out.append(conn->workerOut);
      conn->workerOut.clear();
      if (!conn->closing && !stopping) {
        setInterest(*conn);
      }
      else {
        conn->closing = true;
      }
    }
    catch (const std::exception& e) {
      logWarning("closing an MTA connection", {{"qid", conn->milter.logId()}, {"error", e.what()}});
      conn->closing = true;
    }
    flush(*conn); // sends the verdict; closes when closing
    if (!conn->closed && !conn->closing) {
      processInput(*conn); // anything the MTA sent before we stopped reading
    }
  }
}

void Engine::State::sweep(Clock::time_point now)
{
  std::shared_ptr<const collector::Config> config = runtime.config();
  std::vector<Connection*> idle;
  for (auto& [ptr, conn] : connections) {
    if (conn->busy) {
      // Waiting for the store: tell the MTA we are alive, so its end-of-message timeout restarts.
      if (conn->progress && now - conn->lastProgress >= config->progressInterval) {
        conn->lastProgress = now;
        protocol::appendPacket(conn->out, protocol::reply::progress);
        flush(*conn);
      }
    }
    else if (now - conn->lastActivity >= config->commandTimeout) {
      idle.push_back(ptr);
    }
  }
  for (Connection* conn : idle) {
    logWarning("closing an idle MTA connection",
               {{"qid", conn->milter.logId()},
                {"idle_seconds", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                   now - conn->lastActivity).count())},
                {"partial_command", conn->in.empty() ? "no" : "yes"}});
    closeConnection(*conn);
  }
}

void Engine::State::clearGraveyard()
{
  bool handedOver = false;
  for (std::unique_ptr<Connection>& conn : graveyard) {
    if (conn->milter.holdsTempFile()) {
      std::lock_guard<std::mutex> lock(mutex);
      disposals.push_back(std::move(conn));
      handedOver = true;
    }
  }
  graveyard.clear();
  if (handedOver) {
    work.notify_one();
  }
}

void Engine::State::stopListening()
{
  if (listenFd >= 0) {
    epoll_ctl(epollFd, EPOLL_CTL_DEL, listenFd, nullptr);
    closeDescriptor(listenFd);
  }
}

unsigned Engine::State::busyCount()
{
  unsigned busy = 0;
  for (auto& [ptr, conn] : connections) {
    busy += conn->busy ? 1 : 0;
  }
  return busy;
}

void Engine::State::workerLoop()
{
  for (;;) {
    Connection* conn = nullptr;
    std::unique_ptr<Connection> disposal;
    {
      std::unique_lock<std::mutex> lock(mutex);
      work.wait(lock, [this] { return workersExit || !jobs.empty() || !disposals.empty(); });
      if (!disposals.empty()) {
        disposal = std::move(disposals.front());
        disposals.pop_front();
      }
      else if (jobs.empty()) {
        return; // workersExit
      }
      else {
        conn = jobs.front();
        jobs.pop_front();
        ++inWorker;
      }
    }
    if (disposal) {
      disposal.reset(); // closes its temp file here, not on the loop
      continue;
    }
    conn->milter.finishDeferred(conn->workerOut); // never throws
    {
      std::lock_guard<std::mutex> lock(mutex);
      --inWorker;
      finished.push_back(conn);
    }
    uint64_t one = 1;
    [[maybe_unused]] ssize_t rc = write(wakeFd, &one, sizeof one);
  }
}

// ---------------------------------------------------------------- Engine

Engine::Engine(Runtime& runtime, int listenFd, unsigned workers) :
  d_state(std::make_unique<State>(runtime, listenFd))
{
  State& s = *d_state;
  s.epollFd = epoll_create1(EPOLL_CLOEXEC);
  s.wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s.epollFd < 0 || s.wakeFd < 0) {
    int error = errno;
    closeDescriptor(s.epollFd);
    closeDescriptor(s.wakeFd);
    throw std::system_error(error, std::generic_category(), "epoll/eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &s.wakeTag;
  epoll_ctl(s.epollFd, EPOLL_CTL_ADD, s.wakeFd, &ev);
  ev.data.ptr = &s.listenTag;
  if (epoll_ctl(s.epollFd, EPOLL_CTL_ADD, listenFd, &ev) != 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_ctl listen socket");
  }
  try {
    for (unsigned i = 0; i < std::max(1U, workers); ++i) {
      s.workers.emplace_back([&s] { s.workerLoop(); });
    }
  }
  catch (...) {
    // Threads already running must be joined before State goes away.
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      s.workersExit = true;
    }
    s.work.notify_all();
    for (std::thread& worker : s.workers) {
      worker.join();
    }
    throw;
  }
}

Engine::~Engine()
{
  State& s = *d_state;
  bool idle = false;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.workersExit = true;
    idle = s.inWorker == 0;
  }
  s.work.notify_all();
  for (std::thread& worker : s.workers) {
    // A worker still inside a message (stop's drain timed out) is left to the
    // process exit; joining it could wait on a stuck store for ever.
    if (idle) {
      worker.join();
    }
    else {
      worker.detach();
    }
  }
  if (!idle) {
    (void)d_state.release(); // detached workers still use it
    return;
  }
  for (auto& [ptr, conn] : s.connections) {
    closeDescriptor(conn->fd);
  }
  closeDescriptor(s.listenFd); // epollFd and wakeFd: ~State
}

void Engine::stop()
{
  d_state->stopping = true;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t rc = write(d_state->wakeFd, &one, sizeof one);
}

void Engine::run(std::chrono::milliseconds drainTimeout)
{
  State& s = *d_state;
  epoll_event events[s_maxEvents];
  Clock::time_point lastSweep = Clock::now();
  std::optional<Clock::time_point> drainUntil;
  for (;;) {
    Clock::time_point now = Clock::now();
    if (s.stopping && !drainUntil) {
      // Stop: no new connections; idle ones close now (the MTA applies its
      // default action to them); busy ones are answered first.
      drainUntil = now + drainTimeout;
      s.stopListening();
      std::vector<Connection*> idle;
      for (auto& [ptr, conn] : s.connections) {
        if (!conn->busy) {
          idle.push_back(ptr);
        }
        conn->closing = true;
      }
      for (Connection* conn : idle) {
        s.closeConnection(*conn);
      }
      s.clearGraveyard();
    }
    if (drainUntil && (s.busyCount() == 0 || now >= *drainUntil)) {
      break;
    }
    int n = epoll_wait(s.epollFd, events, s_maxEvents, 1000);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      logError("epoll_wait failed, the milter stops", {{"error", std::strerror(errno)}});
      break;
    }
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &s.listenTag) {
        if (s.listenFd >= 0) {
          s.acceptAll();
        }
        continue;
      }
      if (tag == &s.wakeTag) {
        s.collectFinished();
        continue;
      }
      auto* conn = static_cast<Connection*>(tag);
      if (conn->closed || conn->busy) {
        continue;
      }
      // One connection's failure (epoll_ctl refusing a change, memory) closes that connection;
      // it never leaves the loop, which serves every other MTA connection.
      try {
        if ((events[i].events & EPOLLOUT) != 0) {
          s.flush(*conn);
        }
        if (!conn->closed && (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
          s.readInput(*conn);
        }
      }
      catch (const std::exception& e) {
        s.dropConnection(*conn, e.what()); // not busy (checked above): its state may be read
      }
    }
    s.clearGraveyard();
    now = Clock::now();
    if (s.listenFd >= 0 && s.acceptPausedUntil != Clock::time_point{} && now >= s.acceptPausedUntil) {
      s.acceptPausedUntil = {};
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = &s.listenTag;
      epoll_ctl(s.epollFd, EPOLL_CTL_ADD, s.listenFd, &ev);
    }
    if (now - lastSweep >= s_sweepInterval) {
      lastSweep = now;
      s.sweep(now);
      s.clearGraveyard();
    }
  }
  s.stopListening();
}

} // namespace dmarcwatch::milter
