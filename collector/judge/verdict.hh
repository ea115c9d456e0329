/*
 * verdict.hh - our own DMARC verdict for one report record, computed from its
 * auth_results, header_from and the published adkim/aspf, beside the
 * reporter's policy_evaluated (issue 11, "correct verdicts first").
 *
 * Older Google and AOL reports leave policy_evaluated dkim/spf out; ingest
 * uses our verdict there, and flags records where the reporter's verdict
 * contradicts the evidence.  Each mechanism carries a short reason in words
 * an admin reads ("not aligned: signs as sendgrid.net").
 *
 * Rules: DKIM passes when some <dkim> result is "pass" for a domain aligned
 * under adkim.  SPF passes when the <spf> result of the MAIL FROM identity
 * (scope mfrom or absent; a helo result only when there is no other) is "pass"
 * for a domain aligned under aspf.
 *
 * Users: ingest (verdict where policy_evaluated is missing, warnings); later status.
 * Thread-safety: pure functions.  Errors: none (std::bad_alloc only).
 */
#pragma once

#include "collector/intake/report.hh"
#include "collector/judge/public-suffix.hh"

#include <optional>
#include <string>
#include <vector>

namespace dmarcwatch::collector
{

//! Which identifier passed aligned.
enum class Passed
{
  None,
  Dkim,
  Spf,
  Both,
};

//! \brief "none", "dkim", "spf", "both".
const char* passedName(Passed passed);

//! Our judgement of one mechanism.
struct MechanismVerdict
{
  bool pass = false;     //!< an aligned pass
  bool evidence = false; //!< auth_results had a result for this mechanism
  std::string reason;    //!< what passed ("aligned: example.com") or why not ("no signature")
};

struct Verdict
{
  MechanismVerdict dkim;
  MechanismVerdict spf;
  std::optional<bool> reporterDkim; //!< policy_evaluated dkim == pass; nullopt when the reporter left it out
  std::optional<bool> reporterSpf;
  std::vector<std::string> overrides; //!< "forwarded", "local_policy (arc=pass)", ...
  std::vector<std::string> contradictions; //!< where the reporter's word goes against auth_results

  [[nodiscard]] bool dmarcPass() const { return dkim.pass || spf.pass; }
  [[nodiscard]] Passed passed() const;
  //! The reporter's DMARC verdict; nullopt when policy_evaluated has neither dkim nor spf.
  [[nodiscard]] std::optional<bool> reporterPass() const;
  //! The verdict to count: per mechanism the reporter's when given, ours otherwise.
  [[nodiscard]] bool effectivePass() const;
};

//! How much judgeRecord works out.
enum class VerdictDetail
{
  Reasons,  //!< everything: reasons and overrides, for an admin
  PassOnly, //!< pass, evidence and contradictions only; reasons and overrides left empty (ingest: per record)
};

/*!
 * \brief Judge one record.
 * \param policy the report's policy_published (adkim, aspf).
 * \param psl for relaxed alignment (PublicSuffixList::system() in production).
 * Pure: does not block.
 */
Verdict judgeRecord(const Record& record, const PolicyPublished& policy, const PublicSuffixList& psl,
                    VerdictDetail detail = VerdictDetail::Reasons);

/*!
 * \brief One line for an admin: "DMARC pass: DKIM aligned (aligned: example.com); SPF failed
 * (not aligned: SPF authenticates the bounce domain bounces.sendgrid.net only); override: forwarded".
 */
std::string describeVerdict(const Verdict& verdict);

/*!
 * \brief Record our verdict in record.judgedDkim/judgedSpf ("pass"/"fail"); the reporter's
 * dkim/spf stay as they were.  Record::dmarcPass() then uses ours where the reporter's is missing.
 * \return whether the reporter left policy_evaluated dkim or spf out (ours is used).
 */
bool applyVerdict(Record& record, const Verdict& verdict);

} // namespace dmarcwatch::collector
