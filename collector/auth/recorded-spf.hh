/*
 * recorded-spf.hh - the SPF result dmarcwatch-milter records in its
 * X-DMARCwatch header, and reading it back for `dmarcwatch ingest
 * --milter-spf` (issue 14).
 *
 * SPF needs the client's address, which a mail file does not carry.  The
 * milter checked it and writes "spf=pass smtp.mailfrom=example.net" (RFC
 * 8601's words) into its header, with "spf-mac=" its HMAC under the store's
 * header key (header-key.hh) over that text and the mail's Message-ID; a mail
 * the milter passed on to the rua mailbox can then be ingested again with
 * that result.  Without the key's MAC the header proves nothing: anyone can
 * write one, and mail reaches a mailbox by ways the milter never sees.  Still
 * an option the admin gives (`--milter-spf`), never a default.
 *
 * Pure functions; thread-safe.
 */
#pragma once

#include "collector/auth/auth-result.hh"

#include <optional>
#include <string>
#include <string_view>

namespace dmarcwatch::collector
{

/*!
 * \brief "spf=pass smtp.mailfrom=example.net" (smtp.helo= for the null sender) for the milter's
 * header; "" when SPF was not checked here (no client, a loopback one) or the domain is not a
 * plain DNS name.
 */
std::string recordedSpfText(const MessageAuth& auth, const MailEnvelope& envelope);

//! \brief text with its "; spf-mac=..." under key, for message (its Message-ID). \throw std::runtime_error
std::string signedSpfText(const std::string& text, std::string_view key, std::string_view message);

/*!
 * \brief The SPF result in the mail's X-DMARCwatch header, when there is exactly one such field
 * carrying exactly one well-formed spf= parameter and one spf-mac= that key proves; nullopt
 * otherwise (none, several, a wrong MAC or anything unexpected: SPF is then not checked).
 */
std::optional<RecordedSpf> recordedSpf(std::string_view message, std::string_view key);

} // namespace dmarcwatch::collector
