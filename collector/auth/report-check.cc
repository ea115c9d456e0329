/*
 * report-check.cc - MessageAuthenticator and judgeReport, put together once.
 */
#include "collector/auth/report-check.hh"

#include "collector/auth/report-trust.hh"

namespace dmarcwatch::collector
{

ReportMailCheck::ReportMailCheck(const Config& config) :
  d_settings(config.trust),
  d_catalog(std::make_shared<const ReporterCatalog>(ReporterCatalog::load(config.trust.reporterCatalog))),
  d_psl(PublicSuffixList::system()),
  d_authenticator(d_settings, config.resolver, d_psl)
{
}

ReportJudge ReportMailCheck::check(std::string_view message, const MailEnvelope& envelope, bool headersApproximate)
{
  MessageAuth auth = d_authenticator.check(message, envelope);
  // The judge outlives this call (the Ingester runs it per report): it keeps what it needs.
  return [auth = std::move(auth), catalog = d_catalog, &psl = d_psl, headersApproximate](const ReportHeader& header) {
    return judgeWithHeaders(auth, header.metadata, *catalog, psl, headersApproximate);
  };
}

ReportVerdict judgeWithHeaders(const MessageAuth& auth, const ReportMetadata& metadata, const ReporterCatalog& catalog,
                               const PublicSuffixList& psl, bool headersApproximate)
{
  ReportVerdict verdict = judgeReport(auth, metadata, catalog, psl);
  if (headersApproximate && verdict.authenticity == Authenticity::Forged && auth.dkim == "fail") {
    verdict.authenticity = Authenticity::Unauthenticated;
    verdict.reason = "unauthenticated: header fields rebuilt (the MTA did not keep the space after the colon), "
                     "so a failing DKIM signature proves nothing; was " + verdict.reason;
  }
  return verdict;
}

} // namespace dmarcwatch::collector
