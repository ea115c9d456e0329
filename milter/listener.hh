/*
 * listener.hh - the milter's listening socket from a Socket setting
 * (collector/socket-spec.hh); a stale unix socket is replaced.  And the
 * quick ACK of a TCP connection's input (the event loop calls it).
 *
 * Users: main.cc; engine.cc (acknowledgeNow, from the loop thread).  Error
 * policy: std::runtime_error naming the socket.  Thread-safety: open before
 * any thread starts (the unix socket is created under a temporary umask).
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

//! \brief Whether a listening socket is TCP (inet or inet6): its connections want acknowledgeNow.
bool acceptsTcp(int listenFd);

/*!
 * \brief Acknowledge what was read from a TCP connection now, not when the
 * delayed-ACK timer fires (TCP_QUICKACK, which the kernel resets).  Call it
 * after input that gets no reply.  Sendmail writes every macro packet and
 * the command after it separately, with Nagle on, so the command waits for
 * the ACK of the macro packet: 40 ms per message on loopback without this
 * (t/bench/RESULTS.md, Sendmail).  TCP_NODELAY on our side does not help:
 * the held write is Sendmail's.  Does not block; a failure only costs time.
 */
void acknowledgeNow(int fd);

} // namespace dmarcwatch::milter
