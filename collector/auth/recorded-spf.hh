/*
 * recorded-spf.hh - the SPF result dmarcwatch-milter records in its
 * X-DMARCwatch header, and reading it back for `dmarcwatch ingest
 * --milter-spf` (issue 14).
 *
 * SPF needs the client's address, which a mail file does not carry.  The
 * milter checked it and writes "spf=pass smtp.mailfrom=example.net" (RFC
 * 8601's words) into its header; a mail the milter passed on to the rua
 * mailbox can then be ingested again with that result.  The header proves
 * nothing by itself: anyone can write one.  It is worth something only for
 * mail that came through dmarcwatch-milter, which deletes every X-DMARCwatch
 * header a report mail arrives with before adding its own - hence an option
 * the admin gives for such mail, never a default.
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

/*!
 * \brief The SPF result in the mail's X-DMARCwatch header, when there is exactly one such field
 * and it carries exactly one well-formed spf= parameter; nullopt otherwise (none, several, or
 * anything unexpected: the CLI then treats SPF as not checked).
 */
std::optional<RecordedSpf> recordedSpf(std::string_view message);

} // namespace dmarcwatch::collector
