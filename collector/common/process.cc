/*
 * process.cc - UserID, privileges, daemonizing, pid file (process.hh).
 */
#include "config.h"

#include "collector/common/process.hh"

#include "collector/common/errors.hh"
#include "collector/common/log.hh"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <pthread.h>
#include <stdexcept>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

namespace dmarcwatch::collector
{

namespace
{

//! Only root can switch users: say so, rather than a chown's or initgroups' bare EPERM.
void requireSwitchable(const Identity& id)
{
  if (geteuid() == 0 || geteuid() == id.uid) {
    return;
  }
  const passwd* self = getpwuid(geteuid());
  const std::string who = self != nullptr ? self->pw_name : std::to_string(geteuid());
  throw std::runtime_error("UserID " + id.name + ": started as user " + who +
                           ", not root, so cannot switch; start as root or as " + id.name + ", or leave UserID unset");
}

} // namespace

Identity lookupIdentity(const std::string& spec)
{
  Identity id;
  auto colon = spec.find(':');
  id.name = spec.substr(0, colon);
  const passwd* pw = getpwnam(id.name.c_str());
  if (pw == nullptr) {
    throw ConfigError("UserID: no such user '" + id.name + "'");
  }
  id.uid = pw->pw_uid;
  id.gid = pw->pw_gid;
  if (colon != std::string::npos) {
    std::string group = spec.substr(colon + 1);
    const struct group* gr = getgrnam(group.c_str());
    if (gr == nullptr) {
      throw ConfigError("UserID: no such group '" + group + "'");
    }
    id.gid = gr->gr_gid;
  }
  // Checked now, before a pid file or socket is handed to it: systemd's User= starts the
  // programs as that user, and only root could become another.
  requireSwitchable(id);
  return id;
}

void dropPrivileges(const Identity& id)
{
  // Started as UserID already (systemd's User=, runuser): nothing to drop.
  if (getuid() == id.uid && geteuid() == id.uid) {
    return;
  }
  requireSwitchable(id);
  if (initgroups(id.name.c_str(), id.gid) != 0 || setgid(id.gid) != 0 || setuid(id.uid) != 0) {
    throw std::runtime_error(std::string("cannot switch to UserID ") + id.name + ": " + strerror(errno));
  }
  if (id.uid != 0 && setuid(0) == 0) {
    throw std::runtime_error("dropped privileges but could regain root");
  }
}

namespace
{

//! The child's half of daemonizing: a session of its own in /, stdio on /dev/null.
void detach()
{
  setsid();
  if (chdir("/") != 0) {
    throw std::runtime_error(std::string("chdir /: ") + strerror(errno));
  }
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) {
      close(null);
    }
  }
}

} // namespace

void daemonize()
{
  pid_t pid = fork();
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + strerror(errno));
  }
  if (pid > 0) {
    _exit(0);
  }
  detach();
}

int daemonizeReporting()
{
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe: ") + strerror(errno));
  }
  pid_t pid = fork();
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + strerror(errno));
  }
  if (pid > 0) {
    // Step: the parent: the child's status byte and message, or EOF when it died first.
    close(ends[1]);
    std::string report;
    char buffer[512];
    for (;;) {
      const ssize_t got = read(ends[0], buffer, sizeof buffer);
      if (got > 0) {
        report.append(buffer, static_cast<size_t>(got));
      }
      else if (got == 0 || errno != EINTR) {
        break;
      }
    }
    if (report.size() > 1) {
      (void)!write(STDERR_FILENO, report.data() + 1, report.size() - 1);
    }
    _exit(report.empty() ? 1 : static_cast<unsigned char>(report[0]));
  }
  close(ends[0]);
  detach();
  return ends[1];
}

void startupDone(int fd, int status, const std::string& message) noexcept
{
  if (fd < 0) {
    return;
  }
  std::string report(1, static_cast<char>(status));
  if (!message.empty()) {
    report += message + "\n";
  }
  (void)!write(fd, report.data(), report.size());
  close(fd);
}

void writePidFile(const std::string& path, const Identity* owner)
{
  // A pid file naming a live process is another instance's: not overwritten.
  std::ifstream existing(path);
  long other = 0;
  if (existing >> other && other > 0 && other != getpid() &&
      (kill(static_cast<pid_t>(other), 0) == 0 || errno == EPERM)) {
    throw std::runtime_error("PidFile " + path + " names running process " + std::to_string(other) +
                             " (another instance?); not overwritten");
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw std::runtime_error("PidFile " + path + ": " + strerror(errno));
  }
  // Owned through the descriptor, not the path: a path the user could swap for a symlink
  // would hand root's chown to whatever it points to.
  if (owner != nullptr && fchown(fd, owner->uid, owner->gid) != 0) {
    const int error = errno;
    close(fd);
    throw std::runtime_error("PidFile " + path + ": chown: " + strerror(error));
  }
  std::string text = std::to_string(getpid()) + "\n";
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!ok) {
    throw std::runtime_error("PidFile " + path + ": short write");
  }
}

sigset_t blockControlSignals()
{
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

std::shared_ptr<const Config> reloadConfig(const std::string& ident, const std::string& path, const Config& old,
                                           bool foreground, const std::function<std::string(const Config&)>& refuse)
{
  std::shared_ptr<const Config> fresh;
  try {
    fresh = loadConfig(path);
  }
  catch (const std::exception& e) {
    logError("reload failed, keeping the old configuration", {{"error", e.what()}});
    return nullptr;
  }
  if (const std::string why = refuse ? refuse(*fresh) : std::string(); !why.empty()) {
    logError("reload failed, keeping the old configuration", {{"error", why}});
    return nullptr;
  }
  if (!foreground) {
    try {
      setupLogging(ident, fresh->syslogTarget, fresh->syslogFacility);
    }
    catch (const std::exception& e) {
      // Back to the old target; should that fail too now (its host does not resolve at this
      // moment), syslog(3) takes the lines: the process keeps running either way.
      try {
        setupLogging(ident, old.syslogTarget, old.syslogFacility);
      }
      catch (const std::exception&) {
        setupLogging(ident, "/dev/log", old.syslogFacility);
      }
      logError("reload failed, keeping the old configuration", {{"error", e.what()}});
      return nullptr;
    }
  }
  return fresh;
}

} // namespace dmarcwatch::collector
