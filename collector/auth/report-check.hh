/*
 * report-check.hh - the checks of report mail as the milter and `dmarcwatch
 * ingest` run them (issue 14): MessageAuthenticator over the configured
 * Resolver, then judgeReport with the reporter catalog for each report.
 *
 * A mail whose header fields are approximate (an MTA that did not preserve
 * the space after the colon: the milter rebuilt them) cannot prove a DKIM
 * signature wrong, so a verdict of forged that rests on a failing signature
 * becomes unauthenticated.
 *
 * Users: the milter (one ReportMailCheck per worker thread and
 * configuration), the CLI (one per command).  Thread-safety: one thread at a
 * time (its Resolver).  Errors: the constructor throws ConfigError (resolver
 * setting, reporter catalog: file and line) or std::runtime_error (no public
 * suffix list, libunbound); check() never throws out of its judge except
 * std::bad_alloc.
 */
#pragma once

#include "collector/auth/message-auth.hh"
#include "collector/auth/reporter-catalog.hh"
#include "collector/common/config.hh"
#include "collector/ingest/ingest.hh"

#include <memory>
#include <string>
#include <string_view>

namespace dmarcwatch::collector
{

class ReportMailCheck
{
public:
  explicit ReportMailCheck(const Config& config);

  /*!
   * \brief Check one mail (blocks on DNS up to AuthTimeout) and give the judge of its reports.
   * \param headersApproximate the header fields were rebuilt, not kept as sent
   */
  ReportJudge check(std::string_view message, const MailEnvelope& envelope, bool headersApproximate);

private:
  TrustSettings d_settings;
  std::shared_ptr<const ReporterCatalog> d_catalog;
  const PublicSuffixList& d_psl;
  MessageAuthenticator d_authenticator;
  bool d_offline; //!< Resolver none: nothing can be checked, say so rather than "dns timeout"
  std::string d_database;  //!< where the header key is (header-key.hh)
  std::string d_headerKey; //!< made on the first SPF result to record (the milter, as its user)
};

//! True when ReporterCatalog is the default and no catalog is installed there (then none is used).
bool shippedReporterCatalogMissing(const TrustSettings& settings);

//! \brief The verdict judgeReport gives, made unauthenticated when it is forged only by a failing
//! DKIM signature over header fields that were not kept as sent.  Pure.
ReportVerdict judgeWithHeaders(const MessageAuth& auth, const ReportMetadata& metadata, const ReporterCatalog& catalog,
                               const PublicSuffixList& psl, bool headersApproximate);

} // namespace dmarcwatch::collector
