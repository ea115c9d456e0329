/*
 * mime.hh - the MIME walker: from a mail message to its report payloads.
 *
 * Reporters send every shape: multipart at any depth, message/rfc822
 * attachments, base64 with odd line lengths or no padding, quoted-printable,
 * 7bit/8bit, single-part messages whose whole body is the gzip, wrong or
 * missing Content-Type ("application-x-gzip", a "ContentType:" typo).  So the
 * walker decodes every leaf part and keeps those whose decoded bytes sniff as
 * a payload (see unpack.hh); text and HTML summaries fall out by themselves.
 * Caps: Limits::maxMimeParts and maxMimeDepth (LimitError).
 *
 * Thread-safety: plain functions over immutable input.
 */
#pragma once

#include "collector/common/limits.hh"
#include "collector/common/warnings.hh"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

struct MailPart
{
  std::string contentType; //!< lower-cased type/subtype as declared ("" when absent)
  std::string filename;    //!< from Content-Disposition filename= or Content-Type name= ("" when absent)
  std::string body;        //!< decoded bytes
};

struct MailSummary
{
  std::string subject;
  std::string from;
  std::string messageId;
};

//! \brief True when the bytes start like an RFC 5322 message (a header field line, or an mbox "From " line).
bool looksLikeMail(std::span<const uint8_t> head);

//! \brief Leaf parts whose decoded body sniffs as gzip/zip/zlib/XML, in message order. \throw LimitError
std::vector<MailPart> extractPayloadParts(std::string_view message, const Limits& limits, Warnings& warnings);

//! \brief Subject, From and Message-ID of the top-level header (unfolded, printable, truncated).
MailSummary summarizeMail(std::string_view message);

//! Decoders, exposed for tests. Invalid characters are skipped; missing padding is tolerated.
std::string decodeBase64(std::string_view text);
std::string decodeQuotedPrintable(std::string_view text);

} // namespace dmarcwatch::collector
