/*
 * mime.hh - the MIME walker: from a mail message to its report payloads.
 *
 * Reporters send every shape: multipart at any depth, message/rfc822
 * attachments, base64 with odd line lengths or no padding, quoted-printable,
 * 7bit/8bit, single-part messages whose whole body is the gzip, wrong or
 * missing Content-Type ("application-x-gzip", a "ContentType:" typo).  So the
 * walker decodes every leaf part and keeps those whose decoded bytes classify
 * as a payload (classify.hh); text and HTML summaries fall out by themselves.
 * Caps: Limits::maxMimeParts and maxMimeDepth (LimitError).
 *
 * Thread-safety: plain functions over immutable input.
 */
#pragma once

#include "collector/common/limits.hh"
#include "collector/intake/classify.hh"
#include "collector/common/warnings.hh"

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
  InputKind kind = InputKind::Unknown; //!< what classify() made of body: gzip, zip, zlib or xml
};

struct MailSummary
{
  std::string subject;
  std::string from;
  std::string messageId;
};

/*!
 * \brief Leaf parts whose decoded body classifies as gzip/zip/zlib/XML, in message order.  The message
 * is classified first (classify.hh): a mail or an mbox message is walked from its first header line
 * (a From_ line is skipped), anything else is one leaf without a header. \throw LimitError
 */
std::vector<MailPart> extractPayloadParts(std::string_view message, const Limits& limits, Warnings& warnings);
//! \brief The same for a message the caller has classified already (it is not classified again).
std::vector<MailPart> extractPayloadParts(std::string_view message, const Classified& input, const Limits& limits,
                                          Warnings& warnings);

//! \brief Subject, From and Message-ID of the top-level header (unfolded, printable, truncated).
MailSummary summarizeMail(std::string_view message);

//! Decoders, exposed for tests. Invalid characters are skipped; missing padding is tolerated.
std::string decodeBase64(std::string_view text);
std::string decodeQuotedPrintable(std::string_view text);

} // namespace dmarcwatch::collector
