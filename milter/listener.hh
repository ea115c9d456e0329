/*
 * listener.hh - the milter's listening socket from a Socket setting
 * (collector/socket-spec.hh); a stale unix socket is replaced.
 *
 * Users: main.cc.  Error policy: std::runtime_error naming the socket.
 * Thread-safety: call before any thread starts (the unix socket is created
 * under a temporary umask).
 */
#pragma once

#include "collector/common/socket-spec.hh"

#include <string>

#include <sys/types.h>

namespace dmarcwatch::milter
{

using collector::SocketSpec;

/*!
 * \brief Bind and listen (non-blocking, close-on-exec).  A unix socket gets
 * `mode` from the moment it exists (bind under a matching umask).
 * \return the listening descriptor. \throw std::runtime_error
 */
int openListenSocket(const SocketSpec& where, mode_t mode);

} // namespace dmarcwatch::milter
