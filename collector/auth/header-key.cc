/*
 * header-key.cc - the store's header key and its HMAC (header-key.hh).
 */
#include "collector/auth/header-key.hh"

#include "collector/intake/byte-source.hh"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dmarcwatch::collector
{
namespace
{

constexpr size_t s_keyBytes = 32;
constexpr size_t s_macBytes = 16;

[[noreturn]] void fail(const std::string& path, const char* what, int error)
{
  throw std::runtime_error(path + ": " + what + ": " + std::strerror(error));
}

} // namespace

std::string headerKeyPath(const std::string& database)
{
  return database + "/header-key";
}

std::optional<std::string> readHeaderKey(const std::string& database)
{
  const std::string path = headerKeyPath(database);
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    fail(path, "cannot read the header key", errno);
  }
  std::string key(s_keyBytes + 1, '\0'); // one more: a longer file is refused
  ssize_t got = 0;
  do {
    got = ::read(fd.get(), key.data(), key.size());
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    fail(path, "cannot read the header key", errno);
  }
  if (static_cast<size_t>(got) != s_keyBytes) {
    throw std::runtime_error(path + ": not a header key (" + std::to_string(s_keyBytes) + " bytes expected)");
  }
  key.resize(s_keyBytes);
  return key;
}

std::string makeHeaderKey(const std::string& database)
{
  if (auto key = readHeaderKey(database)) {
    return *key;
  }
  // Written whole under a private name, then linked into place: a concurrent maker's link
  // fails with EEXIST and both read the one that won.
  std::string key(s_keyBytes, '\0');
  if (::getrandom(key.data(), key.size(), 0) != static_cast<ssize_t>(key.size())) {
    fail(headerKeyPath(database), "no random bytes for the header key", errno);
  }
  const std::string path = headerKeyPath(database);
  const std::string temporary = path + ".new." + std::to_string(::getpid()) + "." + std::to_string(::gettid());
  FileDescriptor fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    fail(temporary, "cannot make the header key", errno);
  }
  // The group (admins running `ingest --milter-spf`) reads it, whatever the umask.
  const bool written = ::write(fd.get(), key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
                       ::fchmod(fd.get(), 0640) == 0 && ::fsync(fd.get()) == 0;
  const int error = errno;
  fd = FileDescriptor();
  const bool linked = written && ::link(temporary.c_str(), path.c_str()) == 0;
  const int linkError = errno;
  ::unlink(temporary.c_str());
  if (!written) {
    fail(temporary, "cannot write the header key", error);
  }
  if (!linked && linkError != EEXIST) {
    fail(path, "cannot make the header key", linkError);
  }
  if (auto made = readHeaderKey(database)) {
    return *made;
  }
  throw std::runtime_error(path + ": the header key vanished");
}

std::string headerMac(std::string_view key, std::string_view text)
{
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
           text.size(), mac, &length) == nullptr ||
      length < s_macBytes) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  static constexpr char s_hex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s_macBytes; ++i) {
    out.push_back(s_hex[mac[i] >> 4]);
    out.push_back(s_hex[mac[i] & 0x0f]);
  }
  return out;
}

} // namespace dmarcwatch::collector
