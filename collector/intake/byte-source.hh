/*
 * byte-source.hh - a pull interface over bytes, so every stage streams.
 *
 * A ByteSource hands out bytes in chunks until it returns 0 (end).  Stages
 * stack: FileSource -> GzipSource -> PeekSource -> XML reader.  None of them
 * holds more than a fixed buffer, which is what keeps memory flat at any
 * report size.  Errors in the data throw ParseError (LimitError for caps);
 * I/O errors throw std::system_error.
 *
 * Thread-safety: a source is used by one thread at a time.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

class ByteSource
{
public:
  virtual ~ByteSource() = default;
  ByteSource() = default;
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  //! \brief Copy up to out.size() bytes into out. \return bytes copied, 0 only at end of data. May block on I/O.
  virtual size_t read(std::span<uint8_t> out) = 0;
  //! Bytes handed out so far (for error offsets and ratio checks).
  [[nodiscard]] virtual uint64_t consumed() const = 0;
};

//! Bytes in memory that outlive the source (not copied).
class MemorySource : public ByteSource
{
public:
  explicit MemorySource(std::span<const uint8_t> bytes) :
    d_bytes(bytes) {}
  explicit MemorySource(std::string_view bytes) :
    d_bytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()) {}
  size_t read(std::span<uint8_t> out) override;
  [[nodiscard]] uint64_t consumed() const override { return d_pos; }

private:
  std::span<const uint8_t> d_bytes;
  size_t d_pos = 0;
};

//! An owned file descriptor (FD wrapper, move-only).
class FileDescriptor
{
public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) :
    d_fd(fd) {}
  ~FileDescriptor();
  FileDescriptor(FileDescriptor&& other) noexcept :
    d_fd(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  [[nodiscard]] int get() const { return d_fd; }
  [[nodiscard]] bool valid() const { return d_fd >= 0; }
  int release() noexcept
  {
    int fd = d_fd;
    d_fd = -1;
    return fd;
  }

private:
  int d_fd = -1;
};

/*!
 * \brief Open a regular file for reading (O_NOFOLLOW is not used: admins pass symlinks on purpose).
 * \throw std::system_error; std::runtime_error for what is not a regular file (never blocks on a FIFO)
 */
FileDescriptor openForReading(const std::string& path);

//! Reads a file descriptor in 64 KiB chunks; blocks on read(2).
class FileSource : public ByteSource
{
public:
  explicit FileSource(FileDescriptor fd) :
    d_fd(std::move(fd)) {}
  size_t read(std::span<uint8_t> out) override;
  [[nodiscard]] uint64_t consumed() const override { return d_consumed; }

private:
  FileDescriptor d_fd;
  uint64_t d_consumed = 0;
};

/*!
 * Wraps a source so the first bytes can be looked at before anyone reads
 * them (payload sniffing).  peek() never consumes.
 */
class PeekSource : public ByteSource
{
public:
  explicit PeekSource(ByteSource& inner) :
    d_inner(inner) {}
  //! \brief Up to n leading bytes (fewer only at end of data).
  std::span<const uint8_t> peek(size_t n);
  size_t read(std::span<uint8_t> out) override;
  [[nodiscard]] uint64_t consumed() const override { return d_consumed; }

private:
  ByteSource& d_inner;
  std::vector<uint8_t> d_head;
  size_t d_headPos = 0;
  uint64_t d_consumed = 0;
};

//! \brief Read everything left, up to limit bytes. \throw LimitError past limit (message names what).
std::string readAll(ByteSource& source, uint64_t limit, const char* what);

} // namespace dmarcwatch::collector
