/*
 * ptr-check.hh - the PTR name of a source IP, with forward confirmation.
 *
 * A PTR record is whatever the owner of the address block writes: a spoofer's
 * 198.51.100.7 may well say mail.mailchimp.com.  Only a name whose own A (or
 * AAAA) records contain the address is Confirmed and may name a service;
 * otherwise the name is kept as Unconfirmed and never names anything (the
 * failure of parsedmarc's unconfirmed PTRs, issue 11).
 *
 * Users: collector/enrich.  Thread-safety: as the Resolver it runs on.
 * Errors: none; DNS trouble is PtrState::Unknown.
 */
#pragma once

#include "collector/common/ip-address.hh"
#include "collector/common/ptr-state.hh"
#include "collector/dns/resolver.hh"

#include <cstdint>
#include <functional>
#include <string>

namespace dmarcwatch::collector
{

struct PtrCheck
{
  PtrState outcome = PtrState::Unknown;
  std::string name; //!< the confirmed name, else the first PTR name; lower case, no trailing dot
  uint32_t ttl = 0; //!< the shortest TTL of the answers it rests on
};

//! At most this many PTR names of one address are checked forward.
inline constexpr size_t s_maxPtrNames = 5;

/*!
 * \brief Queue the PTR look-up of ip and the forward look-ups of its names on resolver;
 * done runs inside resolver.run() once the outcome is known.  Does not block.
 */
void checkPtr(Resolver& resolver, const IpAddress& ip, std::function<void(const PtrCheck&)> done);

} // namespace dmarcwatch::collector
