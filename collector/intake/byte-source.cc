/*
 * byte-source.cc - memory, file and peek sources, and readAll.
 *
 * Users: every stage of the collector (unpack, inflate, mailbox, ingest).
 * Thread-safety: a source is used by one thread at a time; the free
 * functions keep no state.
 * Error policy: I/O errors throw std::system_error (EINTR is retried);
 * readAll throws LimitError when the data passes the caller's cap.
 */
#include "config.h"

#include "collector/intake/byte-source.hh"
#include "collector/common/errors.hh"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dmarcwatch::collector
{

size_t MemorySource::read(std::span<uint8_t> out)
{
  // Copy what is left, never more than the caller's buffer.
  const size_t n = std::min(out.size(), d_bytes.size() - d_pos);
  if (n > 0) {
    std::memcpy(out.data(), d_bytes.data() + d_pos, n);
    d_pos += n;
  }
  return n;
}

FileDescriptor::~FileDescriptor()
{
  if (d_fd >= 0) {
    ::close(d_fd);
  }
}

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept
{
  // Close what we held before taking the other descriptor (self-move is a no-op).
  if (this != &other) {
    if (d_fd >= 0) {
      ::close(d_fd);
    }
    d_fd = other.release();
  }
  return *this;
}

namespace
{

//! "a FIFO", "a directory", ...: what a file that is not a regular one is, for messages.
const char* fileTypeName(mode_t mode)
{
  if (S_ISDIR(mode)) {
    return "a directory";
  }
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  if (S_ISCHR(mode)) {
    return "a character device";
  }
  if (S_ISBLK(mode)) {
    return "a block device";
  }
  return "not a regular file";
}

} // namespace

FileDescriptor openForReading(const std::string& path)
{
  // O_CLOEXEC: children (none today) never inherit report files.  O_NONBLOCK: opening a FIFO
  // must not wait for a writer (it is refused below); cleared again for a regular file.
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "open " + path);
  }
  FileDescriptor owned(fd);

  // Only regular files are read: a directory fails on read, a FIFO or a device may never end.
  struct stat st{};
  if (::fstat(owned.get(), &st) != 0) {
    throw std::system_error(errno, std::generic_category(), "fstat " + path);
  }
  if (!S_ISREG(st.st_mode)) {
    throw std::runtime_error(path + " is " + fileTypeName(st.st_mode) + ", not a regular file: refused");
  }
  const int flags = ::fcntl(owned.get(), F_GETFL);
  if (flags < 0 || ::fcntl(owned.get(), F_SETFL, flags & ~O_NONBLOCK) < 0) {
    throw std::system_error(errno, std::generic_category(), "fcntl " + path);
  }
  return owned;
}

size_t FileSource::read(std::span<uint8_t> out)
{
  // One read(2) of at most 64 KiB; retry on EINTR only.
  if (out.empty()) {
    return 0;
  }
  const size_t want = std::min<size_t>(out.size(), 65536);
  for (;;) {
    const ssize_t got = ::read(d_fd.get(), out.data(), want);
    if (got >= 0) {
      d_consumed += static_cast<uint64_t>(got);
      return static_cast<size_t>(got);
    }
    if (errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), "read");
    }
  }
}

std::span<const uint8_t> PeekSource::peek(size_t n)
{
  // Drop the already-consumed prefix of the head buffer, then fill it up to n bytes.
  if (d_headPos > 0) {
    d_head.erase(d_head.begin(), d_head.begin() + static_cast<std::ptrdiff_t>(d_headPos));
    d_headPos = 0;
  }
  while (d_head.size() < n) {
    const size_t old = d_head.size();
    d_head.resize(n);
    const size_t got = d_inner.read(std::span<uint8_t>(d_head.data() + old, n - old));
    d_head.resize(old + got);
    if (got == 0) {
      break;
    }
  }
  return {d_head.data(), std::min(n, d_head.size())};
}

size_t PeekSource::read(std::span<uint8_t> out)
{
  // Serve peeked bytes first; once they are gone, read straight through.
  if (out.empty()) {
    return 0;
  }
  if (d_headPos < d_head.size()) {
    const size_t n = std::min(out.size(), d_head.size() - d_headPos);
    std::memcpy(out.data(), d_head.data() + d_headPos, n);
    d_headPos += n;
    if (d_headPos == d_head.size()) {
      d_head.clear();
      d_headPos = 0;
    }
    d_consumed += n;
    return n;
  }
  const size_t got = d_inner.read(out);
  d_consumed += got;
  return got;
}

std::string readAll(ByteSource& source, uint64_t limit, const char* what)
{
  // Read in 64 KiB steps; one byte past the limit is enough to know it is too big.
  std::string result;
  std::vector<uint8_t> buffer(65536);
  for (;;) {
    const size_t got = source.read(buffer);
    if (got == 0) {
      return result;
    }
    if (result.size() + got > limit) {
      throw LimitError(std::string(what != nullptr ? what : "data") + " over " + std::to_string(limit) + " bytes");
    }
    result.append(reinterpret_cast<const char*>(buffer.data()), got);
  }
}

} // namespace dmarcwatch::collector
