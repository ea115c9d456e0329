/*
 * catalog.cc - parse, check and index the service catalog (catalog.hh).
 */
#include "collector/sources/catalog.hh"

#include "collector/common/config-file.hh"
#include "collector/common/config-keys.hh"
#include "collector/common/config.hh"
#include "collector/common/errors.hh"
#include "collector/common/text.hh"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <dirent.h>
#include <map>

namespace dmarcwatch::collector
{

namespace
{

constexpr std::array<std::string_view, 15> s_categoryNames{
  "mailbox-provider", "esp-transactional", "esp-marketing", "marketing-automation", "crm", "helpdesk",
  "hr-payroll", "billing-finance", "ecommerce", "saas-notifications", "security-gateway", "web-host-relay",
  "forwarder", "mailing-list", "admin"};

struct FlagName
{
  std::string_view name;
  uint32_t bit;
};
constexpr std::array<FlagName, 7> s_flagNames{{{"forwards", FlagForwards},
                                               {"relay", FlagRelay},
                                               {"modifies-messages", FlagModifiesMessages},
                                               {"rewrites", FlagRewrites},
                                               {"shared-infrastructure", FlagSharedInfrastructure},
                                               {"sends-for-other-brands", FlagSendsForOtherBrands},
                                               {"api-based", FlagApiBased}}};

constexpr size_t s_maxTextField = 100;

//! The rule's identity for the uniqueness checks ("dkim sendgrid.net/s1", "asn 11377").
std::string ruleKey(const CatalogRule& rule)
{
  std::string key(ruleKindName(rule.kind));
  key += ' ';
  if (rule.kind == RuleKind::Asn) {
    key += std::to_string(rule.asn);
  }
  else {
    key += rule.value;
    if (!rule.selector.empty()) {
      key += '/';
      key += rule.selector;
    }
  }
  return key;
}

class FileParser
{
public:
  FileParser(const std::string& file, const CatalogLimits& limits, std::vector<Service>& out) :
    d_file(file), d_limits(limits), d_out(out)
  {
  }

  void parse(std::string_view text)
  {
    // Step: one statement per line; a stanza runs from `service` to the next one.
    forEachStatement(text, d_file, d_limits.maxLineBytes, [this](std::string_view line, unsigned number) {
      d_line = number;
      statement(line);
    });
    finishService();
  }

private:
  [[noreturn]] void fail(const std::string& message) const { throw ConfigError(d_file, d_line, message); }

  void statement(std::string_view line)
  {
    auto key = lowerAscii(nextWord(line));
    if (key == "service") {
      finishService();
      auto id = nextWord(line);
      if (!isServiceId(id) || !line.empty()) {
        fail("service needs one id of lower-case letters, digits and '-' (at most 63)");
      }
      if (d_out.size() >= d_limits.maxServices) {
        fail("more than " + std::to_string(d_limits.maxServices) + " services");
      }
      d_current.emplace();
      d_current->id = std::string(id);
      d_current->file = d_file;
      d_current->line = d_line;
      d_seen.clear();
      return;
    }
    if (!d_current) {
      fail("'" + key + "' before the first 'service' line");
    }
    Service& svc = *d_current;
    if (key == "name" || key == "operator") {
      once(key);
      if (line.empty() || line.size() > s_maxTextField) {
        fail(key + " needs text of 1 to " + std::to_string(s_maxTextField) + " characters");
      }
      (key == "name" ? svc.name : svc.operatorName) = std::string(line);
    }
    else if (key == "category") {
      once(key);
      auto word = nextWord(line);
      auto category = parseCategory(lowerAscii(word));
      if (!category || *category == ServiceCategory::Admin || !line.empty()) {
        fail("unknown category '" + std::string(word) + "'");
      }
      svc.category = *category;
    }
    else if (key == "flags") {
      once(key);
      if (line.empty()) {
        fail("flags needs at least one flag");
      }
      while (!line.empty()) {
        auto word = lowerAscii(nextWord(line));
        auto it = std::find_if(s_flagNames.begin(), s_flagNames.end(),
                               [&](const FlagName& f) { return f.name == word; });
        if (it == s_flagNames.end()) {
          fail("unknown flag '" + word + "'");
        }
        svc.flags |= it->bit;
      }
    }
    else {
      rule(key, line);
    }
  }

