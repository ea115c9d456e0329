/*
 * spf-advice.hh - the SPF view of `dmarcwatch status DOMAIN --spf`: which
 * mechanisms of the domain's live SPF record the observed authorized traffic
 * uses, which it never uses, the look-up count, and what to add or remove, as a
 * suggested record.  The suggestion is text for the admin: nothing is applied.
 *
 * Judged: include: mechanisms and the redirect= modifier only.  An include is
 * used when an observed authorized service maps to it: one of its catalog
 * spf-include rules names the target (exact, case-insensitive, as
 * Catalog::bySpfInclude matches), or the daemon saw the include authorize its
 * addresses (NetworkSignals::spfInclude).  ip4, ip6, a, mx, ptr, exists and all
 * are listed as not judged: the view does not know which addresses they hold.
 * An include of a name under the domain's own organizational domain (the
 * admin's own indirection, "include:_spf.example.com") or with a macro is not
 * judged either: what it reaches is not known here.
 *
 * Add: an include: only where SPF alignment is possible: an authorized service
 * that sends with a MAIL FROM domain under the policy domain's organizational
 * domain, whose SPF passes aligned for less than s_spfAddBelowPercent of its
 * messages, and whose catalog entry has an spf-include rule.  A service that
 * uses its own MAIL FROM domain can never align SPF: it gets a note ("rely on
 * DKIM"), never an include.
 *
 * Remove: an include no observed service maps to, authorized or not (a
 * service that sent, even failing, keeps its include); over a window shorter
 * than s_spfReviewDays such a removal is marked review ("not seen in N days -
 * check before removing").  Also removed, never as review: a repeated include,
 * a mechanism after "all" (never evaluated, RFC 7208 5.1), a redirect that an
 * "all" makes void (RFC 7208 6.1).  An unused redirect is never removed (it is
 * the rest of the policy): a note.  An include used only by services with
 * their own MAIL FROM domain is kept, with a note that it does not help
 * alignment.
 *
 * Untrusted input: the record comes from DNS.  At most s_spfMaxTerms terms and
 * s_spfMaxTermBytes per term are judged (more: the record is not judged);
 * a byte outside printable ASCII makes the record malformed (SPF is ASCII);
 * every text of the advice is printable (common/log.hh printable()).
 *
 * What remains: an include the admin reaches through an indirection of their
 * own ("include:_spf.example.com" including sendgrid.net) is not judged, since
 * the view has no DNS; the suggested look-up count is an estimate (a removed
 * include saves at least one, an added one costs at least one).
 *
 * Users: the status command (collector/cli).  Thread-safety: pure over its
 * arguments.  Errors: none (bad_alloc).
 */
#pragma once

#include "collector/judge/public-suffix.hh"
#include "collector/sources/catalog.hh"
#include "collector/store/enrichment.hh"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

//! Terms of a record the view judges; a longer record is shown but not judged.
inline constexpr size_t s_spfMaxTerms = 64;
//! Bytes of one term (a domain is at most 253; macros and ip6 ranges fit too).
inline constexpr size_t s_spfMaxTermBytes = 512;
//! An include is added for a service whose SPF passes aligned for less than this share of
//! its messages (in percent): a few failures are forwarding, most failures a missing include.
inline constexpr unsigned s_spfAddBelowPercent = 90;
//! A window shorter than this (days) marks removals "review": a monthly sender may not show.
inline constexpr unsigned s_spfReviewDays = 30;

//! One sending service as status sees it over the window.
struct SpfObservedService
{
  std::string name;                 //!< display name ("SendGrid", an identity, "unknown")
  const Service* service = nullptr; //!< the catalog entry, nullptr none
  bool authorized = false;          //!< class authorized (or the admin's own network)
  uint64_t messages = 0;
  //! Messages whose SPF passed, for any domain (for the caller's display: the rules use
  //! spfAligned, since a pass for another domain does not help alignment).
  uint64_t spfPass = 0;
  uint64_t spfAligned = 0; //!< messages whose SPF passed for a domain aligned with the policy domain
  //! MAIL FROM (SPF) domains seen, lower case, most messages first.
  std::vector<std::string> envelopeDomains;
  //! The includes that authorized its addresses as the daemon saw them, may be empty.
  std::vector<std::string> includes;
};

//! One term of the live record as the view judges it.
struct SpfMechanismUse
{
  std::string mechanism;           //!< as in the record, qualifier kept ("include:sendgrid.net", "-all")
  std::vector<std::string> usedBy; //!< names of the observed services that map to it
  bool lookup = false;             //!< costs a DNS look-up (include a mx ptr exists, redirect)
  //! "used", "unused", "sent-not-authorized" (only services that are not authorized map to it),
  //! "duplicate", "void" (a redirect with "all"), "never evaluated" (a mechanism after "all"),
  //! "not judged".
  std::string verdict;
};

//! One suggested change to the record.
struct SpfChange
{
  std::string mechanism; //!< "include:sendgrid.net"
  std::string why;       //!< one sentence for the admin
  bool review = false;   //!< a removal to check first (a short window)
};

struct SpfAdvice
{
  std::string domain;
  //! "found", "none", "multiple" (several v=spf1 records: permerror), "malformed",
  //! "too long" (over s_spfMaxTerms or s_spfMaxTermBytes: not judged), "unknown" (not checked).
  std::string state;
  std::string record;              //!< the live record (printable), "" none or unknown
  std::optional<unsigned> lookups; //!< as stored (s_spfLookupsCap means at least that many)
  std::string error;               //!< LivePolicy::spfError
  std::vector<SpfMechanismUse> mechanisms; //!< each term of the record, in order, used or not
  std::vector<std::string> unused; //!< the judged mechanisms no observed service maps to
  std::vector<SpfChange> add;
  std::vector<SpfChange> remove;
  //! The suggested record: == record when nothing changes; a starting point (startingPoint)
  //! when there is no usable record; "" when nothing can be suggested.
  std::string suggested;
  bool startingPoint = false;
  //! Estimated: lookups minus one per removed term that costs one, plus one per added include (what an
  //! include reaches itself is not known here, so this is a lower bound for added ones).
  std::optional<unsigned> suggestedLookups;
  std::vector<std::string> notes;
};

//! What the caller knows about the window besides the services.
struct SpfAdviceOptions
{
  //! Days the window covers with reports; under s_spfReviewDays removals are "review".
  unsigned coveredDays = 0;
};

/*!
 * \brief The SPF view of a policy domain (file comment for the rules).
 * \param domain the policy domain, any case.
 * \param live the stored live policy (store/enrichment.hh), nullptr when never checked.
 * \param observed the services of the window, authorized or not.
 * Pure; does not block.
 */
SpfAdvice adviseSpf(std::string_view domain, const LivePolicy* live, const std::vector<SpfObservedService>& observed,
                    const PublicSuffixList& psl, const SpfAdviceOptions& options = {});

} // namespace dmarcwatch::collector
