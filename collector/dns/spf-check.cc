/*
 * spf-check.cc - libspf2 over the Resolver (spf-check.hh has the choice of layer).
 *
 * The layer's lookup() turns our DnsAnswer into libspf2's SPF_dns_rr_t:
 * Answer -> NETDB_SUCCESS with the records (A, AAAA, TXT, MX, PTR decoded from
 * wire format), NxDomain -> HOST_NOT_FOUND, NoData -> NO_DATA, Unknown ->
 * TRY_AGAIN and a flag on the checker, so check() reports "unknown".
 * libspf2's log handlers go to our debug log instead of stderr.
 */
#include "config.h"

#include "collector/dns/spf-check.hh"

#include "collector/common/log.hh"
#include "collector/common/text.hh"

#include <algorithm>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <cstring>
#include <mutex>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

// libspf2's headers declare part of the API without extern "C" (spf_dns_rr.h).
extern "C" {
#include <spf2/spf.h>
}

namespace dmarcwatch::collector
{

namespace
{

void spfLog(const char* file, int line, const char* message)
{
  logDebug("libspf2", {{"file", file != nullptr ? file : ""}, {"line", std::to_string(line)},
                       {"message", printable(message != nullptr ? message : "")}});
}

void quietLibspf2Once()
{
  static std::once_flag s_once;
  std::call_once(s_once, [] {
    SPF_warning_handler = spfLog;
    SPF_info_handler = spfLog;
    SPF_debug_handler = spfLog;
  });
}

struct ServerDeleter
{
  void operator()(SPF_server_t* server) const { SPF_server_free(server); }
};
struct RequestDeleter
{
  void operator()(SPF_request_t* request) const { SPF_request_free(request); }
};
struct ResponseDeleter
{
  void operator()(SPF_response_t* response) const { SPF_response_free(response); }
};

//! Copy text into record n of rr (libspf2 allocates the buffer).
bool putText(SPF_dns_rr_t* rr, int n, const std::string& text)
{
  if (SPF_dns_rr_buf_realloc(rr, n, text.size() + 1) != SPF_E_SUCCESS) {
    return false;
  }
  std::memcpy(rr->rr[n]->txt, text.c_str(), text.size() + 1);
  return true;
}

} // namespace

struct SpfChecker::Impl
{
  Resolver& resolver;
  SPF_dns_server_t layer{};
  std::unique_ptr<SPF_server_t, ServerDeleter> server;
  bool sawUnknown = false;

  explicit Impl(Resolver& r) :
    resolver(r) {}

  static void destroyLayer(SPF_dns_server_t*)
  {
    // The layer is a member of Impl: nothing to free.
  }

  //! libspf2's C callback: nothing may unwind through libspf2, so a failure (bad_alloc) is a
  //! temporary DNS error and the result "unknown".
  static SPF_dns_rr_t* lookup(SPF_dns_server_t* layer, const char* domain, ns_type type, int shouldCache) noexcept
  {
    auto* self = static_cast<Impl*>(layer->hook);
    try {
      return answer(layer, domain, type, shouldCache);
    }
    catch (...) {
      self->sawUnknown = true;
      return SPF_dns_rr_new_init(layer, domain, type, 0, TRY_AGAIN);
    }
  }

