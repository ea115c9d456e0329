/*
 * spf-check.hh - SPF authorization of a source IP for a domain, by libspf2,
 * every DNS look-up of it through our Resolver.
 *
 * libspf2 DNS layer: a custom SPF_dns_server_t whose lookup() asks the
 * Resolver (resolve(), blocking), not libspf2's zone layer fed by us.  The
 * zone layer would need every name libspf2 is going to ask before it asks:
 * include and redirect chains, a/mx targets, and exists: names built by macro
 * expansion from the very IP being checked.  Knowing them means evaluating SPF
 * ourselves, which is what libspf2 is for.  The custom layer asks on demand,
 * so the Resolver setting (forwarder and port), its timeouts, its TTL cache and
 * the store's DNS cache apply to SPF as to every other look-up, and a question
 * that timed out is visible to us (libspf2 itself would say temperror).
 *
 * Result: pass fail softfail neutral none permerror temperror, or unknown
 * when a look-up the evaluation needed timed out or SERVFAILed.  libspf2's own
 * limits hold: 10 mechanisms with look-ups (too many, or an include loop, is
 * permerror).
 *
 * Users: collector/enrich, collector/auth (checkEnvelope).  Thread-safety: an SpfChecker (its libspf2 server)
 * is used by one thread at a time, and its Resolver with it.  Errors: none for
 * DNS or record trouble (results); std::bad_alloc.
 */
#pragma once

#include "collector/common/ip-address.hh"
#include "collector/dns/resolver.hh"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

//! SPF of a mail's real envelope (RFC 8601 words).
struct SpfEnvelopeResult
{
  std::string result = "none"; //!< pass fail softfail neutral none permerror temperror
  std::string domain;          //!< the MAIL FROM domain checked, the HELO name for the null sender
  bool timedOut = false;       //!< a look-up was not answered (temperror)
};

class SpfChecker
{
public:
  //! \brief A libspf2 server whose DNS goes through resolver (kept by reference).
  explicit SpfChecker(Resolver& resolver);
  ~SpfChecker();
  SpfChecker(const SpfChecker&) = delete;
  SpfChecker& operator=(const SpfChecker&) = delete;

  /*!
   * \brief Evaluate the SPF record of domain for ip (as for MAIL FROM:<postmaster@domain>).
   * Blocks on DNS (at most the Resolver's timeout per look-up).  Must not be called from
   * inside a Resolver callback.
   * \return pass fail softfail neutral none permerror temperror unknown
   */
  std::string check(const IpAddress& ip, std::string_view domain);

  /*!
   * \brief Evaluate SPF for a mail's envelope: the client ip, MAIL FROM (without <>), and the HELO
   * name, which is the identity checked when MAIL FROM is empty (postmaster@HELO, RFC 7208 2.4).
   * A HELO address literal or a name without a dot gives "none".  Blocks on DNS like check();
   * a look-up that timed out (or Resolver none) gives temperror.
   */
  SpfEnvelopeResult checkEnvelope(const IpAddress& ip, std::string_view mailFrom, std::string_view helo);

  /*!
   * \brief Which of the given SPF include names (the catalog's spf-include rules) authorizes
   * ip by its own record: the first whose check() is pass.  \return "" when none does.
   */
  std::string authorizingInclude(const IpAddress& ip, const std::vector<std::string>& includes);

  /*!
   * \brief The names a domain's SPF record reaches through include: and redirect=, depth first,
   * itself excluded (names with macros are skipped; at most 10 look-ups, as SPF allows).
   * Blocks on DNS like check().  Lets a caller try only the catalog includes a domain uses.
   */
  std::vector<std::string> includeTree(std::string_view domain);

  struct Impl;

private:
  //! One libspf2 request for the sender address (and HELO name, "" none).  \return as check().
  std::string query(const IpAddress& ip, const std::string& sender, const std::string& helo);
  std::unique_ptr<Impl> d_impl;
};

} // namespace dmarcwatch::collector
