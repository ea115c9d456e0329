/*
 * notify.cc - the store's wake-up datagrams (notify.hh).
 */
#include "config.h"

#include "collector/store/notify.hh"

#include "collector/common/errors.hh"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <ctime>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dmarcwatch::collector
{

namespace
{

//! The longest wait() sleeps before it looks whether its socket file is still there.
constexpr std::chrono::milliseconds s_checkEvery{1000};

//! \brief Fill address for path. \return its length, 0 when the path does not fit sun_path.
socklen_t socketAddress(const std::string& path, sockaddr_un& address)
{
  address = sockaddr_un{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path) {
    return 0;
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
}

std::string errorText(int error)
{
  return std::strerror(error);
}

} // namespace

std::string notifySocketPath(const std::string& storeDir)
{
  return storeDir + "/" + s_notifySocketName;
}

StoreNotifier::StoreNotifier(const std::string& storeDir) :
  d_length(socketAddress(notifySocketPath(storeDir), d_address))
{
  if (d_length != 0) {
    d_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  }
}

StoreNotifier::~StoreNotifier()
{
  if (d_fd >= 0) {
    ::close(d_fd);
  }
}

void StoreNotifier::notify() const noexcept
{
  if (d_length == 0) {
    return;
  }
  // Step: one byte, no waiting; whatever fails is ignored (no daemon, a full queue, ...).
  // errno is left as it was: the caller may be between a failed call and its report.
  const int saved = errno;
  int fd = d_fd;
  if (fd < 0) {
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  }
  if (fd >= 0) {
    const char wake = 'n';
    (void)::sendto(fd, &wake, 1, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&d_address),
                   d_length);
    if (fd != d_fd) {
      ::close(fd);
    }
  }
  errno = saved;
}

void notifyStore(const std::string& storeDir) noexcept
{
  try {
    StoreNotifier(storeDir).notify();
  }
  catch (...) {
    // Out of memory building the path: nobody is woken, the daemon's poll finds the change.
    (void)0;
  }
}

StoreNotifications::StoreNotifications(const std::string& storeDir) :
  d_path(notifySocketPath(storeDir))
{
  d_event = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (d_event < 0) {
    throw StoreError("notification socket", errno, "eventfd");
  }
  try {
    bindSocket();
  }
  catch (...) {
    ::close(d_event);
    throw;
  }
}

StoreNotifications::~StoreNotifications()
{
  if (d_fd >= 0) {
    // Only our own socket file: after a move, the path may be another receiver's.
    if (stillOurs()) {
      ::unlink(d_path.c_str());
    }
    ::close(d_fd);
  }
  ::close(d_event);
}

void StoreNotifications::bindSocket()
{
  sockaddr_un address{};
  const socklen_t length = socketAddress(d_path, address);
  if (length == 0) {
    d_error = d_path + ": too long for a unix socket (at most " + std::to_string(sizeof address.sun_path - 1) +
              " bytes)";
    return;
  }
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    d_error = "socket: " + errorText(errno);
    return;
  }
  auto giveUp = [&](const std::string& why) {
    ::close(fd);
    d_error = d_path + ": " + why;
  };
  const auto* raw = reinterpret_cast<const sockaddr*>(&address);

  // Step: bind; a file in the way is replaced only when it is a socket nobody answers on.
  for (int attempt = 0;; ++attempt) {
    if (::bind(fd, raw, length) == 0) {
      break;
    }
    const int error = errno;
    if (error != EADDRINUSE || attempt > 0) {
      giveUp("bind: " + errorText(error));
      return;
    }
    const int probe = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (probe < 0) {
      giveUp("socket: " + errorText(errno));
      return;
    }
    const int connected = ::connect(probe, raw, length);
    const int probeError = errno;
    ::close(probe);
    if (connected == 0) {
      ::close(fd);
      throw StoreError("notification socket", EADDRINUSE,
                       d_path + " has a live receiver (another dmarcwatchd on this store?)");
    }
    struct stat st{};
    if (probeError != ECONNREFUSED || ::lstat(d_path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
      giveUp("in the way and not a stale socket (" + errorText(probeError) + ")");
      return;
    }
    ::unlink(d_path.c_str());
  }

  // Step: the mode (a unix socket ignores fchmod; the moment before chmod only lets the
  // umask's users send wake-ups), and the file's identity to notice a move later.
  struct stat st{};
  if (::chmod(d_path.c_str(), 0660) != 0 || ::lstat(d_path.c_str(), &st) != 0) {
    const int error = errno;
    ::unlink(d_path.c_str());
    giveUp("chmod: " + errorText(error));
    return;
  }
  d_dev = st.st_dev;
  d_ino = st.st_ino;
  d_fd = fd;
  d_error.clear();
}

bool StoreNotifications::stillOurs() const noexcept
{
  struct stat st{};
  return ::lstat(d_path.c_str(), &st) == 0 && st.st_dev == d_dev && st.st_ino == d_ino;
}

bool StoreNotifications::drain() noexcept
{
  bool any = false;
  char buffer[64];
  while (::recv(d_fd, buffer, sizeof buffer, MSG_DONTWAIT) >= 0) {
    any = true;
  }
  return any;
}

bool StoreNotifications::wait(std::chrono::milliseconds timeout) noexcept
{
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  while (!d_stop.load()) {
    // Step: the socket file moved (reindex swapped the directory) or was removed: bind the
    // path again, and say "look again" (the store there may be another one).
    if (d_fd >= 0 && !stillOurs()) {
      ::close(d_fd);
      d_fd = -1;
      try {
        bindSocket();
      }
      catch (const std::exception& e) {
        d_error = e.what();
      }
      return true;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return false;
    }
    const auto slice = std::min(left, s_checkEvery);
    pollfd fds[2] = {{d_event, POLLIN, 0}, {d_fd, POLLIN, 0}};
    const int ready = ::poll(fds, d_fd >= 0 ? 2 : 1, static_cast<int>(slice.count()));
    if (ready < 0) {
      if (errno == EINTR) {
        return false;
      }
      // Not expected (ENOMEM): sleep the slice instead of spinning.
      const auto nanoseconds = std::chrono::nanoseconds(slice).count();
      const timespec pause{static_cast<time_t>(nanoseconds / 1'000'000'000),
                           static_cast<long>(nanoseconds % 1'000'000'000)};
      ::nanosleep(&pause, nullptr);
      continue;
    }
    if (ready > 0 && d_fd >= 0 && (fds[1].revents & POLLIN) != 0 && drain()) {
      return !d_stop.load();
    }
  }
  return false;
}

void StoreNotifications::requestStop() noexcept
{
  d_stop.store(true);
  const uint64_t one = 1;
  const int saved = errno;
  (void)!::write(d_event, &one, sizeof one);
  errno = saved;
}

} // namespace dmarcwatch::collector
