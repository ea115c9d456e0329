/*
 * mailbox.hh - what `dmarcwatch ingest` accepts besides single files:
 * mbox files as mutt reads them (mboxo and mboxrd: messages split on "From "
 * lines, ">From " unquoted; mboxcl2: a body of Content-Length bytes, when
 * what follows it agrees) and
 * Maildir folders (every file in cur/ and new/, sorted by name so a run is
 * repeatable).
 *
 * Thread-safety: plain functions.  Blocking: file I/O.
 */
#pragma once

#include "collector/intake/byte-source.hh"
#include "collector/common/limits.hh"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

/*!
 * \brief Split an mbox stream into messages, one at a time (memory: one message).
 * \param visit called with each message (separator line removed, ">From " unquoted but in a body counted
 *        by Content-Length), its 1-based
 *        index, and an error text that is non-empty when the message was skipped (over
 *        Limits::maxMessageBytes); the rest of the mbox is still read.
 */
void forEachMboxMessage(ByteSource& mbox, const Limits& limits,
                        const std::function<void(std::string_view message, unsigned index, std::string_view error)>& visit);

//! \brief True when path is a directory holding cur/ or new/.
bool isMaildir(const std::string& path);
//! \brief Files in cur/ and new/ (not tmp/), sorted. \throw std::system_error
std::vector<std::string> listMaildir(const std::string& path);

} // namespace dmarcwatch::collector
