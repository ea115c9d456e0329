/*
 * dmarc-eval.cc - DMARC evaluation (dmarc-eval.hh).
 */
#include "config.h"

#include "collector/auth/dmarc-eval.hh"

#include "collector/dns/opendmarc-lib.hh"
#include "collector/judge/alignment.hh"

#include <algorithm>

namespace dmarcwatch::collector
{

namespace
{

u_char* bytes(std::string& text)
{
  return reinterpret_cast<u_char*>(text.data());
}

std::string libraryPolicyName(int policy)
{
  switch (policy) {
  case DMARC_POLICY_PASS:
    return "pass";
  case DMARC_POLICY_REJECT:
    return "reject";
  case DMARC_POLICY_QUARANTINE:
    return "quarantine";
  case DMARC_POLICY_NONE:
    return "none";
  case DMARC_POLICY_ABSENT:
    return "absent";
  default:
    return "";
  }
}

struct Modes
{
  AlignmentMode dkim = AlignmentMode::Relaxed;
  AlignmentMode spf = AlignmentMode::Relaxed;
  std::string library;
};

//! libopendmarc's parse of the record (adkim, aspf) and its own answer for the same results.
Modes libraryView(std::string_view fromDomain, const DmarcRecord& record, const std::string& orgDomain,
                  const SpfEnvelopeResult& spf, const std::vector<DkimSignatureResult>& signatures)
{
  Modes out;
  initOpendmarcOnce();
  std::string ip = "0.0.0.0";
  OpendmarcPolicy policy(opendmarc_policy_connect_init(bytes(ip), DMARC_POLICY_IP_TYPE_IPV4));
  if (!policy) {
    throw std::bad_alloc();
  }
  // Step: our results, as libopendmarc wants them (copies: its API takes non-const bytes).
  std::string from(fromDomain);
  opendmarc_policy_store_from_domain(policy.get(), bytes(from));
  for (const auto& sig : signatures) {
    int outcome = DMARC_POLICY_DKIM_OUTCOME_NONE;
    if (sig.result == "pass") {
      outcome = DMARC_POLICY_DKIM_OUTCOME_PASS;
    }
    else if (sig.result == "fail") {
      outcome = DMARC_POLICY_DKIM_OUTCOME_FAIL;
    }
    else if (sig.result == "temperror") {
      outcome = DMARC_POLICY_DKIM_OUTCOME_TMPFAIL;
    }
    if (sig.domain.empty()) {
      continue;
    }
    std::string domain = sig.domain;
    std::string selector = sig.selector;
    std::string human = sig.error;
    opendmarc_policy_store_dkim(policy.get(), bytes(domain), bytes(selector), outcome, bytes(human));
  }
  if (!spf.domain.empty()) {
    int outcome = DMARC_POLICY_SPF_OUTCOME_NONE;
    if (spf.result == "pass") {
      outcome = DMARC_POLICY_SPF_OUTCOME_PASS;
    }
    else if (spf.result == "fail" || spf.result == "softfail") {
      outcome = DMARC_POLICY_SPF_OUTCOME_FAIL;
    }
    else if (spf.result == "temperror") {
      outcome = DMARC_POLICY_SPF_OUTCOME_TMPFAIL;
    }
    std::string domain = spf.domain;
    std::string human = spf.result;
    opendmarc_policy_store_spf(policy.get(), bytes(domain), outcome, DMARC_POLICY_SPF_ORIGIN_MAILFROM, bytes(human));
  }
  std::string text = record.record;
  std::string recordDomain = record.domain.empty() ? std::string(fromDomain) : record.domain;
  std::string org = orgDomain;
  if (opendmarc_policy_store_dmarc(policy.get(), bytes(text), bytes(recordDomain), bytes(org)) != DMARC_PARSE_OKAY) {
    return out;
  }
  int mode = 0;
  if (opendmarc_policy_fetch_adkim(policy.get(), &mode) == DMARC_PARSE_OKAY && mode == DMARC_RECORD_A_STRICT) {
    out.dkim = AlignmentMode::Strict;
  }
  if (opendmarc_policy_fetch_aspf(policy.get(), &mode) == DMARC_PARSE_OKAY && mode == DMARC_RECORD_A_STRICT) {
    out.spf = AlignmentMode::Strict;
  }
  out.library = libraryPolicyName(opendmarc_get_policy_to_enforce(policy.get()));
  return out;
}

} // namespace

DmarcEvaluation evaluateDmarc(std::string_view fromDomain, const DmarcRecord& record, const SpfEnvelopeResult& spf,
                              const std::vector<DkimSignatureResult>& signatures, const PublicSuffixList& psl)
{
  DmarcEvaluation out;
  if (fromDomain.empty()) {
    out.result = "permerror";
    return out;
  }
  if (record.state == "unknown") {
    out.result = "temperror";
    return out;
  }
  if (record.state != "found") {
    out.result = "none";
    return out;
  }
  // Step: the policy: sp= applies to a subdomain judged by its organizational domain's record.
  out.policy = record.p;
  if (!record.domain.empty() && record.domain != fromDomain && !record.sp.empty()) {
    out.policy = record.sp;
  }
  const std::string orgDomain = psl.organizationalDomain(fromDomain);
  const Modes modes = libraryView(fromDomain, record, orgDomain, spf, signatures);
  out.library = modes.library;

  // Step: alignment by our own code (see the file comment for why not libopendmarc's).
  out.spfAligned = spf.result == "pass" && aligned(spf.domain, fromDomain, modes.spf, psl);
  out.dkimAligned = std::any_of(signatures.begin(), signatures.end(), [&](const DkimSignatureResult& sig) {
    return sig.result == "pass" && aligned(sig.domain, fromDomain, modes.dkim, psl);
  });
  if (out.spfAligned || out.dkimAligned) {
    out.result = "pass";
    return out;
  }
  // Step: no aligned pass; unknown only when a check that could have aligned did not finish.
  const bool unknown = (spf.result == "temperror" && aligned(spf.domain, fromDomain, modes.spf, psl)) ||
                       std::any_of(signatures.begin(), signatures.end(), [&](const DkimSignatureResult& sig) {
                         return sig.result == "temperror" && aligned(sig.domain, fromDomain, modes.dkim, psl);
                       });
  out.result = unknown ? "temperror" : "fail";
  return out;
}

} // namespace dmarcwatch::collector
