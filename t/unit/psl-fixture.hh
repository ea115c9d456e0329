/*
 * psl-fixture.hh - a small public suffix list of our own for the judge tests:
 * the rule kinds the PSL algorithm has (normal, wildcard, exception), spelled
 * as the real list spells them (comments, an IDN rule, a private section).
 */
#pragma once

#include "collector/judge/public-suffix.hh"

namespace dmarcwatch::test
{

constexpr const char* c_pslText = "// ===BEGIN ICANN DOMAINS===\n"
                                  "com\nnet\nuk\nco.uk\n"
                                  "// ck : https://en.wikipedia.org/wiki/.ck\n"
                                  "*.ck\n!www.ck\n"
                                  "jp\n*.kawasaki.jp\n!city.kawasaki.jp\n"
                                  "// IDN rules are kept as bytes\n"
                                  "\xd1\x80\xd1\x84\n"
                                  "// ===END ICANN DOMAINS===\n"
                                  "// ===BEGIN PRIVATE DOMAINS===\n"
                                  "blogspot.com   trailing words are ignored\n"
                                  "// ===END PRIVATE DOMAINS===\n";

//! The list of c_pslText, parsed once.
inline const collector::PublicSuffixList& testPsl()
{
  static const collector::PublicSuffixList s_list = collector::PublicSuffixList::fromText(c_pslText);
  return s_list;
}

} // namespace dmarcwatch::test
