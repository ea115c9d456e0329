/*
 * test-catalog.cc - the service catalog: parsing and its errors, the
 * exclusivity checks, the look-ups, and the check of the shipped files in
 * contrib/services/ (issue 11: every rule well-formed, ids unique, no two
 * services claim the same exclusive rule, at least 250 services).
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/config.hh"
#include "collector/common/errors.hh"
#include "collector/sources/catalog.hh"
#include "t/unit/test-util.hh"

#include <fstream>
#include <map>
#include <set>

using namespace dmarcwatch::collector;
using dmarcwatch::test::TempDir;

namespace
{

std::shared_ptr<const Catalog> parse(const std::string& text, const std::string& file = "t.services")
{
  CatalogBuilder builder;
  builder.addText(text, file);
  return builder.build();
}

//! The message of the ConfigError that parsing text throws ("" when none).
std::string errorOf(const std::string& text)
{
  try {
    parse(text);
  }
  catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::set<std::string> ids(const std::vector<CatalogMatch>& matches)
{
  std::set<std::string> out;
  for (const auto& m : matches) {
    out.insert(m.service->id);
  }
  return out;
}

const std::string s_two = R"(# two services
service sendgrid
name SendGrid
operator Twilio
category esp-transactional
flags sends-for-other-brands
dkim SendGrid.NET
dkim sendgrid.me
spf-domain sendgrid.net
ptr sendgrid.net
asn 11377
spf-include sendgrid.net exclusive

service google-workspace
name Google Workspace
category mailbox-provider
flags shared-infrastructure forwards
dkim gappssmtp.com
dkim google.com/20230601
ptr google.com shared
asn 15169 shared
spf-include _spf.google.com
arc google.com
)";

} // namespace

BOOST_AUTO_TEST_SUITE(test_catalog)

BOOST_AUTO_TEST_CASE(parses_stanzas_lower_cases_and_flags)
{
  auto cat = parse(s_two);
  BOOST_REQUIRE_EQUAL(cat->services().size(), 2U);
  const auto* sg = cat->find("sendgrid");
  BOOST_REQUIRE(sg != nullptr);
  BOOST_TEST(sg->name == "SendGrid");
  BOOST_TEST(sg->operatorName == "Twilio");
  BOOST_TEST(categoryName(sg->category) == "esp-transactional");
  BOOST_TEST(sg->flags == static_cast<uint32_t>(FlagSendsForOtherBrands));
  BOOST_TEST(sg->line == 2U);
  BOOST_TEST(sg->rules.at(0).value == "sendgrid.net");
  BOOST_TEST(sg->rules.at(0).exclusive);
  const auto* gw = cat->find("google-workspace");
  BOOST_REQUIRE(gw != nullptr);
  BOOST_TEST(gw->flags == static_cast<uint32_t>(FlagSharedInfrastructure | FlagForwards));
  BOOST_TEST(cat->find("nope") == nullptr);
}

BOOST_AUTO_TEST_CASE(lookups_match_suffixes_at_label_boundaries)
{
  auto cat = parse(s_two);
  BOOST_TEST(ids(cat->byDkim("em1234.Example.SendGrid.net")) == std::set<std::string>{"sendgrid"});
  BOOST_TEST(ids(cat->byDkim("sendgrid.net.")) == std::set<std::string>{"sendgrid"});
  BOOST_TEST(cat->byDkim("notsendgrid.net").empty());
  BOOST_TEST(cat->byDkim("net").empty());
  BOOST_TEST(cat->byDkim("").empty());
  BOOST_TEST(ids(cat->bySpfDomain("bounces.sendgrid.net")) == std::set<std::string>{"sendgrid"});
  BOOST_TEST(ids(cat->byPtr("o1.ptr1234.sendgrid.net")) == std::set<std::string>{"sendgrid"});
  BOOST_TEST(ids(cat->byPtr("mail-wr1-f54.google.com")) == std::set<std::string>{"google-workspace"});
  BOOST_TEST(ids(cat->byArc("google.com")) == std::set<std::string>{"google-workspace"});
  BOOST_TEST(ids(cat->bySpfInclude("_SPF.google.com")) == std::set<std::string>{"google-workspace"});
  BOOST_TEST(cat->bySpfInclude("spf.google.com").empty());
  auto asn = cat->byAsn(15169);
  BOOST_REQUIRE_EQUAL(asn.size(), 1U);
  BOOST_TEST(!asn[0].rule->exclusive);
  auto own = cat->byAsn(11377);
  BOOST_REQUIRE_EQUAL(own.size(), 1U);
  BOOST_TEST(own[0].rule->exclusive);
  BOOST_TEST(cat->byAsn(1).empty());
}

BOOST_AUTO_TEST_CASE(dkim_selector_rule_only_for_its_selector)
{
  auto cat = parse(s_two);
  BOOST_TEST(ids(cat->byDkim("google.com", "20230601")) == std::set<std::string>{"google-workspace"});
  BOOST_TEST(cat->byDkim("google.com", "other").empty());
  BOOST_TEST(cat->byDkim("google.com").empty());
}

BOOST_AUTO_TEST_CASE(longest_suffix_wins)
{
  auto cat = parse("service a\nname A\ncategory crm\nspf-domain example.com\n"
                   "service b\nname B\ncategory crm\nspf-domain mail.example.com\n");
  BOOST_TEST(ids(cat->bySpfDomain("x.mail.example.com")) == std::set<std::string>{"b"});
  BOOST_TEST(ids(cat->bySpfDomain("x.example.com")) == std::set<std::string>{"a"});
}

BOOST_AUTO_TEST_CASE(errors_name_file_and_line)
{
  struct Case
  {
    std::string text;
    std::string want;
  };
  const std::vector<Case> cases{
    {"name X\n", "t.services:1: 'name' before the first 'service' line"},
    {"service Bad_Id\n", "t.services:1: service needs one id"},
    {"service a\nname A\ncategory nope\n", "t.services:3: unknown category 'nope'"},
    {"service a\nname A\ncategory crm\nflags loud\n", "t.services:4: unknown flag 'loud'"},
    {"service a\nname A\nname B\n", "t.services:3: name given twice"},
    {"service a\nname A\ncategory crm\nfoo bar.com\n", "t.services:4: unknown key 'foo'"},
    {"service a\nname A\ncategory crm\ndkim com\n", "t.services:4: bad domain name 'com' for dkim"},
    {"service a\nname A\ncategory crm\ndkim -x.com\n", "t.services:4: bad domain name"},
    {"service a\nname A\ncategory crm\nptr a..com\n", "t.services:4: bad domain name"},
    {"service a\nname A\ncategory crm\nspf-domain a b.com\n", "t.services:4: bad domain name 'a'"},
    {"service a\nname A\ncategory crm\ndkim x.com/bad!sel\n", "t.services:4: bad DKIM selector"},
    {"service a\nname A\ncategory crm\nasn 0\n", "t.services:4: bad AS number '0'"},
    {"service a\nname A\ncategory crm\nasn 4294967296\n", "t.services:4: bad AS number"},
    {"service a\nname A\ncategory crm\nasn 12x\n", "t.services:4: bad AS number"},
    {"service a\nname A\ncategory crm\nasn 15169 exclusive\n", "t.services:4: asn takes only 'shared'"},
    {"service a\nname A\ncategory crm\nspf-include x.com shared\n", "t.services:4: spf-include takes only 'exclusive'"},
    {"service a\nname A\ncategory crm\nptr x.com shared more\n", "t.services:4: too many words"},
    {"service a\nname A\ncategory crm\n", "t.services:1: service 'a' has no match rule"},
    {"service a\ncategory crm\nptr x.com\n", "t.services:1: service 'a' needs a name and a category"},
    {"service a\nname A\x01\n", "t.services:2: control character"},
  };
  for (const auto& c : cases) {
    auto got = errorOf(c.text);
    BOOST_TEST_CONTEXT("text: " << c.text)
    {
      BOOST_TEST(got.find(c.want) == 0, "got '" << got << "', want prefix '" << c.want << "'");
    }
  }
}

BOOST_AUTO_TEST_CASE(exclusive_and_duplicate_claims_are_refused)
{
  const std::string head = "service a\nname A\ncategory crm\n";
  const std::string other = "service b\nname B\ncategory crm\n";
  // Two exclusive ASN claims, and an exclusive one against a shared one.
  BOOST_TEST(errorOf(head + "asn 64500\n" + other + "asn 64500\n").find("t.services:8: 'asn 64500' of service 'b' "
                                                                      "is also claimed by 'a' at t.services:4") == 0);
  BOOST_TEST(!errorOf(head + "asn 64500\n" + other + "asn 64500 shared\n").empty());
  BOOST_TEST(errorOf(head + "asn 64500 shared\n" + other + "asn 64500 shared\n").empty());
  // SPF includes: exclusive once; plain ones may be shared.
  BOOST_TEST(!errorOf(head + "spf-include x.com exclusive\n" + other + "spf-include x.com\n").empty());
  BOOST_TEST(errorOf(head + "spf-include x.com\n" + other + "spf-include x.com\n").empty());
  // Domains are exclusive unless both say shared; a different selector is another rule.
  BOOST_TEST(!errorOf(head + "dkim x.com\n" + other + "dkim X.com\n").empty());
  BOOST_TEST(errorOf(head + "dkim x.com shared\n" + other + "dkim x.com shared\n").empty());
  BOOST_TEST(errorOf(head + "dkim x.com/s1\n" + other + "dkim x.com/s2\n").empty());
  // The same rule twice in one service, and the same id twice.
  BOOST_TEST(errorOf(head + "ptr x.com shared\nptr x.com shared\n").find("t.services:5: 'ptr x.com' repeats line 4") == 0);
  BOOST_TEST(errorOf(head + "ptr x.com\n" + "service a\nname A2\ncategory crm\nptr y.com\n")
               .find("t.services:5: service id 'a' already used at t.services:1") == 0);
}

BOOST_AUTO_TEST_CASE(caps_are_enforced)
{
  CatalogLimits limits;
  limits.maxServices = 1;
  CatalogBuilder builder(limits);
  BOOST_CHECK_THROW(builder.addText("service a\nname A\ncategory crm\nptr x.com\nservice b\n", "t"), ConfigError);

  limits = CatalogLimits{};
  limits.maxRulesPerService = 1;
  CatalogBuilder rules(limits);
  BOOST_CHECK_THROW(rules.addText("service a\nname A\ncategory crm\nptr x.com\nptr y.com\n", "t"), ConfigError);

  BOOST_TEST(errorOf("# " + std::string(2000, 'x') + "\n").find("t.services:1: line longer than") == 0);
}

BOOST_AUTO_TEST_CASE(directory_loads_services_files_in_order)
{
  TempDir dir;
  std::ofstream(dir.path() / "b.services") << "service b\nname B\ncategory crm\nptr b.com\n";
  std::ofstream(dir.path() / "a.services") << "service a\nname A\ncategory crm\nptr a.com\n";
  std::ofstream(dir.path() / "README") << "not a catalog file\n";
  CatalogBuilder builder;
  builder.addDirectory(dir.path().string());
  auto cat = builder.build();
  BOOST_REQUIRE_EQUAL(cat->services().size(), 2U);
  BOOST_TEST(cat->services()[0].id == "a");
  BOOST_TEST(cat->services()[0].file == (dir.path() / "a.services").string());

  std::ofstream(dir.path() / "c.services") << "service c\nname C\ncategory crm\nbogus\n";
  CatalogBuilder broken;
  try {
    broken.addDirectory(dir.path().string());
    BOOST_FAIL("no error for c.services");
  }
  catch (const ConfigError& e) {
    BOOST_TEST(std::string(e.what()) == (dir.path() / "c.services").string() + ":4: bogus needs a value");
  }
  CatalogBuilder missing;
  BOOST_CHECK_THROW(missing.addDirectory((dir.path() / "none").string()), ConfigError);
}

BOOST_AUTO_TEST_CASE(symlinked_file_is_refused)
{
  TempDir dir;
  std::ofstream(dir.path() / "real") << "service a\nname A\ncategory crm\nptr a.com\n";
  std::filesystem::create_symlink(dir.path() / "real", dir.path() / "link.services");
  CatalogBuilder builder;
  BOOST_CHECK_THROW(builder.addFile((dir.path() / "link.services").string()), ConfigError);
}

// The check issue 11 asks for, over the catalog we ship.
BOOST_AUTO_TEST_CASE(shipped_catalog_is_well_formed)
{
  auto dir = dmarcwatch::test::srcDir() / "contrib" / "services";
  CatalogBuilder builder;
  builder.addDirectory(dir.string()); // every rule well-formed, ids unique, exclusive rules claimed once
  auto cat = builder.build();

  BOOST_TEST(cat->services().size() >= 250U);
  // Every category but admin has services, and each file holds only its own category.
  std::map<std::string, size_t> perCategory;
  for (const auto& svc : cat->services()) {
    ++perCategory[std::string(categoryName(svc.category))];
    auto file = std::filesystem::path(svc.file).filename().string();
    BOOST_TEST(file == std::string(categoryName(svc.category)) + ".services", svc.id << " in " << file);
  }
  for (auto c = ServiceCategory::MailboxProvider; c != ServiceCategory::Admin;
       c = static_cast<ServiceCategory>(static_cast<int>(c) + 1)) {
    BOOST_TEST(perCategory[std::string(categoryName(c))] > 0U, categoryName(c));
  }
  // Spot checks that the index answers for the big names.
  BOOST_TEST(ids(cat->byDkim("example.gappssmtp.com")) == std::set<std::string>{"google-workspace"});
  BOOST_TEST(ids(cat->byAsn(11377)) == std::set<std::string>{"sendgrid"});
  BOOST_TEST(ids(cat->bySpfInclude("spf.protection.outlook.com")) == std::set<std::string>{"microsoft-365"});
}

BOOST_AUTO_TEST_CASE(config_adds_files_and_checks_authorize)
{
  TempDir dir;
  std::ofstream(dir.path() / "local.services") << "service head-office-crm\nname Our CRM\ncategory crm\n"
                                                  "spf-domain crm.example.com\n";
  auto path = (dir.path() / "t.conf").string();
  auto config = parseConfig("ServiceCatalog " + (dmarcwatch::test::srcDir() / "contrib" / "services").string() +
                              "\nServiceFile " + (dir.path() / "local.services").string() +
                              "\nAuthorize example.com google-workspace sendgrid head-office-crm\n",
                            path);
  auto cat = loadCatalog(*config);
  BOOST_TEST(cat->find("head-office-crm") != nullptr);
  BOOST_TEST(cat->find("sendgrid") != nullptr);

  // An unknown id names the configuration file and the Authorize line.
  auto bad = parseConfig("ServiceCatalog none\nServiceFile " + (dir.path() / "local.services").string() +
                           "\n\nAuthorize example.com head-office-crm no-such-service\n",
                         path);
  try {
    loadCatalog(*bad);
    BOOST_FAIL("no error for an unknown service");
  }
  catch (const ConfigError& e) {
    BOOST_TEST(std::string(e.what()) == path + ":4: Authorize: unknown service 'no-such-service' (not in the catalog "
                                               "or a ServiceFile)");
  }

  // An admin's service that takes an exclusive rule of the shipped catalog is refused.
  std::ofstream(dir.path() / "clash.services") << "service my-relay\nname Relay\ncategory crm\nasn 11377\n";
  auto clash = parseConfig("ServiceCatalog " + (dmarcwatch::test::srcDir() / "contrib" / "services").string() +
                             "\nServiceFile " + (dir.path() / "clash.services").string() + "\n",
                           path);
  BOOST_CHECK_THROW(loadCatalog(*clash), ConfigError);
}

BOOST_AUTO_TEST_SUITE_END()
