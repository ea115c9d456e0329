/*
 * verdict.cc - see verdict.hh.
 */
#include "config.h"

#include "collector/judge/verdict.hh"

#include "collector/common/text.hh"
#include "collector/judge/alignment.hh"

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

//! One authenticated result as both mechanisms see it.
struct Candidate
{
  std::string_view domain;
  std::string_view result;
};

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

std::string orNone(const std::string& text, const char* none)
{
  return text.empty() ? std::string(none) : text;
}

/*!
 * A mechanism passes on its first aligned "pass".  Otherwise the most telling reason: a pass
 * for a domain that is not aligned (an ESP's own domain), else the results that did not pass.
 */
void judgeCandidates(const std::vector<Candidate>& candidates, const Record& record, AlignmentMode mode,
                     const PublicSuffixList& psl, const Wording& wording, MechanismVerdict& verdict)
{
  if (normalizeDomain(record.headerFrom).empty()) {
    verdict.reason = "no header_from to align with";
    return;
  }
  std::vector<std::string> unaligned;
  std::vector<std::string> failing;
  bool strictOnly = false;
  for (const Candidate& candidate : candidates) {
    const std::string domain = normalizeDomain(candidate.domain);
    if (candidate.result != "pass") {
      addOnce(failing, orNone(domain, "(no domain)") + " " + orNone(std::string(candidate.result), "(no result)"));
      continue;
    }
    if (aligned(domain, record.headerFrom, mode, psl)) {
      verdict.pass = true;
      verdict.reason = wording.aligned + domain;
      return;
    }
    strictOnly = strictOnly ||
                 (mode == AlignmentMode::Strict && aligned(domain, record.headerFrom, AlignmentMode::Relaxed, psl));
    addOnce(unaligned, orNone(domain, "(no domain)"));
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

MechanismVerdict judgeDkim(const Record& record, AlignmentMode mode, const PublicSuffixList& psl)
{
  MechanismVerdict verdict;
  verdict.evidence = !record.dkimResults.empty();
  if (!verdict.evidence) {
    verdict.reason = "no signature";
    return verdict;
  }
  std::vector<Candidate> candidates;
  for (const auto& dkim : record.dkimResults) {
    candidates.push_back(Candidate{dkim.domain, dkim.result});
  }
  judgeCandidates(candidates, record, mode, psl, c_dkimWording, verdict);
  return verdict;
}

MechanismVerdict judgeSpf(const Record& record, AlignmentMode mode, const PublicSuffixList& psl)
{
  MechanismVerdict verdict;
  // Step: the DMARC identity is MAIL FROM; a HELO result counts only when nothing else is there
  // (a null MAIL FROM is checked with the HELO name, RFC 7208 section 2.4).
  std::vector<Candidate> candidates;
  for (const auto& spf : record.spfResults) {
    if (spf.scope != "helo") {
      candidates.push_back(Candidate{spf.domain, spf.result});
    }
  }
  if (candidates.empty()) {
    for (const auto& spf : record.spfResults) {
      candidates.push_back(Candidate{spf.domain, spf.result});
    }
  }
  verdict.evidence = !candidates.empty();
  if (!verdict.evidence) {
    verdict.reason = "no SPF result";
    return verdict;
  }
  judgeCandidates(candidates, record, mode, psl, c_spfWording, verdict);
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

Verdict judgeRecord(const Record& record, const PolicyPublished& policy, const PublicSuffixList& psl)
{
  Verdict verdict;
  verdict.dkim = judgeDkim(record, alignmentMode(policy.adkim), psl);
  verdict.spf = judgeSpf(record, alignmentMode(policy.aspf), psl);
  verdict.reporterDkim = reporterWord(record.dkim);
  verdict.reporterSpf = reporterWord(record.spf);

  // Step: override reasons as the reporter gave them (the parser made them printable).
  for (const auto& reason : record.reasons) {
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
