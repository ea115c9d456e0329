/*
 * test-alignment.cc - relaxed and strict identifier alignment for DKIM and
 * SPF domains (RFC 7489 section 3.1), on the list of psl-fixture.hh.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/judge/alignment.hh"
#include "t/unit/psl-fixture.hh"

using namespace dmarcwatch::collector;
using dmarcwatch::test::testPsl;

BOOST_AUTO_TEST_SUITE(test_alignment)

BOOST_AUTO_TEST_CASE(mode_words)
{
  BOOST_CHECK(alignmentMode("s") == AlignmentMode::Strict);
  BOOST_CHECK(alignmentMode(" S ") == AlignmentMode::Strict);
  BOOST_CHECK(alignmentMode("r") == AlignmentMode::Relaxed);
  BOOST_CHECK(alignmentMode("") == AlignmentMode::Relaxed); // the default
  BOOST_CHECK(alignmentMode("strict") == AlignmentMode::Relaxed); // not a DMARC word: the default
}

BOOST_AUTO_TEST_CASE(relaxed_is_the_organizational_domain)
{
  const auto& psl = testPsl();
  const auto r = AlignmentMode::Relaxed;
  // DKIM d= of a subdomain, SPF bounce subdomain, both directions.
  BOOST_CHECK(aligned("mail.example.com", "example.com", r, psl));
  BOOST_CHECK(aligned("example.com", "news.example.com", r, psl));
  BOOST_CHECK(aligned("bounces.example.co.uk", "www.example.co.uk", r, psl));
  BOOST_CHECK(!aligned("sendgrid.net", "example.com", r, psl));
  BOOST_CHECK(!aligned("example.co.uk", "other.co.uk", r, psl)); // co.uk is a public suffix
  BOOST_CHECK(!aligned("a.example.ck", "b.example.ck", r, psl)); // *.ck: example.ck is one too
  BOOST_CHECK(aligned("mail.www.ck", "www.ck", r, psl));         // !www.ck
  BOOST_CHECK(aligned("a.example.zz", "b.example.zz", r, psl));  // unknown TLD: the last label
}

BOOST_AUTO_TEST_CASE(strict_is_the_same_name)
{
  const auto& psl = testPsl();
  const auto s = AlignmentMode::Strict;
  BOOST_CHECK(aligned("example.com", "example.com", s, psl));
  BOOST_CHECK(aligned("Example.COM.", "example.com", s, psl)); // case and trailing dot
  BOOST_CHECK(!aligned("mail.example.com", "example.com", s, psl));
  BOOST_CHECK(!aligned("example.com", "news.example.com", s, psl));
}

BOOST_AUTO_TEST_CASE(empty_never_aligns)
{
  const auto& psl = testPsl();
  BOOST_CHECK(!aligned("", "example.com", AlignmentMode::Relaxed, psl));
  BOOST_CHECK(!aligned("example.com", "", AlignmentMode::Relaxed, psl));
  BOOST_CHECK(!aligned("", "", AlignmentMode::Strict, psl));
}

BOOST_AUTO_TEST_SUITE_END()