  static SPF_dns_rr_t* answer(SPF_dns_server_t* layer, const char* domain, ns_type type, int /*shouldCache*/)
  {
    auto* self = static_cast<Impl*>(layer->hook);
    const DnsAnswer answer = self->resolver.resolve(domain, static_cast<uint16_t>(type));
    switch (answer.status) {
    case DnsStatus::Unknown:
      self->sawUnknown = true;
      return SPF_dns_rr_new_init(layer, domain, type, 0, TRY_AGAIN);
    case DnsStatus::NxDomain:
      return SPF_dns_rr_new_init(layer, domain, type, static_cast<int>(answer.ttl), HOST_NOT_FOUND);
    case DnsStatus::NoData:
      return SPF_dns_rr_new_init(layer, domain, type, static_cast<int>(answer.ttl), NO_DATA);
    case DnsStatus::Answer:
      break;
    }
    SPF_dns_rr_t* rr = SPF_dns_rr_new_init(layer, domain, type, static_cast<int>(answer.ttl), NETDB_SUCCESS);
    if (rr == nullptr) {
      return nullptr;
    }
    int n = 0;
    for (const auto& rdata : answer.rdata) {
      bool ok = false;
      switch (type) {
      case ns_t_a:
        if (rdata.size() == sizeof(in_addr) && SPF_dns_rr_buf_realloc(rr, n, sizeof(in_addr)) == SPF_E_SUCCESS) {
          std::memcpy(&rr->rr[n]->a, rdata.data(), sizeof(in_addr));
          ok = true;
        }
        break;
      case ns_t_aaaa:
        if (rdata.size() == sizeof(in6_addr) && SPF_dns_rr_buf_realloc(rr, n, sizeof(in6_addr)) == SPF_E_SUCCESS) {
          std::memcpy(&rr->rr[n]->aaaa, rdata.data(), sizeof(in6_addr));
          ok = true;
        }
        break;
      case ns_t_txt:
        if (auto text = txtFromWire(rdata)) {
          ok = putText(rr, n, *text);
        }
        break;
      case ns_t_mx:
        if (rdata.size() > 2) {
          if (auto name = dnsNameFromWire(std::string_view(rdata).substr(2))) {
            ok = putText(rr, n, *name);
          }
        }
        break;
      case ns_t_ptr:
        if (auto name = dnsNameFromWire(rdata)) {
          ok = putText(rr, n, *name);
        }
        break;
      default:
        break;
      }
      if (ok) {
        ++n;
      }
    }
    rr->num_rr = n;
    if (n == 0) {
      rr->herrno = NO_DATA;
    }
    return rr;
  }
};

SpfChecker::SpfChecker(Resolver& resolver) :
  d_impl(std::make_unique<Impl>(resolver))
{
  quietLibspf2Once();
  d_impl->layer.destroy = &Impl::destroyLayer;
  d_impl->layer.lookup = &Impl::lookup;
  d_impl->layer.name = "dmarcwatch-resolver";
  d_impl->layer.hook = d_impl.get();
  d_impl->server.reset(SPF_server_new_dns(&d_impl->layer, 0));
  if (!d_impl->server) {
    throw std::bad_alloc();
  }
}

SpfChecker::~SpfChecker() = default;

std::string SpfChecker::check(const IpAddress& ip, std::string_view domain)
{
  return query(ip, "postmaster@" + lowerAscii(domain), "");
}

SpfEnvelopeResult SpfChecker::checkEnvelope(const IpAddress& ip, std::string_view mailFrom, std::string_view helo)
{
  // Step: the identity (RFC 7208 2.4): MAIL FROM, or postmaster@HELO for the null sender.
  SpfEnvelopeResult out;
  std::string sender = lowerAscii(mailFrom);
  const std::string heloName = lowerAscii(helo);
  if (sender.empty()) {
    out.domain = heloName;
    sender = "postmaster@" + heloName;
  }
  else {
    const size_t at = sender.rfind('@');
    out.domain = at == std::string::npos ? sender : sender.substr(at + 1);
    if (at == std::string::npos) {
      sender = "postmaster@" + sender;
    }
  }
  while (!out.domain.empty() && out.domain.back() == '.') {
    out.domain.pop_back();
  }
  // An address literal or nothing at all is no domain to check.
  if (out.domain.empty() || out.domain.front() == '[' || out.domain.find('.') == std::string::npos) {
    out.result = "none";
    return out;
  }
  out.result = query(ip, sender, heloName);
  if (out.result == "unknown") {
    out.result = "temperror";
    out.timedOut = true;
  }
  return out;
}

std::string SpfChecker::query(const IpAddress& ip, const std::string& sender, const std::string& helo)
{
  if (d_impl->resolver.offline()) {
    return "unknown";
  }
  std::unique_ptr<SPF_request_t, RequestDeleter> request(SPF_request_new(d_impl->server.get()));
  if (!request) {
    throw std::bad_alloc();
  }
  const std::string address = ip.toString();
  const SPF_errcode_t set = ip.isV4() ? SPF_request_set_ipv4_str(request.get(), address.c_str())
                                      : SPF_request_set_ipv6_str(request.get(), address.c_str());
  if (set != SPF_E_SUCCESS) {
    return "unknown";
  }
  if (!helo.empty() && SPF_request_set_helo_dom(request.get(), helo.c_str()) != 0) {
    return "permerror";
  }
  if (SPF_request_set_env_from(request.get(), sender.c_str()) != 0) {
    return "permerror"; // not a domain libspf2 can evaluate
  }
  d_impl->sawUnknown = false;
  SPF_response_t* raw = nullptr;
  SPF_request_query_mailfrom(request.get(), &raw);
  std::unique_ptr<SPF_response_t, ResponseDeleter> response(raw);
  if (d_impl->sawUnknown) {
    return "unknown";
  }
  if (!response) {
    return "unknown";
  }
  // Step: the results of spf-check.hh only ("(invalid)", a request libspf2 could not run, is unknown).
  switch (SPF_response_result(response.get())) {
  case SPF_RESULT_PASS:
    return "pass";
  case SPF_RESULT_FAIL:
    return "fail";
  case SPF_RESULT_SOFTFAIL:
    return "softfail";
  case SPF_RESULT_NEUTRAL:
    return "neutral";
  case SPF_RESULT_NONE:
    return "none";
  case SPF_RESULT_PERMERROR:
    return "permerror";
  case SPF_RESULT_TEMPERROR:
    return "temperror";
  default:
    return "unknown";
  }
}

std::string SpfChecker::authorizingInclude(const IpAddress& ip, const std::vector<std::string>& includes)
{
  for (const auto& include : includes) {
    if (check(ip, include) == "pass") {
      return include;
    }
  }
  return "";
}

std::vector<std::string> SpfChecker::includeTree(std::string_view domain)
{
  constexpr size_t s_maxLookups = 10;
  // A hostile record of 64 KB could list thousands of includes: only the first ones count
  // (SPF itself stops at 10 look-ups), so the search below stays small.
  constexpr size_t s_maxTargets = 32;
  std::vector<std::string> out;
  std::vector<std::string> pending{lowerAscii(domain)};
  size_t lookups = 0;
  while (!pending.empty() && lookups < s_maxLookups) {
    const std::string name = std::move(pending.back());
    pending.pop_back();
    ++lookups;
    const DnsAnswer answer = d_impl->resolver.resolve(name, dnstype::txt);
    for (const auto& rdata : answer.rdata) {
      auto text = txtFromWire(rdata);
      if (!text || lowerAscii(text->substr(0, 7)) != "v=spf1 ") {
        continue;
      }
      // Step: the include: and redirect= targets of this record, in reverse for depth-first order.
      std::vector<std::string> targets;
      std::string_view rest = *text;
      while (!rest.empty()) {
        const size_t space = rest.find(' ');
        std::string term = lowerAscii(rest.substr(0, space));
        rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
        if (!term.empty() && std::string_view("+-~?").find(term.front()) != std::string_view::npos) {
          term.erase(0, 1); // a qualifier: the include is reached whatever it says
        }
        for (std::string_view prefix : {"include:", "redirect="}) {
          if (term.starts_with(prefix) && term.find('%') == std::string::npos && targets.size() < s_maxTargets) {
            targets.push_back(term.substr(prefix.size()));
          }
        }
      }
      for (auto it = targets.rbegin(); it != targets.rend(); ++it) {
        if (std::find(out.begin(), out.end(), *it) == out.end()) {
          out.push_back(*it);
          pending.push_back(*it);
        }
      }
    }
  }
  return out;
}

} // namespace dmarcwatch::collector
