/*
 * enrichment.hh - what the daemon learned from DNS about the sources, as the
 * store keeps it for the views: per source IP (PTR with forward confirmation,
 * ASN and country), per (policy domain, source IP) the SPF authorization, per
 * policy domain the live DMARC record, and the DNS cache.
 *
 * Four additive tables (store.hh, exact bytes in store-format.hh), created by a
 * read-write open; no schema bump: a store without them, or without an entry,
 * is simply not enriched (every read answers nullopt).  Written by dmarcwatchd
 * (collector/enrich), read by the views and `dmarcwatch db enrichment`.
 *
 * Thread-safety: value types.  The Store methods that read and write them are
 * in store.hh (errors: StoreError, never for "not found").
 */
#pragma once

#include "collector/common/ptr-state.hh"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{


struct IpEnrichment // per source IP, any domain
{
  int64_t checkedAt = 0; //!< epoch seconds
  int64_t expiresAt = 0; //!< epoch seconds: enrich again after this
  PtrState ptrState = PtrState::Unknown;
  std::string ptrName; //!< lower-case, no trailing dot
  uint32_t asn = 0;     //!< 0 unknown (GeoIP hook)
  std::string asOrg;    //!< "" unknown
  std::string country;  //!< "" unknown
};

struct SpfAuthorization // per (policy domain, source IP)
{
  int64_t checkedAt = 0;
  int64_t expiresAt = 0;
  std::string result;  //!< pass fail softfail neutral none permerror temperror unknown
  std::string include; //!< the spf-include name whose record authorizes the IP, "" none
};

/*!
 * Per policy domain: the live DMARC record and the live SPF record.  The SPF fields and
 * recordDomain were added after the others (trailing fields of the value): a value written
 * before them reads recordDomain "", spfRecord "", spfLookups nullopt and spfError "unknown".
 */
struct LivePolicy
{
  int64_t checkedAt = 0;
  int64_t expiresAt = 0;
  std::string state; //!< found none unknown
  //! The DMARC TXT text as published (capped, dns/dns-wire.hh s_maxRecordText), "" when none.
  std::string record;
  std::string p, sp, np, testing;
  std::optional<unsigned> pct;
  std::vector<std::string> rua;
  //! Whose _dmarc record it is: the policy domain itself, or its organizational domain when
  //! the policy domain publishes none (RFC 7489 6.6.3); "" when no record was found or unknown.
  std::string recordDomain;
  //! The policy domain's v=spf1 TXT text (capped like record); "" when none, several, or unknown.
  std::string spfRecord;
  //! DNS look-ups the SPF record needs (RFC 7208 4.6.4: include a mx ptr exists and redirect,
  //! counted through include and redirect targets); dns/spf-lookups.hh s_spfLookupsCap (99)
  //! means "at least 99"; nullopt when unknown (no record, temperror, or an old value).
  std::optional<unsigned> spfLookups;
  //! "" (a record within the limits), "none", "multiple SPF records", "too many look-ups"
  //! (over 10), "loop", "include without SPF record", "temperror" (a look-up went unanswered),
  //! "unknown" (not checked: a value written before the SPF fields).
  std::string spfError = "unknown";
};

//! One answer of the daemon's DNS cache: (qtype, name) -> rcode, records, expiry.
struct DnsCacheRecord
{
  uint16_t type = 0;
  std::string name;   //!< lower case, no trailing dot
  int rcode = -1;
  uint8_t status = 0; //!< dns/resolver.hh DnsStatus: 0 answer, 1 nodata, 2 nxdomain
  uint32_t ttl = 0;
  std::vector<std::string> rdata; //!< wire format
  int64_t expiresAt = 0;
};

} // namespace dmarcwatch::collector
