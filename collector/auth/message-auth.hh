/*
 * message-auth.hh - SPF, DKIM and DMARC of one report mail (issue 14).
 *
 * check() takes the message as the MTA sent it (the milter's buffer with
 * leading-space preservation negotiated, or an .eml file) and the envelope,
 * and fills a MessageAuth (auth-result.hh):
 *   - the RFC5322.From domain: exactly one From field holding exactly one
 *     address (OpenDMARC SECURITY/CVE-2019-16378: several From addresses
 *     could make one domain checked and another shown), else fromDomain ""
 *     and dmarc permerror;
 *   - SPF of the real envelope (libspf2: client IP, MAIL FROM, HELO for the
 *     null sender), "none" without a client IP (the CLI, a unix socket) or
 *     with a loopback one, unless the envelope carries the result the milter
 *     recorded (recorded-spf.hh);
 *   - DKIM of every signature (libopendkim, the exact header bytes), at most
 *     TrustSettings::maxDkimSignatures of them (the From domain's and its
 *     organizational domain's first), keys under minDkimKeyBits refused;
 *   - DMARC of the From domain (its record fetched through the Resolver with
 *     the organizational-domain fallback; libopendmarc parses it, our own
 *     alignment decides: dmarc-eval.hh).
 * All DNS of one mail shares one deadline, TrustSettings::authTimeout: what is
 * not answered by then is Unknown, the result temperror and timedOut set,
 * never fail.  `Resolver none` answers everything Unknown at once.
 *
 * Users: the milter's worker at end of message, the CLI's mail intake.
 * Thread-safety: one MessageAuthenticator per thread (its Resolver is used by
 * one thread at a time); libopendkim's and libopendmarc's process state is
 * shared and set up once.  Errors: check() never throws: trouble inside
 * (out of memory, a library refusing) gives temperror results and a logged
 * warning.  The constructor throws ConfigError for a bad resolver setting.
 */
#pragma once

#include "collector/auth/auth-result.hh"
#include "collector/common/config.hh"
#include "collector/dns/resolver.hh"
#include "collector/judge/public-suffix.hh"

#include <memory>
#include <string>
#include <string_view>

namespace dmarcwatch::collector
{

class MessageAuthenticator
{
public:
  /*!
   * \brief Checks over resolver (kept by reference, used by this thread only while check() runs).
   * settings and psl are kept by reference and must outlive this.
   */
  MessageAuthenticator(const TrustSettings& settings, Resolver& resolver, const PublicSuffixList& psl);
  /*!
   * \brief Checks over a Resolver of its own for the setting (Config::resolver: HOST[@PORT],
   * system, none), each question timing out after settings.authTimeout at most.
   * \throw ConfigError for a bad setting, std::runtime_error when libunbound cannot be set up.
   */
  MessageAuthenticator(const TrustSettings& settings, const std::string& resolverSpec, const PublicSuffixList& psl);
  ~MessageAuthenticator();
  MessageAuthenticator(const MessageAuthenticator&) = delete;
  MessageAuthenticator& operator=(const MessageAuthenticator&) = delete;

  /*!
   * \brief SPF, DKIM and DMARC of one mail.  Blocks on DNS, at most settings.authTimeout in
   * all (plus the CPU of verifying).  Never throws.
   */
  MessageAuth check(std::string_view rawMessage, const MailEnvelope& envelope);

  struct Impl;

private:
  std::unique_ptr<Impl> d_impl;
};

/*!
 * \brief The domain of the one address in a From field's value (folds, comments, quoted
 * strings and display names allowed), lower case without a trailing dot.
 * \return "" when the value holds no address, several, or a malformed domain.  Pure.
 */
std::string singleFromDomain(std::string_view value);

} // namespace dmarcwatch::collector
