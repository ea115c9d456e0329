/*
 * catalog.hh - the service catalog: which services send mail, and the rules
 * that recognise them (DKIM signing domains and selectors, envelope-from
 * domains, PTR suffixes, ARC sealers, AS numbers, SPF include names).
 *
 * Users: the naming step of the daemon and the CLI (issue 11); the catalog
 * check in t/unit/test-catalog.cc.  The format is documented in
 * contrib/services/README; the shipped files live in contrib/services/ and are
 * installed under PKGDATADIR/services.
 *
 * A Catalog is built by a CatalogBuilder (add files or text, then build());
 * once built it is immutable and may be shared between threads
 * (std::shared_ptr<const Catalog>); look-ups never allocate more than their
 * result and never block.
 *
 * Error policy: the files are ours or the admin's, read at start, so any
 * mistake is a ConfigError "FILE:LINE: message" and the whole catalog is
 * refused (a half-loaded catalog would name senders wrongly).  Caps on file
 * size, line length, service and rule counts bound what a broken or hostile
 * file can cost.
 */
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dmarcwatch::collector
{

struct Config;

enum class ServiceCategory : uint8_t
{
  MailboxProvider,
  EspTransactional,
  EspMarketing,
  MarketingAutomation,
  Crm,
  Helpdesk,
  HrPayroll,
  BillingFinance,
  Ecommerce,
  SaasNotifications,
  SecurityGateway,
  WebHostRelay,
  Forwarder,
  MailingList,
  Admin, //!< declared in the admin's configuration (own networks)
};

//! The category's name as written in the files ("esp-marketing").
std::string_view categoryName(ServiceCategory category);
//! \brief The category of a name, or nothing for an unknown name.
std::optional<ServiceCategory> parseCategory(std::string_view name);

//! Service flags (`flags` line), a bit set.
enum ServiceFlag : uint32_t
{
  FlagForwards = 1U << 0,
  FlagRelay = 1U << 1,
  FlagModifiesMessages = 1U << 2,
  FlagRewrites = 1U << 3,
  FlagSharedInfrastructure = 1U << 4,
  FlagSendsForOtherBrands = 1U << 5,
  FlagApiBased = 1U << 6,
};

enum class RuleKind : uint8_t
{
  Dkim,
  SpfDomain,
  Ptr,
  Arc,
  Asn,
  SpfInclude,
  DkimSelector, //!< a selector a service's setup guide tells customers to publish
};

//! The key that introduces a rule of this kind ("spf-include").
std::string_view ruleKindName(RuleKind kind);

struct CatalogRule
{
  RuleKind kind = RuleKind::Dkim;
  std::string value;    //!< lower-case domain, suffix or include name; empty for Asn
  std::string selector; //!< Dkim only; empty = any selector
  uint32_t asn = 0;     //!< Asn only
  //! Asn: not `shared`; SpfInclude: `exclusive`; the domain kinds: not `shared`.
  bool exclusive = false;
  unsigned line = 0;
};

struct Service
{
  std::string id;
  std::string name;
  std::string operatorName;
  ServiceCategory category = ServiceCategory::MailboxProvider;
  uint32_t flags = 0;
  std::vector<CatalogRule> rules;
  std::string file; //!< where it was declared
  unsigned line = 0;
};

//! A look-up hit: the service and the rule that matched.
struct CatalogMatch
{
  const Service* service = nullptr;
  const CatalogRule* rule = nullptr;
};

//! Caps on what one catalog may hold (defaults fit the shipped catalog many times over).
struct CatalogLimits
{
  uint64_t maxFileBytes = 1U << 20;
  size_t maxLineBytes = 1024;
  size_t maxFiles = 256;
  size_t maxServices = 20000;
  size_t maxRulesPerService = 256;
};

class Catalog
{
public:
  [[nodiscard]] const std::vector<Service>& services() const { return d_services; }
  //! \brief The service with this id, or nullptr.
  [[nodiscard]] const Service* find(std::string_view id) const;

  //! \brief Services whose DKIM rule covers d= domain (itself or a parent), longest suffix first
  //! considered: only the hits at the longest matching suffix are returned; a rule with the
  //! signature's selector beats one without.  Domain case does not matter.  Never blocks.
  [[nodiscard]] std::vector<CatalogMatch> byDkim(std::string_view domain, std::string_view selector = {}) const;
  //! \brief Services by envelope-from (SPF) domain, longest matching suffix.
  [[nodiscard]] std::vector<CatalogMatch> bySpfDomain(std::string_view domain) const;
  //! \brief Services by a (forward-confirmed) PTR name, longest matching suffix.
  [[nodiscard]] std::vector<CatalogMatch> byPtr(std::string_view hostname) const;
  //! \brief Services by ARC-Seal d= domain, longest matching suffix.
  [[nodiscard]] std::vector<CatalogMatch> byArc(std::string_view domain) const;
  //! \brief Services announcing this AS (check rule->exclusive before naming on it alone).
  [[nodiscard]] std::vector<CatalogMatch> byAsn(uint32_t asn) const;
  //! \brief Services by the selector of a signature with the customer's own d= (exact,
  //! case-insensitive): s=google is Google Workspace's key in the customer's zone.
  [[nodiscard]] std::vector<CatalogMatch> byDkimSelector(std::string_view selector) const;
  //! \brief Services by an SPF include name (exact, case-insensitive).
  [[nodiscard]] std::vector<CatalogMatch> bySpfInclude(std::string_view name) const;

private:
  friend class CatalogBuilder;
  //! Hashes std::string and std::string_view alike, so look-ups by view do not allocate.
  struct NameHash
  {
    using is_transparent = void;
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  using Index = std::unordered_map<std::string, std::vector<CatalogMatch>, NameHash, std::equal_to<>>;
  [[nodiscard]] std::vector<CatalogMatch> bySuffix(const Index& index, std::string_view name,
                                                   std::string_view selector) const;

  std::vector<Service> d_services;
  std::unordered_map<std::string, size_t, NameHash, std::equal_to<>> d_byId;
  Index d_dkim, d_spfDomain, d_ptr, d_arc, d_spfInclude, d_dkimSelector;
  std::unordered_map<uint32_t, std::vector<CatalogMatch>> d_asn;
};

class CatalogBuilder
{
public:
  explicit CatalogBuilder(CatalogLimits limits = {}) :
    d_limits(limits)
  {
  }
  //! \brief Parse catalog text; file names it in errors. \throw ConfigError "FILE:LINE: message"
  void addText(std::string_view text, const std::string& file);
  //! \brief Read and parse one file (O_NOFOLLOW, size cap). Blocks on file I/O. \throw ConfigError
  void addFile(const std::string& path);
  //! \brief Every `*.services` file of a directory, in name order. \throw ConfigError
  void addDirectory(const std::string& dir);
  //! \brief Check the whole catalog (ids unique, exclusive rules claimed once, no rule twice)
  //! and index it. The builder is spent afterwards. \throw ConfigError naming both places
  std::shared_ptr<const Catalog> build();

private:
  CatalogLimits d_limits;
  std::vector<Service> d_services;
  size_t d_files = 0;
};

//! \brief Every Authorize line of the configuration names services of the catalog.
//! \throw ConfigError "CONFIG:LINE: Authorize: unknown service 'x'"
void checkAuthorizations(const Config& config, const Catalog& catalog);
//! \brief The catalog a configuration asks for: the ServiceCatalog directory (unless "none"),
//! then each ServiceFile; Authorize checked against it. Blocks on file I/O. \throw ConfigError
std::shared_ptr<const Catalog> loadCatalog(const Config& config, CatalogLimits limits = {});

//! \brief A service id: 1-63 of [a-z0-9-], starting with a letter or digit.
bool isServiceId(std::string_view id);

} // namespace dmarcwatch::collector
