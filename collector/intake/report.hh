/*
 * report.hh - the data model of one DMARC aggregate report (RFC 7489
 * appendix C, RFC 9990), as the parser hands it out.
 *
 * Enumerated words (pass, fail, none, ...) are stored lower-cased and trimmed;
 * unknown words are kept as they came (printable, truncated) so nothing the
 * reporter said is lost.  A record's count is the number of messages it
 * stands for.
 *
 * Thread-safety: value types.
 */
#pragma once

#include "collector/common/ip-address.hh"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmarcwatch::collector
{

struct ReportMetadata
{
  std::string orgName;
  std::string email;
  std::string extraContactInfo;
  std::string reportId;
  int64_t begin = 0; //!< seconds since the epoch, UTC
  int64_t end = 0;
  std::vector<std::string> errors; //!< <error> elements, as reported
  std::string generator;           //!< RFC 9990
  std::string version;             //!< <version> of the feedback ("" when absent)
};

struct PolicyPublished
{
  std::string domain;
  std::string adkim;
  std::string aspf;
  std::string p;
  std::string sp;
  std::string np; //!< RFC 9990
  std::optional<uint32_t> pct;
  std::string fo;
  std::string testing;         //!< RFC 9990 "t"/"testing": y|n
  std::string discoveryMethod; //!< RFC 9990: psl|treewalk
};

struct ReportHeader
{
  ReportMetadata metadata;
  PolicyPublished policy;
};

struct PolicyOverride
{
  std::string type;
  std::string comment;
};

struct DkimResult
{
  std::string domain;
  std::string selector;
  std::string result;
  std::string humanResult;
};

struct SpfResult
{
  std::string domain;
  std::string scope; //!< mfrom|helo ("" when absent)
  std::string result;
  std::string humanResult;
};

struct Record
{
  std::optional<IpAddress> sourceIp; //!< absent in some real reports
  uint64_t count = 0;
  std::string disposition; //!< policy_evaluated: none|quarantine|reject (RFC 9990 also pass)
  std::string dkim;        //!< policy_evaluated dkim: pass|fail
  std::string spf;         //!< policy_evaluated spf: pass|fail
  std::vector<PolicyOverride> reasons;
  std::string headerFrom;
  std::string envelopeFrom;
  std::string envelopeTo;
  std::vector<DkimResult> dkimResults; //!< every <dkim> of <auth_results>, in order
  std::vector<SpfResult> spfResults;   //!< every <spf> of <auth_results>, in order

  //! DMARC passes when either aligned mechanism passed (policy_evaluated).
  [[nodiscard]] bool dmarcPass() const { return dkim == "pass" || spf == "pass"; }
};

//! \brief Dedup key: lower-cased org, report id without <>, policy domain, begin, end.
std::string dedupKey(const ReportHeader& header);

} // namespace dmarcwatch::collector