  void once(const std::string& key)
  {
    if (!d_seen.insert({key, d_line}).second) {
      fail(key + " given twice for service '" + d_current->id + "'");
    }
  }

  void rule(const std::string& key, std::string_view line)
  {
    CatalogRule rule;
    rule.line = d_line;
    auto value = lowerAscii(nextWord(line));
    auto modifier = lowerAscii(nextWord(line));
    if (!line.empty()) {
      fail("too many words after " + key);
    }
    if (value.empty()) {
      fail(key + " needs a value");
    }
    // Step: the kind decides the value's syntax and which modifier it takes.
    const char* allowed = "shared";
    if (key == "dkim") {
      rule.kind = RuleKind::Dkim;
      if (auto slash = value.find('/'); slash != std::string::npos) {
        rule.selector = value.substr(slash + 1);
        value.resize(slash);
        if (!isDomainName(rule.selector, 1)) {
          fail("bad DKIM selector '" + rule.selector + "'");
        }
      }
    }
    else if (key == "dkim-selector") {
      rule.kind = RuleKind::DkimSelector;
      if (!isDomainName(value, 1)) {
        fail("bad DKIM selector '" + value + "'");
      }
    }
    else if (key == "spf-domain") {
      rule.kind = RuleKind::SpfDomain;
    }
    else if (key == "ptr") {
      rule.kind = RuleKind::Ptr;
    }
    else if (key == "arc") {
      rule.kind = RuleKind::Arc;
    }
    else if (key == "asn") {
      rule.kind = RuleKind::Asn;
      auto first = value.data();
      auto last = first + value.size();
      auto [ptr, ec] = std::from_chars(first, last, rule.asn);
      if (ec != std::errc() || ptr != last || rule.asn == 0 || value.front() == '0') {
        fail("bad AS number '" + value + "' (1 to 4294967295)");
      }
      value.clear();
    }
    else if (key == "spf-include") {
      rule.kind = RuleKind::SpfInclude;
      allowed = "exclusive";
    }
    else {
      fail("unknown key '" + key + "'");
    }
    if (rule.kind != RuleKind::Asn && rule.kind != RuleKind::DkimSelector && !isDomainName(value)) {
      fail("bad domain name '" + value + "' for " + key);
    }
    if (!modifier.empty() && modifier != allowed) {
      fail(key + " takes only '" + allowed + "' after the value, not '" + modifier + "'");
    }
    rule.exclusive = rule.kind == RuleKind::SpfInclude ? !modifier.empty() : modifier.empty();
    rule.value = std::move(value);
    if (d_current->rules.size() >= d_limits.maxRulesPerService) {
      fail("more than " + std::to_string(d_limits.maxRulesPerService) + " rules for one service");
    }
    d_current->rules.push_back(std::move(rule));
  }

  void finishService()
  {
    if (!d_current) {
      return;
    }
    Service& svc = *d_current;
    if (svc.name.empty() || d_seen.count("category") == 0) {
      throw ConfigError(d_file, svc.line, "service '" + svc.id + "' needs a name and a category");
    }
    if (svc.rules.empty()) {
      throw ConfigError(d_file, svc.line, "service '" + svc.id + "' has no match rule");
    }
    d_out.push_back(std::move(svc));
    d_current.reset();
  }

