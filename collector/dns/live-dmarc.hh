/*
 * live-dmarc.hh - a domain's DMARC record as published now, fetched by us.
 *
 * The report says which policy the reporter applied; the daemon also fetches
 * TXT _dmarc.DOMAIN itself (through the Resolver) so the admin sees what is
 * published today.  The record is parsed by libopendmarc
 * (opendmarc_policy_store_dmarc: p, sp, pct, rua); libopendmarc 1.4.2 knows
 * no np and no t, so those two tags are read from the record's tag list here.
 * Organizational-domain fallback (RFC 7489 6.6.3): when _dmarc.DOMAIN holds
 * no DMARC record at all, the caller's organizational domain's record is
 * fetched and used (DmarcRecord::domain says whose it is); several records at
 * DOMAIN end the discovery there (state "none").  The text kept is capped at
 * s_maxRecordText (dns-wire.hh).
 *
 * Users: collector/enrich.  Thread-safety: libopendmarc's library state is
 * set once (std::call_once); each parse has its own policy context, so
 * parseDmarcRecord may run on several threads.  Errors: none; a record
 * libopendmarc refuses is state "none" with the record kept.
 */
#pragma once

#include "collector/dns/resolver.hh"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

struct DmarcRecord
{
  std::string state;  //!< found, none (no record, several, or one libopendmarc refuses), unknown
  std::string record; //!< the TXT text as published ("" when none)
  std::string p, sp, np; //!< none quarantine reject, "" when absent
  std::string testing;   //!< the t= tag as written ("y", "n"), "" when absent
  std::optional<unsigned> pct; //!< only when the record carries pct=
  std::vector<std::string> rua;
  uint32_t ttl = 0;
  std::string domain; //!< whose _dmarc record it is (the domain or its organizational domain), "" none
};

/*!
 * \brief Parse one record with libopendmarc (plus np and t).
 * \return state "found", or "none" when libopendmarc refuses it (record kept).
 */
DmarcRecord parseDmarcRecord(std::string_view domain, std::string_view record);

/*!
 * \brief Queue TXT _dmarc.DOMAIN, and TXT _dmarc.ORGDOMAIN when DOMAIN has no DMARC record and
 * orgDomain is another domain ("": no fallback); done runs once inside resolver.run().
 * Does not block.
 */
void fetchDmarcRecord(Resolver& resolver, std::string_view domain, std::function<void(const DmarcRecord&)> done,
                      std::string_view orgDomain = "");

} // namespace dmarcwatch::collector
