/*
 * status-naming.hh - the names, categories and classes of what `status` shows.
 *
 * Status sums its services by authenticated identity (store/identity.hh: the
 * first passing DKIM d=, else the passing SPF domain), so that it stays fast over
 * a year of reports.  This step turns those identities into catalog services
 * (sources/naming.hh evidence kinds dkim, spf-domain), merges identities of one
 * service, and classes each service; the top sources get the admin's networks
 * too.  Per-source evidence from DNS (PTR, ASN, SPF includes) is `dmarcwatch
 * sources` and `services`, which read every source.
 *
 * Thread-safety: pure over its arguments.  Errors: none (bad_alloc).
 */
#pragma once

#include "collector/judge/public-suffix.hh"
#include "collector/sources/naming.hh"
#include "collector/views/sources-view.hh"
#include "collector/views/status-view.hh"

namespace dmarcwatch::collector
{

/*!
 * \brief Name the services and top sources of a status.  A merged service's `sources` is
 * the sum over its identities (a source that signed with two identities of one service
 * counts twice), its AuthCounts the sum, its sample the larger.  Each service gets its
 * failure and fix in words (readiness.hh).  With a look-up (sources-view.hh
 * storedNetworkLookup), the top and failing sources get what the daemon learnt of them:
 * country, AS, confirmed PTR, and the naming that evidence gives.  Does not block.
 */
void nameStatus(DomainStatus& status, const Namer& namer, const PublicSuffixList& psl,
                const NetworkLookup& lookup = {});

} // namespace dmarcwatch::collector
