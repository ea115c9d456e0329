/*
 * auth-result.hh - what the checks of one report mail found (issue 14).
 *
 * MessageAuthenticator (message-auth.hh) fills it from SPF (libspf2), DKIM
 * (libopendkim) and DMARC (libopendmarc, our own alignment); judgeReport
 * (report-trust.hh) decides from it and a report's metadata whether the
 * report is authenticated, unauthenticated or forged.  The result words are
 * RFC 8601's (Authentication-Results).
 *
 * Thread-safety: a value type.
 */
#pragma once

#include "collector/common/ip-address.hh"

#include <optional>
#include <string>
#include <vector>

namespace dmarcwatch::collector
{

//! An SPF result the milter checked and recorded in its header (recorded-spf.hh).
struct RecordedSpf
{
  std::string result; //!< pass | fail | softfail | neutral | none | temperror | permerror
  std::string domain; //!< the MAIL FROM domain (the HELO name for the null sender), lower case
};

//! What the MTA told us of where the mail came from (the milter; the CLI knows none of it).
struct MailEnvelope
{
  std::optional<IpAddress> client; //!< none (a unix socket, the CLI): SPF is "none"
  std::string helo;
  std::string mailFrom;            //!< without <>; "" for the null sender
  //! The milter's SPF result read back from the mail (`ingest --milter-spf`); used without a client.
  std::optional<RecordedSpf> recordedSpf;
};

//! One DKIM signature of the mail, as verified.
struct DkimSignatureCheck
{
  std::string domain;   //!< d=, lower case
  std::string selector; //!< s=
  std::string result;   //!< pass | fail | neutral | temperror | permerror
  std::string error;    //!< why not pass ("signature verification failed", "key not found", ...)
  unsigned bits = 0;    //!< key size, when known
};

struct MessageAuth
{
  std::string fromDomain;        //!< the RFC5322.From domain, lower case; "" when none or several
  std::string spf = "none";      //!< pass | fail | softfail | neutral | none | temperror | permerror
  std::string spfDomain;         //!< the MAIL FROM domain checked (the HELO name when MAIL FROM is <>)
  bool spfChecked = false;       //!< SPF was evaluated here, from the client's address
  std::string dkim = "none";     //!< the best signature's: pass > fail > temperror > permerror > none
  std::vector<DkimSignatureCheck> signatures;
  std::string dmarc = "none";    //!< pass | fail | none (no record) | temperror | permerror
  std::string dmarcPolicy;       //!< p= of the From domain's record ("" when none)
  bool spfAligned = false;       //!< SPF passed for a domain aligned with From
  bool dkimAligned = false;      //!< a passing signature's d= is aligned with From
  bool timedOut = false;         //!< AuthTimeout passed or a DNS answer did not come in time
  //! Domains the mail is proven to come from: the From domain when DMARC passes, each passing
  //! DKIM d=, the MAIL FROM domain when SPF passes.  Lower case, no duplicates.
  std::vector<std::string> provenDomains;

  //! "spf=none; dkim=pass (d=google.com s=20230601); dmarc=pass (p=reject)" for the header and log.
  [[nodiscard]] std::string summary() const;
};

} // namespace dmarcwatch::collector
