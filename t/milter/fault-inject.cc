/*
 * fault-inject.c - LD_PRELOAD shim for t/milter/loop-failures.sh: makes some
 * system calls of the real dmarcwatch-milter fail the way a loaded machine
 * does, so the test can show that each failure closes at most one MTA
 * connection and never the event loop.
 *
 *   DW_FAULT_EPOLL=N   every Nth epoll_ctl ADD/MOD on a connection fails (ENOMEM)
 *   DW_FAULT_ACCEPT=N  every Nth accept4 fails (EMFILE: out of descriptors)
 *   DW_FAULT_SEND=N    every Nth send says EAGAIN without sending (a full socket buffer)
 *   DW_FAULT_LIMIT=M   after M injected failures in all, everything works again
 *
 * The first epoll_ctl calls (the engine's own eventfd and listening socket)
 * are never failed: a start-up failure is another test's business.
 * Test code only; never installed.
 */
#include <atomic>
#include <cerrno>
#include <cstdlib>

#include <dlfcn.h>
#include <sys/epoll.h>
#include <sys/socket.h>

namespace
{

std::atomic<long> s_injected{0};

long setting(const char* name)
{
  const char* value = std::getenv(name);
  return value != nullptr ? std::atol(value) : 0;
}

//! True when this call (the count-th of its kind) is to fail.
bool shouldFail(std::atomic<long>& calls, const char* name)
{
  long every = setting(name);
  long count = ++calls;
  if (every <= 0 || count % every != 0) {
    return false;
  }
  long limit = setting("DW_FAULT_LIMIT");
  return limit <= 0 || s_injected++ < limit;
}

template <typename Function>
Function real(const char* name)
{
  return reinterpret_cast<Function>(dlsym(RTLD_NEXT, name));
}

} // namespace

extern "C" {

int epoll_ctl(int epfd, int op, int fd, epoll_event* event)
{
  static std::atomic<long> calls{0};
  static std::atomic<long> setup{0};
  static auto next = real<int (*)(int, int, int, epoll_event*)>("epoll_ctl");
  // The engine adds its eventfd and listening socket first.
  if (setup++ >= 2 && (op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && shouldFail(calls, "DW_FAULT_EPOLL")) {
    errno = ENOMEM;
    return -1;
  }
  return next(epfd, op, fd, event);
}

int accept4(int fd, sockaddr* addr, socklen_t* length, int flags)
{
  static std::atomic<long> calls{0};
  static auto next = real<int (*)(int, sockaddr*, socklen_t*, int)>("accept4");
  if (shouldFail(calls, "DW_FAULT_ACCEPT")) {
    errno = EMFILE;
    return -1;
  }
  return next(fd, addr, length, flags);
}

ssize_t send(int fd, const void* data, size_t size, int flags)
{
  static std::atomic<long> calls{0};
  static auto next = real<ssize_t (*)(int, const void*, size_t, int)>("send");
  if (shouldFail(calls, "DW_FAULT_SEND")) {
    errno = EAGAIN;
    return -1;
  }
  return next(fd, data, size, flags);
}

} // extern "C"
