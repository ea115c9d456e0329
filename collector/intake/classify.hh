/*
 * classify.hh - what an input is, decided once, by its first bytes.
 *
 * The one place that tells an mbox from a mail message from a payload, for
 * every way in: a file or stdin of `dmarcwatch ingest`, the message of
 * `dmarcwatch deliver` and of the milter, a message of an mbox, a decoded MIME
 * part, each layer of a payload (a gzip inside a zip member).  Each input is
 * classified once, at its own layer, over the same window (s_sniffBytes):
 *
 *   gzip   1f 8b
 *   zip    PK 03 04 / PK 05 06
 *   zlib   78 01|5e|9c|da (deflate, valid header checksum, no dictionary)
 *   xml    UTF-16 by BOM or a '<' next to a zero byte; else an optional
 *          UTF-8 BOM and whitespace, then '<'
 *   html   what would be xml, but the window holds "<html" or "<!doctype html"
 *          (a mail's summary, never a report)
 *   mbox   blank lines, then a "From " line
 *   mail   blank lines, then a header field ("Name:")
 *
 * Names and MIME types are never looked at.  Whitespace is space, tab, CR
 * and LF; a blank line is one of nothing else.  Whatever does not reach its
 * first '<', "From " or field name within the window is Unknown.
 *
 * Users: unpack.cc, mime.cc, ingest.cc, the CLI (ingest, deliver).
 * Thread-safety: pure functions.  Blocking: never.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace dmarcwatch::collector
{

enum class InputKind
{
  Unknown,
  Mbox,
  Mail,
  Gzip,
  Zip,
  Zlib,
  Xml,
  Html
};

//! The leading bytes classify() looks at, at every layer: room for blank padding lines.
constexpr size_t s_sniffBytes = 4096;

struct Classified
{
  InputKind kind = InputKind::Unknown;
  //! Mbox and Mail: where the "From " line or the first header field starts (after the blank lines).
  size_t start = 0;
};

/*!
 * \brief What the input is, by its first s_sniffBytes bytes (more may be passed; they are not looked at).
 */
Classified classify(std::span<const uint8_t> input);
//! \brief The same for text in memory.
Classified classify(std::string_view input);

//! \brief Gzip, zip, zlib or XML: what the unpacker takes.
bool isPayloadKind(InputKind kind);
//! \brief "gzip", "zip", "zlib", "xml", "html", "mbox", "mail" or "unknown".
const char* inputKindName(InputKind kind);

/*!
 * \brief Length of the field name when line starts a header field: RFC 5322 field-name characters
 * (printable ASCII but ':'), optional blanks (tolerated), then ':'.  The MIME walker's rule too.
 */
std::optional<size_t> headerFieldNameLength(std::string_view line);

} // namespace dmarcwatch::collector
