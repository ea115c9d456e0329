/*
 * report.hh - the data model of one DMARC aggregate report (RFC 7489
 * appendix C, RFC 9990), as the parser hands it out.
 *
 * Enumerated words (pass, fail, none, ...) are stored lower-cased and trimmed;
 * unknown words are kept as they came (printable, truncated) so nothing the
 * reporter said is lost.  A record's count is the number of messages it
 * stands for.  checkReportDates vets a header's date_range against the clock
 * (milliseconds read as seconds; future and pre-2000 ranges refused).
 *
 * Thread-safety: value types.
 */
#pragma once

#include "collector/common/ip-address.hh"
#include "collector/common/warnings.hh"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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

/*!
 * \brief The domain of a report's <email> value ("noreply@dmarc.yahoo.com", "<a@b.example>",
 * "mailto:a@b.example"): what follows the first '@', lower-cased, without a trailing dot or '>'.
 * \return "" when there is no '@' or what follows is not a domain name of two labels or more.  Pure.
 */
std::string emailDomain(std::string_view email);

//! Whether a report's mail was proven to come from its reporter (issue 14; collector/auth).
enum class Authenticity : uint8_t
{
  Unauthenticated = 0, //!< no verdict possible (a bare file, no signature, DNS timeout; older reports)
  Authenticated = 1,   //!< DMARC passed for the From domain and that domain is the reporter's
  Forged = 2,          //!< a check failed where it should pass, or another organisation sent it
};
//! "authenticated", "unauthenticated", "forged" (the JSON, header and log word).
std::string_view authenticityName(Authenticity authenticity);

//! The verdict on one report and why ("dkim=pass (d=google.com ...); dmarc=pass", what failed).
struct ReportVerdict
{
  ReportVerdict() = default;
  ReportVerdict(Authenticity a, std::string why, std::string spfText = {}) :
    authenticity(a), reason(std::move(why)), spf(std::move(spfText))
  {
  }

  Authenticity authenticity = Authenticity::Unauthenticated;
  std::string reason;
  //! The mail's SPF for the milter's header ("spf=pass smtp.mailfrom=example.net"); "" when not
  //! checked from a client address.  Not stored.
  std::string spf;
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

  //! Our own verdict from auth_results (collector/judge applyVerdict): pass|fail; "" until judged.
  std::string judgedDkim;
  std::string judgedSpf;

  //! policy_evaluated dkim, or our verdict when the reporter left it out (what the store keeps).
  [[nodiscard]] const std::string& effectiveDkim() const { return dkim.empty() ? judgedDkim : dkim; }
  [[nodiscard]] const std::string& effectiveSpf() const { return spf.empty() ? judgedSpf : spf; }
  //! DMARC passes when either aligned mechanism passed: the reporter's policy_evaluated, ours
  //! per mechanism where it is missing.
  [[nodiscard]] bool dmarcPass() const { return effectiveDkim() == "pass" || effectiveSpf() == "pass"; }
};

//! \brief Dedup key: lower-cased org, report id without <>, policy domain, begin, end.
std::string dedupKey(const ReportHeader& header);

//! Earliest report time accepted: 2000-01-01T00:00:00Z (DMARC dates from 2012).
constexpr int64_t s_minReportTime = 946'684'800;
//! Largest value read as seconds: 10^11 s is in the year 5138.  Above it, milliseconds are tried.
constexpr int64_t s_maxReportSeconds = 100'000'000'000;
//! How far a report may begin after "now": clock skew between reporter and us, a DST slip.
//! Not a time zone: a sub-day report written in local time east of UTC would be refused.
constexpr int64_t s_futureAllowance = 3600;

/*!
 * \brief Check a report's date_range against the clock, before it is stored (and before dedupKey).
 *
 * In this order:
 *  1. Units.  A begin or end above s_maxReportSeconds cannot be seconds.  When it divided by
 *     1000 lies in [s_minReportTime, s_maxReportSeconds] it is read as milliseconds: replaced
 *     by that quotient, with a warning.  Microseconds, and anything else that big, are refused.
 *  2. Range, as the store counts it (reportDaySpan): it starts at begin (end when begin is
 *     missing) and ends at end (begin when end is missing or not after begin).  Refused when
 *     it starts more than s_futureAllowance after now, or ends before s_minReportTime.
 * A value of 0 or less is missing.  Being missing, zero-length or reversed is no reason to
 * refuse: the store counts such a range on one day, with its own warning.
 *
 * \param metadata begin/end are corrected in place (milliseconds); nothing else is touched.
 * \param now seconds since the epoch (the store's clock).
 * \return the reason the report is refused (names the times in ISO 8601 UTC), or nullopt.
 * Pure: does not block, reads no clock.
 */
std::optional<std::string> checkReportDates(ReportMetadata& metadata, int64_t now, Warnings& warnings);

} // namespace dmarcwatch::collector
