/*
 * ptr-state.hh - what a PTR look-up with forward confirmation found for an
 * address: the one set of states the resolver reports (dns/ptr-check.hh), the
 * store keeps (store/enrichment.hh, as its byte value) and naming reads
 * (sources/naming.hh).
 *
 * Thread-safety: value type and a pure function.  Errors: none.
 */
#pragma once

#include <cstdint>
#include <string_view>

namespace dmarcwatch::collector
{

//! The values are stored (enrichment-format.cc): never renumber.
enum class PtrState : uint8_t
{
  Unknown = 0,     //!< timeout or SERVFAIL on the PTR, or on every forward look-up
  None = 1,        //!< NXDOMAIN or no PTR record
  Confirmed = 2,   //!< a PTR name whose A/AAAA contains the address: it may name a service
  Unconfirmed = 3, //!< PTR names, none resolving back to the address: never names a service
};

//! "unknown", "none", "confirmed", "unconfirmed".
constexpr std::string_view ptrStateName(PtrState state)
{
  switch (state) {
  case PtrState::None:
    return "none";
  case PtrState::Confirmed:
    return "confirmed";
  case PtrState::Unconfirmed:
    return "unconfirmed";
  case PtrState::Unknown:
    break;
  }
  return "unknown";
}

} // namespace dmarcwatch::collector
