/*
 * notify.hh - the wake-up path from the store's writers to dmarcwatchd.
 *
 * A report made active (store.cc putReport: every writer - the milter,
 * `dmarcwatch ingest`, `deliver`, `reindex` - goes through it) sends one
 * datagram to the unix socket DIR/dmarcwatchd.sock once its transaction has
 * committed.  dmarcwatchd binds that socket (StoreNotifications) and runs a
 * pass when something arrives, instead of finding the report at its next
 * poll.  The datagram carries nothing: it only says "look again".
 *
 * Sender (StoreNotifier): never blocks (MSG_DONTWAIT), never throws, ignores
 * every error.  No daemon listening (ENOENT, ECONNREFUSED) costs one failed
 * sendto(2): a few microseconds.  A full receive queue (EAGAIN) loses the
 * datagram, which is harmless: the daemon has a wake-up queued already.
 *
 * Receiver (StoreNotifications): one per store.  The socket is created mode
 * 0660 (writers share UserID or run as root); a socket file left by a dead
 * daemon (nobody answers on it) is replaced, a live one is refused.  When the
 * directory is moved away (reindex swaps it) the receiver binds the new
 * path.  A path too long for sun_path cannot be bound: the receiver says so
 * (usable(), error()) and then only times out, so its user polls.
 *
 * Thread-safety: StoreNotifier::notify may run on any thread at once.
 * StoreNotifications::wait on one thread at a time; requestStop() from any
 * thread or a signal handler (it writes an eventfd).
 * Security: anybody who can write the socket can make the daemon run passes
 * (no more than one per datagram burst); the mode keeps that to the group.
 */
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

namespace dmarcwatch::collector
{

//! The socket's name inside the store directory.
inline constexpr const char* s_notifySocketName = "dmarcwatchd.sock";

//! DIR/dmarcwatchd.sock.
std::string notifySocketPath(const std::string& storeDir);

//! The writers' side: sends "look again" to the store's daemon.
class StoreNotifier
{
public:
  //! Prepares the address and an unbound datagram socket.  Never throws for the environment.
  explicit StoreNotifier(const std::string& storeDir);
  ~StoreNotifier();
  StoreNotifier(const StoreNotifier&) = delete;
  StoreNotifier& operator=(const StoreNotifier&) = delete;

  //! \brief Send one datagram.  Does not block, never throws, ignores every error.
  void notify() const noexcept;

private:
  sockaddr_un d_address{};
  socklen_t d_length = 0; //!< 0: the path does not fit sun_path (notify does nothing)
  int d_fd = -1;          //!< -1: socket(2) failed at construction; notify makes one each time
};

//! \brief One notification for the store in storeDir (after a directory swap). Never throws.
void notifyStore(const std::string& storeDir) noexcept;

//! The daemon's side: DIR/dmarcwatchd.sock, bound while this object lives.
class StoreNotifications
{
public:
  /*!
   * \brief Bind DIR/dmarcwatchd.sock (mode 0660), replacing a socket file nobody answers on.
   * Other failures (a path too long for sun_path, no permission) leave the object unusable
   * (usable() false, error() says why): wait() then only times out or stops.
   * \throw StoreError (rc EADDRINUSE) when another receiver answers on the socket
   */
  explicit StoreNotifications(const std::string& storeDir);
  ~StoreNotifications();
  StoreNotifications(const StoreNotifications&) = delete;
  StoreNotifications& operator=(const StoreNotifications&) = delete;

  //! True while the socket is bound; false: see error().
  [[nodiscard]] bool usable() const { return d_fd >= 0; }
  //! Why the socket is not bound ("" when usable).
  [[nodiscard]] const std::string& error() const { return d_error; }
  //! The socket's path.
  [[nodiscard]] const std::string& path() const { return d_path; }

  /*!
   * \brief Block until a notification arrives, the timeout passes or a stop is requested.
   * Drains every queued datagram.  Binds the path again when the socket file was moved or
   * removed (that counts as a notification: the store may have changed).  Never throws.
   * \return true when one or more notifications arrived; false on timeout, stop or EINTR
   */
  bool wait(std::chrono::milliseconds timeout) noexcept;
  //! \brief Make wait() return false now and at every later call.  Async-signal-safe.
  void requestStop() noexcept;
  [[nodiscard]] bool stopRequested() const { return d_stop.load(); }

private:
  //! \brief Bind d_path, replacing a stale socket file. \throw StoreError (EADDRINUSE)
  void bindSocket();
  //! True while d_path names the socket file we bound.
  [[nodiscard]] bool stillOurs() const noexcept;
  //! Drain the socket. \return true when anything was read
  bool drain() noexcept;

  std::string d_path;
  std::string d_error;
  int d_fd = -1;
  int d_event = -1; //!< eventfd of requestStop()
  dev_t d_dev = 0;  //!< the bound socket file, to notice a move
  ino_t d_ino = 0;
  std::atomic<bool> d_stop{false};
};

} // namespace dmarcwatch::collector
