/*
 * report-trust.hh - the verdict on one report: was its mail proven to come
 * from the organisation the report names (issue 14)?
 *
 * Users: the ReportJudge of the milter and the CLI (ingest.hh IngestTrust),
 * for each report of a checked mail.  Input: the mail's MessageAuth (SPF,
 * DKIM, DMARC as checked), the report's metadata (org_name, email), the
 * reporter catalog (contrib/reporters.conf) and the public suffix list.
 *
 * The reporter's domains (organizational domains, PSL):
 *  - org_name names a catalog reporter: that reporter's mail-domains, and
 *    org_name itself when it is a domain.  The <email> domain counts only when
 *    it is one of them or the catalog gives it to the same reporter: a report
 *    calling itself "Google" is backed by Google's domains, not by whatever
 *    address it gives.
 *  - org_name is a domain the catalog does not name: that domain (and the
 *    mail-domains of a catalog reporter whose email-domain it is).  An <email>
 *    domain elsewhere is only the report's contact: mail proven as it gives
 *    "unauthenticated", neither trust nor an accusation.
 *  - otherwise (free text, empty): the <email> domain and the mail-domains of
 *    the catalog reporter with that email-domain.
 *  Names that are public suffixes or single labels ("test") name no domain.
 *
 * The verdict, in this order:
 *  1. No single From domain: unauthenticated.
 *  2. The From domain is proven: DMARC passes for it, or (no DMARC record, or a
 *     broken one: none/permerror) a passing DKIM signature is aligned with it.
 *     Then: its organizational domain is the reporter's -> authenticated; the
 *     report names no domain, or the From is only the report's contact, or
 *     another proven domain (a passing d=, the SPF domain) is the reporter's
 *     -> unauthenticated; otherwise -> forged ("authenticated as evil.example,
 *     report names google.com"), unless a temporary error that matters (see
 *     3) was involved.
 *  3. The report names a known reporter (the catalog's, by org_name or email),
 *     its From is none of that reporter's domains, and no signature of the
 *     reporter's domains passed or went unanswered: forged ("report names
 *     google.com (a known reporter), its mail is From evil.example") -- known
 *     reporters sign and pass DMARC, so unproven mail cannot be theirs.
 *     Then a temporary error that matters (spf or dmarc temperror; a
 *     signature of the From's or the reporter's domains unanswered; out of
 *     time with no result saying where): unauthenticated.  A DNS timeout
 *     there never gives forged: the answer could have changed the outcome.
 *     A forger's own selector that never answers is no such error.
 *  4. A DKIM signature by the reporter's domain (or the From's) failed
 *     verification (result fail; a missing key is permerror, not fail) and
 *     nothing passed (no signature, no SPF): forged.
 *  5. DMARC fails (a record exists, neither SPF nor DKIM passed aligned):
 *     forged -- when SPF was checked.  Without SPF (spf none with no SPF
 *     domain: the CLI has no client address) a DMARC failure only says that
 *     DKIM did not pass, which an archived mail's rotated key explains:
 *     unauthenticated.
 *  6. Anything else (no signature and no DMARC record, dmarc permerror):
 *     unauthenticated.
 * The reason says why in a few words, for logs, the milter's header and
 * `dmarcwatch reports`; the mail's text in it is made printable and cut.
 *
 * Thread-safety: pure.  Errors: none thrown but std::bad_alloc.
 */
#pragma once

#include "collector/auth/auth-result.hh"
#include "collector/auth/reporter-catalog.hh"
#include "collector/intake/report.hh"
#include "collector/judge/public-suffix.hh"

#include <string>
#include <vector>

namespace dmarcwatch::collector
{

//! Whose mail may carry a report: organizational domains, lower case, each once.
struct ReporterDomains
{
  std::vector<std::string> named;   //!< back the report's identity (org_name, or the email when it names none)
  std::vector<std::string> contact; //!< only the report's <email>, where it differs from a domain org_name
  const Reporter* known = nullptr;  //!< the catalog reporter the report's identity names, if any
  //! \brief named, then contact.
  [[nodiscard]] std::vector<std::string> all() const;
};

/*!
 * \brief The reporter's domains for a report (rules in the file header).
 * Pure: does not block.
 */
ReporterDomains reporterDomains(const ReportMetadata& metadata, const ReporterCatalog& catalog,
                                const PublicSuffixList& psl);

/*!
 * \brief Whether a report's mail was proven to come from its reporter (rules in the file header).
 * \return the verdict and a reason of a few words ("dmarc=pass as google.com (reporter google.com)").
 * Pure: does not block, does no DNS (the checks are done: MessageAuthenticator).
 */
ReportVerdict judgeReport(const MessageAuth& auth, const ReportMetadata& metadata, const ReporterCatalog& catalog,
                          const PublicSuffixList& psl);

} // namespace dmarcwatch::collector
