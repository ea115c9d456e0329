/*
 * naming.hh - who a source is and whether it may send as the domain: the
 * service a source IP sends for, how sure we are, the evidence, and its class.
 *
 * Evidence, in independent kinds (one vote each, however many rules of a kind match):
 *   dkim         a passing DKIM signature whose d= (and s=) a catalog rule covers, or, for a
 *                signature aligned with the policy domain (the customer's own d=) that no
 *                rule covers, whose selector is a service's (dkim-selector); a spoofer's own
 *                d= with s=google names nobody
 *   spf-domain   a passing SPF result for an envelope-from domain a rule covers
 *   ptr          a forward-confirmed PTR name under a rule's suffix (an unconfirmed PTR
 *                is shown but names nobody: anyone can publish any PTR for their own IP)
 *   asn          the origin AS of the address (a `shared` AS only corroborates)
 *   spf-include  the catalog include of the domain's live SPF record that authorizes the IP
 *                (a non-exclusive include only corroborates)
 *   network      the admin's own network (`Network` in the configuration): names at once
 * Failing DKIM signatures name nobody either: a spoofer may sign as anyone and fail.
 * The service with the most naming kinds wins (ties: the one with a DKIM vote, then the
 * catalog's order); confidence is how many kinds agree on it (1 low, 2 medium, 3+ high).
 *
 * Class, first that holds (authorized has two steps, around forwarder):
 *   authorized             an admin network, or a service the admin authorized for the domain
 *                          (`Authorize`: even while it fails - the failure is shown apart)
 *   forwarder              the reporter applied a forwarding override (forwarded,
 *                          mailing_list, trusted_forwarder, local_policy with arc=pass), the
 *                          service is a forwarder or list host, or an aligned DKIM signature
 *                          passed and SPF did not from a source no service claims (a forwarder
 *                          keeps the domain's signature, not its envelope) - even when DMARC
 *                          passed by that signature
 *   authorized             most of its mail passes DMARC (aligned SPF/DKIM)
 *   known-not-authorized   a named service, failing DMARC, not authorized
 *   suspicious             failing, unknown, and at least suspiciousMessages messages
 *   unknown                the rest
 *
 * Users: the `sources`, `services` and `status` views, the daemon.  Depends on
 * common and the catalog only: callers turn stored outcomes and enrichment into
 * the plain inputs below.  Thread-safety: a Namer is immutable after
 * construction and may be shared between threads.  Errors: none (bad_alloc).
 */
#pragma once

#include "collector/common/config.hh"
#include "collector/common/ip-address.hh"
#include "collector/common/ptr-state.hh"
#include "collector/sources/catalog.hh"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

enum class SourceClass : uint8_t
{
  Authorized,
  Forwarder,
  KnownNotAuthorized,
  Suspicious,
  Unknown,
};

//! "authorized", "forwarder", "known-not-authorized", "suspicious", "unknown".
std::string_view sourceClassName(SourceClass cls);

enum class EvidenceKind : uint8_t
{
  Dkim,
  SpfDomain,
  Ptr,
  Asn,
  SpfInclude,
  Network,
};

//! "dkim", "spf-domain", "ptr", "asn", "spf-include", "network".
std::string_view evidenceKindName(EvidenceKind kind);

//! Reporter overrides, as a bit set (the policy_evaluated reason types).
enum OverrideFlag : uint32_t
{
  OverrideForwarded = 1U << 0,
  OverrideMailingList = 1U << 1,
  OverrideLocalPolicy = 1U << 2,
  OverrideTrustedForwarder = 1U << 3,
  OverrideSampledOut = 1U << 4,
  OverridePolicyTestMode = 1U << 5,
  OverrideArcPass = 1U << 6, //!< a local_policy whose comment says arc=pass
  OverrideOther = 1U << 7,
};

//! \brief The flag of a policy_evaluated reason type and its comment (case-insensitive).
uint32_t overrideFlag(std::string_view type, std::string_view comment = {});

//! What the reports say about a source (the union over its records).
struct ReportSignals
{
  struct Dkim
  {
    std::string domain;
    std::string selector;
    bool pass = false;
    //! d= is under the policy domain's organizational domain (the caller judges it with the
    //! public suffix list): only then may its selector name a service, and only then does a
    //! passing signature with failing SPF look forwarded.
    bool aligned = false;
  };
  struct Spf
  {
    std::string domain;
    bool pass = false;
    bool aligned = false; //!< as Dkim::aligned
  };
  std::vector<Dkim> dkim;
  std::vector<Spf> spf;
  uint32_t overrides = 0; //!< OverrideFlag bits
  //! false: the SPF results are not known (status names identities, not records), so the
  //! source can never look forwarded by DKIM passing without SPF.
  bool spfKnown = true;
  uint64_t messages = 0;
  uint64_t dmarcPass = 0;
  uint64_t dmarcFail = 0;
};

//! What DNS and GeoIP said about a source (the daemon's enrichment); defaults: nothing known.
struct NetworkSignals
{
  PtrState ptr = PtrState::Unknown;
  std::string ptrName;
  uint32_t asn = 0;
  std::string asOrg;
  std::string country;
  std::string spfResult;  //!< the domain's live SPF for this IP: pass, fail, softfail, ... "" unknown
  std::string spfInclude; //!< the catalog include that authorizes it, "" none
};

struct Evidence
{
  EvidenceKind kind = EvidenceKind::Dkim;
  std::string detail;             //!< "d=sendgrid.net", "PTR o1.ptr.sendgrid.net (confirmed)", "AS11377"
  const Service* service = nullptr; //!< the service it points at, nullptr: none
  bool names = false;             //!< may name the service on its own (else corroborates only)
  bool ignored = false;           //!< shown, but names nobody (not passing, unconfirmed PTR)
};

//! The verdict on one source.
struct SourceName
{
  const Service* service = nullptr; //!< nullptr: no catalog service (see network)
  const OwnNetwork* network = nullptr; //!< the admin's own network holding the address
  unsigned confidence = 0;            //!< independent kinds of evidence that agree
  SourceClass cls = SourceClass::Unknown;
  std::vector<Evidence> evidence;     //!< everything seen, the winner's first

  //! The name to show: the service, the network, or "" when unknown.
  [[nodiscard]] std::string displayName() const;
  //! The category to show: the service's, "own-network", or "unknown".
  [[nodiscard]] std::string_view categoryName() const;
  //! "high", "medium", "low", "none".
  [[nodiscard]] std::string_view confidenceName() const;
};

class Namer
{
public:
  struct Options
  {
    //! A failing unknown source with at least this many messages is suspicious.
    uint64_t suspiciousMessages = 100;
  };
  //! \param catalog may be null (no catalog: only networks and classes).
  Namer(std::shared_ptr<const Catalog> catalog, std::shared_ptr<const Config> config, Options options);

  /*!
   * \brief Name and classify one source of a policy domain (lower-case).
   * \param ip nullopt for records without a source address.  Pure: does not block.
   */
  [[nodiscard]] SourceName name(std::string_view domain, const std::optional<IpAddress>& ip,
                                const ReportSignals& report, const NetworkSignals& network) const;

  //! \brief True when the admin authorized this service id for the domain (`Authorize`).
  [[nodiscard]] bool authorized(std::string_view domain, std::string_view serviceId) const;

  [[nodiscard]] const Catalog* catalog() const { return d_catalog.get(); }

private:
  std::shared_ptr<const Catalog> d_catalog;
  std::shared_ptr<const Config> d_config;
  Options d_options;
};

} // namespace dmarcwatch::collector
