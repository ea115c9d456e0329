/*
 * config-file.cc - read a small configuration or catalog file (config-file.hh).
 */
#include "collector/common/config-file.hh"

#include "collector/common/errors.hh"
#include "collector/common/text.hh"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dmarcwatch::collector
{

std::string readConfigFile(const std::string& path, uint64_t maxBytes)
{
  // Step: open without following a symlink as the last component (the admin links whole
  // directories, not files), check it is a regular file within the size cap, read it whole.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    throw ConfigError(path + ": cannot open: " + std::strerror(errno));
  }
  struct FdCloser
  {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    throw ConfigError(path + ": not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > maxBytes) {
    throw ConfigError(path + ": larger than " + std::to_string(maxBytes) + " bytes");
  }
  std::string text;
  text.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw ConfigError(path + ": read: " + std::strerror(errno));
    }
    if (n == 0) {
      break; // shrank under us: parse what is there
    }
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return text;
}

void forEachStatement(std::string_view text, const std::string& file, size_t maxLineBytes,
                      const std::function<void(std::string_view line, unsigned number)>& statement)
{
  size_t pos = 0;
  unsigned number = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    ++number;
    auto line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.size() > maxLineBytes) {
      throw ConfigError(file, number, "line longer than " + std::to_string(maxLineBytes) + " bytes");
    }
    line = trimAscii(line);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    if (!isPrintableLine(line)) {
      throw ConfigError(file, number, "control character in line");
    }
    statement(line, number);
  }
}

} // namespace dmarcwatch::collector
