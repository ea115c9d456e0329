/*
 * engine.hh - the milter's event loop: one thread owns every MTA connection
 * (epoll, non-blocking sockets) and speaks the protocol through
 * MilterConnection (dispatch.hh); a few worker threads run what may take
 * long, the end of a report message (parse, store, fsync).
 *
 * Why one loop and not a thread per connection: mail that is not a report
 * costs the milter four small reads and two writes; a thread (libmilter's
 * way) costs more than that to start and to wake, and every SMTP connection
 * of the MTA opens one milter connection (t/bench/RESULTS.md).
 *
 * A connection whose end of message runs on a worker is not read from until
 * the worker is done (the MTA waits for that reply anyway), so a
 * MilterConnection is only ever used by one thread at a time.  Connections
 * silent for CommandTimeout are closed; while a report's end of message
 * waits on a worker, the MTA gets SMFIR_PROGRESS every ProgressInterval.
 *
 * Users: main.cc.  Thread-safety: run() in one thread; stop() from any.
 * Error policy: nothing thrown reaches the caller of run() except at set-up
 * (std::system_error).  A connection with a protocol error is logged and
 * closed; the MTA then applies its default action (tempfail as documented).
 */
#pragma once

#include "milter/session.hh"

#include <chrono>
#include <memory>

namespace dmarcwatch::milter
{

class Engine
{
public:
  //! The loop over listenFd (a listening socket; the engine closes it when run() returns).
  Engine(Runtime& runtime, int listenFd, unsigned workers);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /*!
   * \brief Serve until stop(): then stop accepting, let messages whose end
   * is running finish and be answered (up to drainTimeout), and return.
   */
  void run(std::chrono::milliseconds drainTimeout);
  //! Ask run() to return. Thread-safe (not async-signal-safe).
  void stop();

private:
  struct State;
  std::unique_ptr<State> d_state;
};

} // namespace dmarcwatch::milter
