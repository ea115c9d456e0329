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

struct LivePolicy // per policy domain
{
  int64_t checkedAt = 0;
  int64_t expiresAt = 0;
  std::string state; //!< found none unknown
  std::string record, p, sp, np, testing;
  std::optional<unsigned> pct;
  std::vector<std::string> rua;
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
