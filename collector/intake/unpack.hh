/*
 * unpack.hh - from a payload to the XML documents inside it.
 *
 * Each layer is recognised by its bytes (classify.hh).  Containers nest
 * (gzip in gzip, gzip in zip) up to Limits::maxNesting.  Each XML document is
 * handed to the visitor as a stream; nothing is inflated ahead of the parser,
 * so a decompression bomb is stopped by the caps or by the parser's first
 * error, whichever comes first.
 *
 * Thread-safety: plain functions.  Blocking: only as the inner source blocks.
 */
#pragma once

#include "collector/intake/byte-source.hh"
#include "collector/intake/classify.hh"
#include "collector/common/limits.hh"
#include "collector/common/warnings.hh"

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace dmarcwatch::collector
{

/*!
 * Called once per XML document found. label names where it came from
 * ("gzip", "zip:report.xml", ...). Exceptions thrown by the visitor propagate
 * (StoreError must reach the caller); a ParseError thrown by the visitor for
 * one zip member does not stop the other members: it is recorded with the
 * member's label in the errors list of unpackPayload.
 */
using DocumentVisitor = std::function<void(ByteSource& xml, const std::string& label)>;

struct UnpackOutcome
{
  unsigned documents = 0;          //!< documents handed to the visitor
  std::vector<std::string> errors; //!< "label: message" for each document or member that failed
};

/*!
 * \brief Find every XML document in a payload held in memory and visit it.
 * \param kind what the caller's classify() made of the payload (it is not classified again); without
 *        it the payload is classified here.  Inner layers are always classified at their own layer.
 * \throw ParseError when the payload as a whole is unusable (no payload kind, corrupt container), and when
 *        no document was visited successfully while member errors were recorded (the message joins them
 *        with "; "); LimitError for caps.  A visitor's ParseError outside a zip propagates as it is.
 */
UnpackOutcome unpackPayload(std::span<const uint8_t> payload, const Limits& limits, Warnings& warnings,
                            const DocumentVisitor& visit, std::optional<InputKind> kind = std::nullopt);

/*!
 * \brief The same for a payload that is streamed (a big file): gzip, zlib and XML stream; a zip is read
 * into memory first, up to Limits::maxMessageBytes.
 */
UnpackOutcome unpackStream(ByteSource& payload, const Limits& limits, Warnings& warnings, const DocumentVisitor& visit,
                           std::optional<InputKind> kind = std::nullopt);

} // namespace dmarcwatch::collector