  const std::string& d_file;
  const CatalogLimits& d_limits;
  std::vector<Service>& d_out;
  std::optional<Service> d_current;
  std::map<std::string, unsigned> d_seen;
  unsigned d_line = 0;
};

//! "FILE:LINE" of a rule or service, for messages that name two places.
std::string where(const Service& svc, unsigned line)
{
  return svc.file + ":" + std::to_string(line);
}

} // namespace

std::string_view categoryName(ServiceCategory category)
{
  return s_categoryNames.at(static_cast<size_t>(category));
}

std::optional<ServiceCategory> parseCategory(std::string_view name)
{
  for (size_t i = 0; i < s_categoryNames.size(); ++i) {
    if (s_categoryNames[i] == name) {
      return static_cast<ServiceCategory>(i);
    }
  }
  return std::nullopt;
}

std::string_view ruleKindName(RuleKind kind)
{
  switch (kind) {
  case RuleKind::Dkim:
    return "dkim";
  case RuleKind::SpfDomain:
    return "spf-domain";
  case RuleKind::Ptr:
    return "ptr";
  case RuleKind::Arc:
    return "arc";
  case RuleKind::Asn:
    return "asn";
  case RuleKind::SpfInclude:
    return "spf-include";
  case RuleKind::DkimSelector:
    return "dkim-selector";
  }
  return "?";
}

bool isServiceId(std::string_view id)
{
  if (id.empty() || id.size() > 63 || id.front() == '-') {
    return false;
  }
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

void CatalogBuilder::addText(std::string_view text, const std::string& file)
{
  FileParser parser(file, d_limits, d_services);
  parser.parse(text);
}

void CatalogBuilder::addFile(const std::string& path)
{
  if (++d_files > d_limits.maxFiles) {
    throw ConfigError(path + ": more than " + std::to_string(d_limits.maxFiles) + " catalog files");
  }
  addText(readConfigFile(path, d_limits.maxFileBytes), path);
}

void CatalogBuilder::addDirectory(const std::string& dir)
{
  std::unique_ptr<DIR, int (*)(DIR*)> handle(::opendir(dir.c_str()), ::closedir);
  if (!handle) {
    throw ConfigError(dir + ": cannot open directory: " + std::strerror(errno));
  }
  std::vector<std::string> names;
  constexpr std::string_view suffix = ".services";
  while (auto* entry = ::readdir(handle.get())) {
    std::string_view name(entry->d_name);
    if (name.size() > suffix.size() && name.front() != '.' && name.substr(name.size() - suffix.size()) == suffix) {
      names.emplace_back(name);
    }
    if (names.size() > d_limits.maxFiles) {
      throw ConfigError(dir + ": more than " + std::to_string(d_limits.maxFiles) + " catalog files");
    }
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    addFile(dir + "/" + name);
  }
}

std::shared_ptr<const Catalog> CatalogBuilder::build()
{
  auto catalog = std::make_shared<Catalog>();
  catalog->d_services = std::move(d_services);
  d_services.clear();
  auto& services = catalog->d_services;

  // Step: ids are unique over all files (Authorize names services by id).
  for (size_t i = 0; i < services.size(); ++i) {
    auto [it, fresh] = catalog->d_byId.emplace(services[i].id, i);
    if (!fresh) {
      const auto& first = services[it->second];
      throw ConfigError(services[i].file, services[i].line,
                        "service id '" + services[i].id + "' already used at " + where(first, first.line));
    }
  }

  // Step: every rule once.  A rule value claimed by two services is an error unless every
  // claim is non-exclusive (`shared` on domains and ASNs; no `exclusive` on SPF includes);
  // the same rule twice in one service is always an error.
  struct Claim
  {
    const Service* service;
    const CatalogRule* rule;
  };
  std::unordered_map<std::string, std::vector<Claim>> claims;
  for (const auto& svc : services) {
    for (const auto& rule : svc.rules) {
      auto& list = claims[ruleKey(rule)];
      for (const auto& other : list) {
        if (other.service == &svc) {
          throw ConfigError(svc.file, rule.line,
                            "'" + ruleKey(rule) + "' repeats line " + std::to_string(other.rule->line));
        }
        if (rule.exclusive || other.rule->exclusive) {
          throw ConfigError(svc.file, rule.line,
                            "'" + ruleKey(rule) + "' of service '" + svc.id + "' is also claimed by '" +
                              other.service->id + "' at " + where(*other.service, other.rule->line) +
                              (rule.kind == RuleKind::SpfInclude ? " (an exclusive include belongs to one service)"
                                                                 : " (mark every claim 'shared', or keep one)"));
        }
      }
      list.push_back({&svc, &rule});
    }
  }

  // Step: the indexes.  Pointers into services stay valid: the vector is not touched again.
  for (const auto& svc : services) {
    for (const auto& rule : svc.rules) {
      CatalogMatch match{&svc, &rule};
      switch (rule.kind) {
      case RuleKind::Dkim:
        catalog->d_dkim[rule.value].push_back(match);
        break;
      case RuleKind::SpfDomain:
        catalog->d_spfDomain[rule.value].push_back(match);
        break;
      case RuleKind::Ptr:
        catalog->d_ptr[rule.value].push_back(match);
        break;
      case RuleKind::Arc:
        catalog->d_arc[rule.value].push_back(match);
        break;
      case RuleKind::Asn:
        catalog->d_asn[rule.asn].push_back(match);
        break;
      case RuleKind::SpfInclude:
        catalog->d_spfInclude[rule.value].push_back(match);
        break;
      case RuleKind::DkimSelector:
        catalog->d_dkimSelector[rule.value].push_back(match);
        break;
      }
    }
  }
  d_files = 0;
  return catalog;
}

const Service* Catalog::find(std::string_view id) const
{
  auto it = d_byId.find(id);
  return it == d_byId.end() ? nullptr : &d_services[it->second];
}

std::vector<CatalogMatch> Catalog::bySuffix(const Index& index, std::string_view name,
                                            std::string_view selector) const
{
  // Step: lower-case once (look-ups come from reports: any case, maybe a trailing dot), then
  // try the name and each parent in turn; the first suffix with hits wins.
  std::string key = lowerAscii(name);
  if (!key.empty() && key.back() == '.') {
    key.pop_back();
  }
  if (key.empty() || key.size() > 253) {
    return {};
  }
  std::string lowSelector = lowerAscii(selector);
  std::string_view rest(key);
  std::vector<CatalogMatch> out;
  while (true) {
    if (auto it = index.find(rest); it != index.end()) {
      // A rule naming the signature's selector beats a rule for any selector.
      for (const auto& match : it->second) {
        if (!match.rule->selector.empty() && match.rule->selector == lowSelector) {
          out.push_back(match);
        }
      }
      if (out.empty()) {
        for (const auto& match : it->second) {
          if (match.rule->selector.empty()) {
            out.push_back(match);
          }
        }
      }
      if (!out.empty()) {
        return out;
      }
    }
    auto dot = rest.find('.');
    if (dot == std::string_view::npos) {
      return out;
    }
    rest.remove_prefix(dot + 1);
  }
}

std::vector<CatalogMatch> Catalog::byDkim(std::string_view domain, std::string_view selector) const
{
  return bySuffix(d_dkim, domain, selector);
}

std::vector<CatalogMatch> Catalog::bySpfDomain(std::string_view domain) const
{
  return bySuffix(d_spfDomain, domain, {});
}

std::vector<CatalogMatch> Catalog::byPtr(std::string_view hostname) const
{
  return bySuffix(d_ptr, hostname, {});
}

std::vector<CatalogMatch> Catalog::byArc(std::string_view domain) const
{
  return bySuffix(d_arc, domain, {});
}

std::vector<CatalogMatch> Catalog::byAsn(uint32_t asn) const
{
  auto it = d_asn.find(asn);
  return it == d_asn.end() ? std::vector<CatalogMatch>{} : it->second;
}

std::vector<CatalogMatch> Catalog::byDkimSelector(std::string_view selector) const
{
  auto it = d_dkimSelector.find(lowerAscii(selector));
  return it == d_dkimSelector.end() ? std::vector<CatalogMatch>{} : it->second;
}

std::vector<CatalogMatch> Catalog::bySpfInclude(std::string_view name) const
{
  std::string key = lowerAscii(name);
  if (!key.empty() && key.back() == '.') {
    key.pop_back();
  }
  auto it = d_spfInclude.find(key);
  return it == d_spfInclude.end() ? std::vector<CatalogMatch>{} : it->second;
}

void checkAuthorizations(const Config& config, const Catalog& catalog)
{
  for (const auto& authorization : config.authorizations) {
    for (const auto& id : authorization.services) {
      if (catalog.find(id) == nullptr) {
        throw ConfigError(config.path, authorization.line,
                          std::string(keys::authorize) + ": unknown service '" + id + "' (not in the catalog or a " +
                            keys::serviceFile + ")");
      }
    }
  }
}

std::shared_ptr<const Catalog> loadCatalog(const Config& config, CatalogLimits limits)
{
  CatalogBuilder builder(limits);
  if (config.serviceCatalog != "none") {
    builder.addDirectory(config.serviceCatalog);
  }
  for (const auto& file : config.serviceFiles) {
    builder.addFile(file);
  }
  auto catalog = builder.build();
  checkAuthorizations(config, *catalog);
  return catalog;
}

} // namespace dmarcwatch::collector
