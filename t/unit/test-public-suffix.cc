/*
 * test-public-suffix.cc - the PSL algorithm on a small list of our own
 * (psl-fixture.hh: normal rules, wildcards with exceptions, the implicit "*"
 * rule), name normalisation (trailing dot, upper case, IDN left alone), and
 * the system list of Debian's publicsuffix package when it is installed.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/judge/public-suffix.hh"
#include "t/unit/psl-fixture.hh"

#include <filesystem>
#include <stdexcept>
#include <string>

using namespace dmarcwatch::collector;
using dmarcwatch::test::testPsl;

namespace
{

struct Case
{
  const char* domain;
  const char* suffix; //!< want publicSuffix()
  const char* org;    //!< want organizationalDomain()
};

void checkCases(const PublicSuffixList& psl, std::initializer_list<Case> cases)
{
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.domain)
    {
      BOOST_CHECK_EQUAL(psl.publicSuffix(c.domain), c.suffix);
      BOOST_CHECK_EQUAL(psl.organizationalDomain(c.domain), c.org);
    }
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_public_suffix)

BOOST_AUTO_TEST_CASE(rules_are_read_without_comments)
{
  BOOST_CHECK_EQUAL(testPsl().size(), 11U);
}

BOOST_AUTO_TEST_CASE(normal_rules_take_the_longest_match)
{
  checkCases(testPsl(), {
                          {"www.example.co.uk", "co.uk", "example.co.uk"},
                          {"example.co.uk", "co.uk", "example.co.uk"},
                          {"mail.example.uk", "uk", "example.uk"},
                          {"a.b.example.com", "com", "example.com"},
                          {"me.blogspot.com", "blogspot.com", "me.blogspot.com"},
                          // A public suffix is its own organizational domain (comparisons stay exact).
                          {"co.uk", "co.uk", "co.uk"},
                          {"com", "com", "com"},
                        });
}

BOOST_AUTO_TEST_CASE(wildcard_with_exception)
{
  checkCases(testPsl(), {
                          // *.ck: every name under ck is a public suffix ...
                          {"shop.example.ck", "example.ck", "shop.example.ck"},
                          {"a.shop.example.ck", "example.ck", "shop.example.ck"},
                          {"example.ck", "example.ck", "example.ck"},
                          // ... except www.ck (!www.ck): registrable under ck.
                          {"www.ck", "ck", "www.ck"},
                          {"mail.www.ck", "ck", "www.ck"},
                          // A wildcard two levels down, with its exception.
                          {"a.b.kawasaki.jp", "b.kawasaki.jp", "a.b.kawasaki.jp"},
                          {"x.city.kawasaki.jp", "kawasaki.jp", "city.kawasaki.jp"},
                        });
}

BOOST_AUTO_TEST_CASE(unknown_tld_is_the_last_label)
{
  checkCases(testPsl(), {
                          {"mail.example.zz", "zz", "example.zz"},
                          {"localhost", "localhost", "localhost"},
                        });
}

BOOST_AUTO_TEST_CASE(names_are_normalised)
{
  checkCases(testPsl(), {
                          {"WWW.Example.CO.UK.", "co.uk", "example.co.uk"},
                          {" Mail.Example.com ", "com", "example.com"},
                          // IDN labels are left alone: non-ASCII bytes match as spelled.
                          {"a.b.\xd1\x80\xd1\x84", "\xd1\x80\xd1\x84", "b.\xd1\x80\xd1\x84"},
                        });
  BOOST_CHECK_EQUAL(normalizeDomain("Example.COM."), "example.com");
}

BOOST_AUTO_TEST_CASE(malformed_names_stay_as_they_are)
{
  checkCases(testPsl(), {
                          {"", "", ""},
                          {".", "", ""},
                          {"a..example.com", "", "a..example.com"},
                        });
  // Longer than a DNS name can be: compared as it is.
  std::string tooLong;
  for (int i = 0; i < 130; ++i) {
    tooLong += "a.";
  }
  tooLong += "example.com";
  BOOST_CHECK_EQUAL(testPsl().organizationalDomain(tooLong), tooLong);
}

BOOST_AUTO_TEST_CASE(missing_file_is_an_error)
{
  BOOST_CHECK_THROW(PublicSuffixList::load("/nonexistent/public_suffix_list.dat"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(system_list)
{
  if (!std::filesystem::exists(PublicSuffixList::s_systemPath)) {
    BOOST_TEST_MESSAGE("skipped: no " << PublicSuffixList::s_systemPath << " (package publicsuffix)");
    return;
  }
  const auto& psl = PublicSuffixList::system();
  BOOST_CHECK_GT(psl.size(), 5000U);
  BOOST_CHECK_EQUAL(&psl, &PublicSuffixList::system()); // loaded once
  checkCases(psl, {
                    {"bounces.mail.example.co.uk", "co.uk", "example.co.uk"},
                    {"x.y.example.ck", "example.ck", "y.example.ck"},
                    {"mail.www.ck", "ck", "www.ck"},
                    {"em1234.sendgrid.net", "net", "sendgrid.net"},
                    {"Mail.Google.COM.", "com", "google.com"},
                  });
}

BOOST_AUTO_TEST_SUITE_END()
