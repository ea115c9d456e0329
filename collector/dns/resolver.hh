/*
 * resolver.hh - the daemon's one DNS resolver: libunbound, asynchronous, bounded.
 *
 * Every DNS look-up of dmarcwatchd goes through a Resolver: PTR and forward
 * confirmation (ptr-check.hh), the live DMARC record (live-dmarc.hh), the live
 * SPF record and its look-up count (spf-record.hh) and
 * libspf2's look-ups (spf-check.hh).  The `Resolver` setting chooses where
 * questions go:
 *   HOST[@PORT]  forward every question to that server (an IP address; e.g. 127.0.0.1@5353)
 *   system       the servers of /etc/resolv.conf
 *   none         offline: every look-up answers Unknown at once, nothing is sent
 *
 * Questions are queued with submit() and answered by run(), which keeps at most
 * maxInFlight of them at libunbound (ub_resolve_async, woken through ub_fd) and
 * gives each its own deadline: a question unanswered by then is cancelled and
 * answered Unknown.  Answers are cached in memory with their TTL (negative
 * answers too, Unknown never), and the cache can be saved to and loaded from
 * the store (cacheEntries / preload).
 *
 * Users: collector/enrich (one pass of the daemon), the dns unit tests.
 * Thread-safety: one thread at a time (libunbound itself runs its own worker
 * thread, ub_ctx_async).  Callbacks run inside run()/resolve() on the caller's
 * thread and may submit more questions; they must not call run() or resolve().
 * Errors: expected DNS outcomes (timeout, SERVFAIL, REFUSED, NXDOMAIN) are values,
 * never exceptions; ConfigError for a bad setting; std::runtime_error when
 * libunbound cannot be set up at all (out of memory, no resolv.conf for system).
 */
#pragma once

#include "collector/common/ip-address.hh"
#include "collector/common/resolver-spec.hh"
#include "collector/dns/dns-wire.hh"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

//! DNS record types the daemon asks for.
namespace dnstype
{
inline constexpr uint16_t a = 1;
inline constexpr uint16_t ptr = 12;
inline constexpr uint16_t mx = 15;
inline constexpr uint16_t txt = 16;
inline constexpr uint16_t aaaa = 28;
} // namespace dnstype

//! What became of a question.
enum class DnsStatus : uint8_t
{
  Answer = 0,   //!< rcode NOERROR with records of the type asked
  NoData = 1,   //!< the name exists, no records of that type
  NxDomain = 2, //!< the name does not exist
  Unknown = 3,  //!< timeout, SERVFAIL, REFUSED, offline: nothing known
};
//! "answer", "nodata", "nxdomain", "unknown".
std::string_view dnsStatusName(DnsStatus status);

//! An answer as libunbound gave it (rdata in wire format) or as the cache kept it.
struct DnsAnswer
{
  DnsStatus status = DnsStatus::Unknown;
  int rcode = -1;                 //!< DNS rcode (-1: no reply at all)
  uint32_t ttl = 0;               //!< seconds the answer may be kept
  std::vector<std::string> rdata; //!< one wire-format rdata per record of the type asked
};

//! One cached answer, as saved to the store's DNS cache (store/enrichment.hh).
struct DnsCacheEntry
{
  uint16_t type = 0;
  std::string name; //!< lower case, no trailing dot
  DnsAnswer answer;
  int64_t expiresAt = 0; //!< epoch seconds
};

struct ResolverOptions
{
  std::string spec = "none";                   //!< the Resolver setting
  unsigned maxInFlight = 64;                    //!< questions at libunbound at once
  std::chrono::milliseconds timeout{5000};      //!< per question, from when it is sent
  uint32_t negativeTtl = 300;                   //!< TTL of NXDOMAIN/NODATA without a SOA minimum
  uint32_t maxTtl = 86400;                      //!< cache entries live at most this long
  std::function<int64_t()> clock;               //!< epoch seconds for the cache; empty: time()
};

class Resolver
{
public:
  using Callback = std::function<void(const DnsAnswer&)>;

  /*!
   * \brief Set up libunbound for the setting (nothing is sent yet).
   * \throw ConfigError (bad setting), std::runtime_error (libunbound refused its configuration)
   */
  explicit Resolver(const ResolverOptions& options);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  //! True for `Resolver none`: every answer is Unknown at once.
  [[nodiscard]] bool offline() const;

  /*!
   * \brief Queue a question; the callback runs inside run() (at once there for a cached
   * answer).  Does not block.  The name may carry a trailing dot; case does not matter.
   */
  void submit(std::string_view name, uint16_t type, Callback callback);
  /*!
   * \brief Answer every queued question, and those the callbacks queue, then return.
   * Blocks: at most about timeout x (questions / maxInFlight).  Never throws for DNS
   * trouble; an exception thrown by a callback propagates after every other question is
   * dropped (cancelled; their callbacks never run), so the resolver is clean for the next run.
   */
  void run();
  /*!
   * \brief One question, answered now (submit + run).  Blocks up to the timeout.
   * Must not be called from inside a callback.
   */
  DnsAnswer resolve(std::string_view name, uint16_t type);

  /*!
   * \brief While *stop is true, run() drops every question (cancelled at libunbound; their
   * callbacks never run) and returns within about 100 ms; resolve() then answers Unknown.
   * nullptr: no stop.  The flag must outlive its use here.
   */
  void setStop(const std::atomic<bool>* stop);

  /*!
   * \brief A deadline for every question from now on (one report mail's checks share one,
   * AuthTimeout): a question is cancelled and answered Unknown at the earlier of its own timeout
   * and the deadline; past it nothing is sent (cached answers still count).  nullopt: none.
   */
  void setDeadline(std::optional<std::chrono::steady_clock::time_point> deadline);

  //! The cached answers that have not expired (to save them).
  [[nodiscard]] std::vector<DnsCacheEntry> cacheEntries() const;
  //! Put saved answers back into the cache (expired ones are ignored).
  void preload(const std::vector<DnsCacheEntry>& entries);

  //! Counters since construction.
  struct Stats
  {
    uint64_t questions = 0; //!< submitted
    uint64_t sent = 0;      //!< went to libunbound (not from the cache)
    uint64_t cacheHits = 0;
    uint64_t timeouts = 0;
    uint64_t unknown = 0;   //!< answered Unknown (timeouts included)
    size_t peakInFlight = 0; //!< the most questions at libunbound at once (at most maxInFlight)
  };
  [[nodiscard]] Stats stats() const;
  //! Epoch seconds by the options' clock.
  [[nodiscard]] int64_t now() const;

  struct Impl;

private:
  void runQuestions();
  std::unique_ptr<Impl> d_impl;
};

} // namespace dmarcwatch::collector
