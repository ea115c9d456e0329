/*
 * process.hh - what a daemon of ours does to become one: look up UserID,
 * drop privileges, fork into the background, write its pid file.
 *
 * And what both do on SIGHUP: read the configuration again, keeping the old
 * one (and its log target) when the new one fails.
 *
 * Users: dmarcwatch-milter (milter/main.cc) and dmarcwatchd (collector/daemon).
 * Thread-safety: call daemonize() before any thread exists (fork keeps only
 * the calling thread); the rest from the main thread at start-up.  Errors:
 * ConfigError for a UserID naming no user or group, std::runtime_error for a
 * system call that fails.
 */
#pragma once

#include "collector/common/config.hh"

#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <sys/types.h>

namespace dmarcwatch::collector
{

//! A UserID setting, looked up.
struct Identity
{
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
};

//! \brief "user" or "user:group" -> ids.  A process that is not root can only be UserID itself
//! (systemd's User=). \throw ConfigError (no such user or group), std::runtime_error (another
//! user than the one running, when not root)
Identity lookupIdentity(const std::string& spec);

//! \brief setgroups/setgid/setuid, then check root cannot be regained.  A process already
//! running as id (systemd's User=) keeps its groups; one started as another user than root
//! cannot switch. \throw std::runtime_error naming both users
void dropPrivileges(const Identity& id);

//! \brief Fork; the parent exits 0, the child starts a session in / with stdio on /dev/null.
//! \throw std::runtime_error
void daemonize();

/*!
 * \brief daemonize(), but the parent waits until the child reports how its start-up went
 * (startupDone) and exits with that status, printing the child's message on stderr: whoever
 * started the daemon learns of a pid file naming a live process, a store that cannot be
 * opened, ...  A child that exits without reporting makes the parent exit 1.
 * \return the descriptor to hand to startupDone (close-on-exec). \throw std::runtime_error
 */
int daemonizeReporting();
//! \brief Report start-up to daemonizeReporting's parent (status 0: running) and close fd. Never throws.
void startupDone(int fd, int status, const std::string& message = {}) noexcept;

/*!
 * \brief Write our pid to path, owned by owner when given (so it can remove it after dropping
 * privileges); a file naming a live process is not overwritten. \throw std::runtime_error
 */
void writePidFile(const std::string& path, const Identity* owner = nullptr);

/*!
 * \brief Block SIGHUP, SIGTERM and SIGINT in the calling thread and in every thread it starts
 * later (call it before the first), so only the signal thread takes them (sigtimedwait).
 * \return the set
 */
sigset_t blockControlSignals();

/*!
 * \brief SIGHUP: load the configuration file again and, unless foreground, switch logging to its
 * SyslogTarget.  When either fails, logging stays on (or returns to) old's target, or syslog(3)
 * should that fail now too, and "reload failed, keeping the old configuration" is logged.
 * Never throws for a bad file or target.
 * \param refuse the program's own test of the new configuration, before logging moves: a
 * reason in return (logged as above, with the reason as its error) keeps the old one
 * \return the new configuration, or nullptr to keep the old one
 */
std::shared_ptr<const Config> reloadConfig(const std::string& ident, const std::string& path, const Config& old,
                                           bool foreground,
                                           const std::function<std::string(const Config&)>& refuse = {});

} // namespace dmarcwatch::collector
