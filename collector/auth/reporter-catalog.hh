/*
 * reporter-catalog.hh - the catalog of known DMARC aggregate reporters: the
 * org_name values and <email> domains their reports carry, and the domains
 * their report mail is authenticated as (contrib/reporters.conf, installed as
 * PKGDATADIR/reporters.conf; the format is documented in that file's header).
 *
 * Users: judgeReport (report-trust.hh), which asks which mail domains may
 * send a report that names a given org_name or email; the catalog check in
 * t/unit/test-report-trust.cc.
 *
 * A ReporterCatalog is immutable once parsed and may be shared between
 * threads; look-ups never block and allocate only their key.
 *
 * Error policy: the file is ours or the admin's, read at start, so any
 * mistake is a ConfigError "FILE:LINE: message" and the whole catalog is
 * refused (a half-read catalog would call real reports forged).  Caps on file
 * size, line length, reporter and line counts bound what a broken file costs.
 */
#pragma once

#include "collector/intake/report.hh"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dmarcwatch::collector
{

struct Reporter
{
  std::string id;
  std::vector<std::string> names;        //!< org_name values, normalised (reporterNameKey)
  std::vector<std::string> emailDomains; //!< <email> domains (and their subdomains), lower case
  std::vector<std::string> mailDomains;  //!< domains its report mail is authenticated as, lower case
  std::string file;                      //!< where it was declared
  unsigned line = 0;
};

//! Caps on what one catalog file may hold (the shipped file fits many times over).
struct ReporterCatalogLimits
{
  uint64_t maxFileBytes = 1U << 20;
  size_t maxLineBytes = 1024;
  size_t maxReporters = 10000;
  size_t maxLinesPerReporter = 256;
};

class ReporterCatalog
{
public:
  //! \brief Parse catalog text; file names it in errors. Pure. \throw ConfigError "FILE:LINE: message"
  static ReporterCatalog fromText(std::string_view text, const std::string& file, ReporterCatalogLimits limits = {});
  /*!
   * \brief Read and parse a catalog file; "none" gives the empty catalog.
   * Blocks on file I/O (O_NOFOLLOW, size cap). \throw ConfigError
   */
  static ReporterCatalog load(const std::string& path, ReporterCatalogLimits limits = {});

  [[nodiscard]] const std::vector<Reporter>& reporters() const { return d_reporters; }
  [[nodiscard]] bool empty() const { return d_reporters.empty(); }

  //! \brief The reporter that uses this org_name (case and runs of white space do not matter), or nullptr.
  [[nodiscard]] const Reporter* byName(std::string_view orgName) const;
  //! \brief The reporter whose email-domain is this domain or a parent of it (the longest wins), or nullptr.
  [[nodiscard]] const Reporter* byEmailDomain(std::string_view domain) const;
  /*!
   * \brief The mail domains of the reporters a report's org_name and <email> name: the reporter
   * byName(orgName), then the one byEmailDomain(emailDomain(email)) (each domain once, in catalog
   * order).  Empty when neither is known.  Never blocks.
   */
  [[nodiscard]] std::vector<std::string> mailDomainsFor(std::string_view orgName, std::string_view email) const;

private:
  std::vector<Reporter> d_reporters;
  std::unordered_map<std::string, size_t> d_byName;
  std::unordered_map<std::string, size_t> d_byEmailDomain;
};

//! \brief An org_name as the catalog compares it: trimmed, lower-cased (ASCII), inner white space one ' '.
std::string reporterNameKey(std::string_view name);


} // namespace dmarcwatch::collector
