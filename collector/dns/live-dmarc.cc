/*
 * live-dmarc.cc - fetch and parse a live DMARC record (live-dmarc.hh).
 */
#include "config.h"

#include "collector/dns/live-dmarc.hh"

#include "collector/common/text.hh"
#include "collector/dns/opendmarc-lib.hh"

#include <algorithm>
#include <memory>

namespace dmarcwatch::collector
{

namespace
{

std::string policyName(int p)
{
  switch (p) {
  case DMARC_RECORD_P_NONE:
    return "none";
  case DMARC_RECORD_P_QUARANTINE:
    return "quarantine";
  case DMARC_RECORD_P_REJECT:
    return "reject";
  default:
    return "";
  }
}

//! The value of tag `name` in a tag list "v=DMARC1; p=none; ...", nullopt when absent.
std::optional<std::string> tagValue(std::string_view record, std::string_view name)
{
  size_t at = 0;
  while (at <= record.size()) {
    size_t end = record.find(';', at);
    if (end == std::string_view::npos) {
      end = record.size();
    }
    std::string_view part = trimAscii(record.substr(at, end - at));
    if (auto eq = part.find('='); eq != std::string_view::npos) {
      if (lowerAscii(trimAscii(part.substr(0, eq))) == name) {
        return std::string(trimAscii(part.substr(eq + 1)));
      }
    }
    at = end + 1;
  }
  return std::nullopt;
}

//! The TXT texts of an answer that start with v=DMARC1.
std::vector<std::string> dmarcRecords(const DnsAnswer& answer)
{
  std::vector<std::string> records;
  for (const auto& rdata : answer.rdata) {
    auto text = txtFromWire(rdata);
    if (text && lowerAscii(text->substr(0, 8)) == "v=dmarc1") {
      records.push_back(std::move(*text));
    }
  }
  return records;
}

size_t dmarcRecordCount(const DnsAnswer& answer)
{
  return answer.status == DnsStatus::Answer ? dmarcRecords(answer).size() : 0;
}

//! The record of _dmarc.domain from its answer: exactly one TXT starting with v=DMARC1
//! (RFC 7489 6.6.3); none or several: state none.
DmarcRecord dmarcRecordOf(const std::string& domain, const DnsAnswer& answer)
{
  DmarcRecord out;
  out.ttl = answer.ttl;
  if (answer.status == DnsStatus::Unknown) {
    out.state = "unknown";
    return out;
  }
  std::vector<std::string> records = dmarcRecords(answer);
  if (records.size() != 1) {
    out.state = "none";
    return out;
  }
  DmarcRecord parsed = parseDmarcRecord(domain, records.front());
  parsed.ttl = answer.ttl;
  parsed.domain = domain;
  parsed.record.resize(std::min(parsed.record.size(), s_maxRecordText));
  return parsed;
}

//! dmarcRecordOf for a Resolver callback, which nothing may leave: a failure (bad_alloc) is
//! state unknown.
DmarcRecord dmarcRecordOrUnknown(const std::string& domain, const DnsAnswer& answer) noexcept
{
  try {
    return dmarcRecordOf(domain, answer);
  }
  catch (...) {
    DmarcRecord out;
    out.state = "unknown"; // fits the small-string buffer: no allocation
    return out;
  }
}

} // namespace

DmarcRecord parseDmarcRecord(std::string_view domain, std::string_view record)
{
  initOpendmarcOnce();
  DmarcRecord out;
  out.state = "none";
  out.record = std::string(record);
  OpendmarcPolicy policy(opendmarc_policy_connect_init(reinterpret_cast<u_char*>(const_cast<char*>("0.0.0.0")),
                                                     DMARC_POLICY_IP_TYPE_IPV4));
  if (!policy) {
    return out;
  }
  std::string domainCopy(domain);
  std::string recordCopy(record);
  if (opendmarc_policy_store_dmarc(policy.get(), reinterpret_cast<u_char*>(recordCopy.data()),
                                   reinterpret_cast<u_char*>(domainCopy.data()), nullptr) != DMARC_PARSE_OKAY) {
    return out;
  }
  out.state = "found";
  int value = 0;
  if (opendmarc_policy_fetch_p(policy.get(), &value) == DMARC_PARSE_OKAY) {
    out.p = policyName(value);
  }
  if (tagValue(record, "sp") && opendmarc_policy_fetch_sp(policy.get(), &value) == DMARC_PARSE_OKAY) {
    out.sp = policyName(value);
  }
  if (tagValue(record, "pct") && opendmarc_policy_fetch_pct(policy.get(), &value) == DMARC_PARSE_OKAY && value >= 0) {
    out.pct = static_cast<unsigned>(value);
  }
  if (u_char** rua = opendmarc_policy_fetch_rua(policy.get(), nullptr, 0, 1); rua != nullptr) {
    for (size_t i = 0; rua[i] != nullptr; ++i) {
      out.rua.emplace_back(reinterpret_cast<const char*>(rua[i]));
    }
  }
  // Step: what libopendmarc 1.4.2 does not know.
  if (auto np = tagValue(record, "np")) {
    out.np = lowerAscii(*np);
  }
  if (auto testing = tagValue(record, "t")) {
    out.testing = lowerAscii(*testing);
  }
  return out;
}

void fetchDmarcRecord(Resolver& resolver, std::string_view domain, std::function<void(const DmarcRecord&)> done,
                      std::string_view orgDomain)
{
  std::string name = "_dmarc." + lowerAscii(domain);
  std::string fallback = lowerAscii(orgDomain) == lowerAscii(domain) ? std::string() : lowerAscii(orgDomain);
  resolver.submit(name, dnstype::txt,
                  [&resolver, domain = lowerAscii(domain), fallback = std::move(fallback),
                   done = std::move(done)](const DnsAnswer& answer) mutable {
                    const size_t found = dmarcRecordCount(answer);
                    // Step: no record at all: the organizational domain's (RFC 7489 6.6.3).
                    if (answer.status != DnsStatus::Unknown && found == 0 && !fallback.empty()) {
                      const uint32_t ttl = answer.ttl;
                      resolver.submit("_dmarc." + fallback, dnstype::txt,
                                      [fallback, ttl, done = std::move(done)](const DnsAnswer& orgAnswer) {
                                        DmarcRecord out = dmarcRecordOrUnknown(fallback, orgAnswer);
                                        out.ttl = std::min(out.ttl, ttl);
                                        done(out);
                                      });
                      return;
                    }
                    done(dmarcRecordOrUnknown(domain, answer));
                  });
}

} // namespace dmarcwatch::collector
