/*
 * enrich-pass.hh - one enrichment pass of dmarcwatchd: what DNS says about
 * every source of the store.
 *
 * For every source (the store's sources table: policy domain + IP) whose
 * enrichment is missing or expired:
 *   - per IP: PTR with forward confirmation (dns/ptr-check.hh), then the
 *     caller's GeoIP hook (ASN, AS org, country);
 *   - per (domain, IP): SPF authorization by the domain's live record
 *     (libspf2 through the resolver), and which catalog spf-include names the
 *     IP: among the include names the domain's SPF record reaches, the first
 *     whose own record passes the IP;
 *   - per domain: the live DMARC record (the organizational domain's when the
 *     domain publishes none, RFC 7489 6.6.3), and the live SPF record with
 *     the DNS look-ups it needs and its error (dns/spf-record.hh).
 * Results go back to the store in batches (one write transaction each), so
 * the milter waits for the write lock a few milliseconds at a time.  The
 * resolver's cache is loaded from the store's DNS cache first and saved back
 * at the end (expired entries pruned).
 *
 * Expiry: a PTR check lives for its answers' TTL, kept within [minRecheck,
 * maxRecheck]; SPF results for spfRecheck; a live policy for the smallest TTL
 * of its DMARC and SPF answers, kept within [minRecheck, maxRecheck]; an
 * Unknown anything (a DMARC record unknown, an SPF count in temperror) is
 * tried again after unknownRetry.
 *
 * A stop (EnrichOptions::stop) ends a pass within about 100 ms: what was
 * written stays (each batch is whole), the batch in hand and the DNS cache
 * save are skipped; the next pass finds that work due again.
 *
 * Users: collector/daemon (dmarcwatchd), the enrich tests.  Thread-safety: a
 * pass uses its Resolver and Store from the calling thread only.  Errors: DNS
 * trouble is never an error (Unknown results); StoreError propagates (the
 * store is unusable); an exception from the geo hook is logged and the
 * enrichment stored without GeoIP data.
 */
#pragma once

#include "collector/common/ip-address.hh"
#include "collector/dns/resolver.hh"
#include "collector/store/store.hh"

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

//! A source to enrich: a policy domain and an IP seen sending as it.
struct EnrichTarget
{
  std::string domain;
  IpAddress ip;
};

struct EnrichOptions
{
  //! The catalog's spf-include names (sources/catalog.hh, RuleKind::SpfInclude).
  std::vector<std::string> spfIncludes;
  //! Set by the caller to add ASN, AS org and country (GeoIP); may be empty.
  std::function<void(const IpAddress&, IpEnrichment&)> geo;
  //! The organizational domain of a policy domain (judge/public-suffix.hh), for the live DMARC
  //! record's fallback; may be empty (no fallback).  Must not throw.
  std::function<std::string(std::string_view)> organizationalDomain;
  size_t batchSize = 1000;        //!< IPs resolved and written per batch
  int64_t minRecheck = 3600;      //!< seconds: an IP is not checked again sooner
  int64_t maxRecheck = 7 * 86400; //!< seconds: nor later
  int64_t spfRecheck = 86400;     //!< seconds an SPF result is kept
  int64_t unknownRetry = 600;     //!< seconds before an Unknown result is tried again
  bool force = false;             //!< check every source, expired or not
  //! Set: only these sources (the new ones of a daemon pass), due ones as usual (or all with
  //! force), instead of every source of the store.
  std::optional<std::vector<EnrichTarget>> only;
  //! Set to true by another thread (or a signal handler) to end the pass early: questions in
  //! flight are cancelled within about 100 ms, and the batch being resolved is not written.
  const std::atomic<bool>* stop = nullptr;
};

struct EnrichSummary
{
  uint64_t sources = 0;         //!< in the store (with an IP)
  uint64_t ipsChecked = 0;      //!< PTR checks done
  uint64_t ptrConfirmed = 0;
  uint64_t ptrUnknown = 0;
  uint64_t spfChecked = 0;      //!< (domain, IP) SPF evaluations done
  uint64_t spfUnknown = 0;
  uint64_t policiesChecked = 0; //!< live DMARC and SPF records fetched (per domain)
  uint64_t enriched = 0;        //!< sources with anything new written
  uint64_t unknown = 0;         //!< sources with a PTR or SPF result of unknown
  bool stopped = false;         //!< EnrichOptions::stop ended the pass early
  double seconds = 0;
  //! Sources enriched per second of the pass.
  [[nodiscard]] double rate() const { return seconds > 0 ? static_cast<double>(enriched) / seconds : 0; }
};

//! "sources N, enriched N, unknown N, PTR confirmed N, SPF checked N, DMARC records N, S s,
//! R sources/s": what `dmarcwatchd --once` prints.
std::string summaryLine(const EnrichSummary& summary);

/*!
 * \brief Run one pass (file comment).  Blocks for the DNS look-ups and the store's write lock
 * (until options.stop becomes true, then about 100 ms more at most).
 * \throw StoreError
 */
EnrichSummary runEnrichmentPass(Store& store, Resolver& resolver, const EnrichOptions& options);

} // namespace dmarcwatch::collector
