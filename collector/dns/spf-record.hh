/*
 * spf-record.hh - a domain's live SPF record and the DNS look-ups it needs,
 * counted by us from the TXT records (RFC 7208 4.6.4), not by libspf2.
 *
 * The include, a, mx, ptr and exists mechanisms and the redirect modifier each
 * count one look-up; include and redirect targets are followed and their
 * records counted too (recursively); a target with a macro ("%{d}") counts
 * but is not followed (it depends on the message); redirect is ignored when
 * the record has an "all" mechanism (RFC 7208 6.1).  Over 10 is a permerror
 * ("too many look-ups").  An include of a name on the current include path is
 * a loop: counted once, not followed.  The same name reached twice by two
 * paths is counted twice, as an evaluation would.  Not checked: the limit of
 * 10 MX or PTR names per mechanism and the 2 void look-ups (4.6.4).
 *
 * Bounds: at most s_spfMaxNames distinct names are fetched per domain, all
 * through the Resolver (cache, timeouts, in-flight cap), in parallel level by
 * level; no new name is asked after options.budget; the count stops at
 * s_spfLookupsCap, which then means "at least that many".
 *
 * Users: collector/enrich.  Thread-safety: a fetch runs inside its Resolver's
 * run() on the caller's thread; countSpfLookups is pure.  Errors: none; DNS
 * trouble is the error "temperror", an exception inside a callback
 * (bad_alloc) too (it never leaves the Resolver callback).
 */
#pragma once

#include "collector/dns/resolver.hh"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

//! A count that reaches this stops there: the record needs at least this many look-ups.
inline constexpr unsigned s_spfLookupsCap = 99;
//! Distinct names whose TXT records one domain's count may fetch (the domain included); a
//! walk that needs more has at least s_spfLookupsCap look-ups anyway.
inline constexpr size_t s_spfMaxNames = s_spfLookupsCap + 1;
//! RFC 7208 4.6.4: more look-ups than this is a permerror.
inline constexpr unsigned s_spfMaxLookups = 10;

//! The TXT answer of one name, reduced to what the count needs.
struct SpfTxt
{
  DnsStatus status = DnsStatus::Unknown;
  std::vector<std::string> records; //!< the TXT texts that are SPF records (v=spf1)
  uint32_t ttl = 0;
};

//! What a domain's SPF record is and needs (store/enrichment.hh LivePolicy's SPF fields).
struct SpfRecordInfo
{
  std::string record;                 //!< the v=spf1 text (capped, s_maxRecordText), "" none
  std::optional<unsigned> lookups;    //!< look-ups; s_spfLookupsCap means at least; nullopt unknown
  //! "" fine, "none", "multiple SPF records", "too many look-ups", "loop",
  //! "include without SPF record", "temperror" (a look-up unanswered, or the budget spent)
  std::string error;
  uint32_t ttl = 0;                   //!< the smallest TTL of the answers used
};

//! \brief True for a TXT text that is an SPF record: "v=spf1" alone or followed by a space.  Pure.
bool isSpfRecord(std::string_view text);

/*!
 * \brief Count the look-ups of domain's SPF record from TXT answers already fetched (file comment).
 * \param txt the answer for a name (lower case), nullptr when it was not fetched (a cap).
 * Pure; does not block.
 */
SpfRecordInfo countSpfLookups(std::string_view domain, const std::function<const SpfTxt*(const std::string&)>& txt);

struct SpfFetchOptions
{
  //! No new name is asked after this much time from the start of the fetch (wall clock).
  std::chrono::milliseconds budget{30000};
};

/*!
 * \brief Queue the TXT look-ups of domain's SPF record and of every include and redirect
 * target it reaches (up to s_spfMaxNames names), then count (countSpfLookups).  done runs once,
 * inside resolver.run(), and must not throw.  Does not block.
 */
void fetchSpfRecord(Resolver& resolver, std::string_view domain, std::function<void(const SpfRecordInfo&)> done,
                    const SpfFetchOptions& options = {});

} // namespace dmarcwatch::collector
