/*
 * ptr-check.cc - forward-confirmed PTR (ptr-check.hh).
 *
 * One shared state per address: the PTR answer queues one forward question
 * per name (A for IPv4, AAAA for IPv6); the last forward answer decides.  A
 * name confirmed by any answer wins; otherwise a forward answer that was
 * Unknown makes the whole check Unknown (we cannot say the name is wrong).
 */
#include "config.h"

#include "collector/dns/ptr-check.hh"

#include <algorithm>
#include <memory>
#include <vector>

namespace dmarcwatch::collector
{

namespace
{

struct PtrLookup
{
  IpAddress ip;
  std::function<void(const PtrCheck&)> done;
  std::vector<std::string> names;
  size_t pending = 0;
  bool anyUnknown = false;
  std::optional<size_t> confirmedIndex;
  uint32_t ttl = 0;

  void finish()
  {
    PtrCheck check;
    check.ttl = ttl;
    if (confirmedIndex) {
      check.outcome = PtrState::Confirmed;
      check.name = names[*confirmedIndex];
    }
    else {
      check.outcome = anyUnknown ? PtrState::Unknown : PtrState::Unconfirmed;
      check.name = names.front();
    }
    done(check);
  }
};

} // namespace

void checkPtr(Resolver& resolver, const IpAddress& ip, std::function<void(const PtrCheck&)> done)
{
  auto state = std::make_shared<PtrLookup>();
  state->ip = ip;
  state->done = std::move(done);
  resolver.submit(reverseName(ip), dnstype::ptr, [&resolver, state](const DnsAnswer& answer) {
    // Step: no PTR (None) or no answer (Unknown) ends the check here.
    if (answer.status != DnsStatus::Answer) {
      PtrCheck check;
      check.outcome = answer.status == DnsStatus::Unknown ? PtrState::Unknown : PtrState::None;
      check.ttl = answer.ttl;
      state->done(check);
      return;
    }
    state->ttl = answer.ttl;
    for (const auto& rdata : answer.rdata) {
      auto name = dnsNameFromWire(rdata);
      if (name && !name->empty() && state->names.size() < s_maxPtrNames &&
          std::find(state->names.begin(), state->names.end(), *name) == state->names.end()) {
        state->names.push_back(std::move(*name));
      }
    }
    if (state->names.empty()) {
      state->done(PtrCheck{PtrState::None, {}, answer.ttl});
      return;
    }
    // Step: each name forward; the address must be among its records.
    const uint16_t type = state->ip.isV4() ? dnstype::a : dnstype::aaaa;
    state->pending = state->names.size();
    for (size_t i = 0; i < state->names.size(); ++i) {
      resolver.submit(state->names[i], type, [state, i](const DnsAnswer& forward) {
        if (forward.status == DnsStatus::Unknown) {
          state->anyUnknown = true;
        }
        for (const auto& rdata : forward.rdata) {
          if (addressFromWire(rdata) == state->ip && !state->confirmedIndex) {
            state->confirmedIndex = i;
            state->ttl = std::min(state->ttl, forward.ttl);
          }
        }
        if (--state->pending == 0) {
          state->finish();
        }
      });
    }
  });
}

} // namespace dmarcwatch::collector
