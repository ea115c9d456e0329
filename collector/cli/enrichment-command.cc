/*
 * enrichment-command.cc - `dmarcwatch db enrichment [--json]`: what dmarcwatchd
 * stored from DNS (store/enrichment.hh), table by table: per IP (PTR state and
 * name, ASN, country), per domain and IP (SPF result, authorizing include),
 * per domain (the live DMARC record, whose domain it came from, the live SPF
 * record, its DNS look-up count and error).  For the admin and the integration test;
 * read-only, so it runs beside the milter and the daemon.
 */
#include "config.h"

#include "collector/cli/cli-commands.hh"

#include "collector/common/json.hh"
#include "collector/common/log.hh"
#include "collector/store/store.hh"

#include <iostream>

namespace dmarcwatch::cli
{
using namespace collector;

int runDbEnrichment(const Config& config, bool json)
{
  Store store(config.database, storeOptions(config, true));
  JsonWriter out;
  out.beginObject().key("database").value(config.database);
  // Step: per source IP.
  out.key("ips").beginArray();
  store.forEachIpEnrichment([&](const IpAddress& ip, const IpEnrichment& value) {
    if (json) {
      out.beginObject().key("ip").value(ip.toString()).key("ptr_state").value(ptrStateName(value.ptrState))
        .key("ptr_name").value(value.ptrName).key("asn").value(value.asn).key("as_org").value(value.asOrg)
        .key("country").value(value.country).key("checked_at").value(value.checkedAt)
        .key("expires_at").value(value.expiresAt).endObject();
      return;
    }
    std::cout << "ip " << ip.toString() << " ptr " << ptrStateName(value.ptrState)
              << (value.ptrName.empty() ? "" : " " + printable(value.ptrName)) << " asn " << value.asn
              << (value.country.empty() ? "" : " country " + printable(value.country)) << "\n";
  });
  out.endArray();
  // Step: per (domain, IP).
  out.key("spf").beginArray();
  store.forEachSpfAuthorization([&](const std::string& domain, const IpAddress& ip, const SpfAuthorization& value) {
    if (json) {
      out.beginObject().key("domain").value(domain).key("ip").value(ip.toString()).key("result").value(value.result)
        .key("include").value(value.include).key("checked_at").value(value.checkedAt)
        .key("expires_at").value(value.expiresAt).endObject();
      return;
    }
    std::cout << "spf " << printable(domain) << " " << ip.toString() << " " << value.result
              << (value.include.empty() ? "" : " include " + printable(value.include)) << "\n";
  });
  out.endArray();
  // Step: per domain.
  out.key("policies").beginArray();
  store.forEachLivePolicy([&](const std::string& domain, const LivePolicy& value) {
    if (json) {
      out.beginObject().key("domain").value(domain).key("state").value(value.state).key("record").value(value.record)
        .key("p").value(value.p).key("sp").value(value.sp).key("np").value(value.np).key("t").value(value.testing);
      out.key("pct");
      if (value.pct) {
        out.value(*value.pct);
      }
      else {
        out.null();
      }
      out.key("rua").stringArray(value.rua).key("record_domain").value(value.recordDomain)
        .key("spf_record").value(value.spfRecord).key("spf_lookups");
      if (value.spfLookups) {
        out.value(*value.spfLookups);
      }
      else {
        out.null();
      }
      out.key("spf_error").value(value.spfError).key("checked_at").value(value.checkedAt)
        .key("expires_at").value(value.expiresAt).endObject();
      return;
    }
    const bool inherited = !value.recordDomain.empty() && value.recordDomain != domain;
    std::cout << "dmarc " << printable(domain) << " " << value.state
              << (inherited ? " from " + printable(value.recordDomain) : "")
              << (value.record.empty() ? "" : " \"" + printable(value.record, 500) + "\"") << "\n";
    std::cout << "spf-record " << printable(domain) << " lookups "
              << (value.spfLookups ? std::to_string(*value.spfLookups) : std::string("unknown"))
              << (value.spfError.empty() ? "" : " error \"" + printable(value.spfError) + "\"")
              << (value.spfRecord.empty() ? "" : " \"" + printable(value.spfRecord, 500) + "\"") << "\n";
  });
  out.endArray().endObject();
  if (json) {
    std::cout << out.str() << "\n";
  }
  return 0;
}

} // namespace dmarcwatch::cli
