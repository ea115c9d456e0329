/*
 * report-check.cc - MessageAuthenticator and judgeReport, put together once.
 */
#include "collector/auth/report-check.hh"

#include "collector/auth/header-key.hh"
#include "collector/auth/recorded-spf.hh"
#include "collector/common/log.hh"
#include "collector/auth/report-trust.hh"

#include <filesystem>

namespace dmarcwatch::collector
{

bool shippedReporterCatalogMissing(const TrustSettings& settings)
{
  return settings.reporterCatalog == TrustSettings{}.reporterCatalog && !std::filesystem::exists(settings.reporterCatalog);
}

namespace
{

//! The configured catalog; none when the shipped one is not installed (a build tree), as the
//! service catalog does: report email domains still match.
ReporterCatalog reporterCatalog(const TrustSettings& settings)
{
  return ReporterCatalog::load(shippedReporterCatalogMissing(settings) ? "none" : settings.reporterCatalog);
}

} // namespace

ReportMailCheck::ReportMailCheck(const Config& config) :
  d_settings(config.trust),
  d_catalog(std::make_shared<const ReporterCatalog>(reporterCatalog(config.trust))),
  d_psl(PublicSuffixList::system()),
  d_authenticator(d_settings, config.resolver, d_psl),
  d_offline(config.resolver == "none"),
  d_database(config.database)
{
}

ReportJudge ReportMailCheck::check(std::string_view message, const MailEnvelope& envelope, bool headersApproximate)
{
  if (d_offline) {
    return [](const ReportHeader&) {
      return ReportVerdict{Authenticity::Unauthenticated, "no DNS to check with (Resolver none)"};
    };
  }
  MessageAuth auth = d_authenticator.check(message, envelope);
  // The SPF result for the milter's header, signed with the store's key (made the first time,
  // here on a worker: as the milter's own user).  Without a key, nothing is recorded.
  std::string spf = recordedSpfText(auth, envelope);
  if (!spf.empty()) {
    try {
      if (d_headerKey.empty()) {
        d_headerKey = makeHeaderKey(d_database);
      }
      spf = signedSpfText(spf, d_headerKey, message);
    }
    catch (const std::exception& e) {
      logWarning("SPF result not recorded in the header", {{"error", e.what()}});
      spf.clear();
    }
  }
  // The judge outlives this call (the Ingester runs it per report): it keeps what it needs.
  return [auth = std::move(auth), spf = std::move(spf), catalog = d_catalog, &psl = d_psl,
          headersApproximate](const ReportHeader& header) {
    ReportVerdict verdict = judgeWithHeaders(auth, header.metadata, *catalog, psl, headersApproximate);
    verdict.reason += " [" + auth.summary() + "]"; // what each check said, for the log and `reports`
    verdict.spf = spf;
    return verdict;
  };
}

ReportVerdict judgeWithHeaders(const MessageAuth& auth, const ReportMetadata& metadata, const ReporterCatalog& catalog,
                               const PublicSuffixList& psl, bool headersApproximate)
{
  ReportVerdict verdict = judgeReport(auth, metadata, catalog, psl);
  // Only a verdict that rests on the failing signature (judgeReport's steps 4 and 5), not one
  // whose mail proved another organisation.
  const bool restsOnDkim = verdict.reason.starts_with("dkim=fail") || verdict.reason.starts_with("dmarc=fail");
  if (headersApproximate && verdict.authenticity == Authenticity::Forged && auth.dkim == "fail" && restsOnDkim) {
    verdict.authenticity = Authenticity::Unauthenticated;
    verdict.reason = "header fields rebuilt (the MTA did not keep the space after the colon), "
                     "so a failing DKIM signature proves nothing; was " + verdict.reason;
  }
  return verdict;
}

} // namespace dmarcwatch::collector
