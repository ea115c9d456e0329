/*
 * verdict.cc - see verdict.hh.
 */
#include "config.h"

#include "collector/judge/verdict.hh"

#include "collector/common/text.hh"
#include "collector/judge/alignment.hh"

#include <algorithm>
#include <string_view>

namespace dmarcwatch::collector
{
namespace
{

//! At most this many domains are named in one reason ("signs as a, b, c and 2 more").
constexpr size_t c_namedDomains = 3;

void appendDomains(std::string& out, const std::vector<std::string>& domains)
{
  for (size_t i = 0; i < domains.size() && i < c_namedDomains; ++i) {
    out += i == 0 ? "" : ", ";
    out += domains[i];
  }
  if (domains.size() > c_namedDomains) {
    out += " and " + std::to_string(domains.size() - c_namedDomains) + " more";
  }
}

void addOnce(std::vector<std::string>& list, std::string text)
{
  for (const auto& item : list) {
    if (item == text) {
      return;
    }
  }
  list.push_back(std::move(text));
}

//! The reporter's word for one mechanism: nullopt when missing, else whether it is "pass".
std::optional<bool> reporterWord(const std::string& word)
{
  if (word.empty()) {
    return std::nullopt;
  }
  return word == "pass";
}

//! How one mechanism words its reasons.
struct Wording
{
  const char* aligned;       //!< "aligned: d="
  const char* notAligned;    //!< "not aligned: signs as "
  const char* strictOnly;    //!< the same when only strict mode kept it from aligning
  const char* notAlignedEnd; //!< after the domains ("" or " only")
  const char* failed;        //!< "signature did not verify: "
};

constexpr Wording c_dkimWording{"aligned: d=", "not aligned: signs as ", "not aligned (adkim=s): signs as ", "",
                                "signature did not verify: "};
constexpr Wording c_spfWording{"aligned: ", "not aligned: SPF authenticates the bounce domain ",
                               "not aligned (aspf=s): SPF authenticates the bounce domain ", " only",
                               "SPF did not pass: "};

std::string orNone(std::string text, const char* none)
{
  return text.empty() ? std::string(none) : text;
}

//! Whether an SPF result is of the DMARC identity: MAIL FROM, or HELO when there is nothing else
//! (a null MAIL FROM is checked with the HELO name, RFC 7208 section 2.4).  DKIM: every signature.
bool counts(const DkimResult& /* dkim */, bool /* heloOnly */)
{
  return true;
}
bool counts(const SpfResult& spf, bool heloOnly)
{
  return heloOnly || spf.scope != "helo";
}

/*!
 * A mechanism passes on its first aligned "pass" (looked for first, without allocating: the
 * common case).  Otherwise the most telling reason: a pass for a domain that is not aligned (an
 * ESP's own domain), else the results that did not pass.
 */
template <typename Result>
void judgeResults(const std::vector<Result>& results, bool heloOnly, const Record& record, AlignmentMode mode,
                  const PublicSuffixList& psl, const Wording& wording, VerdictDetail detail, MechanismVerdict& verdict)
{
  const bool reasons = detail == VerdictDetail::Reasons;
  if (trimDomain(record.headerFrom).empty()) {
    verdict.reason = reasons ? "no header_from to align with" : "";
    return;
  }
  for (const Result& result : results) {
    if (counts(result, heloOnly) && result.result == "pass" && aligned(result.domain, record.headerFrom, mode, psl)) {
      verdict.pass = true;
      verdict.reason = reasons ? wording.aligned + normalizeDomain(result.domain) : std::string();
      return;
    }
  }
  if (!reasons) {
    return;
  }
  std::vector<std::string> unaligned;
  std::vector<std::string> failing;
  bool strictOnly = false;
  for (const Result& result : results) {
    if (!counts(result, heloOnly)) {
      continue;
    }
    std::string domain = orNone(normalizeDomain(result.domain), "(no domain)");
    if (result.result != "pass") {
      addOnce(failing, domain + " " + orNone(result.result, "(no result)"));
      continue;
    }
    strictOnly = strictOnly || (mode == AlignmentMode::Strict &&
                                aligned(result.domain, record.headerFrom, AlignmentMode::Relaxed, psl));
    addOnce(unaligned, std::move(domain));
  }
  if (!unaligned.empty()) {
    verdict.reason = strictOnly ? wording.strictOnly : wording.notAligned;
    appendDomains(verdict.reason, unaligned);
    verdict.reason += wording.notAlignedEnd;
  }
  else {
    verdict.reason = wording.failed;
    appendDomains(verdict.reason, failing);
  }
}

MechanismVerdict judgeDkim(const Record& record, AlignmentMode mode, const PublicSuffixList& psl, VerdictDetail detail)
{
  MechanismVerdict verdict;
  verdict.evidence = !record.dkimResults.empty();
  if (!verdict.evidence) {
    verdict.reason = detail == VerdictDetail::Reasons ? "no signature" : "";
    return verdict;
  }
  judgeResults(record.dkimResults, false, record, mode, psl, c_dkimWording, detail, verdict);
  // Step: results of "none" only (Google writes one with an empty domain) mean no signature.
  if (!verdict.pass && detail == VerdictDetail::Reasons &&
      std::all_of(record.dkimResults.begin(), record.dkimResults.end(),
                  [](const DkimResult& dkim) { return dkim.result == "none"; })) {
    verdict.reason = "no signature";
  }
  return verdict;
}

MechanismVerdict judgeSpf(const Record& record, AlignmentMode mode, const PublicSuffixList& psl, VerdictDetail detail)
{
  MechanismVerdict verdict;
  verdict.evidence = !record.spfResults.empty();
  if (!verdict.evidence) {
    verdict.reason = detail == VerdictDetail::Reasons ? "no SPF result" : "";
    return verdict;
  }
  const bool heloOnly = std::all_of(record.spfResults.begin(), record.spfResults.end(),
                                    [](const SpfResult& spf) { return spf.scope == "helo"; });
  judgeResults(record.spfResults, heloOnly, record, mode, psl, c_spfWording, detail, verdict);
  return verdict;
}

} // namespace

const char* passedName(Passed passed)
{
  switch (passed) {
  case Passed::None:
    return "none";
  case Passed::Dkim:
    return "dkim";
  case Passed::Spf:
    return "spf";
  case Passed::Both:
    return "both";
  }
  return "none";
}

Passed Verdict::passed() const
{
  if (dkim.pass && spf.pass) {
    return Passed::Both;
  }
  return dkim.pass ? Passed::Dkim : spf.pass ? Passed::Spf : Passed::None;
}

std::optional<bool> Verdict::reporterPass() const
{
  if (!reporterDkim && !reporterSpf) {
    return std::nullopt;
  }
  return reporterDkim.value_or(false) || reporterSpf.value_or(false);
}

bool Verdict::effectivePass() const
{
  return reporterDkim.value_or(dkim.pass) || reporterSpf.value_or(spf.pass);
}

Verdict judgeRecord(const Record& record, const PolicyPublished& policy, const PublicSuffixList& psl,
                    VerdictDetail detail)
{
  Verdict verdict;
  verdict.dkim = judgeDkim(record, alignmentMode(policy.adkim), psl, detail);
  verdict.spf = judgeSpf(record, alignmentMode(policy.aspf), psl, detail);
  verdict.reporterDkim = reporterWord(record.dkim);
  verdict.reporterSpf = reporterWord(record.spf);

  // Step: override reasons as the reporter gave them (the parser made them printable).
  for (size_t i = 0; detail == VerdictDetail::Reasons && i < record.reasons.size(); ++i) {
    const PolicyOverride& reason = record.reasons[i];
    std::string text = reason.type.empty() ? std::string("(no type)") : reason.type;
    if (!reason.comment.empty()) {
      text += " (" + reason.comment + ")";
    }
    verdict.overrides.push_back(std::move(text));
  }

  // Step: contradictions, only where auth_results has evidence for that mechanism (a reporter
  // may leave auth_results out, and then its word cannot be checked).
  const auto contradict = [&verdict](const char* name, std::optional<bool> reporter, const MechanismVerdict& ours) {
    if (!reporter || !ours.evidence || *reporter == ours.pass) {
      return;
    }
    verdict.contradictions.push_back(std::string("policy_evaluated ") + name + "=" + (*reporter ? "pass" : "fail") +
                                     " but auth_results " + (ours.pass ? "has an aligned pass" : "has no aligned pass"));
  };
  contradict("dkim", verdict.reporterDkim, verdict.dkim);
  contradict("spf", verdict.reporterSpf, verdict.spf);
  return verdict;
}

std::string describeVerdict(const Verdict& verdict)
{
  std::string text = verdict.dmarcPass() ? "DMARC pass: " : "DMARC fail: ";
  text += verdict.dkim.pass ? "DKIM aligned (" : "DKIM failed (";
  text += verdict.dkim.reason + "); ";
  text += verdict.spf.pass ? "SPF aligned (" : "SPF failed (";
  text += verdict.spf.reason + ")";
  for (size_t i = 0; i < verdict.overrides.size(); ++i) {
    text += i == 0 ? "; override: " : ", ";
    text += verdict.overrides[i];
  }
  return text;
}

bool applyVerdict(Record& record, const Verdict& verdict)
{
  record.judgedDkim = verdict.dkim.pass ? "pass" : "fail";
  record.judgedSpf = verdict.spf.pass ? "pass" : "fail";
  return record.dkim.empty() || record.spf.empty();
}

} // namespace dmarcwatch::collector
