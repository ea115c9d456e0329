/*
 * dmarc-eval.hh - DMARC evaluation of a mail's RFC5322.From domain from the
 * SPF and DKIM results we computed and the DMARC record we fetched.
 *
 * libopendmarc parses the record (p, sp, adkim, aspf) and gives its own
 * policy answer, kept as a cross-check; it is kept off DNS (the record comes
 * from fetchDmarcRecord through the Resolver and is handed over with
 * opendmarc_policy_store_dmarc).  Alignment is decided by our own code
 * (judge/alignment.hh, the public suffix list): libopendmarc 1.4.2 answers
 * "aligned" for adkim=s with d=google.com and From mail.google.com, which
 * RFC 7489 3.1.1 says is not, and it has no public suffix list here.
 *
 * Result (RFC 8601): pass (an aligned SPF or DKIM pass), fail (none aligned
 * and nothing unknown), temperror (none aligned while an SPF or DKIM check of
 * an aligned domain, or the record itself, timed out: a slow DNS never makes
 * a mail fail),
 * none (no DMARC record), permerror (no single From domain).
 *
 * Users: message-auth.cc, the auth unit tests.  Thread-safety: pure apart from
 * libopendmarc's once-per-process state (opendmarc-lib.hh); any thread.
 * Errors: none (std::bad_alloc).
 */
#pragma once

#include "collector/dns/dkim-verify.hh"
#include "collector/dns/live-dmarc.hh"
#include "collector/dns/spf-check.hh"
#include "collector/judge/public-suffix.hh"

#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

struct DmarcEvaluation
{
  std::string result = "none"; //!< pass fail none temperror permerror
  std::string policy;          //!< the policy that applies (p=, or sp= for a subdomain under its org's record)
  bool spfAligned = false;     //!< SPF passed for a domain aligned with From
  bool dkimAligned = false;    //!< a passing signature's d= is aligned with From
  std::string library;         //!< libopendmarc's own answer (pass reject quarantine none absent ""), a cross-check
};

/*!
 * \brief Evaluate DMARC for fromDomain (lower case) with the record fetched for it.
 * Pure: does not block, asks no DNS.
 */
DmarcEvaluation evaluateDmarc(std::string_view fromDomain, const DmarcRecord& record, const SpfEnvelopeResult& spf,
                              const std::vector<DkimSignatureResult>& signatures, const PublicSuffixList& psl);

} // namespace dmarcwatch::collector
